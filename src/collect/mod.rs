//! Collection: per-site walks of the NetBackup API folded into immutable summaries.
//!
//! # The jobs window
//!
//! Each jobs collection makes two cursor walks of `/admin/jobs`, sorted by `jobId`:
//! - finished jobs: `state eq 'DONE' and endTime gt <now - jobs_window>`;
//! - unfinished jobs: `state ne 'DONE'` (active, queued, re-queued, suspended, incomplete),
//!   whatever their age, because operators need to see what is running or stuck now.
//!
//! The two filters are disjoint, so no job is counted twice. The simulator's ground truth
//! follows the same rule.

pub mod jobs;
mod site;
mod snapshot;
pub mod storage;
pub mod summary;

pub use jobs::{FinishedJob, JobsAggregator};
pub use site::{SiteCollector, SiteReport, SourceOutcome};
pub use snapshot::{SiteSnapshot, SourceData};
pub use storage::StorageAggregator;
