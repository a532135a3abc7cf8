//! The files a configuration is made of: the configuration file itself and every file it
//! references (key files, CA and certificate files), read once per look and fingerprinted.
//!
//! The file is polled by content, together with every file it references. Comparing contents
//! rather than watching events catches editors' atomic renames, Kubernetes ConfigMap symlink
//! swaps and a rotated key file alike, at the cost of reading a few small files every poll.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::option_types::FilesFingerprint;
use super::section::site::SiteConfig;
use super::typed::Config;
use crate::file_limits::{FileTooLarge, MAX_REFERENCED_FILE_BYTES, read_at_most, too_large_limit};

/// The files one site reads: its key file and its CA file.
pub fn site_files(site: &SiteConfig) -> impl Iterator<Item = &Path> {
    [&site.api_key_file, &site.tls.ca_file]
        .into_iter()
        .flatten()
        .map(PathBuf::as_path)
}

/// The certificate files of the agent's server and of the OTLP exporter.
pub fn global_files(config: &Config) -> impl Iterator<Item = &Path> {
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

/// Records in `config` the contents of the files it references, as `read` sees them.
pub(super) fn fingerprint(config: &mut Config, read: &dyn Fn(&Path) -> std::io::Result<Vec<u8>>) {
    for site in &mut config.sites {
        site.files = FilesFingerprint::of(site_files(site), read);
    }
    config.files = FilesFingerprint::of(global_files(config), read);
}

/// One reading of the configuration file and the files it references: each file is read at
/// most once, and every later use (the comparison, the parse, the new fingerprint) sees those
/// same bytes. A write landing between the comparison and the parse is therefore never
/// fingerprinted without being applied: it shows as a change at the next poll.
#[derive(Debug, Default)]
pub struct FileSnapshot {
    files: Mutex<HashMap<PathBuf, Read>>,
}

/// One read of a file: its bytes, or the error the read gave, kept so it can be given again.
type Read = Result<Vec<u8>, ReadError>;

/// The error of one read, as [`FileSnapshot::read`] gives it again at every call: the kind and
/// text of an I/O error, or the bound of a file too large to read.
#[derive(Debug, Clone)]
enum ReadError {
    Io(std::io::ErrorKind, String),
    TooLarge(FileTooLarge),
}

impl ReadError {
    fn of(e: &std::io::Error) -> Self {
        match too_large_limit(e) {
            Some(limit) => Self::TooLarge(FileTooLarge { limit }),
            None => Self::Io(e.kind(), e.to_string()),
        }
    }

    fn to_io(&self) -> std::io::Error {
        match self {
            Self::Io(kind, text) => std::io::Error::new(*kind, text.clone()),
            Self::TooLarge(e) => std::io::Error::new(std::io::ErrorKind::InvalidData, *e),
        }
    }
}

impl FileSnapshot {
    /// An empty snapshot: files are read on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// The contents of `path` as first read through this snapshot, or the error of that
    /// read (same kind, same text). A file larger than [`MAX_REFERENCED_FILE_BYTES`] is
    /// refused without being read whole.
    pub fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        files
            .entry(path.to_owned())
            .or_insert_with(|| {
                read_at_most(path, MAX_REFERENCED_FILE_BYTES).map_err(|e| ReadError::of(&e))
            })
            .clone()
            .map_err(|e| e.to_io())
    }

    /// A hash of the file and every file the configuration references, as this snapshot
    /// sees them (absent files hash as absent, so a file that disappears or comes back is a
    /// change too).
    fn fingerprint(&self, path: &Path, config: &Config) -> FilesFingerprint {
        let referenced = config.sites.iter().flat_map(site_files);
        let files = std::iter::once(path)
            .chain(referenced)
            .chain(global_files(config));
        FilesFingerprint::of(files, &|p| self.read(p))
    }
}

/// Notices changes of the configuration file and the files it references.
#[derive(Debug)]
pub struct ConfigWatcher {
    path: PathBuf,
    fingerprint: FilesFingerprint,
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
    /// returns that reading, to be loaded with [`load_file_with`](super::load_file_with) and
    /// then passed to [`ConfigWatcher::rebase`]. `running` names the referenced files to
    /// compare.
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use secrecy::ExposeSecret as _;

    use super::*;
    use crate::config;

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
