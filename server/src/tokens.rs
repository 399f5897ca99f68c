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

use std::collections::HashMap;

use rand::RngCore;
use subtle::ConstantTimeEq;

/// A token's raw bytes.
pub type Token = [u8; 16];

fn selector(token: &Token) -> [u8; 8] {
    let mut s = [0; 8];
    s.copy_from_slice(&token[..8]);
    s
}

/// A map from secret tokens to values.
#[derive(Debug)]
pub struct TokenMap<V> {
    by_selector: HashMap<[u8; 8], (Token, V)>,
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
                slot.insert((token, value));
                return token;
            }
        }
    }

    /// Stores `value` under a token issued elsewhere (by a map of the same
    /// tokens), replacing what another token with the same selector held.
    pub fn insert(&mut self, token: Token, value: V) {
        self.by_selector.insert(selector(&token), (token, value));
    }

    /// The value of `token`.
    #[must_use]
    pub fn get(&self, token: &Token) -> Option<&V> {
        let (stored, value) = self.by_selector.get(&selector(token))?;
        bool::from(stored.ct_eq(token)).then_some(value)
    }

    /// Removes and returns the value of `token`.
    pub fn remove(&mut self, token: &Token) -> Option<V> {
        let key = selector(token);
        let (stored, _) = self.by_selector.get(&key)?;
        if bool::from(stored.ct_eq(token)) {
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

    /// Every token and value.
    pub fn iter(&self) -> impl Iterator<Item = (&Token, &V)> {
        self.by_selector
            .values()
            .map(|(token, value)| (token, value))
    }

    /// Keeps the entries `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&Token, &V) -> bool) {
        self.by_selector
            .retain(|_, (token, value)| keep(token, value));
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
        map.retain(|_, v| v % 2 == 0);
        assert_eq!(map.len(), 50);
        assert!(map.get(&tokens[0]).is_some() && map.get(&tokens[1]).is_none());
        assert_eq!(map.iter().filter(|(t, _)| **t == tokens[2]).count(), 1);
    }
}
