//! Everything that speaks HTTP or WebSocket. Handlers extract, validate and
//! hand over to rooms; they hold no game state of their own.
//!
//! - [`router`]: every route in one place.
//! - [`ws`]: the player WebSocket.
//! - [`api`]: JSON endpoints (room list, health) and the JSON error type.

pub mod api;
pub mod router;
pub mod ws;

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::room::Registry;

/// What every handler can reach. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(Arc<AppInner>);

/// The shared parts behind [`AppState`].
#[derive(Debug)]
pub struct AppInner {
    /// Validated settings.
    pub config: Config,
    /// All rooms.
    pub registry: Arc<Registry>,
    /// Cancelled when the server starts shutting down.
    pub shutdown: CancellationToken,
    /// Every connection and room task, so shutdown can wait for them.
    pub tracker: TaskTracker,
    /// One permit per open connection (all transports), `max_connections`
    /// in all: past it, new connections get 503 instead of memory.
    pub connections: Arc<Semaphore>,
}

impl std::ops::Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl AppState {
    /// Builds the state and starts the default room.
    #[must_use]
    pub fn new(config: Config, shutdown: CancellationToken, tracker: TaskTracker) -> AppState {
        let registry = Registry::new(
            config.room_config(),
            &config.default_room,
            shutdown.clone(),
            tracker.clone(),
        );
        let connections = Arc::new(Semaphore::new(config.max_connections as usize));
        AppState(Arc::new(AppInner {
            config,
            registry,
            shutdown,
            tracker,
            connections,
        }))
    }

    /// A connection slot, or `None` at the limit.
    #[must_use]
    pub fn connection_permit(&self) -> Option<OwnedSemaphorePermit> {
        self.connections.clone().try_acquire_owned().ok()
    }
}
