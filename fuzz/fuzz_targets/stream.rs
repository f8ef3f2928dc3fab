//! A whole stream connection: arbitrary bytes into the stream transport's
//! `serve_stream`, with every framing, answered by an `rpckit::Endpoint`
//! with a few methods (one of which panics, one of which answers later).
//!
//! What must hold, whatever the input:
//! - no panic, and the connection ends once the input has (`serve_stream`
//!   returns `Ok`);
//! - what comes back splits cleanly in the same framing, and every frame
//!   is a JSON-RPC response: an object with `"jsonrpc": "2.0"` and an `id`,
//!   or a non-empty array of them;
//! - no more replies than frames in the input, plus the one error that
//!   answers a broken framing.
//!
//! Input: byte 0 picks the framing (bits 0-1: newline, length-prefixed,
//! LSP) and the frame limit (bit 2: 64 bytes, else the default); the rest
//! is the stream.
#![no_main]

use std::sync::OnceLock;

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rpckit::extract::Params;
use rpckit::{Endpoint, Router};
use rpckit_tcp::framing::{Framing, Inbound, LengthPrefixedCodec, LspCodec, NewlineCodec};
use rpckit_tcp::Server;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;
use tokio_util::codec::Decoder;

/// What the `panic` method panics with; the panic hook lets it pass.
const PANIC: &str = "fuzz: the panic method panics";

/// The limit bit 2 picks.
const TIGHT: usize = 64;

fn router() -> Router {
    Router::new()
        .method("later", |Params(value): Params<Value>| async move {
            tokio::task::yield_now().await;
            value
        })
        .sync_method("echo", |Params(value): Params<Value>| value)
        .sync_method("panic", || -> i64 { panic!("{}", PANIC) })
}

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime")
    })
}

/// The framer of `framing` with the frame limit `max`.
fn framer(
    framing: Framing,
    max: usize,
) -> Box<dyn Decoder<Item = Inbound, Error = rpckit_tcp::framing::FrameError>> {
    match framing {
        Framing::Newline => Box::new(NewlineCodec::with_max_frame_size(max)),
        Framing::LengthPrefixed => Box::new(LengthPrefixedCodec::with_max_frame_size(max)),
        _ => Box::new(LspCodec::with_max_frame_size(max)),
    }
}

/// The items `bytes` holds in `framing`, up to the end or the first error
/// (counted as one more: the server answers it).
fn items(framing: Framing, max: usize, bytes: &[u8]) -> (Vec<Inbound>, bool) {
    let mut framer = framer(framing, max);
    let mut buffer = BytesMut::from(bytes);
    let mut items = Vec::new();
    loop {
        match framer.decode_eof(&mut buffer) {
            Ok(Some(item)) => items.push(item),
            Ok(None) => return (items, false),
            Err(_) => return (items, true),
        }
    }
}

fn is_response(value: &Value) -> bool {
    value.get("jsonrpc") == Some(&Value::from("2.0")) && value.get("id").is_some()
}

fuzz_target!(
    init: {
        rpckit_fuzz::let_panics_pass(PANIC);
    },
    |data: &[u8]| {
        let Some((&selector, stream)) = data.split_first() else {
            return;
        };
        let framing = match selector & 3 {
            0 | 3 => Framing::Newline,
            1 => Framing::LengthPrefixed,
            _ => Framing::Lsp,
        };
        let max = if selector & 4 != 0 { TIGHT } else { rpckit_tcp::framing::DEFAULT_MAX_FRAME_SIZE };
        let builder = Server::builder(Endpoint::new(router()))
            .framing(framing)
            .max_frame_size(max);
        let (mut client, ours) = tokio::io::duplex(1 << 20);
        let written = runtime().block_on(async {
            let server = tokio::spawn(builder.serve_stream(ours));
            client.write_all(stream).await.expect("the input fits the pipe");
            client.shutdown().await.expect("half-close");
            let mut written = Vec::new();
            client.read_to_end(&mut written).await.expect("read the replies");
            server
                .await
                .expect("the connection's task")
                .expect("serve_stream ends cleanly");
            written
        });

        let (replies, broken) = items(framing, usize::MAX >> 1, &written);
        assert!(!broken, "the replies do not split in {framing}: {written:02x?}");
        let (frames, framing_failed) = items(framing, max, stream);
        assert!(
            replies.len() <= frames.len() + usize::from(framing_failed),
            "{} replies to {} frames",
            replies.len(),
            frames.len()
        );
        for reply in replies {
            let Inbound::Frame(bytes) = reply else {
                panic!("a reply over the reading limit");
            };
            let value: Value = serde_json::from_slice(&bytes).expect("a reply is JSON");
            match &value {
                Value::Array(responses) => {
                    assert!(!responses.is_empty(), "an empty batch reply");
                    assert!(responses.iter().all(is_response), "{value}");
                }
                single => assert!(is_response(single), "{value}"),
            }
        }
    }
);
