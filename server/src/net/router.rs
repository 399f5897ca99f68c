//! Every route of the server, in one place.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Method, header};
use axum::routing::{get, post};
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::ServeDir;
use tower_http::timeout::RequestBodyTimeoutLayer;

use std::time::Duration;

use super::{AppState, api, history, longpoll, matchmake, replay, sse, ws};

/// The whole HTTP surface. `main` serves it; tests serve it on port 0.
pub fn router(state: AppState) -> Router {
    let web = ServeDir::new(&state.config.web_root).append_index_html_on_directories(true);
    // Request/response JSON is compressed when the client accepts it; event
    // streams are not (a compressor would hold events back to fill blocks).
    let polled = Router::new()
        .route("/rooms", get(api::rooms).post(api::create_room))
        .route("/matchmake", post(matchmake::matchmake))
        .route("/nodes", get(matchmake::nodes))
        .route("/players/{id}", get(history::player))
        .route("/matches", get(history::matches))
        .route("/matches/{id}", get(history::match_record))
        .route("/matches/{id}/replay", get(replay::replay))
        .route("/leaderboard", get(history::leaderboard))
        .route("/rooms/{id}/poll", get(longpoll::room_poll))
        .route("/ticker/poll", get(longpoll::ticker_poll))
        .route("/rooms/{id}/join", post(longpoll::join))
        .route("/sessions/{token}/input", post(longpoll::input))
        .route("/sessions/{token}/state", get(longpoll::state))
        .route("/sessions/{token}/leave", post(longpoll::leave))
        .layer(CompressionLayer::new())
        // Request bodies of the JSON API are small (a name, a few inputs).
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes as usize))
        // A body trickled in slowly must not hold a request forever.
        .layer(RequestBodyTimeoutLayer::new(Duration::from_secs(
            state.config.header_timeout_secs,
        )));
    // CORS answers only for the origins that may play (see `origin`).
    let policy = state.origins.clone();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, parts| {
            policy.allows(origin, &parts.uri, &parts.headers)
        }))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            HeaderName::from_static("last-event-id"),
        ]);
    let json_api = Router::new()
        .route("/rooms/{id}/events", get(sse::room_events))
        .route("/ticker", get(sse::ticker))
        .merge(polled)
        .fallback(api::not_found)
        .layer(cors);
    // The admin API lives here unless `--admin-bind` gives it its own
    // address (see `admin_router`).
    let admin = if state.config.admin_bind.is_none() {
        crate::admin::routes(&state)
    } else {
        Router::new()
    };
    Router::new()
        .merge(admin)
        // GET for HTTP/1.1 upgrades, CONNECT for HTTP/2 (RFC 8441).
        .route("/ws", get(ws::upgrade).connect(ws::upgrade))
        .route("/metrics", get(api::metrics))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .nest("/api", json_api)
        .fallback_service(web)
        // Last, so it sees every answer: errors the HTTP layer made by
        // itself get the JSON error body too.
        .layer(axum::middleware::from_fn(api::json_errors))
        .with_state(state)
}

/// The admin console and API alone, for `--admin-bind`: everything else is
/// 404 there.
pub fn admin_router(state: AppState) -> Router {
    crate::admin::routes(&state)
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn(api::json_errors))
        .with_state(state)
}
