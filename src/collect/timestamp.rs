//! NetBackup's timestamps (`YYYY-MM-DDTHH:MM:SS[.fraction]Z`) as Unix milliseconds: the
//! form NetBackup writes is read directly, anything else by the general RFC 3339 parser.

use chrono::DateTime;

use crate::netbackup::lenient::Text;

/// A time attribute as Unix milliseconds: `None` when absent, `Err` when it does not parse.
pub(super) fn time_ms(text: &Text<'_>) -> Option<Result<i64, ()>> {
    match text {
        Text::Absent => None,
        Text::Invalid => Some(Err(())),
        Text::Valid(t) => Some(utc_ms(t).map_or_else(
            || {
                DateTime::parse_from_rfc3339(t)
                    .map(|d| d.timestamp_millis())
                    .map_err(|_| ())
            },
            Ok,
        )),
    }
}

/// Unix milliseconds of the form NetBackup writes, `YYYY-MM-DDTHH:MM:SS[.fraction]Z` from
/// 1970 on, read directly (three of them per job); `None` for anything else, which is left to
/// the general RFC 3339 parser.
fn utc_ms(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    let (&last, _) = b.split_last()?;
    if b.len() < 20
        || last != b'Z'
        || b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || b.get(10) != Some(&b'T')
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        b.get(from..to)?.iter().try_fold(0i64, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let millis = match b.len() {
        20 => 0,
        n if b.get(19) == Some(&b'.') && (22..=30).contains(&n) => {
            let digits = b.get(20..n - 1)?;
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            digits
                .iter()
                .chain(std::iter::repeat(&b'0'))
                .take(3)
                .fold(0i64, |n, c| n * 10 + i64::from(c - b'0'))
        }
        _ => return None,
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if year < 1970 || day < 1 || day > month_days || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    // Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netbackup_times_read_directly_equal_the_rfc3339_parser() {
        let chrono_ms = |t: &str| DateTime::parse_from_rfc3339(t).map(|d| d.timestamp_millis());
        let mut checked = 0;
        // Every day from 1970 to 2100 at a few times of day, with 0 to 9 fraction digits.
        let mut day = DateTime::<chrono::Utc>::from_timestamp(0, 0).unwrap_or_default();
        while day.timestamp() < 4_102_444_800 {
            for (i, fraction) in ["", ".5", ".123", ".000", ".999999", ".123456789"]
                .iter()
                .enumerate()
            {
                let at = day + chrono::Duration::seconds(i as i64 * 13_337);
                let t = format!("{}{fraction}Z", at.format("%Y-%m-%dT%H:%M:%S"));
                assert_eq!(utc_ms(&t).map(Ok), Some(chrono_ms(&t)), "{t}");
                checked += 1;
            }
            day += chrono::Duration::days(1);
        }
        assert!(checked > 280_000);
        // Anything else is left to the general parser, which decides.
        for t in [
            "2026-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-27T24:00:00Z",
            "2026-11-27T23:59:60Z",
            "2026-11-27T07:00:00+05:30",
            "2026-11-27t07:00:00z",
            "1969-12-31T23:59:59.999Z",
            "2026-11-27T07:00:00.Z",
            "2026-11-27T07:00:00.1234567890Z",
            "+2026-11-27T07:00:00Z",
            "2026-11-27 07:00:00Z",
            "２026-11-27T07:00:00Z",
        ] {
            assert_eq!(utc_ms(t), None, "{t}");
        }
        assert_eq!(
            time_ms(&Text::Valid("2026-11-27T07:00:00+05:30".into())),
            Some(chrono_ms("2026-11-27T07:00:00+05:30").map_err(|_| ()))
        );
    }
}
