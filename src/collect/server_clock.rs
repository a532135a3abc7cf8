//! NetBackup's clock as the jobs source trusts it.
//!
//! NetBackup's `Date` header is the reference for the jobs window and the high-water mark, so
//! that a skewed agent clock loses nothing. The first answer's clock is taken as it is, skew
//! and all. After that, an answer's clock must agree with the trusted one moved on by the
//! agent's own monotonic time, within `collection.jobs_clock_tolerance` (ten minutes by
//! default): no real clock jumps further between two answers. An answer that does not agree is not used (the store keeps its data and the
//! cycle fails as a `clock_jump`). A new clock that every later answer confirms
//! ([`CONFIRMATIONS`] answers in a row, each agreeing with the first of them) is a real change
//! of the server's clock (an operator corrected it) and is followed from then on.
//!
//! Job data is held to the same clock: a `lastUpdateTime` later than the clock in use plus
//! [`FUTURE_TOLERANCE`] cannot be right; such a job is counted as an invalid value and never
//! moves the high-water mark.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

/// Answers in a row that must agree on a new clock before it is followed.
pub const CONFIRMATIONS: u32 = 3;

/// How far past the clock in use (NetBackup's, or the agent's without a `Date` header, skew
/// included) a job's `lastUpdateTime` may be.
pub const FUTURE_TOLERANCE: Duration = Duration::from_secs(60 * 60);

/// One reading of NetBackup's clock, and the agent's monotonic time when it was taken.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Reading {
    at: DateTime<Utc>,
    taken: Instant,
}

impl Reading {
    /// Where this clock stands at `now`, had it run as the agent's monotonic time did.
    fn moved_to(&self, now: Instant) -> DateTime<Utc> {
        let elapsed = chrono::Duration::from_std(now.saturating_duration_since(self.taken))
            .unwrap_or(chrono::Duration::MAX);
        self.at.checked_add_signed(elapsed).unwrap_or(self.at)
    }

    /// Whether `at`, read at `now`, agrees with this clock within `tolerance`.
    fn agrees(&self, at: DateTime<Utc>, now: Instant, tolerance: Duration) -> bool {
        let expected = self.moved_to(now);
        let tolerance = chrono::Duration::from_std(tolerance).unwrap_or(chrono::Duration::MAX);
        (at - expected).abs() <= tolerance
    }
}

/// The verdict on one answer's clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// The answer agrees with the trusted clock (or is the first): use it.
    Trusted,
    /// Enough answers in a row confirmed a new clock: follow it from now on.
    Changed {
        /// Where the old clock would stand now.
        expected: DateTime<Utc>,
    },
    /// The answer's clock jumped: do not use the answer.
    Jump {
        /// Where the trusted clock stands now.
        expected: DateTime<Utc>,
    },
}

/// NetBackup's clock as the jobs source trusts it (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct ServerClock {
    trusted: Option<Reading>,
    /// A clock that disagreed with the trusted one, and how many answers in a row agreed
    /// with it.
    suspect: Option<(Reading, u32)>,
}

impl ServerClock {
    /// The verdict on `at`, an answer's clock read at `now`, allowed to stray by `tolerance`.
    /// Changes nothing: [`Self::trust`] or [`Self::reject`] record the outcome.
    pub fn judge(&self, at: DateTime<Utc>, now: Instant, tolerance: Duration) -> Verdict {
        let Some(trusted) = self.trusted else {
            return Verdict::Trusted;
        };
        if trusted.agrees(at, now, tolerance) {
            return Verdict::Trusted;
        }
        let expected = trusted.moved_to(now);
        match self.suspect {
            Some((suspect, seen))
                if seen + 1 >= CONFIRMATIONS && suspect.agrees(at, now, tolerance) =>
            {
                Verdict::Changed { expected }
            }
            _ => Verdict::Jump { expected },
        }
    }

    /// Trusts `at`, read at `now`, from now on (after a [`Verdict::Trusted`] or
    /// [`Verdict::Changed`] answer was used).
    pub fn trust(&mut self, at: DateTime<Utc>, now: Instant) {
        self.trusted = Some(Reading { at, taken: now });
        self.suspect = None;
    }

    /// Records an answer whose clock jumped to `at`, read at `now`: it counts towards
    /// following a new clock when the next answers agree with it (within `tolerance`).
    pub fn reject(&mut self, at: DateTime<Utc>, now: Instant, tolerance: Duration) {
        let reading = Reading { at, taken: now };
        self.suspect = match self.suspect {
            Some((suspect, seen)) if suspect.agrees(at, now, tolerance) => {
                Some((suspect, seen + 1))
            }
            _ => Some((reading, 1)),
        };
    }
}

