//! Failures on the wire (no HTTP answer): timeouts and connection errors, retried, and TLS
//! refusals, reported with plain words where the library's say nothing to an operator.

use std::time::Duration;

use super::super::error::{ApiError, ApiFailure};
use super::answer::Attempt;

/// What a failure on the wire of a request of `site` to `endpoint` means: a timeout (after
/// `timeout`) or a connection error is worth another try, a TLS refusal is final.
pub(super) fn classify_transport(
    site: &str,
    endpoint: &str,
    attempts: u32,
    timeout: Duration,
    e: &reqwest::Error,
) -> Attempt {
    let detail = transport_detail(e);
    let error = |failure| ApiError::at(site, endpoint, failure);
    if e.is_timeout() {
        // A slow answer (or connection) is often a passing load peak: worth another try
        // within the retry budget, rather than losing the whole walk.
        return Attempt::Retry {
            wait: None,
            error: error(ApiFailure::Timeout { timeout, attempts }),
        };
    }
    if is_certificate_error(e) {
        let detail = match certificate_advice(e) {
            Some(advice) => format!("{advice} ({detail})"),
            None => detail,
        };
        return Attempt::Done(Err(error(ApiFailure::Tls { detail })));
    }
    Attempt::Retry {
        wait: None,
        error: error(ApiFailure::Connect { attempts, detail }),
    }
}
/// What went wrong on the wire, without the URL (reqwest puts it in its own message): the
/// kind of failure, then the sources' messages.
fn transport_detail(e: &reqwest::Error) -> String {
    let what = if e.is_connect() {
        "connecting failed"
    } else if e.is_body() || e.is_decode() {
        "reading the response failed"
    } else if e.is_request() {
        "sending the request failed"
    } else {
        "the request failed"
    };
    let mut parts = vec![what.to_owned()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// Whether the failure is a TLS verdict (untrusted or mismatched certificate, refused
/// handshake), found by type in the error's sources, never by words in its message. A
/// connection dropped during the handshake is a connection error, and is retried.
fn is_certificate_error(e: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if wraps_rustls_error(s) {
            return true;
        }
        source = s.source();
    }
    false
}

/// Plain words for a certificate refusal whose library message tells an operator nothing.
fn certificate_advice(e: &reqwest::Error) -> Option<&'static str> {
    use tokio_rustls::rustls::{CertificateError, Error as TlsError};
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let tls = find_rustls_error(s);
        if let Some(TlsError::InvalidCertificate(CertificateError::Other(other))) = tls
            && matches!(
                other.0.downcast_ref::<webpki::Error>(),
                Some(webpki::Error::CaUsedAsEndEntity)
            )
        {
            return Some(
                "the server's own certificate is a CA certificate (basic constraints CA:TRUE, \
                 as `openssl req -x509` makes by default), which TLS refuses as a server \
                 certificate; set tls.ca_file to the CA that issued NetBackup's web server \
                 certificate (NetBackup serves it at GET /security/cacert), or re-issue the \
                 server certificate without CA:TRUE",
            );
        }
        source = s.source();
    }
    None
}

/// The rustls error `e` is, or that an io::Error wraps (at any depth).
fn find_rustls_error<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a tokio_rustls::rustls::Error> {
    if let Some(tls) = e.downcast_ref::<tokio_rustls::rustls::Error>() {
        return Some(tls);
    }
    let io = e.downcast_ref::<std::io::Error>()?;
    let inner: &(dyn std::error::Error + 'static) = io.get_ref()?;
    find_rustls_error(inner)
}

/// Whether `e` is a rustls error, or an io::Error wrapping one (at any depth: an io::Error's
/// source() skips the error it wraps, so look inside).
fn wraps_rustls_error(e: &(dyn std::error::Error + 'static)) -> bool {
    find_rustls_error(e).is_some()
}
