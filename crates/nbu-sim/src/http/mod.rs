//! The HTTP server: the handle tests hold, the router and its gate (request log, `Accept`
//! negotiation, faults), the endpoints, and the OData filters they read.

mod accept;
mod filter;
mod handle;
mod jobs_endpoint;
mod log;
mod optin_endpoints;
mod optin_filter;
mod server;
mod state;
mod storage_endpoint;
mod try_logs_endpoint;

pub use filter::{Filter, FilterError};
pub use handle::Simulator;
pub use log::RequestRecord;
