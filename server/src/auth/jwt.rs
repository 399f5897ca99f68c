//! Signed player tokens: the verifier built once from `--auth-jwt-key`
//! (an HS256 secret, or an RS256 or EdDSA public key in PEM), and the
//! check every join makes. Owns the key, the pinned algorithm and the
//! claim rules; never accepts a token of another algorithm than the
//! configured one (no `none`, no HS256 made with the public key), never
//! prints the key or a token.
//!
//! `sub` names the player. The record it plays under is derived from it
//! ([`player_id`]), because record ids have one shape (16 hex digits) that
//! the history API checks, and a game's subjects have any.

use std::fmt;
use std::sync::Arc;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use skirmish_shared::http::ApiErrorCode;
use skirmish_shared::{
    CloseCode, ErrorCode, MAX_PLAYER_TOKEN_LEN, PLAYER_ID_LEN, PlayerToken, bad_name_message,
    valid_name,
};

use crate::storage::identity::{Identity, SecretHash};

/// Shortest HS256 secret: RFC 7518 §3.2 asks for a key at least as long
/// as the hash (256 bits); shorter secrets can be brute-forced offline
/// from any one token.
pub const MIN_HS256_SECRET: usize = 32;

/// Longest `sub` taken: it only names a player, and it is hashed per join.
pub const MAX_SUBJECT_LEN: usize = 256;

/// What [`player_id`] hashes before the subject, so these ids never
/// collide by construction with anything else hashed in the server.
const SUBJECT_DOMAIN: &str = "skirmish-jwt-sub:";

/// The algorithm a key is used with (`--auth-jwt-alg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum JwtAlg {
    /// HMAC with SHA-256 and a shared secret.
    #[value(name = "HS256")]
    Hs256,
    /// RSA PKCS#1 v1.5 with SHA-256; the server holds the public key.
    #[value(name = "RS256")]
    Rs256,
    /// Ed25519; the server holds the public key.
    #[value(name = "EdDSA")]
    EdDsa,
}

impl JwtAlg {
    fn algorithm(self) -> Algorithm {
        match self {
            JwtAlg::Hs256 => Algorithm::HS256,
            JwtAlg::Rs256 => Algorithm::RS256,
            JwtAlg::EdDsa => Algorithm::EdDSA,
        }
    }

    /// The name in a token's header and in `--auth-jwt-alg`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            JwtAlg::Hs256 => "HS256",
            JwtAlg::Rs256 => "RS256",
            JwtAlg::EdDsa => "EdDSA",
        }
    }
}

/// Key material as configured (`--auth-jwt-key` or the file's bytes).
/// `Debug` hides it: an HS256 secret signs tokens for anyone.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyMaterial(pub Vec<u8>);

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyMaterial(<redacted>)")
    }
}

impl std::str::FromStr for KeyMaterial {
    type Err = String;

    fn from_str(text: &str) -> Result<KeyMaterial, String> {
        Ok(KeyMaterial(text.as_bytes().to_vec()))
    }
}

/// Why the configured key cannot be used. Never quotes the key.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    #[error("--auth-jwt-key-file {path}: cannot read: {why}")]
    Read { path: String, why: String },
    #[error(
        "--auth-jwt-key: an HS256 secret must be at least {MIN_HS256_SECRET} bytes (it has {0})"
    )]
    ShortSecret(usize),
    #[error(
        "--auth-jwt-key: this is a private key; give the server the public key only (it verifies, never signs)"
    )]
    PrivateKey,
    #[error(
        "--auth-jwt-key: a PEM key cannot be an HS256 secret (that is the algorithm-confusion attack); use RS256 or EdDSA"
    )]
    PemAsSecret,
    #[error("--auth-jwt-key: not a usable {alg} public key in PEM")]
    BadPublicKey { alg: &'static str },
    #[error("--auth-jwt-key: a PEM public key that is neither RSA (RS256) nor Ed25519 (EdDSA)")]
    UnknownPublicKey,
    #[error(
        "--auth-jwt-alg, --auth-jwt-issuer and --auth-jwt-audience need --auth-jwt-key or --auth-jwt-key-file"
    )]
    SettingsWithoutKey,
}

/// The settings the verifier is built from (the `--auth-jwt-*` flags).
#[derive(Clone, Debug, Default)]
pub struct AuthSettings {
    pub key: Option<KeyMaterial>,
    pub key_file: Option<std::path::PathBuf>,
    pub alg: Option<JwtAlg>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub leeway_secs: u64,
}

/// The verifier: one key, one algorithm, the claim rules.
pub struct PlayerAuth {
    alg: JwtAlg,
    key: DecodingKey,
    validation: Validation,
}

impl fmt::Debug for PlayerAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlayerAuth")
            .field("alg", &self.alg)
            .field("issuer", &self.validation.iss)
            .field("audience", &self.validation.aud)
            .finish_non_exhaustive()
    }
}

/// Who a valid token says the player is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenPlayer {
    /// The display name: the token's `name`, else the one the client gave.
    pub name: String,
    /// The record the player's rounds add to, derived from `sub`.
    pub identity: Identity,
}