/// The latest `lastUpdateTime` a job read at `clock` can plausibly carry, Unix milliseconds.
pub fn latest_plausible_update_ms(clock: DateTime<Utc>) -> i64 {
    let tolerance = chrono::Duration::from_std(FUTURE_TOLERANCE).unwrap_or_default();
    clock
        .checked_add_signed(tolerance)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
        .timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEN_MINUTES: Duration = Duration::from_secs(600);

    fn at(t: &str) -> DateTime<Utc> {
        t.parse().unwrap_or_else(|e| panic!("{t}: {e}"))
    }

    #[test]
    fn the_first_answer_is_trusted_whatever_its_skew() {
        let clock = ServerClock::default();
        assert_eq!(
            clock.judge(at("2040-01-01T00:00:00Z"), Instant::now(), TEN_MINUTES),
            Verdict::Trusted
        );
    }

    #[test]
    fn a_clock_moving_with_the_agents_time_is_trusted() {
        let mut clock = ServerClock::default();
        let start = Instant::now();
        clock.trust(at("2026-12-06T08:00:00Z"), start);
        let later = start + Duration::from_secs(3600);
        // An hour later by the agent, an hour and five minutes by NetBackup: within tolerance.
        assert_eq!(
            clock.judge(at("2026-12-06T09:05:00Z"), later, TEN_MINUTES),
            Verdict::Trusted
        );
        assert_eq!(
            clock.judge(at("2026-12-06T08:55:00Z"), later, TEN_MINUTES),
            Verdict::Trusted
        );
    }

    #[test]
    fn a_jump_either_way_beyond_the_tolerance_is_rejected() {
        let mut clock = ServerClock::default();
        let start = Instant::now();
        clock.trust(at("2026-12-06T08:00:00Z"), start);
        let later = start + Duration::from_secs(60);
        let expected = at("2026-12-06T08:01:00Z");
        for jumped in [
            "2027-12-06T08:01:00Z",
            "2026-12-06T08:12:00Z",
            "2025-01-01T00:00:00Z",
        ] {
            assert_eq!(
                clock.judge(at(jumped), later, TEN_MINUTES),
                Verdict::Jump { expected },
                "{jumped}"
            );
        }
    }

    #[test]
    fn a_new_clock_confirmed_by_answers_in_a_row_is_followed() {
        let mut clock = ServerClock::default();
        let start = Instant::now();
        clock.trust(at("2026-12-06T08:00:00Z"), start);
        // The operator sets the server's clock a day ahead; every answer says so.
        let mut now = start;
        for answer in 1..CONFIRMATIONS {
            now += Duration::from_secs(30);
            let said =
                at("2026-12-07T08:00:00Z") + chrono::Duration::seconds(30 * i64::from(answer));
            assert!(
                matches!(clock.judge(said, now, TEN_MINUTES), Verdict::Jump { .. }),
                "{answer}"
            );
            clock.reject(said, now, TEN_MINUTES);
        }
        now += Duration::from_secs(30);
        let said =
            at("2026-12-07T08:00:00Z") + chrono::Duration::seconds(30 * i64::from(CONFIRMATIONS));
        assert!(matches!(
            clock.judge(said, now, TEN_MINUTES),
            Verdict::Changed { .. }
        ));
        clock.trust(said, now);
        assert_eq!(
            clock.judge(
                said + chrono::Duration::seconds(30),
                now + Duration::from_secs(30),
                TEN_MINUTES
            ),
            Verdict::Trusted
        );
    }

    #[test]
    fn answers_that_disagree_with_each_other_never_replace_the_clock() {
        let mut clock = ServerClock::default();
        let start = Instant::now();
        clock.trust(at("2026-12-06T08:00:00Z"), start);
        let mut now = start;
        for (i, jumped) in [
            "2027-01-01T00:00:00Z",
            "2030-01-01T00:00:00Z",
            "2020-01-01T00:00:00Z",
        ]
        .iter()
        .cycle()
        .take(12)
        .enumerate()
        {
            now += Duration::from_secs(30);
            assert!(
                matches!(
                    clock.judge(at(jumped), now, TEN_MINUTES),
                    Verdict::Jump { .. }
                ),
                "{i}"
            );
            clock.reject(at(jumped), now, TEN_MINUTES);
        }
        // The true clock is still trusted.
        assert_eq!(
            clock.judge(at("2026-12-06T08:06:00Z"), now, TEN_MINUTES),
            Verdict::Trusted
        );
    }

    #[test]
    fn the_latest_plausible_update_is_the_clock_plus_the_tolerance() {
        assert_eq!(
            latest_plausible_update_ms(at("2026-12-06T08:00:00Z")),
            at("2026-12-06T09:00:00Z").timestamp_millis()
        );
        assert_eq!(
            latest_plausible_update_ms(DateTime::<Utc>::MAX_UTC),
            DateTime::<Utc>::MAX_UTC.timestamp_millis()
        );
    }
}
