//! Counting what clients hold, in all and per client address: open
//! connections, spectator streams, waiting polls. One address (one IPv6
//! /64) may take only its share, so one client cannot hold every slot of a
//! kind whether it opens many connections or multiplexes many HTTP/2
//! streams over one.
//!
//! The count lives in a map under a small mutex held for a lookup and an
//! increment, never across an await. The map is bounded by the total
//! limit: an address has an entry only while it holds a slot.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use parking_lot::Mutex;

/// The address a limit counts: IPv4 as is (also when mapped into IPv6),
/// IPv6 by its /64, the block one host usually owns.
#[must_use]
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::from(segments)
            }
        },
    }
}

/// Which limit refused a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Full {
    /// Every slot of the kind is taken.
    Total,
    /// The address holds its share.
    PerAddress,
}

/// Slots of one kind, in all and per address.
#[derive(Debug)]
pub struct AddressLimit {
    max_total: usize,
    max_per_address: usize,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// One taken slot; dropping it frees the slot.
#[derive(Debug)]
pub struct AddressPermit {
    limit: Arc<AddressLimit>,
    /// `None` for a holder with no client address (in-process callers),
    /// counted in the total only.
    key: Option<IpAddr>,
}

impl Drop for AddressPermit {
    fn drop(&mut self) {
        let mut open = self.limit.open.lock();
        open.total -= 1;
        if let Some(key) = self.key
            && let Some(n) = open.by_address.get_mut(&key)
        {
            *n -= 1;
            if *n == 0 {
                open.by_address.remove(&key);
            }
        }
    }
}

impl AddressPermit {
    /// The address counted (see [`limit_key`]).
    #[must_use]
    pub fn key(&self) -> Option<IpAddr> {
        self.key
    }
}

impl AddressLimit {
    /// At most `max_total` slots, `max_per_address` of them per address.
    #[must_use]
    pub fn new(max_total: usize, max_per_address: usize) -> Arc<AddressLimit> {
        Arc::new(AddressLimit {
            max_total,
            max_per_address,
            open: Mutex::default(),
        })
    }

    /// A slot for a client at `ip` (counted by [`limit_key`]), or which
    /// limit is reached.
    ///
    /// # Errors
    /// [`Full::Total`] or [`Full::PerAddress`].
    pub fn try_take(self: &Arc<Self>, ip: Option<IpAddr>) -> Result<AddressPermit, Full> {
        let key = ip.map(limit_key);
        let mut open = self.open.lock();
        if open.total >= self.max_total {
            return Err(Full::Total);
        }
        if let Some(key) = key {
            let held = open.by_address.entry(key).or_default();
            if *held >= self.max_per_address {
                if *held == 0 {
                    open.by_address.remove(&key);
                }
                return Err(Full::PerAddress);
            }
            *held += 1;
        }
        open.total += 1;
        drop(open);
        Ok(AddressPermit {
            limit: self.clone(),
            key,
        })
    }

    /// Slots taken in all.
    #[must_use]
    pub fn open(&self) -> usize {
        self.open.lock().total
    }

    /// The total limit.
    #[must_use]
    pub fn max_total(&self) -> usize {
        self.max_total
    }

    /// The per-address limit.
    #[must_use]
    pub fn max_per_address(&self) -> usize {
        self.max_per_address
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().expect("address"))
    }

    #[test]
    fn counts_per_address_and_in_all_and_frees_on_drop() {
        let limit = AddressLimit::new(3, 2);
        let a1 = limit.try_take(ip("10.0.0.1")).expect("first");
        let _a2 = limit
            .try_take(ip("::ffff:10.0.0.1"))
            .expect("mapped is the same");
        assert_eq!(limit.try_take(ip("10.0.0.1")).err(), Some(Full::PerAddress));
        let _b = limit.try_take(ip("10.0.0.2")).expect("another address");
        assert_eq!(limit.try_take(ip("10.0.0.3")).err(), Some(Full::Total));
        assert_eq!(limit.try_take(None).err(), Some(Full::Total));
        drop(a1);
        assert_eq!(limit.open(), 2);
        let _again = limit.try_take(ip("10.0.0.1")).expect("freed");
    }

    #[test]
    fn ipv6_counts_per_64_and_the_map_forgets_empty_addresses() {
        let limit = AddressLimit::new(10, 1);
        let one = limit.try_take(ip("2001:db8:1:2::1")).expect("first");
        assert_eq!(one.key(), ip("2001:db8:1:2::"));
        assert_eq!(
            limit.try_take(ip("2001:db8:1:2:ffff::9")).err(),
            Some(Full::PerAddress)
        );
        let _other = limit.try_take(ip("2001:db8:1:3::1")).expect("other /64");
        drop(one);
        assert_eq!(limit.open.lock().by_address.len(), 1);
        let refused = AddressLimit::new(10, 0);
        assert!(refused.try_take(ip("10.0.0.1")).is_err());
        assert!(refused.open.lock().by_address.is_empty());
    }
}
