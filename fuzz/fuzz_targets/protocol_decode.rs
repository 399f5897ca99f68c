//! Arbitrary bytes into the wire decoders of `skirmish_shared::codec`.
//!
//! Asserts, for every input:
//! - no decoder panics (client and server side, same bytes);
//! - a client frame longer than `MAX_CLIENT_FRAME` is `FrameTooLarge`, and
//!   nothing longer is ever accepted;
//! - whatever decodes re-encodes to at most as many bytes (bincode accepts
//!   non-minimal varints but writes minimal ones) that decode to the same
//!   value, and that re-encoding is a fixed point;
//! - a decoded snapshot's body survives `EncodedBody`, and `snapshot_frame`
//!   builds the same bytes as encoding the whole message.

#![no_main]

use libfuzzer_sys::fuzz_target;
use skirmish_shared::codec::{EncodedBody, snapshot_frame};
use skirmish_shared::{
    ClientMsg, CodecError, MAX_CLIENT_FRAME, MAX_SERVER_FRAME, ServerMsg, decode_client,
    decode_server, encode, valid_name, valid_room_id,
};

fuzz_target!(|data: &[u8]| {
    client(data);
    server(data);
});

fn client(data: &[u8]) {
    match decode_client(data) {
        Ok(msg) => {
            assert!(
                data.len() <= MAX_CLIENT_FRAME,
                "accepted an oversized frame"
            );
            let bytes = encode(&msg).expect("a decoded message encodes");
            assert!(bytes.len() <= data.len(), "re-encoding grew the frame");
            assert_eq!(decode_client(&bytes).as_ref(), Ok(&msg), "round trip");
            assert_eq!(
                encode(&msg).as_ref(),
                Ok(&bytes),
                "encoding is deterministic"
            );
            // What the server checks next on a Hello.
            if let ClientMsg::Hello(hello) = &msg {
                let _ = valid_name(&hello.name);
                if let Some(room) = &hello.room {
                    let _ = valid_room_id(room);
                }
            }
        }
        Err(CodecError::FrameTooLarge { len, max }) => {
            assert_eq!((len, max), (data.len(), MAX_CLIENT_FRAME));
            assert!(len > max);
        }
        Err(err) => {
            assert!(
                data.len() <= MAX_CLIENT_FRAME,
                "oversized frame not refused as such"
            );
            let _ = err.to_string();
        }
    }
}

fn server(data: &[u8]) {
    let Ok(msg) = decode_server(data) else {
        return;
    };
    assert!(
        data.len() <= MAX_SERVER_FRAME,
        "accepted an oversized frame"
    );
    let bytes = encode(&msg).expect("a decoded message encodes");
    assert!(bytes.len() <= data.len(), "re-encoding grew the frame");
    assert_eq!(decode_server(&bytes).as_ref(), Ok(&msg), "round trip");
    if let ServerMsg::Snapshot(snapshot) = &msg {
        // The body bytes are the frame's tail, and the frame round-trips
        // above, so equal frames mean the shared body round-trips too.
        let body = EncodedBody::new(&snapshot.body).expect("a decoded body encodes");
        assert_eq!(
            snapshot_frame(snapshot.last_input, &body).as_ref(),
            Ok(&bytes),
            "shared-body frame differs from the plain encoding"
        );
    }
}
