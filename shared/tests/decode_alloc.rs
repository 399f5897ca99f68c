//! Decoding never allocates beyond the codec's limit: arbitrary bytes, and
//! valid frames with bytes flipped and cut, are decoded under an allocator
//! that counts every byte. A length prefix that claims a huge string or
//! list must be refused before memory is reserved for it.
//!
//! This binary holds one test only: the allocator is process-wide, and a
//! second test running on another thread would add its own allocations.

use std::alloc::System;

use cap::Cap;
use proptest::prelude::*;
use skirmish_shared::{
    ClientMsg, Hello, Input, MAX_CLIENT_FRAME, MAX_SERVER_FRAME, Ping, ResumeToken, Tick,
    decode_client, decode_server, encode,
};

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// Bytes allocated (in total, freed or not) while `f` runs.
fn allocated_by(f: impl FnOnce()) -> usize {
    let before = ALLOCATOR.total_allocated();
    f();
    ALLOCATOR.total_allocated() - before
}

/// What bincode may reserve on top of what the limit counts: the decoded
/// value's own allocations are claimed against the limit, so only small
/// bookkeeping remains.
const SLACK: usize = 256;

fn client_frame() -> impl Strategy<Value = Vec<u8>> {
    let hello = (
        "[a-zA-Z0-9 ]{0,24}",
        proptest::option::of("[a-z0-9-]{1,32}"),
        any::<bool>(),
    )
        .prop_map(|(name, room, resume)| {
            ClientMsg::Hello(Hello {
                token: None,
                protocol: 2,
                player: None,
                name,
                room,
                resume: resume.then_some(ResumeToken([7; 16])),
            })
        });
    let input = (
        any::<u32>(),
        proptest::option::of(any::<u32>()),
        any::<u8>(),
        any::<u8>(),
    )
        .prop_map(|(seq, ack, buttons, aim)| {
            ClientMsg::Input(Input {
                seq,
                ack: ack.map(Tick),
                buttons,
                aim,
                view: None,
            })
        });
    let ping = any::<u32>().prop_map(|nonce| ClientMsg::Ping(Ping { nonce }));
    prop_oneof![hello, input, ping, Just(ClientMsg::Leave)]
        .prop_map(|msg| encode(&msg).expect("encodes"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    fn arbitrary_and_mutated_frames(
        junk in proptest::collection::vec(any::<u8>(), 0..700),
        valid in client_frame(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        let mut mutated = valid;
        for (at, byte) in flips {
            let i = at % mutated.len();
            mutated[i] ^= byte;
        }
        mutated.truncate(cut % (mutated.len() + 1));
        for bytes in [&junk, &mutated] {
            let client = allocated_by(|| drop(decode_client(bytes)));
            prop_assert!(
                client <= MAX_CLIENT_FRAME + SLACK,
                "decode_client allocated {client} bytes for a {}-byte frame",
                bytes.len()
            );
            let server = allocated_by(|| drop(decode_server(bytes)));
            prop_assert!(
                server <= MAX_SERVER_FRAME + SLACK,
                "decode_server allocated {server} bytes for a {}-byte frame",
                bytes.len()
            );
        }
    }
}

#[test]
fn decoding_stays_within_the_codec_limit() {
    // Hello (variant 0), protocol 2, then a name whose varint length claims
    // 2^32 - 1 bytes: refused before anything is reserved.
    let frame = [0x00, 0x02, 0xfc, 0xff, 0xff, 0xff, 0xff];
    let used = allocated_by(|| assert!(decode_client(&frame).is_err()));
    assert!(used <= SLACK, "{used} bytes");
    arbitrary_and_mutated_frames();
}
