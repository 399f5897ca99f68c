//! Anonymous device identities: a random player id and a random secret the
//! client keeps, the secret stored only as its SHA-256 and compared in
//! constant time. Owns minting and checking keys; never logs a secret and
//! never compares hashes with `==`.
//!
//! The secret is 256 random bits, so a plain SHA-256 is enough: a slow
//! password hash defends guessable passwords, and nothing here is
//! guessable. A stolen table gives no secret to play under.

use std::sync::Arc;

use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use skirmish_shared::{PLAYER_ID_LEN, PLAYER_SECRET_LEN, PlayerKey};
use subtle::ConstantTimeEq as _;

/// The SHA-256 of a player's secret.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SecretHash(pub [u8; 32]);

impl std::fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

impl SecretHash {
    /// The hash of `secret` (its text, as the client keeps it).
    #[must_use]
    pub fn of(secret: &str) -> SecretHash {
        SecretHash(Sha256::digest(secret.as_bytes()).into())
    }

    /// Lowercase hex, as the database keeps it.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Reads [`SecretHash::to_hex`]'s output; `None` for anything else.
    #[must_use]
    pub fn from_hex(text: &str) -> Option<SecretHash> {
        if text.len() != 64 {
            return None;
        }
        let mut out = [0; 32];
        for (byte, pair) in out.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
            let pair = std::str::from_utf8(pair).ok()?;
            *byte = u8::from_str_radix(pair, 16).ok()?;
        }
        Some(SecretHash(out))
    }

    /// Whether `secret` hashes to this, in time that does not depend on
    /// where the hashes differ.
    #[must_use]
    pub fn admits(&self, secret: &str) -> bool {
        SecretHash::of(secret).0.ct_eq(&self.0).into()
    }
}

/// The identity a seated player's rounds are recorded under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// [`PLAYER_ID_LEN`] hex digits.
    pub id: Arc<str>,
    /// What the player row stores; the record writer inserts it with a new
    /// player's first round and never changes it afterwards.
    pub secret_hash: SecretHash,
}

/// A new identity and the secret to hand to its client (once).
#[must_use]
pub fn mint() -> (Identity, String) {
    let mut rng = rand::rng();
    let mut id = [0; PLAYER_ID_LEN / 2];
    let mut secret = [0; PLAYER_SECRET_LEN / 2];
    rng.fill_bytes(&mut id);
    rng.fill_bytes(&mut secret);
    let secret = hex(&secret);
    let identity = Identity {
        id: hex(&id).into(),
        secret_hash: SecretHash::of(&secret),
    };
    (identity, secret)
}

/// The identity `key` proves, given the hash stored for its id.
#[must_use]
pub fn check(key: &PlayerKey, stored: SecretHash) -> Option<Identity> {
    stored.admits(&key.secret).then(|| Identity {
        id: key.id.as_str().into(),
        secret_hash: stored,
    })
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use skirmish_shared::valid_player_key;

    #[test]
    fn a_minted_key_is_well_formed_and_proves_only_itself() {
        let (identity, secret) = mint();
        let key = PlayerKey {
            id: identity.id.to_string(),
            secret: secret.clone(),
        };
        assert!(valid_player_key(&key));
        assert_eq!(check(&key, identity.secret_hash), Some(identity.clone()));
        let (_, other) = mint();
        let wrong = PlayerKey {
            secret: other,
            ..key
        };
        assert_eq!(check(&wrong, identity.secret_hash), None);
        assert_ne!(
            identity.secret_hash.to_hex(),
            secret,
            "only the hash is stored"
        );
    }

    #[test]
    fn hashes_round_trip_through_hex_and_stay_out_of_logs() {
        let hash = SecretHash::of("abc");
        assert_eq!(SecretHash::from_hex(&hash.to_hex()), Some(hash));
        assert_eq!(SecretHash::from_hex("zz"), None);
        assert_eq!(SecretHash::from_hex(&"g".repeat(64)), None);
        assert_eq!(format!("{hash:?}"), "SecretHash(..)");
    }
}
