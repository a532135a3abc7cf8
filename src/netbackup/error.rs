//! Typed errors of NetBackup API calls.

use std::fmt;
use std::time::Duration;

/// What went wrong while decoding a response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeKind {
    /// The `Content-Type` is not JSON (an HTML error page, say).
    NotJson,
    /// The body is not valid JSON for the expected document (truncated, wrong shape, bad UTF-8).
    InvalidJson,
    /// The body is empty.
    Empty,
    /// The body is larger than the agent accepts for one page.
    TooLarge,
}

impl fmt::Display for DecodeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecodeKind::NotJson => "response is not NetBackup JSON",
            DecodeKind::InvalidJson => "response body does not parse",
            DecodeKind::Empty => "response body is empty",
            DecodeKind::TooLarge => "response body is too large",
        })
    }
}

/// An error of one NetBackup API operation: the site, the endpoint where there is one, and
/// what failed. None ever contains the API key (bodies quoted in errors are redacted).
#[derive(Debug, Clone, thiserror::Error)]
pub struct ApiError {
    /// Site name.
    pub site: String,
    /// Endpoint path; `None` for failures of the site as a whole (no API version agreed, the
    /// client not built, an internal error).
    pub endpoint: Option<String>,
    /// What failed.
    pub failure: ApiFailure,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "site {}: ", self.site)?;
        if let Some(endpoint) = &self.endpoint {
            write!(f, "{endpoint}: ")?;
        }
        self.failure.fmt(f)
    }
}

/// What failed in a NetBackup API operation, with the data of that kind of failure.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiFailure {
    /// 401 or 403: the key is missing, invalid, expired or lacks permission.
    #[error("HTTP {status}: the API key was refused{detail}")]
    Unauthorized {
        /// 401 or 403.
        status: u16,
        /// The server's own error message, prefixed with `: ` when present.
        detail: String,
    },
    /// Every API version tried was refused with HTTP 406.
    #[error("no supported API version: the server refused {tried} with HTTP 406")]
    VersionUnsupported {
        /// The versions tried, comma separated.
        tried: String,
    },
    /// HTTP 429 and the retries (or their time budget) ran out.
    #[error("rate limited by the server (HTTP 429) after {attempts} attempts{detail}")]
    RateLimited {
        /// Requests sent.
        attempts: u32,
        /// Why retrying stopped, prefixed with `; ` when present.
        detail: String,
    },
    /// Any other unexpected HTTP status.
    #[error("HTTP {status} after {attempts} attempts: {snippet}")]
    Status {
        /// The status code.
        status: u16,
        /// Requests sent.
        attempts: u32,
        /// The server's error message or the start of its body.
        snippet: String,
    },
    /// The body could not be decoded.
    #[error("{kind}: {detail} (body starts: {snippet:?})")]
    Decode {
        /// What kind of decoding problem.
        kind: DecodeKind,
        /// Details (parser position, content type, ...).
        detail: String,
        /// The start of the body, redacted and shortened.
        snippet: String,
    },
    /// The request did not complete within the timeout.
    #[error("no complete answer within {timeout:?} ({attempts} attempts)")]
    Timeout {
        /// The request timeout.
        timeout: Duration,
        /// Requests sent.
        attempts: u32,
    },
    /// The TLS handshake failed (untrusted certificate, hostname mismatch, ...).
    #[error("TLS failed: {detail}")]
    Tls {
        /// The TLS library's reason.
        detail: String,
    },
    /// The connection could not be made or broke.
    #[error("connection failed after {attempts} attempts: {detail}")]
    Connect {
        /// Requests sent.
        attempts: u32,
        /// The reason.
        detail: String,
    },
    /// Pagination did not end properly (a repeating cursor, far more pages than announced, a
    /// `jobId` slice read without progress or beyond the records it can hold).
    #[error("pagination stopped: {detail}")]
    Pagination {
        /// What was wrong.
        detail: String,
    },
    /// The agent itself failed while working on the site (a panic: a bug of the agent, not a
    /// problem of the server or the configuration).
    #[error("internal error of the agent: {detail}")]
    Internal {
        /// What failed (the panic's message).
        detail: String,
    },
    /// The site's client could not be built (unreadable CA file, ...).
    #[error("cannot build the HTTP client: {detail}")]
    Setup {
        /// The reason.
        detail: String,
    },
}

impl ApiError {
    /// A failure of `endpoint` of `site`.
    pub fn at(site: impl Into<String>, endpoint: impl Into<String>, failure: ApiFailure) -> Self {
        Self {
            site: site.into(),
            endpoint: Some(endpoint.into()),
            failure,
        }
    }

    /// A failure of `site` as a whole, at no one endpoint.
    pub fn of_site(site: impl Into<String>, failure: ApiFailure) -> Self {
        Self {
            site: site.into(),
            endpoint: None,
            failure,
        }
    }

    /// A short, bounded name of the error kind: the `error.type` of logs and spans, and the
    /// `kind` label of the error counter.
    pub fn kind(&self) -> &'static str {
        self.failure.kind()
    }
}

impl ApiFailure {
    /// A short, bounded name of the failure (see [`ApiError::kind`]).
    pub fn kind(&self) -> &'static str {
        match self {
            ApiFailure::Unauthorized { .. } => "unauthorized",
            ApiFailure::VersionUnsupported { .. } => "version_unsupported",
            ApiFailure::RateLimited { .. } => "rate_limited",
            ApiFailure::Status { .. } => "server_status",
            ApiFailure::Decode {
                kind: DecodeKind::NotJson,
                ..
            } => "not_json",
            ApiFailure::Decode {
                kind: DecodeKind::TooLarge,
                ..
            } => "too_large",
            ApiFailure::Decode { .. } => "decode",
            ApiFailure::Timeout { .. } => "timeout",
            ApiFailure::Tls { .. } => "tls",
            ApiFailure::Connect { .. } => "connect",
            ApiFailure::Pagination { .. } => "pagination",
            ApiFailure::Setup { .. } => "setup",
            ApiFailure::Internal { .. } => "internal",
        }
    }
}

/// The longest body excerpt quoted in an error.
const SNIPPET_CHARS: usize = 120;

/// A short, printable excerpt of a body for an error message, with `secret` redacted.
pub(crate) fn snippet(body: &[u8], secret: &str) -> String {
    let text = String::from_utf8_lossy(body);
    let text = if secret.is_empty() {
        text.into_owned()
    } else {
        text.replace(secret, "[REDACTED]")
    };
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(SNIPPET_CHARS)
        .collect();
    if text.chars().count() > SNIPPET_CHARS {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_redacts_and_shortens() {
        let body = format!("<html>key=SECRET123 {}</html>", "x".repeat(500));
        let s = snippet(body.as_bytes(), "SECRET123");
        assert!(!s.contains("SECRET123"));
        assert!(s.contains("[REDACTED]"));
        assert!(s.chars().count() <= SNIPPET_CHARS + 1);
    }

    #[test]
    fn snippet_survives_invalid_utf8_and_controls() {
        let s = snippet(b"\xff\xfe\n\tabc", "k");
        assert!(s.contains("abc"));
        assert!(!s.contains('\n'));
    }
}
