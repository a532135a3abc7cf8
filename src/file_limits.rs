//! The most the agent reads of one file, and the reading of a file whole within that bound.
//!
//! Every file the agent reads whole (its configuration, the files the configuration names:
//! API keys, certificates, private keys and CA bundles, and a Go exporter's configuration and
//! `.env` for `migrate`) goes through [`read_at_most`], so a path pointing at a huge file, a
//! device or a growing log cannot make the agent allocate without bound.

use std::fmt;
use std::io::Read as _;
use std::path::Path;

/// The largest configuration file accepted (the agent's own, or a Go exporter's for
/// `migrate`): 1 MiB, a hundred times the size of a configuration of a hundred sites.
pub const MAX_CONFIG_FILE_BYTES: u64 = 1024 * 1024;

/// The largest file a configuration may name (an API key, a certificate, a private key or a
/// CA bundle): 4 MiB, several times the largest system CA bundles.
pub const MAX_REFERENCED_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// A file larger than the bound it was read with; the `std::io::Error` of
/// [`read_at_most`] carries it (kind `InvalidData`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileTooLarge {
    /// The bound, in bytes.
    pub limit: u64,
}

impl fmt::Display for FileTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the file is larger than {}", Bytes(self.limit))
    }
}

impl std::error::Error for FileTooLarge {}

/// A size in bytes as messages write it: `1 MiB`, `4 MiB`, `512 KiB`, `100 bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const KIB: u64 = 1024;
        const MIB: u64 = 1024 * KIB;
        match self.0 {
            n if n >= MIB && n.is_multiple_of(MIB) => write!(f, "{} MiB", n / MIB),
            n if n >= KIB && n.is_multiple_of(KIB) => write!(f, "{} KiB", n / KIB),
            n => write!(f, "{n} bytes"),
        }
    }
}

/// Reads the file at `path` whole, refusing it (an `InvalidData` error carrying
/// [`FileTooLarge`]) when it holds more than `limit` bytes. Only `limit + 1` bytes are ever
/// read, whatever the file's announced size (devices and files in `/proc` announce none).
pub fn read_at_most(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let announced = file.metadata().map(|m| m.len()).unwrap_or(0);
    if announced > limit {
        return Err(too_large(limit));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(limit));
    }
    Ok(bytes)
}

/// Whether `error` is the refusal of a file larger than its bound, and that bound.
pub fn too_large_limit(error: &std::io::Error) -> Option<u64> {
    error
        .get_ref()
        .and_then(|e| e.downcast_ref::<FileTooLarge>())
        .map(|e| e.limit)
}

fn too_large(limit: u64) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, FileTooLarge { limit })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_within_the_bound_is_read_whole() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("f");
        std::fs::write(&path, [7u8; 100]).unwrap_or_else(|e| panic!("{e}"));
        let bytes = read_at_most(&path, 100).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bytes.len(), 100);
    }

    #[test]
    fn a_file_beyond_the_bound_is_refused_naming_the_bound() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("f");
        std::fs::write(&path, vec![b'x'; 2048 + 1]).unwrap_or_else(|e| panic!("{e}"));
        let err = read_at_most(&path, 2048).expect_err("one byte too many");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        assert_eq!(too_large_limit(&err), Some(2048));
        assert_eq!(err.to_string(), "the file is larger than 2 KiB");
    }

    #[test]
    fn a_device_announcing_no_size_is_read_only_up_to_the_bound() {
        // /dev/zero never ends: without the bound the read would exhaust memory.
        let err = read_at_most(Path::new("/dev/zero"), 1024).expect_err("endless");
        assert_eq!(too_large_limit(&err), Some(1024));
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(Bytes(1024 * 1024).to_string(), "1 MiB");
        assert_eq!(Bytes(4 * 1024 * 1024).to_string(), "4 MiB");
        assert_eq!(Bytes(1536).to_string(), "1536 bytes");
        assert_eq!(Bytes(100).to_string(), "100 bytes");
    }
}
