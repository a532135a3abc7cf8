//! Hot reload: noticing that the configuration changed, and applying it.
//!
//! The file is polled by content, together with every file it references (key files, CA and
//! client certificate files). Comparing contents rather than watching events catches editors'
//! atomic renames, Kubernetes ConfigMap symlink swaps and a rotated key file alike, at the cost
//! of reading a few small files every poll.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use super::{Agent, ReloadSummary};
use crate::config::{self, Config, ConfigError, SiteConfig};

/// How often the configuration files are compared with what is running.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// One reading of the configuration file and the files it references: each file is read at
/// most once, and every later use (the comparison, the parse, the new fingerprint) sees those
/// same bytes. A write landing between the comparison and the parse is therefore never
/// fingerprinted without being applied: it shows as a change at the next poll.
#[derive(Debug, Default)]
pub struct FileSnapshot {
    files: Mutex<HashMap<PathBuf, Option<Vec<u8>>>>,
}

impl FileSnapshot {
    /// An empty snapshot: files are read on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// The contents of `path` as first read through this snapshot.
    pub fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        let bytes = files
            .entry(path.to_owned())
            .or_insert_with(|| std::fs::read(path).ok());
        bytes.clone().ok_or_else(|| {
            // Read again for the reason, but report it as absent either way: the snapshot
            // holds it as absent.
            let reason = std::fs::metadata(path)
                .err()
                .map_or_else(|| "cannot be read".to_owned(), |e| e.to_string());
            std::io::Error::new(std::io::ErrorKind::NotFound, reason)
        })
    }

    /// A hash of the file and every file the configuration references, as this snapshot
    /// sees them (absent files hash as absent, so a file that disappears or comes back is a
    /// change too).
    fn fingerprint(&self, path: &Path, config: &Config) -> u64 {
        let mut hasher = DefaultHasher::new();
        let referenced = config.sites.iter().flat_map(site_files);
        for file in std::iter::once(path)
            .chain(referenced)
            .chain(global_files(config))
        {
            file.hash(&mut hasher);
            self.read(file).ok().hash(&mut hasher);
        }
        hasher.finish()
    }
}

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
            fingerprint: FileSnapshot::new().fingerprint(path, running),
        }
    }

    /// Reads the files once; when anything changed since the last rebase (or since `new`),
    /// returns that reading, to be loaded with [`reload_from`] and then passed to
    /// [`ConfigWatcher::rebase`]. `running` names the referenced files to compare.
    pub fn poll(&self, running: &Config) -> Option<FileSnapshot> {
        let snapshot = FileSnapshot::new();
        (snapshot.fingerprint(&self.path, running) != self.fingerprint).then_some(snapshot)
    }

    /// Takes the contents in `snapshot` as seen (after a reload from it, whatever its
    /// outcome). Files the new configuration references that the snapshot has not read yet
    /// are read into it now.
    pub fn rebase(&mut self, running: &Config, snapshot: &FileSnapshot) {
        self.fingerprint = snapshot.fingerprint(&self.path, running);
    }
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

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    fn config_text(key_file: &Path, interval: &str) -> String {
        format!(
            "sites:\n  - name: a\n    url: http://127.0.0.1:9/netbackup\n    api_key_file: {}\n    collection:\n      jobs_interval: {interval}\n",
            key_file.display()
        )
    }

    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf, Config) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let key = dir.path().join("a.key");
        let file = dir.path().join("nbu.yaml");
        write(&key, "key-one\n");
        write(&file, &config_text(&key, "60s"));
        let running = config::load_file(&file).unwrap_or_else(|e| panic!("{e}"));
        (dir, file, key, running)
    }

    #[test]
    fn a_key_file_read_half_written_is_reloaded_once_complete() {
        let (_dir, file, key, running) = setup();
        let mut watcher = ConfigWatcher::new(&file, &running);
        assert!(watcher.poll(&running).is_none(), "nothing changed yet");
        // The rotation is caught half-way: the file is empty when the watcher looks.
        write(&key, "");
        let files = watcher.poll(&running).expect("the change is seen");
        // The rest of the write lands before the reload reads the file.
        write(&key, "key-two\n");
        let loaded = config::load_file_with(&file, &|p| files.read(p));
        let err = loaded.expect_err("the bytes compared hold an empty key");
        assert!(err.has_field("sites[0].api_key_file"), "{err}");
        watcher.rebase(&running, &files);
        // The complete key was never applied: the next poll must see it as a change.
        let files = watcher
            .poll(&running)
            .expect("the complete key is still to apply");
        let new =
            config::load_file_with(&file, &|p| files.read(p)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(new.sites[0].api_key.expose_secret(), "key-two");
        watcher.rebase(&new, &files);
        assert!(watcher.poll(&new).is_none(), "applied and seen");
    }

    #[test]
    fn a_config_written_between_the_comparison_and_the_parse_is_not_lost() {
        let (_dir, file, key, running) = setup();
        let mut watcher = ConfigWatcher::new(&file, &running);
        write(&file, &config_text(&key, "70s"));
        let files = watcher.poll(&running).expect("the change is seen");
        write(&file, &config_text(&key, "80s"));
        let new =
            config::load_file_with(&file, &|p| files.read(p)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            new.sites[0].collection.jobs_interval,
            Duration::from_secs(70),
            "the parse reads the bytes that were compared"
        );
        watcher.rebase(&new, &files);
        let files = watcher
            .poll(&new)
            .expect("the later write is still to apply");
        let newer =
            config::load_file_with(&file, &|p| files.read(p)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            newer.sites[0].collection.jobs_interval,
            Duration::from_secs(80)
        );
    }
}
