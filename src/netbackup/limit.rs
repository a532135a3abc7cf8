//! Per-site request limits: requests per second and requests in flight.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The longest spacing or pause the limiter applies (a day): far beyond any sane setting, far
/// below what `Instant` arithmetic can hold.
const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// Spaces requests evenly so that no one-second window holds more than `rate` requests (plus
/// one, where a window straddles two slots), and bounds the requests in flight.
#[derive(Debug)]
pub struct RequestLimiter {
    interval: Duration,
    next_slot: Mutex<Instant>,
    in_flight: Arc<Semaphore>,
}

impl RequestLimiter {
    /// A limiter for `requests_per_second` (> 0) and `max_concurrent` (>= 1) requests.
    pub fn new(requests_per_second: f64, max_concurrent: u32) -> Self {
        // The configuration bounds the rate; a value outside any sane range (NaN, 0, 1e-30)
        // must still not panic here, so it falls back to one request per second.
        let interval = Some(requests_per_second)
            .filter(|r| r.is_finite() && *r > 0.0)
            .and_then(|r| Duration::try_from_secs_f64(1.0 / r).ok())
            .filter(|d| *d <= MAX_INTERVAL)
            .unwrap_or(Duration::from_secs(1));
        Self {
            interval,
            next_slot: Mutex::new(Instant::now()),
            in_flight: Arc::new(Semaphore::new(max_concurrent.max(1) as usize)),
        }
    }

    /// Waits for a free slot and a free concurrency permit; the permit ends the request when
    /// dropped. Cancel-safe: a cancelled wait consumes at most one slot.
    pub async fn acquire(&self) -> OwnedSemaphorePermit {
        let permit = loop {
            // The semaphore is never closed, so this only loops on that impossible case.
            if let Ok(p) = self.in_flight.clone().acquire_owned().await {
                break p;
            }
        };
        let slot = {
            let mut next = self.next_slot.lock().await;
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot.checked_add(self.interval).unwrap_or(slot);
            slot
        };
        tokio::time::sleep_until(slot).await;
        permit
    }
}

impl RequestLimiter {
    /// Holds every request of the site until `wait` has passed: the server asked for it (a
    /// `Retry-After`), and it applies to the whole site, not only to the request that got it.
    pub async fn pause_for(&self, wait: Duration) {
        let until = Instant::now()
            .checked_add(wait.min(MAX_INTERVAL))
            .unwrap_or_else(Instant::now);
        let mut next = self.next_slot.lock().await;
        *next = (*next).max(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spaces_requests_by_the_rate() {
        let limiter = RequestLimiter::new(5.0, 10);
        let start = Instant::now();
        for _ in 0..11 {
            drop(limiter.acquire().await);
        }
        // 11 requests at 5/s need 10 intervals of 200 ms on the paused clock.
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn absurd_rates_and_pauses_do_not_panic() {
        for rate in [1e-30, 0.0, -1.0, f64::NAN, f64::INFINITY, f64::MIN_POSITIVE] {
            let limiter = RequestLimiter::new(rate, 1);
            drop(limiter.acquire().await);
            limiter.pause_for(Duration::MAX).await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_the_next_requests() {
        let limiter = RequestLimiter::new(100.0, 4);
        let start = Instant::now();
        limiter.pause_for(Duration::from_secs(3)).await;
        drop(limiter.acquire().await);
        assert!(start.elapsed() >= Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn bounds_requests_in_flight() {
        let limiter = RequestLimiter::new(1000.0, 2);
        let a = limiter.acquire().await;
        let _b = limiter.acquire().await;
        let third = tokio::time::timeout(Duration::from_secs(5), limiter.acquire()).await;
        assert!(
            third.is_err(),
            "a third request must wait while two are in flight"
        );
        drop(a);
        let third = tokio::time::timeout(Duration::from_secs(5), limiter.acquire()).await;
        assert!(third.is_ok());
    }
}
