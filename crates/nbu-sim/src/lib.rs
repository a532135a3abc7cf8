//! A NetBackup REST API simulator, for demo mode, tests and benchmarks.
//!
//! It serves `GET /netbackup/admin/jobs` (cursor pagination, OData filter subset),
//! `GET /netbackup/admin/jobs/{jobId}/try-logs` (one `parsedTryLogResponse` per try of a job, with
//! NetBackup's status codes, their standard messages and the daemons' log lines naming the
//! cause of a failure) and `GET /netbackup/storage/storage-units` (offset pagination) from a
//! deterministic dataset built from the vendor's OpenAPI schemas, checks `Authorization` and the
//! versioned `Accept` media type like a primary server, records every request, injects faults on
//! demand, counts TCP connections (so tests can check an agent closed its own), and computes the
//! ground truth ([`SimTruth`]) a correct agent must report, in its own plain types: the
//! simulator shares no code with any agent.
//!
//! The try logs agree with the jobs page (`try`, `activeProcessId`, `activeTryStartTime`, media
//! servers and storage units, the last try's status is the job's `status`), faults can aim at
//! them alone ([`FaultTarget::TryLogs`]), [`Simulator::set_try_logs_served`] makes them absent
//! (404) as on a server without the endpoint, and [`Simulator::finished_jobs`] gives the truth of
//! the jobs that finished in a time range ([`FinishedJobTruth`]: what a correct agent reports as
//! one log record per failed job).
//!
//! It also serves the endpoints of the opt-in sources ([`OptInEndpoint`]: alerts, malware scan
//! results, catalog images, SLOs, tape drives, tape media, robot device hosts, volume pools,
//! disk pools), each in the API versions that have it (404 in the others), sized by
//! [`SimConfig::opt_in_scale`], with their own ground truth ([`Simulator::opt_in_truth`]).
//!
//! Every response carries a `Date` header from the simulator's [`SimClock`] (the wall clock
//! with an optional offset, or a manual clock that tests move). By default the dataset is
//! static; with [`SimConfig::live`] it is a living NetBackup: jobs are created, queue, run,
//! finish and are purged as the clock moves ([`LiveConfig`]), each page shows them at its own
//! instant, and [`Simulator::truth_at`] gives the truth at any instant.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use nbu_sim::{SimConfig, Simulator};
//! let config = SimConfig { jobs: 1_000, ..SimConfig::default() };
//! let sim = Simulator::start(config, std::net::SocketAddr::from(([127, 0, 0, 1], 0))).await?;
//! println!("{}", sim.base_url());
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

// From the ground up: the API versions, the clock, connection accounting, the opt-in endpoints
// and the configuration; the dataset; its ground truth and the rendering of its pages; the
// faults; the HTTP server on top. No module imports one above it.
mod clock;
mod config;
mod conn;
mod dataset;
mod faults;
mod http;
mod optin;
mod render;
mod truth;
mod version;

pub use clock::SimClock;
pub use config::{LiveConfig, SimConfig};
pub use dataset::{Dataset, Job, JobState, StorageUnit, TryLogLine, UnitKind};
pub use faults::{Fault, FaultTarget, OVERSIZED_PAGE_CAP};
pub use http::{Filter, FilterError, RequestRecord, Simulator};
pub use optin::OptInEndpoint;
pub use render::{JobsPage, render_jobs_page, render_jobs_page_at};
pub use truth::{
    DURATION_BOUNDS, Durations, FinishedJobTruth, JobFacts, JobKey, JobsTruth, OptInTruth,
    PolicyKey, Ratios, ReasonKey, SeriesKey, SimTruth, StateKey, StatusKey, StorageTruth, UNKNOWN,
    UnitKey, UnitTruth, Window, counted, fold_jobs,
};
pub use version::{ApiVersion, UnknownApiVersion};
