//! Private rooms' invite codes: drawing them, and checking a code a client
//! offers without the check's timing or a guessing loop telling anything.
//!
//! A code is 128 random bits, shown as 32 hex digits. The comparison is
//! constant-time over all sixteen bytes. Every try at a private room takes
//! a token of the client address's [`InviteGuard`] bucket before the code
//! is compared, and an address without tokens (or a new address while the
//! table is full) is refused without a comparison: a brute force gets
//! `--invite-tries-per-ip-per-min` guesses a minute out of 2^128. A right
//! code gets its token back, so players behind one address joining their
//! friend's room are not counted. The guard's lock is its
//! [`PerAddressRate`]'s, held for one bucket update, never across an await.

use std::net::IpAddr;

use rand::RngCore;
use subtle::ConstantTimeEq;

use super::JoinError;
use crate::matchmaker::parse_hex16;
use crate::net::rate::{MAX_TRACKED_ADDRESSES, PerAddressRate};
use crate::net::sessions::hex;

/// A private room's invite code.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct InviteCode([u8; 16]);

/// Never printed: a code in a log would let whoever reads it in.
impl std::fmt::Debug for InviteCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InviteCode(..)")
    }
}

impl InviteCode {
    /// A fresh code from the operating system's generator.
    #[must_use]
    pub fn generate() -> InviteCode {
        let mut bytes = [0; 16];
        rand::rng().fill_bytes(&mut bytes);
        InviteCode(bytes)
    }

    /// The code as clients carry it: 32 lowercase hex digits.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// True when `offered` (hex, either case) is this code. A malformed
    /// offer is simply wrong; well-formed ones are compared in constant
    /// time.
    #[must_use]
    pub fn matches(&self, offered: &str) -> bool {
        let Some(bytes) = parse_hex16(offered) else {
            return false;
        };
        bool::from(self.0.ct_eq(&bytes))
    }
}

/// Counts each address's failed invite codes.
#[derive(Debug)]
pub struct InviteGuard {
    /// `--invite-tries-per-ip-per-min`.
    per_min: u32,
    /// A minute's worth at once, refilled at `per_min` a minute; at most
    /// [`MAX_TRACKED_ADDRESSES`] addresses (fails closed past that).
    rate: PerAddressRate,
}

impl InviteGuard {
    /// `per_min` failed codes per address and minute, a minute's worth at
    /// once.
    #[must_use]
    pub fn new(per_min: u32) -> InviteGuard {
        InviteGuard {
            per_min,
            rate: PerAddressRate::new(
                f64::from(per_min) / 60.0,
                f64::from(per_min),
                MAX_TRACKED_ADDRESSES,
            ),
        }
    }

    /// Lets `client` into `room` when `code` is `None` (a public room) or
    /// `offered` is its code.
    ///
    /// # Errors
    /// `InviteRequired` for a missing or wrong code, `InviteRate` when the
    /// address has no tries left (then the code is not even compared).
    pub fn check(
        &self,
        room: &str,
        code: Option<&InviteCode>,
        offered: Option<&str>,
        client: IpAddr,
    ) -> Result<(), JoinError> {
        let Some(code) = code else {
            return Ok(());
        };
        if let Err(refusal) = self.rate.allow(client) {
            return Err(JoinError::InviteRate {
                per_min: self.per_min,
                retry_after: refusal.retry_after_secs(),
            });
        }
        if offered.is_some_and(|offered| code.matches(offered)) {
            self.rate.refund(client);
            return Ok(());
        }
        Err(JoinError::InviteRequired {
            room: room.to_owned(),
            offered: offered.is_some(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn a_code_matches_its_hex_in_either_case_and_nothing_else() {
        let code = InviteCode::generate();
        let hex = code.to_hex();
        assert_eq!(hex.len(), 32);
        assert!(code.matches(&hex));
        assert!(code.matches(&hex.to_uppercase()));
        assert!(!code.matches(&hex[..31]));
        assert!(!code.matches(&format!("{hex}0")));
        assert!(!code.matches("zz".repeat(16).as_str()));
        // `from_str_radix` reads "+f" as 0x0f: one code, two spellings.
        let zero_f = InviteCode([0x0f; 16]);
        assert!(zero_f.matches(&"0f".repeat(16)));
        assert!(
            !zero_f.matches(&format!("+f{}", "0f".repeat(15))),
            "a sign is no digit"
        );
        assert!(!code.matches(&InviteCode::generate().to_hex()));
        assert_ne!(code.to_hex(), InviteCode::generate().to_hex());
        assert_eq!(format!("{code:?}"), "InviteCode(..)", "never logged");
    }

    #[tokio::test(start_paused = true)]
    async fn wrong_codes_use_up_the_address_and_a_right_one_costs_nothing() {
        let guard = InviteGuard::new(3);
        let code = InviteCode::generate();
        let (a, b) = (ip("192.0.2.1"), ip("192.0.2.2"));
        for _ in 0..5 {
            assert_eq!(
                guard.check("r", Some(&code), Some(&code.to_hex()), a),
                Ok(())
            );
        }
        assert_eq!(guard.check("r", None, None, a), Ok(()), "a public room");
        for _ in 0..3 {
            assert!(matches!(
                guard.check("r", Some(&code), Some("00"), a),
                Err(JoinError::InviteRequired { offered: true, .. })
            ));
        }
        assert!(matches!(
            guard.check("r", Some(&code), Some(&code.to_hex()), a),
            Err(JoinError::InviteRate { per_min: 3, .. })
        ));
        assert!(matches!(
            guard.check("r", Some(&code), None, b),
            Err(JoinError::InviteRequired { offered: false, .. })
        ));
        assert_eq!(
            guard.check("r", Some(&code), Some(&code.to_hex()), b),
            Ok(())
        );
        tokio::time::advance(std::time::Duration::from_secs(20)).await;
        assert_eq!(
            guard.check("r", Some(&code), Some(&code.to_hex()), a),
            Ok(())
        );
    }
}
