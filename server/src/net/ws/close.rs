//! How a player WebSocket ends: the pure rules from a frame or a socket
//! error to a close code and a reason, and whether the seat is kept for a
//! resume. No I/O here; the session in [`super`] sends what this decides.

use std::borrow::Cow;

use axum::extract::ws::Message;
use skirmish_shared::{ClientMsg, CloseCode, MAX_CLIENT_FRAME, decode_client};

/// A close reason must fit a control frame: 123 bytes.
const MAX_REASON: usize = 123;

/// How a session ended.
#[derive(Debug)]
pub(super) struct End {
    /// Close frame to send, when the socket is still ours to close.
    pub(super) close: Option<(CloseCode, Cow<'static, str>)>,
    /// The player left on purpose: free the seat now, no resume.
    pub(super) leave: bool,
    /// For the log.
    pub(super) reason: Cow<'static, str>,
}

impl End {
    pub(super) fn close(code: CloseCode, reason: impl Into<Cow<'static, str>>) -> End {
        let reason = reason.into();
        // A client closed for breaking the protocol loses its seat: keeping
        // the ship for a resume would only let it repeat. Timeouts and lost
        // connections keep it.
        let leave = matches!(
            code,
            CloseCode::ProtocolError
                | CloseCode::UnsupportedData
                | CloseCode::PolicyViolation
                | CloseCode::MessageTooBig
        );
        End {
            close: Some((code, reason.clone())),
            leave,
            reason,
        }
    }

    pub(super) fn gone(reason: impl Into<Cow<'static, str>>) -> End {
        End {
            close: None,
            leave: false,
            reason: reason.into(),
        }
    }
}

/// `reason` cut to fit a close frame, on a character boundary.
pub(super) fn truncate(reason: &str) -> String {
    if reason.len() <= MAX_REASON {
        return reason.to_owned();
    }
    let mut cut = MAX_REASON;
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    reason[..cut].to_owned()
}

/// What one incoming frame means.
pub(super) enum Frame {
    Msg(ClientMsg),
    Skip,
    End(End),
}

/// What `frame` means for the session; pure, so every kind is unit-tested.
pub(super) fn classify(frame: Message) -> Frame {
    match frame {
        Message::Binary(bytes) => {
            if bytes.len() > MAX_CLIENT_FRAME {
                return Frame::End(End::close(
                    CloseCode::MessageTooBig,
                    format!(
                        "frame of {} bytes exceeds the limit of {MAX_CLIENT_FRAME}",
                        bytes.len()
                    ),
                ));
            }
            match decode_client(&bytes) {
                Ok(msg) => Frame::Msg(msg),
                Err(err) => Frame::End(End::close(
                    CloseCode::ProtocolError,
                    format!("undecodable frame: {err}"),
                )),
            }
        }
        Message::Text(_) => Frame::End(End::close(
            CloseCode::UnsupportedData,
            "text frames are not accepted: the protocol is binary",
        )),
        // Pings are answered by tungstenite itself; both count as activity.
        Message::Ping(_) | Message::Pong(_) => Frame::Skip,
        Message::Close(_) => Frame::End(End::gone("client closed")),
    }
}

/// What a socket error means, from its text (tungstenite's errors carry
/// no kinds axum passes on).
pub(super) fn socket_error(text: &str) -> End {
    if text.contains("without closing handshake") {
        return End::gone("connection lost");
    }
    // Broken framing (reserved bits, unknown opcodes, unmasked or
    // fragmented control frames, bad UTF-8): RFC 6455 wants a 1002.
    if let Some(what) = text
        .strip_prefix("WebSocket protocol error: ")
        .or_else(|| text.strip_prefix("UTF-8 encoding error"))
    {
        let what = if what.is_empty() || what.starts_with(':') {
            "invalid UTF-8"
        } else {
            what
        };
        return End::close(
            CloseCode::ProtocolError,
            format!("malformed WebSocket frame: {what}"),
        );
    }
    // tungstenite refuses over-long frames before buffering them; tell the
    // client why, like for frames we measure ourselves.
    if text.contains("too long") || text.contains("Space limit exceeded") {
        return End::close(
            CloseCode::MessageTooBig,
            format!("frame exceeds the limit of {MAX_CLIENT_FRAME} bytes"),
        );
    }
    End::gone(format!("socket error: {text}"))
}

#[cfg(test)]
mod tests {
    use axum::extract::ws::{Message, Utf8Bytes};
    use bytes::Bytes;
    use skirmish_shared::{
        ClientMsg, CloseCode, Hello, MAX_CLIENT_FRAME, PROTOCOL_VERSION, encode,
    };
    use tokio_tungstenite::tungstenite::error::{CapacityError, Error, ProtocolError};

