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
    #[error("HTTP {status} after {attempts} attempts: {snippet}{detail}")]
    Status {
        /// The status code.
        status: u16,
        /// Requests sent.
        attempts: u32,
        /// The server's error message or the start of its body.
        snippet: String,
        /// Why retrying stopped early (a wait beyond `max_retry_time`), prefixed with `; `
        /// when present.
        detail: String,
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
    /// NetBackup's clock (the `Date` header) jumped further than a real clock does since the
    /// previous answers: the answer is not used and the stored jobs stay.
    #[error(
        "NetBackup's clock jumped: the answer's Date says {}, its earlier answers lead to {} \
         (collection.jobs_clock_tolerance {tolerance:?}); the answer is not used and the \
         stored jobs stay",
        .said.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        .expected.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )]
    ClockJump {
        /// What the answer's `Date` said.
        said: chrono::DateTime<chrono::Utc>,
        /// Where the trusted clock stands.
        expected: chrono::DateTime<chrono::Utc>,
        /// The tolerance exceeded.
        tolerance: Duration,
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
            ApiFailure::ClockJump { .. } => "clock_jump",
            ApiFailure::Setup { .. } => "setup",
            ApiFailure::Internal { .. } => "internal",
        }
    }
}

/// The longest body excerpt quoted in an error.
const SNIPPET_CHARS: usize = 120;

/// A short, printable excerpt of a body for an error message, with `secret` redacted.
///
/// JSON escapes are decoded first (`\u0053`, a surrogate pair, `\/`, ...), so a server that
/// echoes the key escaped, wholly or in part, has it redacted too; the excerpt shows the
/// decoded text. Only the start of the body is looked at: enough for the excerpt even if
/// every character were escaped and every one the start of a redacted key.
pub(crate) fn snippet(body: &[u8], secret: &str) -> String {
    let key_chars = secret.chars().count().max(1);
    let needed = 12 * ((SNIPPET_CHARS + 1) * key_chars + key_chars);
    let (start, cut) = match body.get(..needed) {
        Some(start) if start.len() < body.len() => (start, true),
        _ => (body, false),
    };
    let text = unescape_json(&String::from_utf8_lossy(start));
    let text = if secret.is_empty() {
        text
    } else {
        text.replace(secret, "[REDACTED]")
    };
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(SNIPPET_CHARS)
        .collect();
    if cut || text.chars().count() > SNIPPET_CHARS {
        out.push('…');
    }
    out
}

/// `text` with its JSON string escapes decoded: `\uXXXX` (in either case, surrogate pairs
/// joined, a lone surrogate as U+FFFD), `\/`, `\\`, `\"`, `\b`, `\f`, `\n`, `\r`, `\t`. Anything
/// else is kept as written.
fn unescape_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let escape = &rest[at..];
        let (decoded, used) = match escape.as_bytes().get(1) {
            Some(b'u') => match hex4(escape, 2) {
                Some(high @ 0xD800..=0xDBFF) => match (escape.get(6..8), hex4(escape, 8)) {
                    (Some("\\u"), Some(low @ 0xDC00..=0xDFFF)) => {
                        let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                        (char::from_u32(code), 12)
                    }
                    _ => (Some(char::REPLACEMENT_CHARACTER), 6),
                },
                Some(code) => (
                    Some(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER)),
                    6,
                ),
                None => (None, 1),
            },
            Some(b'/') => (Some('/'), 2),
            Some(b'\\') => (Some('\\'), 2),
            Some(b'"') => (Some('"'), 2),
            Some(b'b') => (Some('\u{8}'), 2),
            Some(b'f') => (Some('\u{c}'), 2),
            Some(b'n') => (Some('\n'), 2),
            Some(b'r') => (Some('\r'), 2),
            Some(b't') => (Some('\t'), 2),
            _ => (None, 1),
        };
        match decoded {
            Some(c) => out.push(c),
            None => out.push('\\'),
        }
        rest = &escape[used..];
    }
    out.push_str(rest);
    out
}

/// The four hex digits at `at` in `text`, as a number.
fn hex4(text: &str, at: usize) -> Option<u32> {
    let digits = text.get(at..at + 4)?;
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(digits, 16).ok()
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
    fn a_key_echoed_json_escaped_is_redacted_in_every_form() {
        let key = "S3cr/et-Key_9";
        let escaped: String = key
            .chars()
            .map(|c| format!("\\u{:04X}", c as u32))
            .collect();
        let lower: String = key
            .chars()
            .map(|c| format!("\\u{:04x}", c as u32))
            .collect();
        let bodies = [
            format!(r#"{{"errorMessage":"bad key {escaped}"}}"#),
            format!(r#"{{"errorMessage":"bad key {lower}"}}"#),
            // Partly escaped, and the solidus escaped as JSON allows.
            r#"{"errorMessage":"bad key S\u0033cr\/et-\u004bey_9"}"#.to_owned(),
            r#"{"errorMessage":"bad key S3cr\/et-Key_9"}"#.to_owned(),
            format!("<html>{key}</html>"),
        ];
        for body in bodies {
            let s = snippet(body.as_bytes(), key);
            assert!(s.contains("[REDACTED]"), "{body} gave {s}");
            assert!(!s.contains(key), "{body} gave {s}");
            assert!(!s.contains("\\u0053"), "{body} gave {s}");
            assert!(!s.contains("\\u0033"), "{body} gave {s}");
        }
    }

    #[test]
    fn a_key_escaped_with_surrogate_pairs_is_redacted() {
        let key = "k\u{1F511}ey";
        let s = snippet(r#"echo k\ud83d\udd11ey"#.as_bytes(), key);
        assert_eq!(s, "echo [REDACTED]");
    }

    #[test]
    fn broken_escapes_are_kept_as_written() {
        let s = snippet(br#"a\u12 b\x c\ud800 d\"#, "k");
        assert_eq!(s, "a\\u12 b\\x c\u{FFFD} d\\");
    }

    #[test]
    fn a_huge_body_is_looked_at_only_as_far_as_the_excerpt_needs() {
        let mut body = "x".repeat(200);
        body.push_str(&"\\u0041".repeat(10_000_000));
        let started = std::time::Instant::now();
        let s = snippet(body.as_bytes(), "SECRET");
        assert!(s.ends_with('…'), "{s}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn snippet_survives_invalid_utf8_and_controls() {
        let s = snippet(b"\xff\xfe\n\tabc", "k");
        assert!(s.contains("abc"));
        assert!(!s.contains('\n'));
    }
}
