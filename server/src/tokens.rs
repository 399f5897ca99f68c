//! Values found by a secret 128-bit token, without the lookup's timing
//! telling anything about the token.
//!
//! A plain `HashMap<token, V>` compares keys with `==`, which returns at the
//! first differing byte. [`TokenMap`] keys its hash map by the token's first
//! eight bytes only (the *selector*) and checks all sixteen bytes with a
//! constant-time comparison. Timing can at most confirm a selector, which an
//! attacker must guess out of 2^64 values; the comparison itself leaks
//! nothing. Fresh tokens are drawn by [`TokenMap::issue`], which also keeps
//! selectors unique.
//!
//! A token can also be known by its [`Verifier`] only (its selector and the
//! SHA-256 of the whole token): what a room hands to the node that adopts
//! it, so the adopter recognises its players' resume tokens while no
//! record in Redis ever holds one whole.

use std::collections::HashMap;

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A token's raw bytes.
pub type Token = [u8; 16];

fn selector(token: &Token) -> [u8; 8] {
    let mut s = [0; 8];
    s.copy_from_slice(&token[..8]);
    s
}

/// What recognises a token without holding it: its selector (the map's
/// key) and the SHA-256 of all sixteen bytes. The digest of a 128-bit
/// random token cannot be turned back into a token that passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verifier {
    /// The token's first eight bytes.
    pub selector: [u8; 8],
    /// SHA-256 of the whole token.
    pub digest: [u8; 32],
}

impl Verifier {
    /// The verifier of `token`.
    #[must_use]
    pub fn of(token: &Token) -> Verifier {
        Verifier {
            selector: selector(token),
            digest: Sha256::digest(token).into(),
        }
    }

    /// Whether `token` is the one this verifier was made from, compared in
    /// constant time.
    #[must_use]
    pub fn matches(&self, token: &Token) -> bool {
        let digest: [u8; 32] = Sha256::digest(token).into();
        bool::from(digest.ct_eq(&self.digest))
    }
}

/// What a map holds of a token.
#[derive(Debug)]
enum Held {
    /// The token itself: issued or inserted here.
    Token(Token),
    /// Its verifier only: adopted from another map (a handed-over room).
    Verifier(Verifier),
}

impl Held {
    fn matches(&self, token: &Token) -> bool {
        match self {
            Held::Token(stored) => bool::from(stored.ct_eq(token)),
            Held::Verifier(verifier) => verifier.matches(token),
        }
    }
}

/// A map from secret tokens to values.
#[derive(Debug)]
pub struct TokenMap<V> {
    by_selector: HashMap<[u8; 8], (Held, V)>,
}

impl<V> Default for TokenMap<V> {
    fn default() -> Self {
        TokenMap {
            by_selector: HashMap::new(),
        }
    }
}

impl<V> TokenMap<V> {
    /// An empty map.
    #[must_use]
    pub fn new() -> TokenMap<V> {
        TokenMap::default()
    }

    /// Stores `value` under a fresh random token and returns the token.
    pub fn issue(&mut self, value: V) -> Token {
        loop {
            let mut token = [0; 16];
            rand::rng().fill_bytes(&mut token);
            if let std::collections::hash_map::Entry::Vacant(slot) =
                self.by_selector.entry(selector(&token))
            {
                slot.insert((Held::Token(token), value));
                return token;
            }
        }
    }

    /// Stores `value` under a token issued elsewhere (by a map of the same
    /// tokens), replacing what another token with the same selector held.
    pub fn insert(&mut self, token: Token, value: V) {
        self.by_selector
            .insert(selector(&token), (Held::Token(token), value));
    }

    /// Stores `value` under the token `verifier` was made from, known by
    /// its verifier only (a resume token of a room adopted from another
    /// node), replacing what another token with the same selector held.
    pub fn adopt(&mut self, verifier: Verifier, value: V) {
        self.by_selector
            .insert(verifier.selector, (Held::Verifier(verifier), value));
    }

    /// The verifier of a token this map holds (for a handover), or `None`.
    #[must_use]
    pub fn verifier(&self, token: &Token) -> Option<Verifier> {
        let (held, _) = self.by_selector.get(&selector(token))?;
        match held {
            Held::Token(_) if held.matches(token) => Some(Verifier::of(token)),
            Held::Verifier(verifier) if held.matches(token) => Some(*verifier),
            _ => None,
        }
    }

    /// The value of `token`.
    #[must_use]
    pub fn get(&self, token: &Token) -> Option<&V> {
        let (held, value) = self.by_selector.get(&selector(token))?;
        held.matches(token).then_some(value)
    }

    /// Removes and returns the value of `token`.
    pub fn remove(&mut self, token: &Token) -> Option<V> {
        let key = selector(token);
        let (held, _) = self.by_selector.get(&key)?;
        if held.matches(token) {
            self.by_selector.remove(&key).map(|(_, value)| value)
        } else {
            None
        }
    }

    /// Entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_selector.len()
    }

    /// True when empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_selector.is_empty()
    }

    /// Every token held whole, and its value. Adopted entries
    /// ([`TokenMap::adopt`]) are known by their verifier only and are not
    /// listed; a map that lists its tokens never adopts.
    pub fn iter(&self) -> impl Iterator<Item = (&Token, &V)> {
        self.by_selector
            .values()
            .filter_map(|(held, value)| match held {
                Held::Token(token) => Some((token, value)),
                Held::Verifier(_) => None,
            })
    }

    /// Keeps the entries whose values `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&V) -> bool) {
        self.by_selector.retain(|_, (_, value)| keep(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_only_the_exact_token() {
        let mut map = TokenMap::new();
        let token = map.issue("a");
        assert_eq!(map.get(&token), Some(&"a"));
        // Same selector, different secret half: not found, not removed.
        let mut forged = token;
        forged[15] ^= 1;
        assert_eq!(map.get(&forged), None);
        assert_eq!(map.remove(&forged), None);
        assert_eq!(map.len(), 1);
        assert_eq!(map.remove(&token), Some("a"));
        assert!(map.is_empty());
    }

    #[test]
    fn issued_tokens_differ_and_retain_filters() {
        let mut map = TokenMap::new();
        let tokens: Vec<Token> = (0..100).map(|i| map.issue(i)).collect();
        assert_eq!(map.len(), 100);
        map.retain(|v| v % 2 == 0);
        assert_eq!(map.len(), 50);
        assert!(map.get(&tokens[0]).is_some() && map.get(&tokens[1]).is_none());
        assert_eq!(map.iter().filter(|(t, _)| **t == tokens[2]).count(), 1);
    }

    #[test]
    fn an_adopted_token_is_recognised_by_its_verifier_alone() {
        let mut old = TokenMap::new();
        let token = old.issue(7u16);
        let verifier = old.verifier(&token).expect("held");
        assert_eq!(verifier, Verifier::of(&token));
        let mut forged = token;
        forged[15] ^= 1;
        assert_eq!(old.verifier(&forged), None);
        // The adopting map never sees the token, yet takes it, and only it.
        let mut new = TokenMap::new();
        new.adopt(verifier, 7u16);
        assert_eq!(new.get(&token), Some(&7));
        assert_eq!(new.get(&forged), None);
        assert_eq!(new.verifier(&token), Some(verifier));
        assert_eq!(new.iter().count(), 0, "an adopted token is not listed");
        // It can be handed on again, and removed like an issued one.
        assert_eq!(new.remove(&forged), None);
        assert_eq!(new.remove(&token), Some(7));
        assert!(new.is_empty());
    }
}
