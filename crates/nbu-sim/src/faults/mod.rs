//! Fault injection: misbehaviour scheduled for the next requests to an endpoint.

mod fault;

pub(crate) use fault::{Endpoint, FaultSchedule, apply};
pub use fault::{Fault, FaultTarget, OVERSIZED_PAGE_CAP};
