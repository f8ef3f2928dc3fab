//! Arbitrary bytes through the stream transport's LSP (`Content-Length`)
//! framer, fed in arbitrary pieces.
//!
//! Run with `cargo fuzz run frame_lsp` (from `fuzz/`).
//!
//! What must hold, whatever the input:
//! - no panic; errors are `InvalidHeader` or `TooLarge` only, and end the
//!   stream;
//! - how the bytes are split across reads changes nothing;
//! - every frame is at most the limit, and what the framer holds is never
//!   more than a header section plus the limit plus one read;
//! - the frames, encoded again and decoded again, come back the same.
//!
//! Input layout: byte 0 picks the read size, byte 1 the limit; the rest is
//! the stream.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use rpckit_tcp::framing::{FrameError, Inbound, LspCodec, MAX_LSP_HEADER_SIZE};
use tokio_util::codec::{Decoder, Encoder};

#[derive(Debug, PartialEq)]
enum End {
    Clean,
    InvalidHeader,
    TooLarge,
}

fn run(stream: &[u8], step: usize, max: usize) -> (Vec<Bytes>, End) {
    let mut codec = LspCodec::with_max_frame_size(max);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for piece in stream.chunks(step) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(Inbound::Frame(frame))) => {
                    assert!(frame.len() <= max);
                    frames.push(frame);
                }
                Ok(Some(other)) => panic!("LSP framing yields frames only: {other:?}"),
                Ok(None) => {
                    assert!(
                        buf.len() <= MAX_LSP_HEADER_SIZE + max + step,
                        "{} bytes held",
                        buf.len()
                    );
                    break;
                }
                Err(FrameError::InvalidHeader(_)) => return (frames, End::InvalidHeader),
                Err(FrameError::TooLarge { len, max: limit }) => {
                    assert!(len > limit as u64 && limit == max);
                    return (frames, End::TooLarge);
                }
                Err(other) => panic!("unexpected error {other}"),
            }
        }
    }
    (frames, End::Clean)
}

fuzz_target!(|data: &[u8]| {
    let [step, max, stream @ ..] = data else {
        return;
    };
    let step = usize::from(*step % 64) + 1;
    let max = usize::from(*max) * 4;
    let whole = run(stream, stream.len().max(1), max);
    let pieces = run(stream, step, max);
    assert_eq!(whole, pieces, "split every {step} bytes");

    let mut again = BytesMut::new();
    let mut codec = LspCodec::with_max_frame_size(max);
    for frame in &whole.0 {
        codec.encode(frame.clone(), &mut again).expect("encode");
    }
    let (round_trip, end) = run(&again, again.len().max(1), max);
    assert_eq!(end, End::Clean);
    assert_eq!(round_trip, whole.0);
});
