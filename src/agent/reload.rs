//! Hot reload: noticing that the configuration changed, and applying it.
//!
//! The file is polled by content, together with every file it references (key files, CA and
//! client certificate files). Comparing contents rather than watching events catches editors'
//! atomic renames, Kubernetes ConfigMap symlink swaps and a rotated key file alike, at the cost
//! of reading a few small files every poll.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Agent, ReloadSummary};
use crate::config::{self, Config, ConfigError, SiteConfig};

/// How often the configuration files are compared with what is running.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Notices changes of the configuration file and the files it references.
#[derive(Debug)]
pub struct ConfigWatcher {
    path: PathBuf,
    fingerprint: u64,
}

impl ConfigWatcher {
    /// Watches `path`, whose current contents produced `running`.
    pub fn new(path: &Path, running: &Config) -> Self {
        Self {
            path: path.to_owned(),
            fingerprint: fingerprint(path, running),
        }
    }

    /// Whether anything changed since the last call (or since `new`). `running` names the
    /// referenced files to compare.
    pub fn changed(&mut self, running: &Config) -> bool {
        let now = fingerprint(&self.path, running);
        let changed = now != self.fingerprint;
        self.fingerprint = now;
        changed
    }

    /// Takes the current contents as seen (after a reload, whatever its outcome).
    pub fn rebase(&mut self, running: &Config) {
        self.fingerprint = fingerprint(&self.path, running);
    }
}

/// A hash of the file and every file the configuration references (absent files hash as
/// absent, so a file that disappears or comes back is a change too).
fn fingerprint(path: &Path, config: &Config) -> u64 {
    let referenced = config.sites.iter().flat_map(site_files);
    contents_hash(
        std::iter::once(path)
            .chain(referenced)
            .chain(global_files(config)),
    )
}

/// A hash of the names and contents of `files` (an absent file hashes as absent).
pub(crate) fn contents_hash<'a>(files: impl IntoIterator<Item = &'a Path>) -> u64 {
    let mut hasher = DefaultHasher::new();
    for file in files {
        file.hash(&mut hasher);
        std::fs::read(file).ok().hash(&mut hasher);
    }
    hasher.finish()
}

/// The files one site reads: its key file and its CA file.
pub(crate) fn site_files(site: &SiteConfig) -> impl Iterator<Item = &Path> {
    [&site.api_key_file, &site.tls.ca_file]
        .into_iter()
        .flatten()
        .map(PathBuf::as_path)
}

/// The certificate files of the agent's server and of the OTLP exporter.
pub(crate) fn global_files(config: &Config) -> impl Iterator<Item = &Path> {
    let (server, otlp) = (&config.server, &config.otlp);
    [
        &otlp.ca_file,
        &otlp.client_cert_file,
        &otlp.client_key_file,
        &server.tls_cert_file,
        &server.tls_key_file,
    ]
    .into_iter()
    .flatten()
    .map(PathBuf::as_path)
}

/// Loads `path` and applies it to `agent`. An invalid file changes nothing: the agent runs
/// on, and the error (naming every bad field) is returned. Both outcomes are counted in
/// `nbu.config.reloads`.
pub async fn reload(agent: &mut Agent, path: &Path) -> Result<ReloadSummary, ConfigError> {
    match config::load_file(path) {
        Ok(new) => {
            let summary = agent.reload(new).await;
            agent.count_reload(true);
            tracing::info!(
                added = ?summary.added,
                removed = ?summary.removed,
                changed = ?summary.changed,
                "configuration reloaded"
            );
            if !summary.needs_restart.is_empty() {
                tracing::warn!(
                    sections = ?summary.needs_restart,
                    "these sections changed but take effect only after a restart"
                );
            }
            Ok(summary)
        }
        Err(e) => {
            agent.count_reload(false);
            tracing::error!(
                "configuration reload failed; still running on the previous configuration:\n{e}"
            );
            Err(e)
        }
    }
}
