//! The inbound rate limit every player transport applies: a token bucket of
//! `rate` messages per second with two seconds' worth of burst, so a client
//! catching up after a stall is fine and a flood is not.

use tokio::time::Instant;

/// One session's bucket.
#[derive(Debug)]
pub struct FloodGuard {
    tokens: f64,
    rate: f64,
    last: Instant,
}

impl FloodGuard {
    /// A full bucket for `rate` messages per second.
    #[must_use]
    pub fn new(rate: u32) -> FloodGuard {
        let rate = f64::from(rate);
        FloodGuard {
            tokens: rate * 2.0,
            rate,
            last: Instant::now(),
        }
    }

    /// Takes `n` tokens; false when the bucket cannot cover them.
    pub fn allow(&mut self, n: u32) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.rate * 2.0);
        self.last = now;
        if self.tokens >= f64::from(n) {
            self.tokens -= f64::from(n);
            true
        } else {
            false
        }
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
        tokio::time::advance(std::time::Duration::from_millis(500)).await;
        assert!(guard.allow(5));
        assert!(!guard.allow(1));
    }
}
