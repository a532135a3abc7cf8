//! What an answer means: a JSON body, an error to report, or a failure worth another try.

use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::super::error::{ApiError, ApiFailure, DecodeKind, snippet};
use super::super::models::ErrorBody;
use super::super::retry::is_retryable_status;
use super::super::version::ApiVersion;

/// A successful response body.
#[derive(Debug)]
pub struct Body {
    /// The raw bytes, checked to be of a JSON media type.
    pub bytes: Vec<u8>,
    /// Requests sent for it, retries included.
    pub attempts: u32,
    /// The server's clock when it answered (the `Date` header), if it sent a valid one.
    pub server_time: Option<DateTime<Utc>>,
}

/// The result of one request: final, or worth another try.
pub(super) enum Attempt {
    /// The request's outcome: no retry changes it.
    Done(Result<Body, ApiError>),
    /// A failure another try may mend, after `wait` if the server asked for one.
    Retry {
        /// The server's `Retry-After`, if it sent one.
        wait: Option<Duration>,
        /// What failed, reported if no retry is left.
        error: ApiError,
    },
}

/// What one HTTP exchange answered.
pub(super) struct Answer<'a> {
    /// The HTTP status code.
    pub(super) status: u16,
    /// The wait `Retry-After` asked for, if any.
    pub(super) retry_after: Option<Duration>,
    /// The server's clock (the `Date` header), if valid.
    pub(super) server_time: Option<DateTime<Utc>>,
    /// The `Content-Type` header, empty when absent.
    pub(super) content_type: &'a str,
    /// The whole body.
    pub(super) body: Vec<u8>,
}

/// What `answer` means for a request of `site` to `endpoint`: its body, an error (with what
/// the server said, `key` redacted), or another try.
pub(super) fn classify(
    site: &str,
    key: &SecretString,
    endpoint: &str,
    attempts: u32,
    version: ApiVersion,
    answer: Answer<'_>,
) -> Attempt {
    let Answer {
        status,
        retry_after,
        server_time,
        content_type,
        body,
    } = answer;
    let error = |failure| ApiError::at(site, endpoint, failure);
    let server_message = || {
        ErrorBody::summary(&body)
            .map(|m| snippet(m.as_bytes(), key.expose_secret()))
            .unwrap_or_else(|| snippet(&body, key.expose_secret()))
    };
    match status {
        200..=299 => {
            if !is_json_media_type(content_type) {
                return Attempt::Done(Err(decode_error(
                    site,
                    key,
                    endpoint,
                    DecodeKind::NotJson,
                    format!("content type {content_type:?}"),
                    &body,
                )));
            }
            if body.iter().all(u8::is_ascii_whitespace) {
                return Attempt::Done(Err(decode_error(
                    site,
                    key,
                    endpoint,
                    DecodeKind::Empty,
                    format!("HTTP {status} with no body"),
                    &body,
                )));
            }
            Attempt::Done(Ok(Body {
                bytes: body,
                attempts,
                server_time,
            }))
        }
        401 | 403 => {
            let message = ErrorBody::summary(&body)
                .map(|m| format!(": {}", snippet(m.as_bytes(), key.expose_secret())))
                .unwrap_or_default();
            Attempt::Done(Err(error(ApiFailure::Unauthorized {
                status,
                detail: message,
            })))
        }
        406 => Attempt::Done(Err(ApiError::of_site(
            site,
            ApiFailure::VersionUnsupported {
                tried: version.as_str().to_owned(),
            },
        ))),
        429 => Attempt::Retry {
            wait: retry_after,
            error: error(ApiFailure::RateLimited {
                attempts,
                detail: String::new(),
            }),
        },
        s if is_retryable_status(s) => Attempt::Retry {
            wait: retry_after,
            error: error(ApiFailure::Status {
                status,
                attempts,
                snippet: server_message(),
                detail: String::new(),
            }),
        },
        _ => Attempt::Done(Err(error(ApiFailure::Status {
            status,
            attempts,
            snippet: server_message(),
            detail: String::new(),
        }))),
    }
}

/// A decode error of `site` at `endpoint`, with a snippet of `body` (`key` redacted).
pub(super) fn decode_error(
    site: &str,
    key: &SecretString,
    endpoint: &str,
    kind: DecodeKind,
    detail: String,
    body: &[u8],
) -> ApiError {
    ApiError::at(
        site,
        endpoint,
        ApiFailure::Decode {
            kind,
            detail,
            snippet: snippet(body, key.expose_secret()),
        },
    )
}
/// `application/vnd.netbackup+json;version=...` or `application/json`.
fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types() {
        assert!(is_json_media_type(
            "application/vnd.netbackup+json;version=14.0"
        ));
        assert!(is_json_media_type("application/json; charset=utf-8"));
        assert!(!is_json_media_type("text/html"));
        assert!(!is_json_media_type(""));
    }
}
