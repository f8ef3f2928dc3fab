//! Arbitrary bytes through the stream transport's length-prefixed framer,
//! fed in arbitrary pieces.
//!
//! Run with `cargo fuzz run frame_length` (from `fuzz/`).
//!
//! What must hold, whatever the input:
//! - no panic; the only error is `TooLarge`, for a prefix over the limit,
//!   and it comes before any of that frame's body is buffered;
//! - how the bytes are split across reads changes nothing;
//! - every frame is at most the limit, and encoding the frames again gives
//!   back the bytes they were decoded from.
//!
//! Input layout: byte 0 picks the read size, byte 1 the limit; the rest is
//! the stream.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rpckit_tcp::framing::{FrameError, Inbound, LengthPrefixedCodec};
use tokio_util::codec::{Decoder, Encoder};

/// The frames, whether the stream ended in an error, and how many bytes
/// those frames took.
fn run(stream: &[u8], step: usize, max: usize) -> (Vec<bytes::Bytes>, bool, usize) {
    let mut codec = LengthPrefixedCodec::with_max_frame_size(max);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut consumed = 0;
    for piece in stream.chunks(step) {
        buf.extend_from_slice(piece);
        loop {
            let before = buf.len();
            match codec.decode(&mut buf) {
                Ok(Some(Inbound::Frame(frame))) => {
                    assert!(frame.len() <= max);
                    consumed += before - buf.len();
                    frames.push(frame);
                }
                Ok(Some(other)) => panic!("length framing yields frames only: {other:?}"),
                Ok(None) => {
                    assert!(buf.len() <= max + 4 + step, "{} bytes held", buf.len());
                    consumed += before - buf.len();
                    break;
                }
                Err(FrameError::TooLarge { len, max: limit }) => {
                    assert!(len > limit as u64 && limit == max);
                    return (frames, true, consumed);
                }
                Err(other) => panic!("unexpected error {other}"),
            }
        }
    }
    (frames, false, consumed)
}

fuzz_target!(|data: &[u8]| {
    let [step, max, stream @ ..] = data else {
        return;
    };
    let step = usize::from(*step % 64) + 1;
    let max = usize::from(*max) * 4;
    let whole = run(stream, stream.len().max(1), max);
    let pieces = run(stream, step, max);
    assert_eq!(whole.0, pieces.0, "split every {step} bytes");
    assert_eq!(whole.1, pieces.1, "split every {step} bytes");

    let mut again = BytesMut::new();
    let mut codec = LengthPrefixedCodec::with_max_frame_size(max);
    for frame in &whole.0 {
        codec.encode(frame.clone(), &mut again).expect("encode");
    }
    // A pending prefix counts as consumed; the frames' bytes come first.
    assert_eq!(&again[..], &stream[..again.len()]);
    assert!(again.len() <= whole.2);
});
