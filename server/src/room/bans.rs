//! Operators' bans: addresses and names refused a seat until a deadline.
//! The admin console adds them with a kick; every join (any transport,
//! resumes included) is checked against them before a room is picked.
//!
//! Bounded: at most [`MAX_BANS`] at once; a ban past that replaces the
//! one that would end soonest (logged). Expired bans are dropped whenever
//! the list is touched. It never decides who is banned by itself.

use std::net::IpAddr;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;
use tracing::warn;

use super::JoinError;
use crate::listener::limit_key;

/// Bans held at once: an operator's list, not a firewall. A scan of this
/// many on a join costs microseconds.
pub const MAX_BANS: usize = 1024;

/// The longest ban: longer ones belong in a firewall.
pub const MAX_BAN: Duration = Duration::from_secs(7 * 24 * 3600);

/// Who a ban refuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Banned {
    /// An address (IPv6: its /64, as every per-address limit counts it).
    Address(IpAddr),
    /// A display name, compared without regard to ASCII case.
    Name(String),
}

impl Banned {
    fn matches(&self, address: IpAddr, name: &str) -> bool {
        match self {
            Banned::Address(banned) => *banned == limit_key(address),
            Banned::Name(banned) => banned.eq_ignore_ascii_case(name),
        }
    }
}

/// The bans in force.
#[derive(Debug, Default)]
pub struct BanList {
    /// Held for one scan or insert, never across an await.
    bans: Mutex<Vec<(Banned, Instant)>>,
}

impl BanList {
    /// Refuses `who` for `length` (at most [`MAX_BAN`]) from now; a ban
    /// already on `who` is replaced.
    pub fn ban(&self, who: Banned, length: Duration) {
        let who = match who {
            Banned::Address(address) => Banned::Address(limit_key(address)),
            name @ Banned::Name(_) => name,
        };
        let until = Instant::now() + length.min(MAX_BAN);
        let mut bans = self.bans.lock();
        let now = Instant::now();
        bans.retain(|(banned, ends)| *ends > now && *banned != who);
        if bans.len() >= MAX_BANS
            && let Some(soonest) = (0..bans.len()).min_by_key(|&i| bans[i].1)
        {
            let (dropped, _) = bans.swap_remove(soonest);
            warn!(
                ?dropped,
                max = MAX_BANS,
                "ban list full: the ban ending soonest was lifted"
            );
        }
        bans.push((who, until));
    }

    /// A join from `address` as `name`: refused while a ban covers either.
    ///
    /// # Errors
    /// `Banned`, with the seconds left of the longest ban that applies.
    pub fn check(&self, address: IpAddr, name: &str) -> Result<(), JoinError> {
        let now = Instant::now();
        let mut bans = self.bans.lock();
        if bans.is_empty() {
            return Ok(());
        }
        bans.retain(|(_, ends)| *ends > now);
        let left = bans
            .iter()
            .filter(|(banned, _)| banned.matches(address, name))
            .map(|(_, ends)| *ends - now)
            .max();
        drop(bans);
        match left {
            Some(left) => Err(JoinError::Banned {
                retry_after: u32::try_from(left.as_secs_f64().ceil() as u64)
                    .unwrap_or(u32::MAX)
                    .max(1),
            }),
            None => Ok(()),
        }
    }

    /// Bans in force now.
    #[must_use]
    pub fn len(&self) -> usize {
        let now = Instant::now();
        self.bans
            .lock()
            .iter()
            .filter(|(_, ends)| *ends > now)
            .count()
    }

    /// No ban is in force.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bans_expire_match_by_64_and_name_and_stay_bounded() {
        let bans = BanList::default();
        let one: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let same_64: IpAddr = "2001:db8:1:2::9".parse().expect("ip");
        let other: IpAddr = "10.0.0.1".parse().expect("ip");
        bans.ban(Banned::Address(one), Duration::from_secs(60));
        bans.ban(Banned::Name("Griefer".into()), Duration::from_secs(10));
        assert!(matches!(
            bans.check(same_64, "ada"),
            Err(JoinError::Banned { retry_after: 60 })
        ));
        assert!(bans.check(other, "griefer").is_err(), "names ignore case");
        assert!(bans.check(other, "ada").is_ok());
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(bans.check(other, "griefer").is_ok(), "the name ban expired");
        assert!(bans.check(one, "ada").is_err());
        for i in 0..MAX_BANS + 10 {
            bans.ban(Banned::Name(format!("n{i}")), Duration::from_secs(100));
        }
        assert_eq!(bans.len(), MAX_BANS);
        assert!(
            bans.check(one, "ada").is_ok(),
            "the soonest-ending bans went first"
        );
        assert!(bans.check(other, &format!("n{}", MAX_BANS + 9)).is_err());
    }
}
