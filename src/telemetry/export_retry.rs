//! Retries of OTLP exports as the OTLP specification describes them, for both transports: an
//! export is tried again after a retryable answer (HTTP 429, 502, 503, 504; gRPC
//! `UNAVAILABLE`, `CANCELLED`, `ABORTED`, `OUT_OF_RANGE`, `DATA_LOSS`, `DEADLINE_EXCEEDED`,
//! and `RESOURCE_EXHAUSTED` when the server says when to come back) or a failed connection,
//! after the wait the server asks for (`Retry-After`, `RetryInfo`) or an exponential backoff
//! with jitter, and never past the export's timeout.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost::Message as _;
use tokio::time::Instant;

/// The first backoff; it doubles per retry, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest backoff between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(4);

/// How one try of an export ended.
#[derive(Debug)]
pub enum Attempt<T> {
    /// It succeeded.
    Done(T),
    /// It failed in a way worth another try, after `after` when the server said so.
    Retry {
        /// The wait the server asked for.
        after: Option<Duration>,
        /// What went wrong.
        error: String,
    },
    /// It failed for good (the data is refused, the request is wrong).
    Fail(String),
}

/// The wait before retry `n` (1 = the first): exponential, with up to a quarter of jitter.
pub fn backoff(n: u32) -> Duration {
    let base = FIRST_BACKOFF
        .saturating_mul(1u32 << n.saturating_sub(1).min(8))
        .min(MAX_BACKOFF);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    base + base.mul_f64(f64::from(nanos % 1000) / 4000.0)
}

/// Tries `attempt` (given the time left) until it succeeds, fails for good, or `timeout`
/// passes; the error says why it gave up.
pub async fn retrying<T, F, Fut>(timeout: Duration, mut attempt: F) -> Result<T, String>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Attempt<T>>,
{
    let deadline = Instant::now() + timeout;
    let mut retries = 0u32;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("timed out after {timeout:?}"));
        }
        let (after, error) = match tokio::time::timeout(left, attempt(left)).await {
            Err(_) => return Err(format!("timed out after {timeout:?}")),
            Ok(Attempt::Done(value)) => return Ok(value),
            Ok(Attempt::Fail(error)) => return Err(error),
            Ok(Attempt::Retry { after, error }) => (after, error),
        };
        retries += 1;
        let wait = after.unwrap_or_else(|| backoff(retries));
        if Instant::now() + wait >= deadline {
            return Err(match after {
                Some(asked) => format!(
                    "{error}; the Collector asked to wait {asked:?}, beyond the export's timeout \
                     ({timeout:?})"
                ),
                None => format!("{error} (tried {retries} times within {timeout:?})"),
            });
        }
        tokio::time::sleep(wait).await;
    }
}

/// `google.rpc.Status`, as gRPC servers send it in `grpc-status-details-bin`.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<ProtoAny>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
struct ProtoAny {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, prost::Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, prost::Message)]
struct ProtoDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

/// The delay of the `RetryInfo` a gRPC status carries, if any.
pub fn retry_info(status: &tonic::Status) -> Option<Duration> {
    let details = RpcStatus::decode(status.details()).ok()?;
    let info = details
        .details
        .iter()
        .find(|d| d.type_url.ends_with("google.rpc.RetryInfo"))?;
    let delay = RetryInfo::decode(info.value.as_slice()).ok()?.retry_delay?;
    let seconds = u64::try_from(delay.seconds).ok()?;
    let nanos = u32::try_from(delay.nanos).ok()?;
    Some(Duration::new(seconds, nanos.min(999_999_999)))
}

/// How a gRPC failure is retried.
pub fn grpc_attempt<T>(status: &tonic::Status) -> Attempt<T> {
    use tonic::Code;
    let error = format!("{:?}: {}", status.code(), status.message());
    let after = retry_info(status);
    match status.code() {
        Code::Unavailable
        | Code::Cancelled
        | Code::Aborted
        | Code::OutOfRange
        | Code::DataLoss
        | Code::DeadlineExceeded => Attempt::Retry { after, error },
        // Retryable only when the server says recovery is possible.
        Code::ResourceExhausted if after.is_some() => Attempt::Retry { after, error },
        _ => Attempt::Fail(error),
    }
}

/// Whether an HTTP status is retried (the OTLP/HTTP specification's list).
pub fn http_retryable(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// A gRPC status carrying `RetryInfo` with `delay`, as a server sends it.
#[cfg(test)]
pub fn status_with_retry_info(code: tonic::Code, delay: Duration) -> tonic::Status {
    let info = RetryInfo {
        retry_delay: Some(ProtoDuration {
            seconds: i64::try_from(delay.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(delay.subsec_nanos()).unwrap_or(0),
        }),
    };
    let status = RpcStatus {
        code: code as i32,
        message: "slow down".into(),
        details: vec![ProtoAny {
            type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
            value: info.encode_to_vec(),
        }],
    };
    tonic::Status::with_details(code, "slow down", status.encode_to_vec().into())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[test]
    fn retry_info_is_read_and_resource_exhausted_needs_it() {
        let status =
            status_with_retry_info(tonic::Code::ResourceExhausted, Duration::from_millis(1500));
        assert_eq!(retry_info(&status), Some(Duration::from_millis(1500)));
        assert!(matches!(
            grpc_attempt::<()>(&status),
            Attempt::Retry { after: Some(d), .. } if d == Duration::from_millis(1500)
        ));
        let bare = tonic::Status::resource_exhausted("full");
        assert!(matches!(grpc_attempt::<()>(&bare), Attempt::Fail(_)));
        assert!(matches!(
            grpc_attempt::<()>(&tonic::Status::unavailable("down")),
            Attempt::Retry { after: None, .. }
        ));
        assert!(matches!(
            grpc_attempt::<()>(&tonic::Status::invalid_argument("bad")),
            Attempt::Fail(_)
        ));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(1) >= FIRST_BACKOFF && backoff(1) < FIRST_BACKOFF * 2);
        assert!(backoff(3) >= FIRST_BACKOFF * 4);
        assert!(backoff(30) <= MAX_BACKOFF + MAX_BACKOFF / 4);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_stop_at_the_timeout_and_say_why() {
        let tries = AtomicU32::new(0);
        let result: Result<(), String> = retrying(Duration::from_secs(3), |_| {
            tries.fetch_add(1, Ordering::Relaxed);
            async {
                Attempt::Retry {
                    after: None,
                    error: "HTTP 503".into(),
                }
            }
        })
        .await;
        let e = result.expect_err("gives up");
        assert!(e.contains("HTTP 503") && e.contains("tried"), "{e}");
        assert!(
            tries.load(Ordering::Relaxed) >= 3,
            "retried within the timeout"
        );
        // A wait the server asks for beyond the timeout is not waited.
        let result: Result<(), String> = retrying(Duration::from_secs(3), |_| async {
            Attempt::Retry {
                after: Some(Duration::from_secs(60)),
                error: "HTTP 429".into(),
            }
        })
        .await;
        let e = result.expect_err("gives up");
        assert!(e.contains("asked to wait 60s"), "{e}");
        // Success after a retry.
        let n = AtomicU32::new(0);
        let result = retrying(Duration::from_secs(3), |_| {
            let first = n.fetch_add(1, Ordering::Relaxed) == 0;
            async move {
                if first {
                    Attempt::Retry {
                        after: Some(Duration::from_millis(100)),
                        error: "HTTP 429".into(),
                    }
                } else {
                    Attempt::Done(7)
                }
            }
        })
        .await;
        assert_eq!(result, Ok(7));
    }
}
