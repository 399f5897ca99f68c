//! gzip event streams (`--sse-gzip`) read by a real HTTP client that
//! decodes each chunk as it arrives: the same events with the same ids as
//! a plain stream, each batch decodable on arrival (flushed, not held for
//! the next), resume by `Last-Event-ID`, and plain streams for clients
//! that do not ask or when the server does not offer it.

mod common;

use std::io::Write as _;

use common::{Player, TestServer, WAIT, test_config};
use futures_util::StreamExt;
use skirmish_server::Config;

fn gzip_config(bots: u16) -> Config {
    let mut config = test_config();
    config.bots = bots;
    config.sse_gzip = true;
    config
}

/// A stream read chunk by chunk, decoding gzip when the server sent it.
struct Feed {
    encoding: Option<String>,
    vary: Option<String>,
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    decoder: Option<flate2::write::GzDecoder<Vec<u8>>>,
    /// Whole frames decoded, not yet taken.
    frames: std::collections::VecDeque<String>,
    /// Compressed bytes received.
    wire: usize,
}

impl Feed {
    async fn open(url: &str, gzip: bool, last_event_id: Option<u64>) -> Feed {
        let mut request = reqwest::Client::new().get(url);
        if gzip {
            request = request.header("accept-encoding", "gzip");
        }
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = tokio::time::timeout(WAIT, request.send())
            .await
            .expect("answer in time")
            .expect("sent");
        assert_eq!(response.status(), 200);
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().expect("text").to_owned())
        };
        let encoding = header("content-encoding");
        let vary = header("vary");
        Feed {
            decoder: (encoding.as_deref() == Some("gzip"))
                .then(|| flate2::write::GzDecoder::new(Vec::new())),
            encoding,
            vary,
            body: Box::pin(response.bytes_stream()),
            frames: Default::default(),
            wire: 0,
        }
    }

    /// The next frame. Every chunk must decode, on its own arrival, to
    /// whole frames: a compressor that held bytes back for the next event
    /// would leave a chunk that decodes to nothing or to half a frame.
    async fn next(&mut self) -> String {
        loop {
            if let Some(frame) = self.frames.pop_front() {
                return frame;
            }
            let chunk = tokio::time::timeout(WAIT, self.body.next())
                .await
                .expect("a chunk in time")
                .expect("stream open")
                .expect("no transport error");
            self.wire += chunk.len();
            let plain = match self.decoder.as_mut() {
                Some(decoder) => {
                    decoder.write_all(&chunk).expect("valid gzip");
                    decoder.flush().expect("valid gzip");
                    std::mem::take(decoder.get_mut())
                }
                None => chunk.to_vec(),
            };
            let text = String::from_utf8(plain).expect("utf-8");
            assert!(
                !text.is_empty() && text.ends_with("\n\n"),
                "each chunk decodes at once to whole frames: {text:?}"
            );
            self.frames.extend(
                text.split_terminator("\n\n")
                    .map(|frame| format!("{frame}\n\n")),
            );
        }
    }

    /// The next frame that carries an id (logged events, the snapshot).
    async fn next_logged(&mut self) -> (u64, String) {
        loop {
            let frame = self.next().await;
            if let Some(id) = frame
                .lines()
                .find_map(|line| line.strip_prefix("id: "))
                .map(|id| id.parse().expect("numeric id"))
            {
                return (id, frame);
            }
        }
    }

    /// Logged frames until one with an id of at least `end`.
    async fn logged_until(&mut self, end: u64) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        loop {
            let (id, frame) = self.next_logged().await;
            out.push((id, frame));
            if id >= end {
                return out;
            }
        }
    }
}

#[tokio::test]
async fn a_gzip_feed_carries_the_same_events_and_ids_and_resumes() {
    let server = TestServer::start(gzip_config(12)).await;
    let url = server.http_url("/api/rooms/main/events");
    let mut zipped = Feed::open(&url, true, None).await;
    assert_eq!(zipped.encoding.as_deref(), Some("gzip"));
    assert_eq!(zipped.vary.as_deref(), Some("accept-encoding"));
    assert!(zipped.next().await.starts_with("retry: "));
    let (start, snapshot) = zipped.next_logged().await;
    assert!(snapshot.contains("event: snapshot"), "{snapshot}");
    // The bots fight: joins, kills and scores follow.
    let end = start + 12;
    let compressed = zipped.logged_until(end).await;
    assert!(compressed.windows(2).all(|w| w[0].0 < w[1].0));

    // A plain reader resuming after the snapshot gets the same frames.
    let mut plain = Feed::open(&url, false, Some(start)).await;
    assert_eq!(plain.encoding, None);
    assert!(plain.next().await.starts_with("retry: "));
    assert_eq!(plain.logged_until(end).await, compressed);

    // So does a gzip reader resuming there.
    let mut resumed = Feed::open(&url, true, Some(start)).await;
    assert_eq!(resumed.encoding.as_deref(), Some("gzip"));
    assert!(resumed.next().await.starts_with("retry: "));
    assert_eq!(resumed.logged_until(end).await, compressed);
    server.stop().await;
}

#[tokio::test]
async fn each_event_of_a_quiet_room_arrives_alone() {
    let server = TestServer::start(gzip_config(0)).await;
    let _first = Player::join(&server, "first", Some("quiet")).await;
    let url = server.http_url("/api/rooms/quiet/events");
    let mut feed = Feed::open(&url, true, None).await;
    assert_eq!(feed.encoding.as_deref(), Some("gzip"));
    // The opening arrives although nothing follows it yet.
    assert!(feed.next().await.starts_with("retry: "));
    let (_, snapshot) = feed.next_logged().await;
    assert!(snapshot.contains("event: snapshot"), "{snapshot}");
    // One join, then the room is quiet again: it still arrives. (The first
    // player's own join may be logged on the tick after the snapshot the
    // feed opened with, so it may come first.)
    let _second = Player::join(&server, "second", Some("quiet")).await;
    let (_, mut join) = feed.next_logged().await;
    if join.contains("\"first\"") {
        join = feed.next_logged().await.1;
    }
    assert!(
        join.contains("event: join") && join.contains("\"second\""),
        "{join}"
    );
    server.stop().await;
}

#[tokio::test]
async fn gzip_is_only_sent_when_offered_and_asked_for() {
    let offered = TestServer::start(gzip_config(0)).await;
    let _player = Player::join(&offered, "p", None).await;
    let url = offered.http_url("/api/rooms/main/events");
    let mut unasked = Feed::open(&url, false, None).await;
    assert_eq!(unasked.encoding, None);
    assert!(unasked.next().await.starts_with("retry: "));
    offered.stop().await;

    let server = TestServer::start(test_config()).await;
    let _player = Player::join(&server, "p", None).await;
    let url = server.http_url("/api/rooms/main/events");
    let mut not_offered = Feed::open(&url, true, None).await;
    assert_eq!(not_offered.encoding, None, "off by default");
    assert!(not_offered.next().await.starts_with("retry: "));
    assert!(not_offered.wire > 0);
    server.stop().await;
}