/// Why a join's token was refused; `reason` is safe to show (it never
/// quotes the token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenRefusal {
    Missing,
    Invalid(String),
    Expired,
}

impl TokenRefusal {
    /// The WebSocket `Error` code.
    #[must_use]
    pub fn error_code(&self) -> ErrorCode {
        match self {
            TokenRefusal::Missing => ErrorCode::TokenMissing,
            TokenRefusal::Invalid(_) => ErrorCode::TokenInvalid,
            TokenRefusal::Expired => ErrorCode::TokenExpired,
        }
    }

    /// The HTTP error code (all 401).
    #[must_use]
    pub fn api_code(&self) -> ApiErrorCode {
        match self {
            TokenRefusal::Missing => ApiErrorCode::TokenMissing,
            TokenRefusal::Invalid(_) => ApiErrorCode::TokenInvalid,
            TokenRefusal::Expired => ApiErrorCode::TokenExpired,
        }
    }

    /// Every refusal closes a socket with 4004.
    #[must_use]
    pub fn close_code(&self) -> CloseCode {
        CloseCode::Unauthorized
    }
}

impl fmt::Display for TokenRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenRefusal::Missing => f.write_str("this server requires a signed player token"),
            TokenRefusal::Invalid(why) => write!(f, "player token refused: {why}"),
            TokenRefusal::Expired => f.write_str("player token expired: get a fresh one"),
        }
    }
}

/// The claims read from a token besides those the library checks.
#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    name: Option<String>,
}

impl PlayerAuth {
    /// The verifier the settings ask for; `None` when no key is set
    /// (anonymous play).
    ///
    /// # Errors
    /// The key cannot be read or used with the algorithm.
    pub fn from_settings(
        settings: &AuthSettings,
    ) -> Result<Option<Arc<PlayerAuth>>, AuthSetupError> {
        let material = match (&settings.key, &settings.key_file) {
            (Some(key), _) => key.0.clone(),
            (None, Some(path)) => std::fs::read(path).map_err(|err| AuthSetupError::Read {
                path: path.display().to_string(),
                why: err.to_string(),
            })?,
            (None, None)
                if settings.alg.is_some()
                    || settings.issuer.is_some()
                    || settings.audience.is_some() =>
            {
                return Err(AuthSetupError::SettingsWithoutKey);
            }
            (None, None) => return Ok(None),
        };
        let (alg, key) = key_of(&material, settings.alg)?;
        let mut validation = Validation::new(alg.algorithm());
        validation.leeway = settings.leeway_secs;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        if let Some(issuer) = &settings.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        match &settings.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        Ok(Some(Arc::new(PlayerAuth {
            alg,
            key,
            validation,
        })))
    }

    /// The algorithm every token must be signed with.
    #[must_use]
    pub fn alg(&self) -> JwtAlg {
        self.alg
    }

    /// Checks a join's token: the player it names, or why not. `name` is
    /// what the client asked to be called, used when the token has no
    /// `name` claim.
    ///
    /// # Errors
    /// The token is missing, malformed, wrongly signed, of another
    /// algorithm, issuer or audience, not valid yet, or expired.
    pub fn check(
        &self,
        token: Option<&PlayerToken>,
        name: &str,
    ) -> Result<TokenPlayer, TokenRefusal> {
        let token = token.ok_or(TokenRefusal::Missing)?;
        if token.0.len() > MAX_PLAYER_TOKEN_LEN {
            return Err(TokenRefusal::Invalid(format!(
                "longer than {MAX_PLAYER_TOKEN_LEN} bytes"
            )));
        }
        let data = jsonwebtoken::decode::<Claims>(&token.0, &self.key, &self.validation)
            .map_err(|err| self.refusal(err.kind()))?;
        let Claims { sub, name: claimed } = data.claims;
        if sub.is_empty() || sub.len() > MAX_SUBJECT_LEN {
            return Err(TokenRefusal::Invalid(format!(
                "sub must be 1 to {MAX_SUBJECT_LEN} bytes"
            )));
        }
        let name = claimed.unwrap_or_else(|| name.to_owned());
        if !valid_name(&name) {
            return Err(TokenRefusal::Invalid(format!(
                "name: {}",
                bad_name_message()
            )));
        }
        Ok(TokenPlayer {
            name,
            identity: identity_of(&sub),
        })
    }

    fn refusal(&self, kind: &ErrorKind) -> TokenRefusal {
        let why = match kind {
            ErrorKind::ExpiredSignature => return TokenRefusal::Expired,
            ErrorKind::ImmatureSignature => "not valid yet (nbf)".to_owned(),
            ErrorKind::InvalidSignature => "bad signature".to_owned(),
            ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => {
                format!("this server takes {} tokens only", self.alg.as_str())
            }
            ErrorKind::InvalidIssuer => "wrong issuer".to_owned(),
            ErrorKind::InvalidAudience => "wrong audience".to_owned(),
            ErrorKind::MissingRequiredClaim(claim) => format!("no {claim} claim"),
            ErrorKind::InvalidClaimFormat(claim) => format!("malformed {claim} claim"),
            // Never the library's words for the rest: they may quote bytes.
            _ => "malformed token".to_owned(),
        };
        TokenRefusal::Invalid(why)
    }
}

