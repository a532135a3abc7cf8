//! NetBackup REST client: version negotiation, pagination, retry, rate limit, models.

pub mod api;
mod client;
mod error;
pub mod filter;
mod jobs_reader;
pub mod lenient;
mod limit;
pub mod models;
mod pagination;
mod retry;
mod version;

pub use api::{JobsPageQuery, NetBackupApi};
pub use client::{Body, MAX_BODY_BYTES, RequestObserver, SiteClient};
pub use error::{ApiError, DecodeKind};
pub use limit::RequestLimiter;
pub use pagination::{
    JOBS_ENDPOINT, MAX_CURSOR_PAGES, STORAGE_UNITS_ENDPOINT, WalkStats, first_job_id, walk_jobs,
    walk_storage_units,
};
pub use retry::{parse_http_date, parse_retry_after};
pub use version::{ApiVersion, UnknownApiVersion};
