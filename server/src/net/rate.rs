//! A request rate per client address, for requests that make the server
//! hold something for a while: a matchmake reserves a seat (and may open a
//! room) for `--seat-ttl-ms`; a new room lives at least its empty-room
//! grace. One address may only ask so often.
//!
//! Each address (its /64 for IPv6, as the connection limits count it) has
//! a [`FloodGuard`] bucket. A full bucket is the same as none, so the map
//! forgets full buckets: by a sweep when it has doubled since the last one,
//! which keeps it at the addresses still refilling, never at history. It
//! never holds more than its `max_tracked` addresses: when that many are
//! all still refilling, a new address is refused (fail closed) rather than
//! let an attacker with many addresses grow the map.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use parking_lot::Mutex;

use super::flood::FloodGuard;
use crate::listener::limit_key;

/// Addresses one rate holds at once, unless it says otherwise. An address is
/// held from its first request until its bucket has refilled; honest
/// traffic needs far fewer. 4096 entries are about 200 KiB.
pub const MAX_TRACKED_ADDRESSES: usize = 4096;

/// Per-address buckets of one kind of request.
#[derive(Debug)]
pub struct PerAddressRate {
    /// Tokens per second.
    rate: f64,
    /// Tokens a new or refilled bucket holds.
    burst: f64,
    /// Addresses held at most.
    max_tracked: usize,
    /// Held for one lookup and update, or one sweep; never across an await.
    buckets: Mutex<Buckets>,
}

#[derive(Debug, Default)]
struct Buckets {
    by_address: HashMap<IpAddr, FloodGuard>,
    /// Size after the last sweep.
    swept: usize,
}

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateRefusal {
    /// This address is over its rate: a token comes in `retry_in`.
    Over {
        /// Until the next token.
        retry_in: Duration,
    },
    /// The table is full of addresses still refilling.
    Busy,
}

impl RateRefusal {
    /// Whole seconds to wait, at least one: what `Retry-After` says.
    #[must_use]
    pub fn retry_after_secs(self) -> u32 {
        match self {
            RateRefusal::Over { retry_in } => u32::try_from(retry_in.as_secs_f64().ceil() as u64)
                .unwrap_or(u32::MAX)
                .max(1),
            RateRefusal::Busy => 1,
        }
    }
}

impl PerAddressRate {
    /// `rate` requests per second per address, `burst` at once, at most
    /// `max_tracked` addresses held.
    #[must_use]
    pub fn new(rate: f64, burst: f64, max_tracked: usize) -> PerAddressRate {
        PerAddressRate {
            rate,
            burst,
            max_tracked,
            buckets: Mutex::default(),
        }
    }

    /// `rate` per second with two seconds' burst, like the flood guard of a
    /// connection.
    #[must_use]
    pub fn per_second(rate: u32, max_tracked: usize) -> PerAddressRate {
        let rate = f64::from(rate);
        PerAddressRate::new(rate, rate * 2.0, max_tracked)
    }

    /// Counts one request from `address`.
    ///
    /// # Errors
    /// The address is over its rate, or the table is full.
    pub fn allow(&self, address: IpAddr) -> Result<(), RateRefusal> {
        let key = limit_key(address);
        let mut buckets = self.buckets.lock();
        let len = buckets.by_address.len();
        let new = !buckets.by_address.contains_key(&key);
        if new && (len >= 2 * buckets.swept.max(64) || len >= self.max_tracked) {
            buckets.by_address.retain(|_, bucket| !bucket.is_full());
            buckets.swept = buckets.by_address.len();
            if buckets.swept >= self.max_tracked {
                return Err(RateRefusal::Busy);
            }
        }
        let bucket = buckets
            .by_address
            .entry(key)
            .or_insert_with(|| FloodGuard::with_burst(self.rate, self.burst));
        if bucket.allow(1) {
            Ok(())
        } else {
            Err(RateRefusal::Over {
                retry_in: bucket.retry_in(),
            })
        }
    }

    /// Returns the token `address`'s last allowed request took, when that
    /// request turned out to cost nothing (a right invite code).
    pub fn refund(&self, address: IpAddr) {
        if let Some(bucket) = self.buckets.lock().by_address.get_mut(&limit_key(address)) {
            bucket.give_back(1);
        }
    }

    /// Addresses held now.
    #[must_use]
    pub fn tracked(&self) -> usize {
        self.buckets.lock().by_address.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn each_address_has_its_own_rate_and_idle_ones_are_forgotten() {
        let rate = PerAddressRate::per_second(2, 4096);
        let (a, b): (IpAddr, IpAddr) = (
            "10.0.0.1".parse().expect("ip"),
            "10.0.0.2".parse().expect("ip"),
        );
        for _ in 0..4 {
            assert!(rate.allow(a).is_ok(), "two seconds of burst");
        }
        assert!(matches!(rate.allow(a), Err(RateRefusal::Over { .. })));
        assert!(rate.allow(b).is_ok(), "another address is not affected");
        for i in 0..100 {
            let _ = rate.allow(IpAddr::from([10, 1, 0, i]));
        }
        tokio::time::advance(Duration::from_secs(5)).await;
        for i in 100..130 {
            let _ = rate.allow(IpAddr::from([10, 1, 0, i]));
        }
        assert_eq!(rate.tracked(), 30, "the refilled buckets are forgotten");
        assert!(rate.allow(a).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_table_of_refilling_addresses_refuses_newcomers() {
        let rate = PerAddressRate::new(1.0 / 60.0, 1.0, 3);
        for i in 0..3 {
            assert!(rate.allow(IpAddr::from([10, 0, 0, i])).is_ok());
        }
        assert_eq!(
            rate.allow(IpAddr::from([10, 0, 0, 9])),
            Err(RateRefusal::Busy)
        );
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(rate.allow(IpAddr::from([10, 0, 0, 9])).is_ok());
        assert_eq!(rate.tracked(), 1, "the refilled ones were forgotten");
    }

    #[tokio::test(start_paused = true)]
    async fn ipv6_counts_per_64() {
        let rate = PerAddressRate::per_second(1, 16);
        let one: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let same_64: IpAddr = "2001:db8:1:2::ffff".parse().expect("ip");
        assert!(rate.allow(one).is_ok());
        assert!(rate.allow(one).is_ok());
        assert!(rate.allow(same_64).is_err(), "one /64, one bucket");
        assert_eq!(rate.tracked(), 1);
    }
}
