//! Events of the HTTP server: accepts that fail, and accepting again.

use std::fmt::Display;

use super::{Events, FailureStreak};

impl Events {
    /// The HTTP server could not accept a connection (out of file descriptors, say). Logged
    /// at `warn` when a run of such failures starts (`streak`, the server's), not at each
    /// one: the server retries every 100 ms.
    pub fn accept_failed(&self, streak: &FailureStreak, error: &dyn Display) {
        if streak.fail() {
            tracing::warn!(error = %error, "accepting a connection failed");
        }
    }

    /// The HTTP server accepted a connection: logged at `info` when it ends a run of failed
    /// accepts, with their number.
    pub fn accept_succeeded(&self, streak: &FailureStreak) {
        if let Some((failures, since)) = streak.succeed() {
            tracing::info!(
                failed_accepts = failures,
                down_for_s = since.as_secs(),
                "accepting connections again"
            );
        }
    }
}
