//! Timestamp and duration text in the shapes NetBackup uses.

use std::fmt::Write;

/// Milliseconds per day.
const DAY_MS: i64 = 86_400_000;

/// Civil date (year, month, day) of a day number counted from 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Appends `2026-11-27T08:00:00.000Z` for a Unix time in milliseconds.
pub(crate) fn write_timestamp(out: &mut String, unix_ms: i64) {
    let days = unix_ms.div_euclid(DAY_MS);
    let ms_of_day = unix_ms.rem_euclid(DAY_MS);
    let (year, month, day) = civil_from_days(days);
    let hour = ms_of_day / 3_600_000;
    let minute = ms_of_day / 60_000 % 60;
    let second = ms_of_day / 1000 % 60;
    let milli = ms_of_day % 1000;
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z"
    );
}

/// Appends an ISO-8601 duration such as `PT5M46S` (whole seconds; `PT0S` for zero or less).
pub(crate) fn write_duration(out: &mut String, ms: i64) {
    let total = ms.max(0) / 1000;
    let (hours, minutes, seconds) = (total / 3600, total / 60 % 60, total % 60);
    out.push_str("PT");
    if hours > 0 {
        let _ = write!(out, "{hours}H");
    }
    if minutes > 0 {
        let _ = write!(out, "{minutes}M");
    }
    if seconds > 0 || total == 0 {
        let _ = write!(out, "{seconds}S");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, SecondsFormat};

    #[test]
    fn timestamps_match_chrono() {
        for ms in [
            0i64,
            1,
            999,
            951_782_400_000,
            1_795_766_400_123,
            4_102_444_799_999,
            -1,
            -86_400_001,
            253_402_300_799_999,
        ] {
            let mut ours = String::new();
            write_timestamp(&mut ours, ms);
            let theirs = DateTime::from_timestamp_millis(ms)
                .expect("in range")
                .to_rfc3339_opts(SecondsFormat::Millis, true);
            assert_eq!(ours, theirs, "{ms}");
        }
    }

    #[test]
    fn durations_are_iso8601() {
        let text = |ms| {
            let mut s = String::new();
            write_duration(&mut s, ms);
            s
        };
        assert_eq!(text(346_000), "PT5M46S");
        assert_eq!(text(0), "PT0S");
        assert_eq!(text(-5), "PT0S");
        assert_eq!(text(3_600_000), "PT1H");
        assert_eq!(text(90_061_000), "PT25H1M1S");
    }
}
