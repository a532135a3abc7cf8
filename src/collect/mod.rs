//! Collection: per-site walks of the NetBackup API kept in job stores and folded into
//! immutable summaries.
//!
//! # The jobs window
//!
//! A site's jobs window holds:
//! - finished jobs: `state eq 'DONE'` that ended after NetBackup's clock minus `jobs_window`;
//! - unfinished jobs (active, queued, re-queued, suspended, incomplete), whatever their age,
//!   because operators need to see what is running or stuck now.
//!
//! The jobs live in a per-site [`JobStore`], filled by a concurrent full walk and kept current
//! by delta walks on `lastUpdateTime` ([`sync`]). The simulator's ground truth follows the same
//! rule with its own code (`nbu_sim::fold_jobs`).

mod cycle;
pub mod job_details;
pub mod job_event;
pub mod label;
pub mod outbox;
pub mod reasons;
pub mod server_clock;
mod site;
mod snapshot;
pub mod sources;
mod status_codes;
pub mod storage;
pub mod store;
pub mod summary;
pub mod sync;
mod timestamp;

pub use cycle::{CycleHooks, JobsRead, STALE_AFTER_INTERVALS, SiteCycle};
pub use site::{SiteCollector, SiteReport, SourceOutcome};
pub use snapshot::{OptInState, SiteSnapshot, SourceData};
pub use storage::StorageAggregator;
pub use store::{FinishedJob, JobBatch, JobStore};
pub use sync::{CycleReport, FillProgress, JobSync, JobsSettings, ProgressSink, WalkKind};
