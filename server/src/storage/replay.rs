//! A round's replay on its way to the database and back: the capture a
//! room hands over (the `Arc`s of its log entries and state samples,
//! nothing copied on the tick), the compact form the writer stores (the
//! JSON of `skirmish_shared::replay::Replay`, zlib-compressed, one blob per
//! round), and reading a stored blob back for the replay routes.
//!
//! Encoding and decoding are CPU work of a few milliseconds per round:
//! callers run them on the blocking pool (the writer before its
//! transaction, the routes before streaming), never on a room's tick nor
//! on an async worker.

use std::io::{Read as _, Write as _};
use std::sync::Arc;

use flate2::Compression;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use skirmish_shared::feed::names;
use skirmish_shared::replay::REPLAY_FORMAT;

use crate::room::event_log::{Json, LogEntry};
use crate::room::feed::SampleFrame;

/// The largest replay stored, as uncompressed JSON. A 3-minute round of 8
/// ships is about 0.6 MB (docs/persistence.md); this allows hour-long
/// rounds of full rooms, and bounds what one replay read can make the
/// server hold (the replay routes decode at most this much).
pub const MAX_REPLAY_JSON: usize = 64 << 20;

/// A round as the room's feed logged it, handed over at the round's end.
#[derive(Clone, Debug)]
pub struct ReplayCapture {
    pub room: Arc<str>,
    pub round: u32,
    pub tick_hz: u16,
    pub start_tick: u32,
    pub end_tick: u32,
    /// The log's snapshot just after the round started, and its id.
    pub snapshot: (u64, Json),
    /// Every entry after the snapshot to the round's end, oldest first.
    pub entries: Vec<Arc<LogEntry>>,
    /// The state samples of the round, oldest first.
    pub samples: Vec<Arc<SampleFrame>>,
}

/// A replay as stored: the compressed JSON and what it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedReplay {
    /// zlib of the replay's JSON.
    pub body: Vec<u8>,
    /// The JSON's length before compression.
    pub json_bytes: u64,
    pub events: u32,
    pub samples: u32,
    /// From the round's start to its end, in milliseconds.
    pub duration_ms: u64,
}

/// A round's replay: captured by a room, encoded by the writer.
#[derive(Clone, Debug)]
pub enum ReplayData {
    Captured(Arc<ReplayCapture>),
    Encoded(Arc<EncodedReplay>),
}

/// Why a replay could not be encoded or read back.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("replay is larger than {MAX_REPLAY_JSON} bytes of JSON")]
    TooLarge,
    #[error("replay format {0} is not this build's ({REPLAY_FORMAT})")]
    Format(u32),
    #[error("replay does not decode: {0}")]
    Corrupt(String),
}

/// An entry as the stored JSON holds it (`{"id", "event", "data"}`).
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredEntry<D> {
    pub id: u64,
    pub event: String,
    pub data: D,
}

/// The stored document, written from borrowed JSON: the layout of
/// `skirmish_shared::replay::Replay`.
#[derive(Serialize)]
struct Document<'a> {
    format: u32,
    room: &'a str,
    round: u32,
    tick_hz: u16,
    start_tick: u32,
    end_tick: u32,
    snapshot: StoredEntry<&'a RawValue>,
    events: Vec<&'a RawValue>,
    samples: Vec<&'a RawValue>,
}

/// A sample's JSON inside its SSE frame (`event: state\ndata: {..}\n\n`,
/// written by the one framing function).
fn sample_json(frame: &SampleFrame) -> Option<&RawValue> {
    let text = std::str::from_utf8(&frame.sse).ok()?;
    let prefix = format!("event: {}\ndata: ", names::STATE);
    let json = text.strip_prefix(prefix.as_str())?.strip_suffix("\n\n")?;
    serde_json::from_str(json).ok()
}

