//! `JsonCodec`'s hand-written reader of the common request shapes
//! (codec/src/json/scan.rs) against its serde_json path, on the same bytes
//! and with the default and tight limits: whenever the fast path answers,
//! it must answer exactly as serde_json does (the same `Debug` text: kinds,
//! methods, ids, params bytes, error texts), with params borrowed from the
//! frame. Giving up is always allowed.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rpckit_codec::json_fuzzing::{decode_fast, decode_serde};
use rpckit_codec::Message;
use rpckit_fuzz::limits;

fuzz_target!(|data: &[u8]| {
    let frame = Bytes::copy_from_slice(data);
    for limits in limits() {
        let Some(fast) = decode_fast(&frame, &limits) else {
            continue;
        };
        let slow = decode_serde(&frame, &limits);
        assert_eq!(
            format!("{fast:?}"),
            format!("{slow:?}"),
            "limits {limits:?}, frame {:?}",
            String::from_utf8_lossy(data)
        );
        for params in params_of(&fast) {
            let start = params.as_ptr() as usize - frame.as_ptr() as usize;
            assert!(start + params.len() <= frame.len(), "params copied");
        }
    }
});

/// The params bytes of every request in `message`.
fn params_of(message: &Message) -> Vec<&Bytes> {
    let entries = match message {
        Message::Single(entry) => std::slice::from_ref(entry),
        Message::Batch(entries) => entries.as_slice(),
    };
    entries
        .iter()
        .flatten()
        .filter_map(|request| request.params.as_ref())
        .map(|params| params.as_bytes().expect("JSON params are bytes"))
        .collect()
}
