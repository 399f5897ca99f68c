//! Long-poll requests that reach a node other than the one holding their
//! room or session (a load balancer without sticky sessions): answered
//! `307 Temporary Redirect` to the owner's `--public-url`, same path and
//! query, so the client repeats the request there with its method and
//! body. The join answer's `node_url` tells the client to go there
//! directly from then on.
//!
//! Redirect rather than forward: nodes never call each other (a forwarding
//! node would hold a connection and a poll slot per waiting poll of every
//! player it does not own, and add a hop to every input), and players
//! already reach owners by their public URL for the WebSocket. This module
//! only decides where to send a request; it never reads a seat or a log.

use axum::http::header::{CACHE_CONTROL, LOCATION};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use skirmish_shared::http::ApiErrorCode;

use crate::net::api::ApiError;

/// The body of a redirect, for clients that do not follow it by themselves.
#[derive(Debug, Serialize)]
struct MovedBody<'a> {
    /// The owner node's id.
    node: &'a str,
    /// The owner's base URL: send this session's requests there.
    node_url: &'a str,
    /// The whole URL to repeat this request at.
    location: &'a str,
}

/// A request that must go elsewhere, or fail.
#[derive(Debug)]
pub enum Refused {
    /// Refused here, with an error body.
    Error(ApiError),
    /// `307` to the owner.
    Moved(Response),
}

impl From<ApiError> for Refused {
    fn from(err: ApiError) -> Refused {
        Refused::Error(err)
    }
}

impl From<axum::extract::rejection::JsonRejection> for Refused {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Refused {
        Refused::Error(rejection.into())
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Error(err) => err.into_response(),
            Refused::Moved(response) => response,
        }
    }
}

/// `307` sending the request of `uri` (as this node received it) to node
/// `node` at `node_url`.
///
/// # Errors
/// 500 when the owner's URL makes no valid `Location`: the node's own
/// `--public-url` is checked at start, so only a corrupt directory entry
/// gets here.
pub fn moved(node: &str, node_url: &str, uri: &Uri) -> Refused {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let location = format!("{}{path}", node_url.trim_end_matches('/'));
    let Ok(header) = HeaderValue::from_str(&location) else {
        return Refused::Error(ApiError::new(
            ApiErrorCode::Internal,
            format!("node {node} publishes an unusable URL"),
        ));
    };
    let body = MovedBody {
        node,
        node_url,
        location: &location,
    };
    let body = serde_json::to_vec(&body).unwrap_or_default();
    Refused::Moved(
        (
            StatusCode::TEMPORARY_REDIRECT,
            [
                (LOCATION, header),
                (CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (
                    axum::http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
            ],
            body,
        )
            .into_response(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_location_is_the_owners_base_with_the_same_path_and_query() {
        let uri: Uri = "/api/sessions/ab/state?after=3&timeout=5"
            .parse()
            .expect("uri");
        let Refused::Moved(response) = moved("a", "http://lb.example/node/a/", &uri) else {
            panic!("a redirect");
        };
        assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(
            response.headers()[LOCATION],
            "http://lb.example/node/a/api/sessions/ab/state?after=3&timeout=5"
        );
        let Refused::Error(err) = moved("a", "http://bad\nurl", &uri) else {
            panic!("an error");
        };
        assert_eq!(
            err.into_response().status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
