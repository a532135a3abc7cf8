//! The server's TLS acceptor, from the PEM files of `server.tls_cert_file` and
//! `server.tls_key_file`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why the server's TLS acceptor could not be built; the message names the field whose file
/// is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ServerTlsError {
    /// The certificate file cannot be read or holds no PEM certificate.
    #[error("server.tls_cert_file {}: {reason}", path.display())]
    CertFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The key file cannot be read or holds no PEM private key.
    #[error("server.tls_key_file {}: {reason}", path.display())]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The TLS library refused its default protocol versions.
    #[error("server TLS: {0}")]
    Protocols(rustls::Error),
    /// The key is not the certificate's.
    #[error("server.tls_key_file: does not match the certificate: {0}")]
    KeyMismatch(rustls::Error),
}

/// Builds the TLS acceptor from PEM files, naming the field whose file is wrong.
pub fn tls_acceptor(cert_file: &Path, key_file: &Path) -> Result<TlsAcceptor, ServerTlsError> {
    let cert_error = |reason: String| ServerTlsError::CertFile {
        path: cert_file.to_owned(),
        reason,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| cert_error(e.to_string()))?;
    if certs.is_empty() {
        return Err(cert_error("no certificate in the file".to_owned()));
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| ServerTlsError::KeyFile {
        path: key_file.to_owned(),
        reason: e.to_string(),
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(ServerTlsError::Protocols)?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(ServerTlsError::KeyMismatch)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
