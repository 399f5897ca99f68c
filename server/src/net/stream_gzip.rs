//! gzip for event streams (`--sse-gzip`): one deflate state per stream,
//! flushed after every chunk (a zlib sync flush), so each batch of events
//! leaves as soon as it is made, decodable on its own, instead of waiting
//! for a compressor's block to fill. This is why the router's
//! `CompressionLayer` does not wrap the streams.
//!
//! Owns the `Accept-Encoding` check and the compressing wrapper; it must
//! never hold a chunk back or decide what a stream carries. Each
//! compressor holds its window and hash tables (a few hundred KB, see
//! docs/transports-study.md), so compressed streams are capped in total by
//! `--max-gzip-streams`: past the cap a stream is sent plain, not refused.

use std::io::Write as _;
use std::sync::Arc;

use axum::http::HeaderMap;
use axum::http::header::ACCEPT_ENCODING;
use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use futures_util::{Stream, StreamExt, stream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::warn;

/// A compressing stream's state: its deflate state and its place under
/// `--max-gzip-streams`.
pub struct StreamGzip {
    encoder: GzEncoder<Vec<u8>>,
    _permit: OwnedSemaphorePermit,
}

impl StreamGzip {
    /// A compressor when the server offers gzip streams, the client
    /// accepts gzip and the cap has room; `None` sends the stream plain.
    #[must_use]
    pub fn negotiate(
        enabled: bool,
        streams: &Arc<Semaphore>,
        headers: &HeaderMap,
    ) -> Option<StreamGzip> {
        if !enabled || !accepts_gzip(headers) {
            return None;
        }
        let permit = streams.clone().try_acquire_owned().ok()?;
        Some(StreamGzip {
            // Level 1: a feed's events repeat field names and ids, which
            // the fastest level already finds; higher levels cost CPU
            // per event for a few percent.
            encoder: GzEncoder::new(Vec::new(), Compression::fast()),
            _permit: permit,
        })
    }

    /// `plain` compressed and flushed; `None` when the compressor failed
    /// (it writes to memory, so only on a bug), which ends the stream.
    fn chunk(&mut self, plain: &[u8]) -> Option<Bytes> {
        if let Err(err) = self
            .encoder
            .write_all(plain)
            .and_then(|()| self.encoder.flush())
        {
            warn!(%err, "gzip of an event stream failed; ending it");
            return None;
        }
        Some(Bytes::from(std::mem::take(self.encoder.get_mut())))
    }

    /// The gzip trailer (checksum and length) for a stream the server ends.
    fn finish(self) -> Option<Bytes> {
        self.encoder.finish().ok().map(Bytes::from)
    }
}

/// `chunks` compressed one by one, then the trailer when they end.
pub fn compress<S>(chunks: S, gzip: StreamGzip) -> impl Stream<Item = Bytes> + Send + 'static
where
    S: Stream<Item = Bytes> + Send + 'static,
{
    stream::unfold(
        (Box::pin(chunks), Some(gzip)),
        |(mut chunks, mut gzip)| async move {
            let state = gzip.as_mut()?;
            match chunks.next().await {
                Some(plain) => {
                    let out = state.chunk(&plain)?;
                    Some((out, (chunks, gzip)))
                }
                None => {
                    let trailer = gzip.take()?.finish()?;
                    Some((trailer, (chunks, None)))
                }
            }
        },
    )
}

/// True when `Accept-Encoding` lists `gzip` (or `x-gzip`, or `*`) with a
/// non-zero quality.
#[must_use]
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let wanted = ["gzip", "x-gzip", "*"]
                .iter()
                .any(|c| coding.eq_ignore_ascii_case(c));
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            wanted && quality > 0.0
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use std::io::Read as _;

    fn headers(accept: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            ACCEPT_ENCODING,
            HeaderValue::from_str(accept).expect("ascii"),
        );
        h
    }

    #[test]
    fn accept_encoding_is_read_with_qualities() {
        for yes in ["gzip", "br, gzip;q=0.5", "GZIP", "*", "deflate, x-gzip"] {
            assert!(accepts_gzip(&headers(yes)), "{yes}");
        }
        for no in ["identity", "br", "gzip;q=0", "gzip; q=0.0", "gzipx"] {
            assert!(!accepts_gzip(&headers(no)), "{no}");
        }
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn each_chunk_decodes_alone_and_the_cap_holds() {
        let cap = Arc::new(Semaphore::new(1));
        let on = headers("gzip");
        let mut gzip = StreamGzip::negotiate(true, &cap, &on).expect("offered");
        assert!(StreamGzip::negotiate(true, &cap, &on).is_none(), "capped");
        assert!(StreamGzip::negotiate(false, &Arc::new(Semaphore::new(1)), &on).is_none());
        let mut decoder = flate2::write::GzDecoder::new(Vec::new());
        for event in [
            "id: 1\nevent: a\ndata: {}\n\n",
            "id: 2\nevent: b\ndata: {}\n\n",
        ] {
            let wire = gzip.chunk(event.as_bytes()).expect("compressed");
            decoder.write_all(&wire).expect("decodes");
            decoder.flush().expect("flushes");
            assert_eq!(std::mem::take(decoder.get_mut()), event.as_bytes());
        }
        let mut whole = Vec::new();
        drop(gzip);
        assert!(StreamGzip::negotiate(true, &cap, &on).is_some(), "released");
        let mut again = StreamGzip::negotiate(true, &cap, &on).expect("offered");
        let mut wire = again.chunk(b"x").expect("compressed").to_vec();
        wire.extend_from_slice(&again.finish().expect("trailer"));
        flate2::read::GzDecoder::new(&wire[..])
            .read_to_end(&mut whole)
            .expect("a whole gzip member");
        assert_eq!(whole, b"x");
    }
}
