//! Who may play, when the game maker says: signed player tokens
//! (`--auth-jwt-key`). Owns checking a token and turning it into the name
//! and identity a player joins under; never issues tokens, never logs one,
//! and never runs on a room's tick (transports check before they ask a
//! room for a seat).

pub mod jwt;

pub use jwt::{AuthSetupError, PlayerAuth, TokenPlayer, TokenRefusal};
