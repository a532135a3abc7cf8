//! NetBackup REST client: version negotiation, pagination, retry, rate limit, models.

pub mod api;
mod client;
mod error;
pub mod filter;
mod jobs_reader;
mod json_scan;
pub mod lenient;
mod limit;
pub mod models;
mod pagination;
pub mod resources;
mod retry;
mod settings;
mod storage_reader;
pub mod try_logs;
mod version;

pub use api::{JOBS_ENDPOINT, JobsPageQuery, NetBackupApi, STORAGE_UNITS_ENDPOINT};
pub use client::{Body, MAX_BODY_BYTES, SiteClient};
pub use error::{ApiError, ApiFailure, DecodeKind};
pub use limit::RequestLimiter;
pub use pagination::{
    JobIdSlice, MAX_CURSOR_BYTES, MAX_CURSOR_PAGES, WalkStats, first_job_id, walk_job_slice,
    walk_jobs, walk_storage_units,
};
pub use retry::{parse_http_date, parse_retry_after};
pub use settings::{ClientSettings, Propagation};
pub use version::{ApiVersion, UnknownApiVersion};