/// The key and algorithm `material` is: a PEM public key (RS256 or EdDSA,
/// the PEM says which unless `alg` does), else an HS256 secret.
fn key_of(material: &[u8], alg: Option<JwtAlg>) -> Result<(JwtAlg, DecodingKey), AuthSetupError> {
    let text = String::from_utf8_lossy(material);
    let pem = text.trim_start().starts_with("-----BEGIN");
    if pem && text.contains("PRIVATE KEY") {
        return Err(AuthSetupError::PrivateKey);
    }
    let rsa = || DecodingKey::from_rsa_pem(material).ok();
    let ed = || DecodingKey::from_ed_pem(material).ok();
    match (pem, alg) {
        (true, Some(JwtAlg::Hs256)) => Err(AuthSetupError::PemAsSecret),
        (true, Some(JwtAlg::Rs256)) => rsa()
            .map(|key| (JwtAlg::Rs256, key))
            .ok_or(AuthSetupError::BadPublicKey { alg: "RS256" }),
        (true, Some(JwtAlg::EdDsa)) => ed()
            .map(|key| (JwtAlg::EdDsa, key))
            .ok_or(AuthSetupError::BadPublicKey { alg: "EdDSA" }),
        (true, None) => rsa()
            .map(|key| (JwtAlg::Rs256, key))
            .or_else(|| ed().map(|key| (JwtAlg::EdDsa, key)))
            .ok_or(AuthSetupError::UnknownPublicKey),
        (false, Some(JwtAlg::Rs256 | JwtAlg::EdDsa)) => Err(AuthSetupError::BadPublicKey {
            alg: alg.map_or("", JwtAlg::as_str),
        }),
        (false, _) => {
            // A file's trailing newline is not part of the secret.
            let secret = trim_newline(material);
            if secret.len() < MIN_HS256_SECRET {
                return Err(AuthSetupError::ShortSecret(secret.len()));
            }
            DecodingKey::from_secret(secret)
                .map(|key| (JwtAlg::Hs256, key))
                .map_err(|_| AuthSetupError::ShortSecret(secret.len()))
        }
    }
}

fn trim_newline(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

/// The record id of the player `sub` names: the first [`PLAYER_ID_LEN`]
/// hex digits of SHA-256 of [`SUBJECT_DOMAIN`] and `sub`, the same on
/// every visit and every node.
#[must_use]
pub fn player_id(sub: &str) -> String {
    let digest = Sha256::new()
        .chain_update(SUBJECT_DOMAIN)
        .chain_update(sub)
        .finalize();
    let mut id = String::with_capacity(PLAYER_ID_LEN);
    for byte in &digest[..PLAYER_ID_LEN / 2] {
        use std::fmt::Write as _;
        let _ = write!(id, "{byte:02x}");
    }
    id
}

/// The identity a token's subject plays under. Its stored hash is of a
/// text no device key can be (keys are hex digits only), so a device key
/// never proves a token's record and a token never overwrites a device's.
fn identity_of(sub: &str) -> Identity {
    Identity {
        id: player_id(sub).into(),
        secret_hash: SecretHash::of(&format!("{SUBJECT_DOMAIN}{sub}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_map_to_stable_well_formed_ids() {
        let a = player_id("user-42");
        assert_eq!(a, player_id("user-42"));
        assert_ne!(a, player_id("user-43"));
        assert_eq!(a.len(), PLAYER_ID_LEN);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }

    #[test]
    fn keys_are_checked_at_start_without_quoting_them() {
        let settings = |key: &str, alg| AuthSettings {
            key: Some(KeyMaterial(key.as_bytes().to_vec())),
            alg,
            ..AuthSettings::default()
        };
        let short = PlayerAuth::from_settings(&settings("tiny-secret", None)).unwrap_err();
        assert!(!short.to_string().contains("tiny-secret"));
        assert!(matches!(short, AuthSetupError::ShortSecret(11)));
        let private = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(matches!(
            PlayerAuth::from_settings(&settings(private, None)),
            Err(AuthSetupError::PrivateKey)
        ));
        let public = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
        assert!(matches!(
            PlayerAuth::from_settings(&settings(public, Some(JwtAlg::Hs256))),
            Err(AuthSetupError::PemAsSecret)
        ));
        let secret = "0123456789abcdef0123456789abcdef\n";
        let auth = PlayerAuth::from_settings(&settings(secret, None))
            .expect("a 32-byte secret")
            .expect("a verifier");
        assert_eq!(auth.alg(), JwtAlg::Hs256);
        assert!(!format!("{auth:?}").contains("0123456789"));
        assert!(!format!("{:?}", settings(secret, None)).contains("0123456789"));
        assert!(
            PlayerAuth::from_settings(&AuthSettings::default())
                .expect("no key")
                .is_none()
        );
    }
}
