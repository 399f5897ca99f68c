//! The admin console's server message: `POST /admin/api/notice` hands an
//! operator's text to every room of this node, which puts it in each
//! player's outbox (`ServerMsg::Notice`, or the long-poll state answer)
//! and logs a `notice` event for its watchers; in a cluster it is also
//! published for every other node's rooms (`cluster::notices`). Owns checking the text and
//! the node's pace of notices; never waits on a room longer than an
//! action may.

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use parking_lot::Mutex;
use skirmish_shared::MAX_NOTICE_LEN;
use skirmish_shared::http::{AdminNotice, ApiErrorCode, AuditEntry};
use tokio::time::Instant;
use tracing::{info, warn};

use super::{Operator, audit_of, tell};
use crate::net::AppState;
use crate::net::api::ApiError;
use crate::room::RoomCmd;

/// Shortest time between two notices of this node: a HUD line needs a
/// few seconds to be read, and a script looping on the API must not turn
/// every player's HUD into a ticker.
pub const NOTICE_EVERY: Duration = Duration::from_secs(2);

/// When the node's last notice went out. The lock guards one read and
/// one write, never an await.
#[derive(Debug, Default)]
pub struct NoticePace(Mutex<Option<Instant>>);

impl NoticePace {
    /// Takes the node's turn to send, or says how long until it has one.
    fn take(&self, now: Instant) -> Result<(), Duration> {
        let mut last = self.0.lock();
        if let Some(at) = *last {
            let next = at + NOTICE_EVERY;
            if now < next {
                return Err(next - now);
            }
        }
        *last = Some(now);
        Ok(())
    }
}

/// Whether `text` (trimmed) is a server message as the console accepts
/// one: 1 to [`MAX_NOTICE_LEN`] bytes, no control characters. Messages
/// from other nodes are held to the same rule before a HUD shows them.
#[must_use]
pub fn acceptable(text: &str) -> bool {
    !text.is_empty() && text.len() <= MAX_NOTICE_LEN && !text.contains(char::is_control)
}

/// `POST /admin/api/notice` with `{"text": "..."}`: every player and
/// watcher of this node's rooms (of every node's, in a cluster) is shown
/// the text. Answers the audit entry.
pub(super) async fn send_notice(
    State(app): State<AppState>,
    Extension(Operator(who)): Extension<Operator>,
    body: Result<Json<AdminNotice>, JsonRejection>,
) -> Result<Json<AuditEntry>, ApiError> {
    let Json(AdminNotice { text }) = body?;
    let text = text.trim();
    if !acceptable(text) {
        return Err(ApiError::new(
            ApiErrorCode::BadBody,
            format!("text: 1 to {MAX_NOTICE_LEN} bytes without control characters"),
        ));
    }
    let admin = app
        .admin
        .as_ref()
        .expect("admin routes need the admin state");
    if let Err(wait) = admin.notices.take(Instant::now()) {
        let secs = u32::try_from(wait.as_secs() + 1).unwrap_or(u32::MAX);
        return Err(ApiError::new(
            ApiErrorCode::AdminRateLimited,
            format!(
                "one server message every {} s: retry in {secs} s",
                NOTICE_EVERY.as_secs()
            ),
        )
        .retry_after(secs));
    }
    let text: Arc<str> = text.into();
    let rooms = app.registry.handles();
    let told = futures_util::future::join_all(
        rooms
            .iter()
            .map(|room| tell(room, RoomCmd::Notice(text.clone()))),
    )
    .await;
    let reached = told.iter().filter(|r| r.is_ok()).count();
    let mut target = format!("{reached} rooms");
    if let Some(cluster) = app.matchmaker.cluster() {
        // Every node's rooms: the other nodes hand it to theirs. Redis
        // away: this node's rooms had it, and the audit says so.
        match crate::cluster::notices::publish(&cluster.directory, &text).await {
            Ok(nodes) => target = format!("{reached} rooms here; {nodes} nodes"),
            Err(err) => {
                warn!(%err, "server message not sent to other nodes");
                target = format!("{reached} rooms here; other nodes unreachable");
            }
        }
    }
    info!(%who, target = %target, text = %text, "admin: server message sent");
    Ok(Json(audit_of(&app).record(&who, "notice", &target, &text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_are_paced() {
        let pace = NoticePace::default();
        let start = Instant::now();
        assert_eq!(pace.take(start), Ok(()));
        assert_eq!(
            pace.take(start + Duration::from_millis(500)),
            Err(Duration::from_millis(1500))
        );
        assert_eq!(pace.take(start + NOTICE_EVERY), Ok(()));
    }
}