/// Encodes a capture: its JSON, compressed. CPU-bound; see the module docs.
///
/// # Errors
/// The JSON is larger than [`MAX_REPLAY_JSON`].
pub fn encode(capture: &ReplayCapture) -> Result<EncodedReplay, ReplayError> {
    let samples: Vec<&RawValue> = capture
        .samples
        .iter()
        .filter_map(|s| sample_json(s))
        .collect();
    let document = Document {
        format: REPLAY_FORMAT,
        room: &capture.room,
        round: capture.round,
        tick_hz: capture.tick_hz,
        start_tick: capture.start_tick,
        end_tick: capture.end_tick,
        snapshot: StoredEntry {
            id: capture.snapshot.0,
            event: names::SNAPSHOT.to_owned(),
            data: &capture.snapshot.1,
        },
        events: capture.entries.iter().map(|e| &*e.json).collect(),
        samples,
    };
    let json =
        serde_json::to_vec(&document).map_err(|err| ReplayError::Corrupt(err.to_string()))?;
    if json.len() > MAX_REPLAY_JSON {
        return Err(ReplayError::TooLarge);
    }
    let mut zlib = ZlibEncoder::new(Vec::with_capacity(json.len() / 4), Compression::default());
    zlib.write_all(&json)
        .and_then(|()| zlib.finish())
        .map(|body| EncodedReplay {
            body,
            json_bytes: json.len() as u64,
            events: u32::try_from(document.events.len()).unwrap_or(u32::MAX),
            samples: u32::try_from(document.samples.len()).unwrap_or(u32::MAX),
            duration_ms: u64::from(capture.end_tick.saturating_sub(capture.start_tick)) * 1000
                / u64::from(capture.tick_hz.max(1)),
        })
        .map_err(|err| ReplayError::Corrupt(err.to_string()))
}

/// The replay's JSON from a stored body, at most [`MAX_REPLAY_JSON`]
/// bytes. CPU-bound; see the module docs.
///
/// # Errors
/// The body does not decompress or is too large.
pub fn decompress(body: &[u8]) -> Result<Vec<u8>, ReplayError> {
    let mut json = Vec::with_capacity(body.len().saturating_mul(4).min(MAX_REPLAY_JSON));
    ZlibDecoder::new(body)
        .take(MAX_REPLAY_JSON as u64 + 1)
        .read_to_end(&mut json)
        .map_err(|err| ReplayError::Corrupt(err.to_string()))?;
    if json.len() > MAX_REPLAY_JSON {
        return Err(ReplayError::TooLarge);
    }
    Ok(json)
}

/// Just the tick of an entry's or a sample's payload.
#[derive(Deserialize)]
struct TickOf {
    tick: u32,
}

/// A stored replay read back for streaming: every frame with its tick.
#[derive(Debug)]
pub struct Playback {
    pub tick_hz: u16,
    pub start_tick: u32,
    pub end_tick: u32,
    /// The opening snapshot: its id and payload.
    pub snapshot: (u64, Box<RawValue>),
    /// Entries and samples merged in the order the live feed sent them
    /// (by tick; a tick's entries before its sample).
    pub frames: Vec<PlaybackFrame>,
}

/// One frame of a [`Playback`].
#[derive(Debug)]
pub struct PlaybackFrame {
    pub tick: u32,
    /// The live id of a logged entry; `None` for a state sample.
    pub id: Option<u64>,
    pub event: String,
    pub data: Box<RawValue>,
}

/// The stored document read back with its payloads left as JSON.
#[derive(Deserialize)]
struct StoredDocument {
    format: u32,
    tick_hz: u16,
    start_tick: u32,
    end_tick: u32,
    snapshot: StoredEntry<Box<RawValue>>,
    events: Vec<StoredEntry<Box<RawValue>>>,
    samples: Vec<Box<RawValue>>,
}

/// Parses a replay's JSON for streaming.
///
/// # Errors
/// Not a replay this build can read.
pub fn playback(json: &[u8]) -> Result<Playback, ReplayError> {
    let corrupt = |err: serde_json::Error| ReplayError::Corrupt(err.to_string());
    let doc: StoredDocument = serde_json::from_slice(json).map_err(corrupt)?;
    if doc.format != REPLAY_FORMAT {
        return Err(ReplayError::Format(doc.format));
    }
    let tick = |data: &RawValue| serde_json::from_str::<TickOf>(data.get()).map(|t| t.tick);
    let mut frames = Vec::with_capacity(doc.events.len() + doc.samples.len());
    for entry in doc.events {
        frames.push(PlaybackFrame {
            tick: tick(&entry.data).map_err(corrupt)?,
            id: Some(entry.id),
            event: entry.event,
            data: entry.data,
        });
    }
    for sample in doc.samples {
        frames.push(PlaybackFrame {
            tick: tick(&sample).map_err(corrupt)?,
            id: None,
            event: names::STATE.to_owned(),
            data: sample,
        });
    }
    // Stable: entries keep their id order, and come before a sample of the
    // same tick, as the live feed released them.
    frames.sort_by_key(|f| (f.tick, f.id.is_none()));
    Ok(Playback {
        tick_hz: doc.tick_hz,
        start_tick: doc.start_tick,
        end_tick: doc.end_tick,
        snapshot: (doc.snapshot.id, doc.snapshot.data),
        frames,
    })
}
