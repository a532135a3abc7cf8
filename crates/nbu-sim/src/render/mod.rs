//! Rendering: the JSON:API pages of jobs, storage units and the opt-in endpoints, their
//! hostile variants, the vendor error bodies and the response media type.

mod hostile;
mod jobs;
pub(crate) mod json;
pub(crate) mod optin;
pub(crate) mod optin_hostile;
pub(crate) mod optin_page;
pub(crate) mod optin_tape;
pub(crate) mod response;
mod shape;
pub(crate) mod storage;
pub(crate) mod try_logs;

pub use jobs::{JobsPage, render_jobs_page, render_jobs_page_at};
pub(crate) use shape::PageShape;
