//! Retry policy: which answers are retried, exponential backoff with jitter, `Retry-After`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// First backoff delay.
const BASE_DELAY: Duration = Duration::from_millis(250);
/// Largest backoff delay (before `Retry-After`, which may ask for more within the budget).
const MAX_DELAY: Duration = Duration::from_secs(30);

/// Whether an HTTP status is worth retrying: 429 and the gateway/availability errors.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// The backoff before retry number `attempt` (1 = first retry): exponential with equal jitter
/// (half the capped delay, plus a random part of the other half), so retries of many agents
/// do not align.
pub fn backoff(attempt: u32) -> Duration {
    let exp = BASE_DELAY.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let cap = exp.min(MAX_DELAY);
    let half = cap / 2;
    half + half.mul_f64(jitter_fraction())
}

/// Parses a `Retry-After` value: delta seconds or an HTTP-date (relative to `now`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = SystemTime::from(parse_http_date(value)?);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses an HTTP-date (a `Date` or `Retry-After` header): any of the three formats HTTP
/// allows (RFC 9110 section 5.6.7: IMF-fixdate, the obsolete RFC 850 form and C's `asctime`),
/// or else an RFC 2822 date with a numeric zone, as some servers write it.
pub fn parse_http_date(value: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let value = value.trim();
    match httpdate::parse_http_date(value) {
        Ok(at) => Some(chrono::DateTime::<chrono::Utc>::from(at)),
        Err(_) => chrono::DateTime::parse_from_rfc2822(value)
            .ok()
            .map(|d| d.with_timezone(&chrono::Utc)),
    }
}

/// A number in [0, 1) from a small shared xorshift generator seeded by the clock. Jitter only
/// needs to differ between agents and attempts, not to be unpredictable.
fn jitter_fraction() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        x = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0x9E37_79B9_7F4A_7C15, |d| d.as_nanos() as u64)
            | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 2015-10-21 07:28:00
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:05 GMT", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn retry_after_in_the_obsolete_http_date_formats() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 2015-10-21 07:28:00
        // RFC 850: weekday in full, two-digit year (15 is 2015).
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:28:05 GMT", now),
            Some(Duration::from_secs(5))
        );
        // asctime: no zone (GMT), the day padded with a space.
        assert_eq!(
            parse_retry_after("Wed Oct 21 07:29:10 2015", now),
            Some(Duration::from_secs(70))
        );
        assert_eq!(
            parse_retry_after("Wed Oct 21 07:27:00 2015", now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn http_dates_in_each_format_name_the_same_instant() {
        // 1994-11-06 08:49:37 UTC: 9,075 days after 1970-01-01 (24 years with 6 leap days,
        // then 309 days into 1994), plus 8 h 49 min 37 s: 9,075 * 86,400 + 31,777 seconds.
        let at = chrono::DateTime::<chrono::Utc>::from_timestamp(784_111_777, 0);
        for value in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 +0000",
        ] {
            assert_eq!(parse_http_date(value), at, "{value}");
        }
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 1..40 {
            let d = backoff(attempt);
            let cap = BASE_DELAY
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(MAX_DELAY);
            assert!(d >= cap / 2 && d <= cap, "attempt {attempt}: {d:?}");
        }
        assert!(backoff(1) <= BASE_DELAY);
    }

    #[test]
    fn retryable_statuses() {
        for s in [429, 502, 503, 504] {
            assert!(is_retryable_status(s));
        }
        for s in [200, 400, 401, 403, 404, 406, 500] {
            assert!(!is_retryable_status(s));
        }
    }
}
