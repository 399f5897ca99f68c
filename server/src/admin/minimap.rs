//! The console's live minimap of one room: `GET /admin/api/rooms/{id}/minimap`
//! answers the room's newest state sample (what the room's watchers get as
//! `state` events, `--spectator-delay-secs` late like theirs) with the
//! arena's size. Owns reading the sample back from its feed frame; never
//! asks the room anything (the sample is a watch the room publishes).

use axum::Json;
use axum::extract::{Path, State};
use bytes::Bytes;
use skirmish_shared::feed::StateSample;
use skirmish_shared::http::{AdminMinimap, ApiErrorCode};

use super::room_of;
use crate::net::AppState;
use crate::net::api::ApiError;

/// `GET /admin/api/rooms/{id}/minimap`.
pub(super) async fn minimap(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<AdminMinimap>, ApiError> {
    let room = room_of(&app, &id)?;
    let frame = room.feed.samples.borrow().clone();
    let sample = sample_of(&frame.sse).ok_or_else(|| {
        ApiError::new(
            ApiErrorCode::Internal,
            "the room's state sample is unreadable",
        )
    })?;
    Ok(Json(AdminMinimap {
        arena_w: room.rules.arena_w,
        arena_h: room.rules.arena_h,
        sample,
    }))
}

/// The sample a `state` SSE frame (`event: state\ndata: {...}\n\n`) carries.
fn sample_of(sse: &Bytes) -> Option<StateSample> {
    let text = std::str::from_utf8(sse).ok()?;
    let data = text.split_once("\ndata: ")?.1.split_once('\n')?.0;
    serde_json::from_str(data).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::room::event_log::sse_frame;

    #[test]
    fn the_sample_is_read_back_from_its_frame() {
        let sample = StateSample {
            round_ends_tick: 900,
            ships: Vec::new(),
            tick: 12,
            time: 1,
        };
        let json = serde_json::to_string(&sample).expect("serialises");
        let frame = sse_frame(None, "state", &json);
        assert_eq!(sample_of(&frame), Some(sample));
        assert_eq!(sample_of(&Bytes::from_static(b"event: state\n\n")), None);
    }
}
