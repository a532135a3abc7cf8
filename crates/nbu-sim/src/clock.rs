//! The simulator's clock: NetBackup's own idea of "now".
//!
//! Every response carries it in the `Date` header, and in live mode it decides what the jobs
//! look like. It is either the wall clock shifted by a fixed offset (a primary server whose
//! clock is ahead of or behind the agent's), or a manual clock that stands still until a test
//! moves it.

use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};

/// Where the time comes from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// `Utc::now() + offset`.
    Wall { offset: Duration },
    /// A time that only changes through [`SimClock::advance`] and [`SimClock::set`].
    Manual { now: DateTime<Utc> },
}

/// A cloneable handle on the simulator's clock; clones share the same time.
#[derive(Debug, Clone)]
pub struct SimClock {
    source: Arc<Mutex<Source>>,
}

impl SimClock {
    /// The wall clock shifted by `offset` (positive: the simulated server is ahead).
    pub fn wall(offset: Duration) -> SimClock {
        SimClock {
            source: Arc::new(Mutex::new(Source::Wall { offset })),
        }
    }

    /// A manual clock standing at `start` until moved.
    pub fn manual(start: DateTime<Utc>) -> SimClock {
        SimClock {
            source: Arc::new(Mutex::new(Source::Manual { now: start })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Source> {
        self.source
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The current time of the clock.
    pub fn now(&self) -> DateTime<Utc> {
        match *self.lock() {
            Source::Wall { offset } => Utc::now() + offset,
            Source::Manual { now } => now,
        }
    }

    /// The current time as Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }

    /// Whether the clock is manual.
    pub fn is_manual(&self) -> bool {
        matches!(*self.lock(), Source::Manual { .. })
    }

    /// Moves the clock by `by` (negative moves it back). A wall clock keeps running: its
    /// offset grows by `by`.
    pub fn advance(&self, by: Duration) {
        let mut source = self.lock();
        *source = match *source {
            Source::Wall { offset } => Source::Wall {
                offset: offset + by,
            },
            Source::Manual { now } => Source::Manual { now: now + by },
        };
    }

    /// Sets the clock to `at`. A wall clock keeps running from there: its offset becomes
    /// `at - Utc::now()`.
    pub fn set(&self, at: DateTime<Utc>) {
        let mut source = self.lock();
        *source = match *source {
            Source::Wall { .. } => Source::Wall {
                offset: at - Utc::now(),
            },
            Source::Manual { .. } => Source::Manual { now: at },
        };
    }
}

/// `at` as an RFC 7231 IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the shape of the HTTP
/// `Date` header.
pub(crate) fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = Utc
            .with_ymd_and_hms(2026, 11, 27, 8, 0, 0)
            .single()
            .expect("valid");
        let clock = SimClock::manual(start);
        assert!(clock.is_manual());
        assert_eq!(clock.now(), start);
        let shared = clock.clone();
        shared.advance(Duration::seconds(90));
        assert_eq!(clock.now(), start + Duration::seconds(90));
        clock.set(start - Duration::hours(1));
        assert_eq!(
            shared.now_ms(),
            (start - Duration::hours(1)).timestamp_millis()
        );
        assert_eq!(http_date(start), "Fri, 27 Nov 2026 08:00:00 GMT");
    }

    #[test]
    fn wall_clock_keeps_its_offset() {
        let clock = SimClock::wall(Duration::minutes(-15));
        assert!(!clock.is_manual());
        let skew = clock.now() - Utc::now();
        assert!(
            (skew + Duration::minutes(15)).num_seconds().abs() <= 1,
            "{skew}"
        );
        clock.advance(Duration::minutes(30));
        let skew = clock.now() - Utc::now();
        assert!(
            (skew - Duration::minutes(15)).num_seconds().abs() <= 1,
            "{skew}"
        );
        let target = Utc::now() + Duration::days(3);
        clock.set(target);
        assert!((clock.now() - target).num_seconds().abs() <= 1);
    }
}
