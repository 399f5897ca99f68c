//! The admin token: parsed from `--admin-token` or read from
//! `--admin-token-file`, compared in constant time, and never printed
//! (its `Debug` is redacted, so no log line or panic message shows it).

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use subtle::ConstantTimeEq;

/// Shortest token accepted: 16 bytes of a random base64 or hex string are
/// beyond guessing, even without the per-address rate of wrong tries.
pub const MIN_TOKEN_LEN: usize = 16;

/// Longest token accepted: a header line, not a file.
pub const MAX_TOKEN_LEN: usize = 256;

/// The secret that opens the admin API.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(String);

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

impl FromStr for AdminToken {
    type Err = String;

    fn from_str(token: &str) -> Result<AdminToken, String> {
        if token.len() < MIN_TOKEN_LEN || token.len() > MAX_TOKEN_LEN {
            return Err(format!(
                "must be {MIN_TOKEN_LEN} to {MAX_TOKEN_LEN} bytes (it has {})",
                token.len()
            ));
        }
        // It travels in an `Authorization` header: visible ASCII only.
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("must be visible ASCII without spaces".into());
        }
        Ok(AdminToken(token.to_owned()))
    }
}

impl AdminToken {
    /// The token in `path`: its first line, surrounding whitespace trimmed.
    ///
    /// # Errors
    /// The file cannot be read, or holds no acceptable token (the error
    /// never quotes the file).
    pub fn read(path: &Path) -> Result<AdminToken, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
        text.lines().next().unwrap_or("").trim().parse()
    }

    /// Whether `offered` is the token, in time that depends on the length
    /// of `offered` only, never on how much of it matches.
    #[must_use]
    pub fn matches(&self, offered: &str) -> bool {
        let ours = self.0.as_bytes();
        let offered = offered.as_bytes();
        if ours.len() == offered.len() {
            ours.ct_eq(offered).into()
        } else {
            // Same work as a comparison, same answer as a mismatch.
            let _ = offered.ct_eq(offered);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_or_spaced_tokens_are_refused_and_debug_hides_the_token() {
        assert!("short".parse::<AdminToken>().is_err());
        assert!("sixteen bytes ok!".parse::<AdminToken>().is_err());
        let token: AdminToken = "0123456789abcdef".parse().expect("valid");
        assert!(token.matches("0123456789abcdef"));
        assert!(!token.matches("0123456789abcdeF"));
        assert!(!token.matches("0123456789abcdef0"));
        assert!(!format!("{token:?}").contains("0123"));
    }
}
