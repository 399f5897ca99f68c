//! How many rooms may exist, and how fast one client address may open them.
//!
//! The registry asks [`RoomQuota::admit`] with its directory lock held, right
//! before it opens a room, so counting and creating are one step: two
//! requests cannot both take the last place, and a refused request has
//! created nothing. The bucket map has its own lock, taken only inside the
//! directory lock (directory first, then buckets; see [`PerAddressRate`]) and never across an await.
//! It must never be consulted for a join that opens no room: joining a room
//! that exists costs nothing.

use std::net::IpAddr;
use std::time::Duration;

use super::JoinError;
use crate::net::rate::{MAX_TRACKED_ADDRESSES, PerAddressRate, RateRefusal};

/// Longest `Retry-After` for the room cap, in seconds.
const MAX_RETRY_SECS: u64 = 60;

/// Limits on opening rooms.
#[derive(Debug)]
pub struct RoomQuota {
    /// `--max-rooms`: open rooms in all, the default room included.
    max_rooms: usize,
    /// `--new-rooms-per-ip-per-min`: the refill rate and the burst.
    per_min: u32,
    /// What to tell a client refused at the cap: an empty room frees its
    /// place after the empty-room grace, so that is when to look again.
    cap_retry_secs: u32,
    /// One bucket per address (IPv6: per /64) that opened a room recently:
    /// a minute's worth at once, refilled at `per_min` a minute.
    rate: PerAddressRate,
}

/// Whether a request names its room or asks matchmaking for any seat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opening {
    /// The client named a room that does not exist yet.
    Named,
    /// Matchmaking found no public seat and would open an `arena-N`.
    Matchmaking,
}

impl RoomQuota {
    /// `max_rooms` in all; `per_min` new rooms per address and minute, with
    /// a minute's worth as burst; `empty_room_grace` is how long an empty
    /// room stays open.
    #[must_use]
    pub fn new(max_rooms: usize, per_min: u32, empty_room_grace: Duration) -> RoomQuota {
        RoomQuota {
            max_rooms,
            per_min,
            cap_retry_secs: u32::try_from(empty_room_grace.as_secs().clamp(1, MAX_RETRY_SECS))
                .unwrap_or(1),
            rate: PerAddressRate::new(
                f64::from(per_min) / 60.0,
                f64::from(per_min),
                MAX_TRACKED_ADDRESSES,
            ),
        }
    }

    /// Takes a new room's place for `client`, with `open` rooms open now.
    /// The caller holds the directory lock and opens the room at once when
    /// this succeeds. Checks the total first, so a client refused at the
    /// cap keeps its tokens.
    ///
    /// # Errors
    /// The cap is reached, or `client` opened rooms too fast.
    pub fn admit(&self, open: usize, client: IpAddr, opening: Opening) -> Result<(), JoinError> {
        if open >= self.max_rooms {
            let (max, retry_after) = (self.max_rooms, self.cap_retry_secs);
            return Err(match opening {
                Opening::Named => JoinError::RoomLimit { max, retry_after },
                Opening::Matchmaking => JoinError::ServerFull { max, retry_after },
            });
        }
        self.rate.allow(client).map_err(|refusal| match refusal {
            RateRefusal::Over { .. } => JoinError::RoomRate {
                per_min: self.per_min,
                retry_after: refusal.retry_after_secs(),
            },
            RateRefusal::Busy => JoinError::RoomRateBusy {
                retry_after: refusal.retry_after_secs(),
            },
        })
    }

    /// Takes the place of a room handed over from another node, with
    /// `open` rooms open now: the cap only, since no client opened it.
    ///
    /// # Errors
    /// The cap is reached.
    pub fn admit_handover(&self, open: usize) -> Result<(), JoinError> {
        if open >= self.max_rooms {
            return Err(JoinError::RoomLimit {
                max: self.max_rooms,
                retry_after: self.cap_retry_secs,
            });
        }
        Ok(())
    }

    /// Addresses tracked now (for tests).
    #[must_use]
    pub fn tracked(&self) -> usize {
        self.rate.tracked()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[tokio::test(start_paused = true)]
    async fn the_cap_comes_first_and_costs_no_token() {
        let quota = RoomQuota::new(3, 2, Duration::from_secs(30));
        let a = ip("192.0.2.1");
        assert_eq!(
            quota.admit(3, a, Opening::Named),
            Err(JoinError::RoomLimit {
                max: 3,
                retry_after: 30
            })
        );
        assert_eq!(
            quota.admit(3, a, Opening::Matchmaking),
            Err(JoinError::ServerFull {
                max: 3,
                retry_after: 30
            })
        );
        assert_eq!(quota.tracked(), 0, "a refusal at the cap tracks nobody");
        assert_eq!(quota.admit(1, a, Opening::Named), Ok(()));
        assert_eq!(quota.admit(2, a, Opening::Named), Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn an_address_gets_a_minutes_worth_then_one_per_refill() {
        let quota = RoomQuota::new(1000, 6, Duration::from_secs(30));
        let a = ip("192.0.2.1");
        for _ in 0..6 {
            assert_eq!(quota.admit(1, a, Opening::Named), Ok(()));
        }
        assert_eq!(
            quota.admit(1, a, Opening::Matchmaking),
            Err(JoinError::RoomRate {
                per_min: 6,
                retry_after: 10
            })
        );
        // Another address has its own bucket.
        assert_eq!(quota.admit(1, ip("192.0.2.2"), Opening::Named), Ok(()));
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(quota.admit(1, a, Opening::Named), Ok(()));
        assert!(quota.admit(1, a, Opening::Named).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let quota = RoomQuota::new(1000, 1, Duration::from_secs(30));
        assert_eq!(
            quota.admit(1, ip("2001:db8:1:2::1"), Opening::Named),
            Ok(())
        );
        assert!(
            quota
                .admit(1, ip("2001:db8:1:2:ffff::9"), Opening::Named)
                .is_err(),
            "same /64"
        );
        assert_eq!(
            quota.admit(1, ip("2001:db8:1:3::1"), Opening::Named),
            Ok(())
        );
        assert_eq!(quota.admit(1, ip("192.0.2.7"), Opening::Named), Ok(()));
        assert!(
            quota
                .admit(1, ip("::ffff:192.0.2.7"), Opening::Named)
                .is_err(),
            "an IPv4-mapped address is that IPv4 address"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_map_stays_bounded_and_forgets_refilled_buckets() {
        let quota = RoomQuota::new(100_000, 1, Duration::from_secs(30));
        let nth = |n: usize| IpAddr::from([10, (n >> 16) as u8, (n >> 8) as u8, n as u8]);
        for n in 0..MAX_TRACKED_ADDRESSES {
            assert_eq!(quota.admit(1, nth(n), Opening::Named), Ok(()));
        }
        assert_eq!(
            quota.admit(1, nth(MAX_TRACKED_ADDRESSES), Opening::Named),
            Err(JoinError::RoomRateBusy { retry_after: 1 })
        );
        assert_eq!(quota.tracked(), MAX_TRACKED_ADDRESSES);
        // After a minute every bucket has refilled and is forgotten.
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(
            quota.admit(1, nth(MAX_TRACKED_ADDRESSES), Opening::Named),
            Ok(())
        );
        assert_eq!(quota.tracked(), 1);
    }
}
