//! Arbitrary bytes through `SimdJsonCodec::decode`, with the default and tight
//! limits; every request's params parsed into several types; a reply encoded
//! and read back with the format's own library (see `rpckit_fuzz`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rpckit_codec::SimdJsonCodec;
use rpckit_fuzz::{fuzz_decoder, Format};

fuzz_target!(|data: &[u8]| {
    fuzz_decoder(&SimdJsonCodec::default(), Format::Json, data);
});
