//! Hot reload: loading the configuration again and applying it to a running agent. Noticing
//! that the files changed is [`ConfigWatcher`](crate::config::ConfigWatcher)'s part; what
//! changed between the two configurations, [`ConfigDiff`](crate::config::ConfigDiff)'s.

use std::path::Path;
use std::time::Duration;

use super::Agent;
use crate::config::{self, ConfigDiff, ConfigError, FileSnapshot};

/// How often the configuration files are compared with what is running.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Loads `path` from the bytes of `snapshot` (the configuration file and its key files) and
/// applies it to `agent`, returning what changed. An invalid file changes nothing: the agent
/// runs on, and the error (naming every bad field) is returned. Both outcomes are counted in
/// `nbu.config.reloads`.
pub async fn reload_from(
    agent: &mut Agent,
    path: &Path,
    snapshot: &FileSnapshot,
) -> Result<ConfigDiff, ConfigError> {
    match config::load_file_with(path, &|p| snapshot.read(p)) {
        Ok(new) => {
            let diff = agent.reload(new).await;
            agent.events().reload_applied(
                &diff.added,
                &diff.removed,
                &diff.changed,
                &diff.needs_restart,
            );
            Ok(diff)
        }
        Err(e) => {
            agent.events().reload_rejected(&e);
            Err(e)
        }
    }
}
