//! What an answer means: a JSON body, an error to report, or a failure worth another try.

use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;

use super::super::error::{ApiError, ApiFailure, DecodeKind, snippet};
use super::super::models::ErrorBody;
use super::super::retry::is_retryable_status;
use super::super::version::ApiVersion;
use super::{Attempt, Body, SiteClient};

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

impl SiteClient {
    /// What `answer` means for the request: its body, an error, or another try.
    pub(super) fn classify(
        &self,
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
        let error = |failure| ApiError::at(&self.site, endpoint, failure);
        let server_message = || {
            ErrorBody::summary(&body)
                .map(|m| snippet(m.as_bytes(), self.key.expose_secret()))
                .unwrap_or_else(|| snippet(&body, self.key.expose_secret()))
        };
        match status {
            200..=299 => {
                if !is_json_media_type(content_type) {
                    return Attempt::Done(Err(self.decode_error(
                        endpoint,
                        DecodeKind::NotJson,
                        format!("content type {content_type:?}"),
                        &body,
                    )));
                }
                if body.iter().all(u8::is_ascii_whitespace) {
                    return Attempt::Done(Err(self.decode_error(
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
                    .map(|m| format!(": {}", snippet(m.as_bytes(), self.key.expose_secret())))
                    .unwrap_or_default();
                Attempt::Done(Err(error(ApiFailure::Unauthorized {
                    status,
                    detail: message,
                })))
            }
            406 => Attempt::Done(Err(ApiError::of_site(
                &self.site,
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

    /// A decode error with a redacted snippet of `body`.
    pub(crate) fn decode_error(
        &self,
        endpoint: &str,
        kind: DecodeKind,
        detail: String,
        body: &[u8],
    ) -> ApiError {
        ApiError::at(
            &self.site,
            endpoint,
            ApiFailure::Decode {
                kind,
                detail,
                snippet: snippet(body, self.key.expose_secret()),
            },
        )
    }
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
