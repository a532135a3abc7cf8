//! The simulated domain: the vocabulary of names and codes, the deterministic jobs (static or
//! live), the storage units, the data of the opt-in endpoints, and the random draws and time
//! formats they are made with.

mod data;
mod job;
mod job_draws;
mod live;
pub(crate) mod optin_data;
pub(crate) mod rng;
pub(crate) mod timefmt;
mod units;
pub(crate) mod vocabulary;

pub use data::Dataset;
pub use job::{Job, JobState};
#[cfg(test)]
pub(crate) use units::generate_units;
pub use units::{StorageUnit, UnitKind};
