//! A request rate per client address, for requests that make the server
//! hold something for a while: a matchmake reserves a seat (and may open a
//! room) for `--seat-ttl-ms`, so one address may only ask so often.
//!
//! Each address (its /64 for IPv6, as the connection limits count it) has
//! a [`FloodGuard`] bucket. The map holds only addresses seen within the
//! last two seconds of refill: full buckets are dropped by a sweep that
//! runs when the map has doubled since the last one, so it is bounded by
//! the addresses that can send within that time, never by history.

use std::collections::HashMap;
use std::net::IpAddr;

use parking_lot::Mutex;

use super::flood::FloodGuard;

/// Per-address buckets of one kind of request.
#[derive(Debug)]
pub struct PerAddressRate {
    /// Requests per second, with two seconds' burst.
    rate: u32,
    /// Held for one lookup and update, or one sweep; never across an await.
    buckets: Mutex<Buckets>,
}

#[derive(Debug, Default)]
struct Buckets {
    by_address: HashMap<IpAddr, FloodGuard>,
    /// Size after the last sweep.
    swept: usize,
}

impl PerAddressRate {
    /// `rate` requests per second per address.
    #[must_use]
    pub fn new(rate: u32) -> PerAddressRate {
        PerAddressRate {
            rate,
            buckets: Mutex::default(),
        }
    }

    /// Counts one request from `address`; false when it is over its rate.
    pub fn allow(&self, address: IpAddr) -> bool {
        let mut buckets = self.buckets.lock();
        if buckets.by_address.len() >= 2 * buckets.swept.max(64) {
            buckets.by_address.retain(|_, bucket| !bucket.is_full());
            buckets.swept = buckets.by_address.len();
        }
        buckets
            .by_address
            .entry(address)
            .or_insert_with(|| FloodGuard::new(self.rate))
            .allow(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn each_address_has_its_own_rate_and_idle_ones_are_forgotten() {
        let rate = PerAddressRate::new(2);
        let (a, b): (IpAddr, IpAddr) = (
            "10.0.0.1".parse().expect("ip"),
            "10.0.0.2".parse().expect("ip"),
        );
        for _ in 0..4 {
            assert!(rate.allow(a), "two seconds of burst");
        }
        assert!(!rate.allow(a));
        assert!(rate.allow(b), "another address is not affected");
        for i in 0..100 {
            rate.allow(IpAddr::from([10, 1, 0, i]));
        }
        tokio::time::advance(Duration::from_secs(5)).await;
        for i in 100..130 {
            rate.allow(IpAddr::from([10, 1, 0, i]));
        }
        assert_eq!(
            rate.buckets.lock().by_address.len(),
            30,
            "the refilled buckets are forgotten"
        );
        assert!(rate.allow(a));
    }
}