    use super::{End, Frame, classify, socket_error, truncate};

    fn ended(frame: Message) -> End {
        match classify(frame) {
            Frame::End(end) => end,
            Frame::Msg(_) => panic!("expected an end, got a message"),
            Frame::Skip => panic!("expected an end, got a skip"),
        }
    }

    fn code(end: &End) -> Option<CloseCode> {
        end.close.as_ref().map(|(code, _)| *code)
    }

    #[test]
    fn protocol_breaches_lose_the_seat_and_lost_connections_keep_it() {
        for broken in [
            CloseCode::ProtocolError,
            CloseCode::UnsupportedData,
            CloseCode::PolicyViolation,
            CloseCode::MessageTooBig,
        ] {
            assert!(
                End::close(broken, "x").leave,
                "{broken:?} should free the seat"
            );
        }
        for kept in [
            CloseCode::HelloTimeout,
            CloseCode::GoingAway,
            CloseCode::InternalError,
        ] {
            assert!(
                !End::close(kept, "x").leave,
                "{kept:?} should keep the seat"
            );
        }
        let gone = End::gone("connection lost");
        assert!(!gone.leave);
        assert!(gone.close.is_none());
    }

    #[test]
    fn frames_are_classified_by_kind_and_size() {
        let hello = ClientMsg::Hello(Hello {
            token: None,
            protocol: PROTOCOL_VERSION,
            player: None,
            name: "ace".into(),
            room: None,
            resume: None,
        });
        let bytes = encode(&hello).expect("hello encodes");
        assert!(matches!(
            classify(Message::Binary(Bytes::from(bytes))),
            Frame::Msg(ClientMsg::Hello(_))
        ));
        let big = ended(Message::Binary(Bytes::from(vec![0; MAX_CLIENT_FRAME + 1])));
        assert_eq!(code(&big), Some(CloseCode::MessageTooBig));
        let junk = ended(Message::Binary(Bytes::from_static(&[0xff; 8])));
        assert_eq!(code(&junk), Some(CloseCode::ProtocolError));
        let text = ended(Message::Text(Utf8Bytes::from_static("hi")));
        assert_eq!(code(&text), Some(CloseCode::UnsupportedData));
        assert!(matches!(classify(Message::Ping(Bytes::new())), Frame::Skip));
        assert!(matches!(classify(Message::Pong(Bytes::new())), Frame::Skip));
        let closed = ended(Message::Close(None));
        assert!(closed.close.is_none());
    }

    #[test]
    fn socket_errors_map_to_close_codes_by_tungstenite_text() {
        let reset = Error::Protocol(ProtocolError::ResetWithoutClosingHandshake).to_string();
        assert!(
            socket_error(&reset).close.is_none(),
            "a reset is a lost connection"
        );
        let reserved = Error::Protocol(ProtocolError::NonZeroReservedBits).to_string();
        let end = socket_error(&reserved);
        assert_eq!(code(&end), Some(CloseCode::ProtocolError));
        assert!(
            end.reason.starts_with("malformed WebSocket frame: "),
            "{}",
            end.reason
        );
        let utf8 = Error::Utf8(String::new()).to_string();
        let end = socket_error(&utf8);
        assert_eq!(code(&end), Some(CloseCode::ProtocolError));
        assert_eq!(end.reason, "malformed WebSocket frame: invalid UTF-8");
        let long = Error::Capacity(CapacityError::MessageTooLong {
            size: 1 << 20,
            max_size: 1 << 16,
        })
        .to_string();
        assert_eq!(code(&socket_error(&long)), Some(CloseCode::MessageTooBig));
        let other = socket_error("IO error: broken pipe");
        assert!(other.close.is_none());
        assert_eq!(other.reason, "socket error: IO error: broken pipe");
    }

    #[test]
    fn reasons_are_cut_to_a_close_frame_on_a_char_boundary() {
        assert_eq!(truncate("short"), "short");
        let long = "é".repeat(100);
        let cut = truncate(&long);
        assert!(cut.len() <= 123);
        assert_eq!(cut, "é".repeat(61));
    }
}
