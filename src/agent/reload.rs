//! Hot reload: loading the configuration again and applying it to a running agent. Noticing
//! that the files changed is [`ConfigWatcher`](crate::config::ConfigWatcher)'s part; what
//! changed between the two configurations, [`ConfigDiff`](crate::config::ConfigDiff)'s.

use std::path::Path;
use std::time::Duration;

use super::{Agent, ReloadSummary};
use crate::config::{self, ConfigError, FileSnapshot};

/// How often the configuration files are compared with what is running.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Loads `path` and applies it to `agent`. An invalid file changes nothing: the agent runs
/// on, and the error (naming every bad field) is returned. Both outcomes are counted in
/// `nbu.config.reloads`.
pub async fn reload(agent: &mut Agent, path: &Path) -> Result<ReloadSummary, ConfigError> {
    reload_from(agent, path, &FileSnapshot::new()).await
}

/// [`reload`] from the bytes of `snapshot` (the configuration file and its key files).
pub async fn reload_from(
    agent: &mut Agent,
    path: &Path,
    snapshot: &FileSnapshot,
) -> Result<ReloadSummary, ConfigError> {
    match config::load_file_with(path, &|p| snapshot.read(p)) {
        Ok(new) => {
            let summary = agent.reload(new).await;
            agent.events().reload_applied(
                &summary.added,
                &summary.removed,
                &summary.changed,
                &summary.needs_restart,
            );
            Ok(summary)
        }
        Err(e) => {
            agent.events().reload_rejected(&e);
            Err(e)
        }
    }
}
