//! Every route of the server, in one place.

use axum::Router;
use axum::routing::get;
use tower_http::services::ServeDir;

use super::{AppState, api, sse, ws};

/// The whole HTTP surface. `main` serves it; tests serve it on port 0.
pub fn router(state: AppState) -> Router {
    let web = ServeDir::new(&state.config.web_root).append_index_html_on_directories(true);
    let json_api = Router::new()
        .route("/rooms", get(api::rooms))
        .route("/rooms/{id}/events", get(sse::room_events))
        .route("/ticker", get(sse::ticker))
        .fallback(api::not_found);
    Router::new()
        .route("/ws", get(ws::upgrade))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .nest("/api", json_api)
        .fallback_service(web)
        .with_state(state)
}
