//! Every input through every HTTP parameter parser the server owns, along
//! the path a request takes (axum's `Query` and `Json` extractors first):
//!
//! - the long-poll query (`after`, `timeout`) through
//!   `longpoll::parse_poll_query`, for each legal `--max-poll-timeout-secs`
//!   bound: the timeout never exceeds the cap, a larger cap never refuses
//!   what a smaller one accepts, and the `u32` (tick) parse agrees with the
//!   `u64` (event id) one;
//! - the JSON bodies `JoinBody` and `InputBody` (the router limits bodies
//!   to 16 KiB: run with `-max_len=16384`); parsed inputs survive a JSON
//!   round trip;
//! - `SessionToken::parse`: what it accepts is the lowercase of `to_hex`,
//!   and `to_hex` parses back;
//! - `sse::parse_resume_point` (`Last-Event-ID` / `?lastEventId=`): the
//!   header wins over the query, a header and a query with the same text
//!   agree, and an accepted id prints back to the same id;
//! - `valid_room_id` against its definition, and `valid_name`.
//!
//! No parser may panic.

#![no_main]

use std::time::Duration;

use axum::Json;
use axum::extract::Query;
use axum::http::{HeaderValue, Uri};
use libfuzzer_sys::fuzz_target;
use skirmish_server::net::longpoll::{PollQuery, parse_poll_query};
use skirmish_server::net::sessions::{SessionToken, hex};
use skirmish_server::net::sse::parse_resume_point;
use skirmish_shared::http::{InputBody, JoinBody};
use skirmish_shared::{Input, MAX_ROOM_ID_LEN, valid_name, valid_room_id};

/// Legal `--max-poll-timeout-secs` values (the flag allows 1..=600), ascending.
const CAPS: [u64; 4] = [1, 25, 60, 600];

fuzz_target!(|data: &[u8]| {
    poll_query(data);
    json_bodies(data);
    resume_header(data);
    token_bytes(data);
    if let Ok(text) = std::str::from_utf8(data) {
        session_token(text);
        resume_query(text);
        room_and_name(text);
    }
});

fn poll_query(data: &[u8]) {
    // A request line hyper accepted: otherwise the handler never runs.
    let mut raw = b"/api/ticker/poll?".to_vec();
    raw.extend_from_slice(data);
    let Ok(uri) = Uri::try_from(raw.as_slice()) else {
        return;
    };
    let Ok(Query(query)) = Query::<PollQuery>::try_from_uri(&uri) else {
        return;
    };
    let mut accepted_before = false;
    for cap in CAPS {
        let wide = parse_poll_query::<u64>(&query, cap);
        let narrow = parse_poll_query::<u32>(&query, cap);
        if let Ok(params) = &wide {
            assert!(
                params.timeout <= Duration::from_secs(cap),
                "timeout over the cap"
            );
        }
        if let Ok(params) = &narrow {
            let wide = wide.as_ref().expect("a tick parses as an event id too");
            assert_eq!(wide.after, params.after.map(u64::from));
            assert_eq!(wide.timeout, params.timeout);
        }
        assert!(!accepted_before || wide.is_ok(), "a larger cap refused");
        accepted_before = wide.is_ok();
        if let Err(err) = wide {
            let _ = format!("{err:?}");
        }
    }
}

fn json_bodies(data: &[u8]) {
    let _ = Json::<JoinBody>::from_bytes(data);
    if let Ok(Json(body)) = Json::<InputBody>::from_bytes(data) {
        let inputs = match body {
            InputBody::Many { inputs } => inputs,
            InputBody::One(input) => vec![input],
        };
        for input in inputs {
            let text = serde_json::to_vec(&input).expect("an input serialises");
            let back = Json::<InputBody>::from_bytes(&text).expect("a serialised input parses");
            assert!(matches!(back.0, InputBody::One(again) if again == input));
            let _: Input = serde_json::from_slice(&text).expect("and parses as an Input");
        }
    }
}

fn token_bytes(data: &[u8]) {
    let mut bytes = [0u8; 16];
    let n = data.len().min(16);
    bytes[..n].copy_from_slice(&data[..n]);
    let text = hex(&bytes);
    let token = SessionToken::parse(&text).expect("hex of 16 bytes is a token");
    assert_eq!(token.to_hex(), text);
}

fn session_token(text: &str) {
    if let Some(token) = SessionToken::parse(text) {
        assert_eq!(
            token.to_hex(),
            text.to_ascii_lowercase(),
            "non-canonical token accepted"
        );
        assert_eq!(SessionToken::parse(&token.to_hex()), Some(token));
    }
}

fn resume_header(data: &[u8]) {
    // A header value hyper accepted.
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let alone = parse_resume_point(Some(&value), None).ok();
    let with_query = parse_resume_point(Some(&value), Some("7")).ok();
    assert_eq!(alone, with_query, "the header must win over the query");
    if let Ok(text) = value.to_str() {
        let as_query = parse_resume_point(None, Some(text)).ok();
        assert_eq!(alone, as_query, "header and query parse differently");
    } else {
        assert_eq!(alone, None, "a non-text header was accepted");
    }
}

fn resume_query(text: &str) {
    match parse_resume_point(None, Some(text)) {
        Ok(Some(id)) => {
            assert_eq!(
                parse_resume_point(None, Some(&id.to_string())).ok(),
                Some(Some(id))
            );
        }
        Ok(None) => assert!(text.trim().is_empty()),
        Err(err) => {
            let _ = format!("{err:?}");
        }
    }
}

fn room_and_name(text: &str) {
    let expected = !text.is_empty()
        && text.len() <= MAX_ROOM_ID_LEN
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    assert_eq!(valid_room_id(text), expected);
    let _ = valid_name(text);
}
