//! Signed player tokens (`--auth-jwt-key`) through real servers, a real
//! WebSocket client and real HTTP: valid HS256, RS256 and EdDSA tokens
//! seat their subject under its name and record id on both transports;
//! every bad token (missing, malformed, forged, of another algorithm or
//! `none`, expired or replayed after expiry, not valid yet, wrong issuer
//! or audience) gets close 4004 with its `Error` code on the WebSocket and
//! 401 with its JSON code on the long-poll join; the binary logs neither
//! tokens nor the key; without a key, play stays anonymous.
//!
//! Keys: the HS256 secret is made here; the RS256 and EdDSA keys are
//! test-only files in `tests/fixtures/` (see its README).

mod common;

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::node_process::NodeProcess;
use common::{TestServer, expect_close, raw_socket, recv, send, test_config};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use skirmish_server::Config;
use skirmish_server::auth::jwt::{KeyMaterial, player_id};
use skirmish_shared::http::ApiErrorCode;
use skirmish_shared::{
    ClientMsg, CloseCode, ErrorCode, Hello, PROTOCOL_VERSION, PlayerToken, ServerMsg, Welcome,
};

const SECRET: &str = "test-only-hs256-secret-of-32-bytes-or-more";
const ISSUER: &str = "https://accounts.example.test";
const AUDIENCE: &str = "skirmish";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn read_fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).expect("fixture")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// Claims of a good token for `sub`, valid for an hour.
fn claims(sub: &str) -> Value {
    json!({
        "sub": sub,
        "name": format!("acct-{sub}"),
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now(),
        "exp": now() + 3600,
    })
}

/// `claims` with `changes` merged over it (a `null` removes the claim).
fn with(mut claims: Value, changes: Value) -> Value {
    for (key, value) in changes.as_object().expect("object") {
        if value.is_null() {
            claims.as_object_mut().expect("object").remove(key);
        } else {
            claims[key] = value.clone();
        }
    }
    claims
}

fn hmac(secret: &[u8]) -> EncodingKey {
    EncodingKey::from_secret(secret).expect("an HMAC key")
}

fn sign(alg: Algorithm, key: &EncodingKey, claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, key).expect("signs")
}

fn hs256(claims: &Value) -> String {
    sign(Algorithm::HS256, &hmac(SECRET.as_bytes()), claims)
}

fn rs256(claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(&read_fixture("jwt_rs256_private.pem")).expect("rsa key");
    sign(Algorithm::RS256, &key, claims)
}

fn eddsa(claims: &Value) -> String {
    let key = EncodingKey::from_ed_pem(&read_fixture("jwt_eddsa_private.pem")).expect("ed key");
    sign(Algorithm::EdDSA, &key, claims)
}

/// base64url without padding, for the tokens the signing library refuses
/// to make (`alg: none`).
fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
        }
    }
    out
}

/// A server requiring tokens signed with `key` (with issuer and audience
/// pinned), anonymous otherwise as `test_config`.
fn config(key: KeySource) -> Config {
    let mut config = test_config();
    match key {
        KeySource::Secret => config.auth_jwt_key = Some(KeyMaterial(SECRET.as_bytes().to_vec())),
        KeySource::File(name) => config.auth_jwt_key_file = Some(fixture(name)),
    }
    config.auth_jwt_issuer = Some(ISSUER.into());
    config.auth_jwt_audience = Some(AUDIENCE.into());
    config
}

/// Signs claims with one algorithm's test key.
type Mint = fn(&Value) -> String;

