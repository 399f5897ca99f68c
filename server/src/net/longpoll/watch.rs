//! Watching by long poll: a room's or the ticker's event log read page by
//! page, the same logs SSE streams. A poll holds a slot while it waits and
//! never holds a log lock across the wait.

use std::sync::Arc;

use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::value::RawValue;
use skirmish_shared::http::{MAX_EVENTS_PER_PAGE, PollPage};
use tokio::time::Instant;

use super::{PollParams, PollQuery, answer, parse_params, parse_poll_query, poll_slot};
use crate::listener::ConnSlot;
use crate::metrics::Transport;
use crate::net::AppState;
use crate::net::api::ApiError;
use crate::room::event_log::{EventLog, Read};

/// A watcher's page as the server writes it: the snapshot and the events
/// are JSON the log rendered once, shared by every reader.
type Page<'a> = PollPage<&'a RawValue, &'a RawValue>;

/// An empty page at `next`.
fn page<'a>(next: u64) -> Page<'a> {
    PollPage {
        snapshot: None,
        reset: None,
        events: Vec::new(),
        next,
        closed: None,
    }
}

/// `GET /api/rooms/{id}/poll`.
pub async fn room_poll(
    State(app): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<PollQuery>, QueryRejection>,
    conn: Option<Extension<ConnSlot>>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let client = crate::net::client_of(conn.as_deref());
    let room = crate::net::room_feed::find(&app, &id, query.invite.as_deref(), client).await?;
    let params = parse_poll_query::<u64>(&query, app.config.max_poll_timeout_secs)?;
    let _slot = poll_slot(&app, room.slots(), conn.as_ref())?;
    Ok(poll_log(&app, &room.log, params).await)
}

/// `GET /api/ticker/poll`.
pub async fn ticker_poll(
    State(app): State<AppState>,
    query: Result<Query<PollQuery>, QueryRejection>,
    conn: Option<Extension<ConnSlot>>,
) -> Result<Response, ApiError> {
    let (log, _following) = crate::net::room_feed::ticker(&app).await?;
    let params = parse_params::<u64>(&app, query)?;
    let _slot = poll_slot(&app, None, conn.as_ref())?;
    Ok(poll_log(&app, &log, params).await)
}

/// Answers at once when the log has news for `after`, else waits for it
/// until the timeout.
async fn poll_log(app: &AppState, log: &Arc<EventLog>, params: PollParams<u64>) -> Response {
    let ok = |page: &Page<'_>| answer(app, StatusCode::OK, page);
    let Some(after) = params.after else {
        let (snapshot, head) = log.snapshot();
        return ok(&PollPage {
            snapshot: Some(&*snapshot),
            ..page(head)
        });
    };
    let deadline = Instant::now() + params.timeout;
    // Subscribe before reading, so an append between the read and the wait
    // still wakes us.
    let mut changes = log.subscribe();
    loop {
        changes.borrow_and_update();
        match log.read(after, MAX_EVENTS_PER_PAGE) {
            Read::Events(events) => {
                let next = events.last().map_or(after, |e| e.id);
                return ok(&PollPage {
                    events: events.iter().map(|e| &*e.json).collect(),
                    ..page(next)
                });
            }
            Read::Reset { snapshot, head } => {
                app.metrics.reset(Transport::LongPoll);
                return ok(&PollPage {
                    reset: Some(&*snapshot),
                    ..page(head)
                });
            }
            Read::Closed(reason) | Read::Ended(reason) => {
                return ok(&PollPage {
                    closed: Some(reason.to_owned()),
                    ..page(after)
                });
            }
            Read::UpToDate => {}
        }
        let closed = tokio::select! {
            changed = changes.changed() => match changed {
                Ok(()) => continue,
                Err(_) => "gone",
            },
            () = tokio::time::sleep_until(deadline) => return ok(&page(after)),
            // A log that closed just before shutdown (a drained room) is
            // answered with its own reason, not "shutting down".
            () = app.shutdown.cancelled() => {
                if log.is_drained() {
                    continue;
                }
                "server shutting down"
            }
        };
        return ok(&PollPage {
            closed: Some(closed.to_owned()),
            ..page(after)
        });
    }
}
