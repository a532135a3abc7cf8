//! Why an OTLP exporter could not be built: the one error of both transports' setup, and the
//! reading of the TLS files they share.

use crate::config::SignalExport;
use crate::file_limits::{MAX_REFERENCED_FILE_BYTES, read_at_most};

/// Why an exporter could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ExporterError {
    /// A TLS file could not be read.
    #[error("{field}: cannot read {path}: {source}")]
    File {
        /// The setting, with its signal.
        field: String,
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A header is not valid gRPC metadata or a valid HTTP header.
    #[error("otlp.headers.{0}: not a valid header name or value")]
    Header(String),
    /// The OTLP builder refused the settings.
    #[error("otlp: {0}")]
    Build(String),
    /// The endpoint or its TLS settings were refused by the gRPC transport.
    #[error("otlp.endpoint: {0}")]
    Endpoint(#[source] tonic::transport::Error),
    /// An exporter was built outside a Tokio runtime.
    #[error("otlp: the exporters must be built inside a Tokio runtime")]
    NoRuntime,
}

/// The TLS file `path` of `export`'s setting `field` (`ca_file`, ...), read whole, up to
/// [`MAX_REFERENCED_FILE_BYTES`].
pub(super) fn read_tls_file(
    export: &SignalExport,
    field: &str,
    path: &std::path::Path,
) -> Result<Vec<u8>, ExporterError> {
    read_at_most(path, MAX_REFERENCED_FILE_BYTES).map_err(|source| ExporterError::File {
        field: format!("otlp ({}): {field}", export.signal.name()),
        path: path.display().to_string(),
        source,
    })
}
