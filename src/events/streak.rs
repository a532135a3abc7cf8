//! A run of failures of something tried again on its own, so that only its start and its end
//! are logged.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A run of failures of something tried again on its own (an export, a cycle that overruns,
/// an accept): the failure that starts the run and the success that ends it are worth a log
/// line each, the failures between only a count.
#[derive(Debug, Default)]
pub struct FailureStreak {
    /// When the current run started, and its failures so far.
    run: Mutex<Option<(Instant, u64)>>,
}

impl FailureStreak {
    /// A streak with no failure yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes a failure: whether it starts a run.
    pub fn fail(&self) -> bool {
        let mut run = self.run.lock().unwrap_or_else(|p| p.into_inner());
        match run.as_mut() {
            Some((_, failures)) => {
                *failures += 1;
                false
            }
            None => {
                *run = Some((Instant::now(), 1));
                true
            }
        }
    }

    /// Notes a success: the failures and the duration of the run it ends, if it ends one.
    pub fn succeed(&self) -> Option<(u64, Duration)> {
        let mut run = self.run.lock().unwrap_or_else(|p| p.into_inner());
        run.take()
            .map(|(since, failures)| (failures, since.elapsed()))
    }
}
