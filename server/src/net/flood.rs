//! The token bucket behind every inbound rate limit: player transports take
//! `rate` messages per second with two seconds' worth of burst, so a client
//! catching up after a stall is fine and a flood is not; the room quota
//! uses the same bucket with its own rate and burst.

use std::time::Duration;

use tokio::time::Instant;

/// One session's (or one address's) bucket.
#[derive(Debug)]
pub struct FloodGuard {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
}

impl FloodGuard {
    /// A full bucket for `rate` messages per second, two seconds of burst.
    #[must_use]
    pub fn new(rate: u32) -> FloodGuard {
        let rate = f64::from(rate);
        FloodGuard::with_burst(rate, rate * 2.0)
    }

    /// A full bucket of `burst` tokens refilled at `rate` per second.
    #[must_use]
    pub fn with_burst(rate: f64, burst: f64) -> FloodGuard {
        FloodGuard {
            tokens: burst,
            rate,
            burst,
            last: Instant::now(),
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.last = now;
    }

    /// Takes `n` tokens; false when the bucket cannot cover them.
    pub fn allow(&mut self, n: u32) -> bool {
        self.refill();
        if self.tokens >= f64::from(n) {
            self.tokens -= f64::from(n);
            true
        } else {
            false
        }
    }

    /// Returns `n` tokens taken for something that turned out free, up to
    /// the burst.
    pub fn give_back(&mut self, n: u32) {
        self.tokens = (self.tokens + f64::from(n)).min(self.burst);
    }

    /// Whether the bucket has refilled completely: it is then the same as a
    /// new one, and a map of buckets may forget it.
    pub fn is_full(&mut self) -> bool {
        self.refill();
        self.tokens >= self.burst
    }

    /// How long until one token is available (zero when one is).
    #[must_use]
    pub fn retry_in(&self) -> Duration {
        let missing = 1.0 - self.tokens;
        if missing <= 0.0 || self.rate <= 0.0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(missing / self.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bursts_pass_floods_fail_and_time_refills() {
        let mut guard = FloodGuard::new(10);
        assert!(guard.allow(20), "two seconds of burst");
        assert!(!guard.allow(1));
        assert_eq!(guard.retry_in(), Duration::from_millis(100));
        tokio::time::advance(std::time::Duration::from_millis(500)).await;
        assert!(guard.allow(5));
        assert!(!guard.allow(1));
        assert!(!guard.is_full());
        tokio::time::advance(std::time::Duration::from_secs(2)).await;
        assert!(guard.is_full());
        assert_eq!(guard.retry_in(), Duration::ZERO);
    }
}