enum KeySource {
    Secret,
    File(&'static str),
}

/// A temporary data directory (so Welcome grants record ids), removed on
/// drop.
struct DataDir(PathBuf);

impl DataDir {
    fn new() -> DataDir {
        DataDir(std::env::temp_dir().join(format!(
            "skirmish-auth-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        )))
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A WebSocket join's outcome: the Welcome, or the `Error` code, close
/// code and reason.
async fn ws_join(
    server: &TestServer,
    room: &str,
    token: Option<String>,
) -> Result<(Welcome, common::Socket), (ErrorCode, u16, String)> {
    let mut socket = raw_socket(server).await;
    send(
        &mut socket,
        &ClientMsg::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            name: "typed-name".into(),
            room: Some(room.into()),
            resume: None,
            player: None,
            token: token.map(PlayerToken),
        }),
    )
    .await;
    match recv(&mut socket).await {
        ServerMsg::Welcome(welcome) => Ok((welcome, socket)),
        ServerMsg::Error(error) => {
            let (code, reason) = expect_close(&mut socket).await;
            Err((error.code, code, reason))
        }
        other => panic!("expected Welcome or Error, got {other:?}"),
    }
}

/// A long-poll join's status and JSON answer.
async fn poll_join(server: &TestServer, room: &str, token: Option<String>) -> (u16, Value) {
    let mut body = json!({ "name": "typed-name" });
    if let Some(token) = token {
        body["token"] = Value::String(token);
    }
    let response = reqwest::Client::new()
        .post(server.http_url(&format!("/api/rooms/{room}/join")))
        .json(&body)
        .timeout(common::WAIT)
        .send()
        .await
        .expect("join answered");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON answer"))
}

/// `token` is refused on both transports with `expected` (and close 4004).
async fn refused_everywhere(
    server: &TestServer,
    case: &str,
    token: Option<String>,
    expected: ErrorCode,
) {
    let (error, close, reason) = ws_join(server, "auth", token.clone())
        .await
        .map(|_| ())
        .expect_err(case);
    assert_eq!(error, expected, "{case}: WebSocket error code");
    assert_eq!(close, CloseCode::Unauthorized.code(), "{case}: close code");
    assert!(!reason.is_empty(), "{case}: the close says why");
    if let Some(token) = &token {
        assert!(
            !reason.contains(token.as_str()),
            "{case}: the reason quotes no token"
        );
    }
    let (status, body) = poll_join(server, "auth", token).await;
    assert_eq!(status, 401, "{case}: long-poll status ({body})");
    let api = match expected {
        ErrorCode::TokenMissing => ApiErrorCode::TokenMissing,
        ErrorCode::TokenExpired => ApiErrorCode::TokenExpired,
        _ => ApiErrorCode::TokenInvalid,
    };
    assert_eq!(
        body["code"],
        serde_json::to_value(api).expect("code"),
        "{case}: long-poll code ({body})"
    );
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{case}"
    );
}

#[tokio::test]
async fn valid_tokens_of_each_algorithm_seat_their_subject_on_both_transports() {
    let cases: [(&str, KeySource, Mint); 3] = [
        ("HS256", KeySource::Secret, hs256),
        ("RS256", KeySource::File("jwt_rs256_public.pem"), rs256),
        ("EdDSA", KeySource::File("jwt_eddsa_public.pem"), eddsa),
    ];
    for (alg, key, mint) in cases {
        let data = DataDir::new();
        let mut config = config(key);
        config.no_database = false;
        config.data_dir = data.0.clone();
        let server = TestServer::start(config).await;

        let sub = format!("user-{alg}");
        let (welcome, mut socket) = ws_join(&server, "auth", Some(mint(&claims(&sub))))
            .await
            .unwrap_or_else(|refusal| panic!("{alg}: WebSocket join refused: {refusal:?}"));
        let grant = welcome.player.clone().expect("a recorded identity");
        assert_eq!(
            grant.id,
            player_id(&sub),
            "{alg}: the record is the subject's"
        );
        assert_eq!(
            grant.secret, None,
            "{alg}: a token player gets no device secret"
        );

        let poll_sub = format!("poller-{alg}");
        let (status, joined) = poll_join(&server, "auth", Some(mint(&claims(&poll_sub)))).await;
        assert_eq!(status, 200, "{alg}: long-poll join ({joined})");
        assert_eq!(joined["player"]["id"], json!(player_id(&poll_sub)), "{alg}");
        let poll_ship = joined["ship"].as_u64().expect("ship id");

        // Both ships carry their token's name, not the name typed.
        let names = seen_names(&mut socket, welcome.ship.0, poll_ship).await;
        assert_eq!(
            names,
            (format!("acct-{sub}"), format!("acct-{poll_sub}")),
            "{alg}: names come from the token"
        );
        server.stop().await;
    }
}

/// The names of ships `own` and `other`, from the snapshots `socket` gets.
async fn seen_names(socket: &mut common::Socket, own: u16, other: u64) -> (String, String) {
    // The socket never acks, so every snapshot is a full one.
    let mut history = skirmish_shared::view::ViewHistory::new();
    loop {
        if let ServerMsg::Snapshot(snapshot) = recv(socket).await
            && let Ok(view) = history.apply(&snapshot.body)
        {
            let name = |id: u64| {
                view.ships
                    .iter()
                    .find(|(ship, _)| u64::from(ship.0) == id)
                    .map(|(_, ship)| ship.name.clone())
            };
            if let (Some(a), Some(b)) = (name(u64::from(own)), name(other)) {
                return (a, b);
            }
        }
    }
}

#[tokio::test]
async fn every_bad_token_is_refused_with_its_code_on_both_transports() {
    let server = TestServer::start(config(KeySource::Secret)).await;
    let good = claims("mallory");
    let other_secret = hmac(b"another-secret-of-thirty-two-bytes!!");
    let forged = sign(Algorithm::HS256, &other_secret, &good);
    // A valid token's signature on a payload that says someone else.
    let valid = hs256(&good);
    let spliced = {
        let theirs = hs256(&claims("victim"));
        let mut ours = valid.split('.');
        let mut parts = theirs.split('.');
        format!(
            "{}.{}.{}",
            ours.next().expect("header"),
            parts.nth(1).expect("payload"),
            ours.nth(1).expect("signature")
        )
    };
    let unsigned = format!(
        "{}.{}.",
        b64url(br#"{"alg":"none","typ":"JWT"}"#),
        b64url(good.to_string().as_bytes())
    );
    let hs512 = sign(Algorithm::HS512, &hmac(SECRET.as_bytes()), &good);
    let cases: Vec<(&str, Option<String>, ErrorCode)> = vec![
        ("no token", None, ErrorCode::TokenMissing),
        (
            "not a JWT",
            Some("not-a-token".into()),
            ErrorCode::TokenInvalid,
        ),
        (
            "three junk parts",
            Some("a.b.c".into()),
            ErrorCode::TokenInvalid,
        ),
        ("forged signature", Some(forged), ErrorCode::TokenInvalid),
        ("spliced payload", Some(spliced), ErrorCode::TokenInvalid),
        ("alg none", Some(unsigned), ErrorCode::TokenInvalid),
        ("another HMAC alg", Some(hs512), ErrorCode::TokenInvalid),
        (
            "expired past the leeway",
            Some(hs256(&with(good.clone(), json!({"exp": now() - 300})))),
            ErrorCode::TokenExpired,
        ),
        (
            "nbf in the future",
            Some(hs256(&with(good.clone(), json!({"nbf": now() + 3600})))),
            ErrorCode::TokenInvalid,
        ),
        (
            "nbf as a string (the claim type confusion)",
            Some(hs256(&with(good.clone(), json!({"nbf": "99999999999"})))),
            ErrorCode::TokenInvalid,
        ),
        (
            "no exp",
            Some(hs256(&with(good.clone(), json!({"exp": null})))),
            ErrorCode::TokenInvalid,
        ),
        (
            "no sub",
            Some(hs256(&with(good.clone(), json!({"sub": null})))),
            ErrorCode::TokenInvalid,
        ),
        (
            "wrong issuer",
            Some(hs256(&with(
                good.clone(),
                json!({"iss": "https://evil.test"}),
            ))),
            ErrorCode::TokenInvalid,
        ),
        (
            "no issuer",
            Some(hs256(&with(good.clone(), json!({"iss": null})))),
            ErrorCode::TokenInvalid,
        ),
        (
            "wrong audience",
            Some(hs256(&with(good.clone(), json!({"aud": "another-game"})))),
            ErrorCode::TokenInvalid,
        ),
        (
            "a name the server refuses",
            Some(hs256(&with(good.clone(), json!({"name": "x".repeat(40)})))),
            ErrorCode::TokenInvalid,
        ),
        (
            "longer than the limit",
            Some(hs256(&with(good.clone(), json!({"pad": "p".repeat(1600)})))),
            ErrorCode::TokenInvalid,
        ),
    ];
    let long = cases
        .last()
        .and_then(|(_, token, _)| token.as_ref())
        .map_or(0, String::len);
    assert!(
        (skirmish_shared::MAX_PLAYER_TOKEN_LEN..skirmish_shared::MAX_CLIENT_FRAME - 100)
            .contains(&long),
        "the long token is over the token limit and fits a frame: {long}"
    );
    for (case, token, expected) in cases {
        refused_everywhere(&server, case, token, expected).await;
    }
    // The good token itself is taken, so the refusals above were the
    // tokens' fault.
    ws_join(&server, "auth", Some(valid))
        .await
        .map(|_| ())
        .expect("the unaltered token is accepted");
    let metrics = common::http_get(&server.http_url("/metrics")).await.1;
    assert!(
        metrics.contains("reason=\"player_token\""),
        "refusals are counted"
    );
    server.stop().await;
}

#[tokio::test]
async fn tokens_of_another_algorithm_than_the_key_are_refused() {
    let server = TestServer::start(config(KeySource::File("jwt_rs256_public.pem"))).await;
    let good = claims("eve");
    // Alg confusion: an HS256 token whose "secret" is the server's public
    // key, which anyone can read.
    let public = read_fixture("jwt_rs256_public.pem");
    let confused = sign(Algorithm::HS256, &hmac(&public), &good);
    refused_everywhere(
        &server,
        "HS256 with the public key",
        Some(confused),
        ErrorCode::TokenInvalid,
    )
    .await;
    refused_everywhere(
        &server,
        "EdDSA on an RS256 server",
        Some(eddsa(&good)),
        ErrorCode::TokenInvalid,
    )
    .await;
    refused_everywhere(
        &server,
        "HS256 token",
        Some(hs256(&good)),
        ErrorCode::TokenInvalid,
    )
    .await;
    ws_join(&server, "auth", Some(rs256(&good)))
        .await
        .map(|_| ())
        .expect("the key's own algorithm is accepted");
    server.stop().await;
}

#[tokio::test]
async fn a_token_replayed_after_its_expiry_is_refused() {
    let mut config = config(KeySource::Secret);
    config.auth_jwt_leeway_secs = 0;
    let server = TestServer::start(config).await;
    let expires = now() + 2;
    let token = hs256(&with(claims("replayer"), json!({"exp": expires})));
    ws_join(&server, "auth", Some(token.clone()))
        .await
        .map(|_| ())
        .expect("accepted before its exp");
    let (status, body) = poll_join(&server, "auth", Some(token.clone())).await;
    assert_eq!(status, 200, "accepted before its exp ({body})");
    // The expiry is wall-clock time: nothing to await but the clock.
    while now() <= expires {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    refused_everywhere(
        &server,
        "replayed after exp",
        Some(token),
        ErrorCode::TokenExpired,
    )
    .await;
    server.stop().await;
}

#[tokio::test]
async fn without_a_key_play_stays_anonymous_and_tokens_are_ignored() {
    let server = TestServer::start(test_config()).await;
    ws_join(&server, "anon", None)
        .await
        .map(|_| ())
        .expect("anonymous WebSocket join");
    ws_join(&server, "anon", Some("ignored.token.here".into()))
        .await
        .map(|_| ())
        .expect("a token is ignored");
    assert_eq!(poll_join(&server, "anon", None).await.0, 200);
    server.stop().await;
}

#[tokio::test]
async fn the_binary_logs_neither_tokens_nor_the_key() {
    let dir = DataDir::new();
    std::fs::create_dir_all(&dir.0).expect("dir");
    let key_file = dir.0.join("jwt.key");
    std::fs::write(&key_file, format!("{SECRET}\n")).expect("key file");
    let node = NodeProcess::start(&[
        "--auth-jwt-key-file",
        key_file.to_str().expect("utf-8"),
        "--auth-jwt-issuer",
        ISSUER,
        "--auth-jwt-audience",
        AUDIENCE,
    ])
    .await;
    let server = node.server();
    let valid = hs256(&claims("logged"));
    let expired = hs256(&with(claims("logged"), json!({"exp": now() - 300})));
    let forged = sign(
        Algorithm::HS256,
        &hmac(b"another-secret-of-thirty-two-bytes!!"),
        &claims("logged"),
    );
    ws_join(&server, "auth", Some(valid.clone()))
        .await
        .map(|_| ())
        .expect("accepted");
    assert_eq!(poll_join(&server, "auth", Some(valid.clone())).await.0, 200);
    for token in [&expired, &forged] {
        assert!(ws_join(&server, "auth", Some(token.clone())).await.is_err());
        assert_eq!(poll_join(&server, "auth", Some(token.clone())).await.0, 401);
    }
    node.terminate();
    let (status, logs) = node.wait().await;
    assert!(status.success());
    let log = logs.join("\n");
    assert!(
        log.contains("signed player tokens"),
        "the start says tokens are required"
    );
    for secret in [SECRET, &valid, &expired, &forged] {
        assert!(!log.contains(secret), "a secret in the log");
    }
    // Only the signature part is secret-ish; no part of a token shows.
    for token in [&valid, &forged] {
        let signature = token.rsplit('.').next().expect("signature");
        assert!(!log.contains(signature), "a token's signature in the log");
    }

    // A key too short to be safe stops the start, without quoting it.
    let short = dir.0.join("short.key");
    std::fs::write(&short, "tiny-secret\n").expect("key file");
    let output = std::process::Command::new(NodeProcess::PATH)
        .args([
            "--no-database",
            "--bind",
            "127.0.0.1:0",
            "--auth-jwt-key-file",
        ])
        .arg(&short)
        .output()
        .expect("runs");
    assert!(!output.status.success(), "a short secret is refused");
    let said = String::from_utf8_lossy(&output.stderr).to_string()
        + &String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("at least 32 bytes"), "{said}");
    assert!(!said.contains("tiny-secret"), "{said}");
}
