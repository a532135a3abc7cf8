//! The simulated domain: the vocabulary of names and codes, the deterministic jobs (static or
//! live), their details and tries (the try logs, with NetBackup's status messages), the storage
//! units, the data of the opt-in endpoints, and the random draws and time formats they are made
//! with.

mod data;
pub(crate) mod details;
mod job;
mod job_draws;
mod live;
pub(crate) mod optin;
pub(crate) mod rng;
pub(crate) mod status_messages;
pub(crate) mod timefmt;
pub(crate) mod tries;
mod try_causes;
mod units;
pub(crate) mod vocabulary;

pub use data::Dataset;
pub use job::{Job, JobState};
pub use tries::TryLogLine;
#[cfg(test)]
pub(crate) use units::generate_units;
pub use units::{StorageUnit, UnitKind};
