//! rpckit's JSON writer against serde_json on arbitrary values: the input
//! is read as the choices that build a value of any serde kind
//! (`rpckit_fuzz::any`), which `encode_value` with `JsonCodec` (and so with
//! `SimdJsonCodec`, which shares the writer) must write exactly as
//! `serde_json::to_vec` does, or fail with serde_json's error text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rpckit_codec::{encode_value, JsonCodec, SimdJsonCodec};
use rpckit_fuzz::any::{Any, Source};

fuzz_target!(|data: &[u8]| {
    let value = Any::read(&mut Source::new(data), 4);
    let theirs = serde_json::to_vec(&value);
    for ours in [
        encode_value(&JsonCodec::default(), &value),
        encode_value(&SimdJsonCodec::default(), &value),
    ] {
        match (&ours, &theirs) {
            (Ok(ours), Ok(theirs)) => assert_eq!(
                String::from_utf8_lossy(&ours.0),
                String::from_utf8_lossy(theirs),
                "{value:?}"
            ),
            (Err(ours), Err(theirs)) => {
                assert_eq!(ours.message(), theirs.to_string(), "{value:?}")
            }
            _ => panic!("{value:?}: ours {ours:?}, serde_json {theirs:?}"),
        }
    }
});
