//! What the bots count on the wire, and the small parsers they share.
//!
//! HTTP clients hand us decoded bodies, not the bytes that crossed the
//! socket, so received bytes are rebuilt from what was decoded:
//! - an HTTP response head is its status line, each `name: value` line and
//!   the blank line, exactly as HTTP/1.1 writes them;
//! - a chunked body adds its chunk framing (hex size, two CRLFs) to every
//!   chunk the client yields;
//! - a WebSocket frame from the server is its payload plus a 2, 4 or 10 byte
//!   header (server frames are never masked).
//!
//! Nothing here knows about tasks or sockets.

use std::time::{SystemTime, UNIX_EPOCH};

/// Bytes of an HTTP/1.1 response head: `HTTP/1.1 200 OK\r\n`, one
/// `name: value\r\n` per header (given as name and value lengths), then
/// `\r\n`.
#[must_use]
pub fn http_head_len(reason: &str, headers: impl IntoIterator<Item = (usize, usize)>) -> u64 {
    // "HTTP/1.1 " + 3-digit code + " " + reason + CRLF
    let status_line = 9 + 3 + 1 + reason.len() + 2;
    let fields: usize = headers
        .into_iter()
        .map(|(name, value)| name + 2 + value + 2)
        .sum();
    (status_line + fields + 2) as u64
}

/// The head length of a reqwest response.
#[must_use]
pub fn response_head_len(response: &reqwest::Response) -> u64 {
    let status = response.status();
    http_head_len(
        status.canonical_reason().unwrap_or(""),
        response
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().len(), value.len())),
    )
}

/// True when the response body travels in chunks.
#[must_use]
pub fn is_chunked(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(reqwest::header::TRANSFER_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
}

/// Framing bytes of one HTTP chunk of `len` bytes: the size in hex, CRLF,
/// the data, CRLF.
#[must_use]
pub fn chunk_overhead(len: usize) -> u64 {
    let mut digits = 1;
    let mut rest = len >> 4;
    while rest > 0 {
        digits += 1;
        rest >>= 4;
    }
    digits + 4
}

/// Bytes of one unmasked WebSocket frame (server to client) carrying
/// `payload` bytes.
#[must_use]
pub fn ws_frame_len(payload: usize) -> u64 {
    let header = if payload < 126 {
        2
    } else if payload <= usize::from(u16::MAX) {
        4
    } else {
        10
    };
    (header + payload) as u64
}

/// Milliseconds since the Unix epoch, the clock the server stamps `time`
/// with.
#[must_use]
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The `"time":N` field of a server event's JSON, found without parsing the
/// whole event: a 100-ship `state` sample is kilobytes, and hundreds of
/// spectators read ten a second. The server writes compact JSON; the last
/// `"time"` key at any depth wins, which is the top-level one because the
/// feed's types (`shared/src/feed.rs`) write their keys in alphabetical
/// order and no nested object has a `time`.
#[must_use]
pub fn event_time(data: &str) -> Option<u64> {
    const KEY: &str = "\"time\":";
    let at = data.rfind(KEY)? + KEY.len();
    let digits: &str = data[at..]
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()?;
    digits.parse().ok()
}

/// One SSE frame: the fields of the lines before a blank line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseFrame {
    /// `id:`, when numeric.
    pub id: Option<u64>,
    /// `event:`; empty when absent (a plain message, a comment or `retry:`).
    pub event: String,
    /// `data:` lines joined with `\n`.
    pub data: String,
    /// Bytes of the frame in the stream, blank line included.
    pub len: usize,
}

/// Splits a byte stream into SSE frames. Holds at most one partial frame.
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
}

impl SseParser {
    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, if one is buffered.
    pub fn next_frame(&mut self) -> Option<SseFrame> {
        let end = self.buf.windows(2).position(|w| w == b"\n\n")?;
        let raw: Vec<u8> = self.buf.drain(..end + 2).collect();
        let text = String::from_utf8_lossy(&raw[..end]);
        let mut frame = SseFrame {
            len: end + 2,
            ..SseFrame::default()
        };
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.is_empty() || line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "id" => frame.id = value.parse().ok(),
                "event" => frame.event = value.to_owned(),
                "data" => {
                    if !frame.data.is_empty() {
                        frame.data.push('\n');
                    }
                    frame.data.push_str(value);
                }
                _ => {}
            }
        }
        Some(frame)
    }

    /// Bytes of an unfinished frame.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_frames_and_chunks_are_counted_as_sent() {
        // "HTTP/1.1 200 OK\r\n" (17) + "a: bc\r\n" (7) + "\r\n" (2)
        assert_eq!(http_head_len("OK", [(1, 2)]), 26);
        assert_eq!(chunk_overhead(0xf), 5);
        assert_eq!(chunk_overhead(0x10), 6);
        assert_eq!(chunk_overhead(0x1234), 8);
        assert_eq!(ws_frame_len(125), 127);
        assert_eq!(ws_frame_len(126), 130);
        assert_eq!(ws_frame_len(70_000), 70_010);
    }

    #[test]
    fn sse_frames_split_across_chunks() {
        let mut p = SseParser::default();
        p.push(b"retry: 2000\n\nid: 7\nevent: kill\nda");
        assert_eq!(
            p.next_frame(),
            Some(SseFrame {
                len: 13,
                ..SseFrame::default()
            }),
            "retry-only frame"
        );
        assert_eq!(p.next_frame(), None);
        p.push(b"ta: {\"time\":12}\n\n: heartbeat\n\nevent: state\ndata: {}\n\n");
        let kill = p.next_frame().expect("kill");
        assert_eq!(
            (kill.id, kill.event.as_str(), kill.data.as_str()),
            (Some(7), "kill", "{\"time\":12}")
        );
        assert_eq!(p.next_frame().expect("comment").event, "");
        assert_eq!(p.next_frame().expect("state").event, "state");
        assert_eq!(p.pending(), 0);
    }

    #[test]
    fn event_time_is_the_top_level_field() {
        let kill = r#"{"killer":5,"room":"main","tick":760,"time":1795375967406,"victim":2}"#;
        assert_eq!(event_time(kill), Some(1_795_375_967_406));
        let state =
            r#"{"round_ends_tick":5401,"ships":[[1,973.375,1141.5,158,2]],"tick":744,"time":17}"#;
        assert_eq!(event_time(state), Some(17));
        assert_eq!(event_time(r#"{"tick":1}"#), None);
    }
}
