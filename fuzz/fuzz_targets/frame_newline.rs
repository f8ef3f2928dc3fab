//! Arbitrary bytes through the stream transport's newline framer, fed in
//! arbitrary pieces.
//!
//! Run with `cargo fuzz run frame_newline` (from `fuzz/`).
//!
//! What must hold, whatever the input:
//! - no panic, no error (newline framing never gives up on a stream);
//! - how the bytes are split across reads changes nothing: the same items
//!   as decoding them in one piece;
//! - every frame is at most the limit, holds no `\n`, and is not blank;
//!   every line over the limit is one `TooLarge`;
//! - the framer never holds more than the limit plus one read.
//!
//! Input layout: byte 0 picks the read size, byte 1 the limit; the rest is
//! the stream.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use rpckit_tcp::framing::{Inbound, NewlineCodec};
use tokio_util::codec::Decoder;

fn run(stream: &[u8], step: usize, max: usize) -> Vec<Inbound> {
    let mut codec = NewlineCodec::with_max_frame_size(max);
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    for piece in stream.chunks(step) {
        buf.extend_from_slice(piece);
        while let Some(item) = codec.decode(&mut buf).expect("newline framing never fails") {
            items.push(item);
        }
        assert!(buf.len() <= max + 1 + step, "{} bytes held", buf.len());
    }
    while let Some(item) = codec
        .decode_eof(&mut buf)
        .expect("newline framing never fails")
    {
        items.push(item);
    }
    items
}

fuzz_target!(|data: &[u8]| {
    let [step, max, stream @ ..] = data else {
        return;
    };
    let step = usize::from(*step % 64) + 1;
    let max = usize::from(*max % 64) + 1;
    let whole = run(stream, stream.len().max(1), max);
    let pieces = run(stream, step, max);
    assert_eq!(whole, pieces, "split every {step} bytes");

    // The reference: split on `\n` by hand. A line over the limit (its
    // `\r` counted) is TooLarge, a blank one nothing.
    let mut expected = Vec::new();
    let mut lines = stream.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        if lines.peek().is_none() && line.is_empty() {
            break;
        }
        if line.len() > max {
            expected.push(Inbound::TooLarge { max });
            continue;
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.iter().all(u8::is_ascii_whitespace) {
            expected.push(Inbound::Frame(Bytes::copy_from_slice(line)));
        }
    }
    assert_eq!(whole, expected);
    for item in &whole {
        if let Inbound::Frame(frame) = item {
            assert!(frame.len() <= max && !frame.contains(&b'\n'));
        }
    }
});
