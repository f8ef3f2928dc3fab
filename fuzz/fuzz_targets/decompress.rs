//! Arbitrary bytes through the HTTP transport's request decompression, in
//! every coding, under a small cap.
//!
//! Run with `cargo fuzz run decompress` (from `fuzz/`).
//!
//! What must hold, whatever the input:
//! - no panic, no hang, and never more output than the cap (a bomb is
//!   `TooLarge`, found while decoding);
//! - pausing and resuming (as the server does when it moves a large body to
//!   the blocking pool) changes nothing: same outcome, same bytes;
//! - what the server's encoder produced decodes back to the input;
//! - any `Content-Encoding` text is either understood or `Unsupported`.
//!
//! Input layout: byte 0 picks the pause interval, byte 1 the length of a
//! `Content-Encoding` value taken from the bytes after it; the rest is the
//! body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rpckit_http::compression::fuzzing::{compress, decompress, Outcome};

/// The decompressed-size cap: small, so bombs are found quickly.
const LIMIT: usize = 64 * 1024;
const CODINGS: [&str; 4] = ["gzip", "deflate", "br", "zstd"];

fn same(a: &Outcome, b: &Outcome) -> bool {
    match (a, b) {
        (Outcome::Decoded(a), Outcome::Decoded(b)) => a == b,
        (Outcome::TooLarge, Outcome::TooLarge)
        | (Outcome::Invalid, Outcome::Invalid)
        | (Outcome::Unsupported, Outcome::Unsupported) => true,
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let [pause, header_len, rest @ ..] = data else {
        return;
    };
    // 1 ..= 65536 bytes of output between pauses.
    let step = usize::from(*pause) * 257 + 1;
    let header_len = usize::from(*header_len % 24).min(rest.len());
    let (header, body) = rest.split_at(header_len);

    for coding in CODINGS {
        let whole = decompress(coding, body, LIMIT, 0);
        match &whole {
            Outcome::Decoded(out) => assert!(out.len() <= LIMIT, "{coding}: {}", out.len()),
            Outcome::TooLarge | Outcome::Invalid => {}
            Outcome::Unsupported => panic!("{coding} must be supported"),
        }
        let paused = decompress(coding, body, LIMIT, step);
        assert!(same(&whole, &paused), "{coding}: {whole:?} vs {paused:?}");

        let packed = compress(coding, body).expect("a known coding");
        match decompress(coding, &packed, body.len(), step) {
            Outcome::Decoded(out) => assert_eq!(&out[..], body, "{coding} round trip"),
            other => panic!("{coding} round trip: {other:?}"),
        }
    }

    if let Ok(header) = std::str::from_utf8(header) {
        match decompress(header, body, LIMIT, step) {
            Outcome::Decoded(out) => assert!(out.len() <= LIMIT || out.len() == body.len()),
            Outcome::TooLarge | Outcome::Invalid | Outcome::Unsupported => {}
        }
    }
});
