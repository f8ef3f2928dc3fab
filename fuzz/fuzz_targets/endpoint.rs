//! The whole path from body bytes to response bytes: an `rpckit::Endpoint`
//! with a few methods (one of which panics), served frame by frame through
//! `into_service().oneshot(Frame)`, as a transport does.
//!
//! Input: the first byte picks the codec (bits 0-1: JSON, SIMD-JSON, CBOR,
//! MessagePack) and the limits (bit 2: tight); the rest is the body. The
//! answer must read back in that codec's format, hold one response per
//! request that has an id (in order, ids as sent, -32601 for unknown
//! methods, -32603 for the panicking one), and be `None` only when there is
//! nothing to answer: a notification, or a batch of notifications.
#![no_main]

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rpckit::codec::{
    CborCodec, Codec, Codecs, DecodeLimits, Frame, JsonCodec, Message, MsgPackCodec, SimdJsonCodec,
};
use rpckit::extract::Params;
use rpckit::{Endpoint, EndpointService, ErrorCode, ErrorObject, Router};
use rpckit_fuzz::{check_reply, tight, Expected, ExpectedOutcome, Format};
use serde::Deserialize;
use tokio::runtime::Runtime;
use tower::ServiceExt;

/// What the `panic` method panics with; the panic hook lets it pass.
const PANIC: &str = "fuzz: the panic method panics";

#[derive(Deserialize)]
struct Subtract {
    minuend: i64,
    subtrahend: i64,
}

fn router() -> Router {
    Router::new()
        .method(
            ["echo", "e"],
            |Params(value): Params<serde_json::Value>| async move { value },
        )
        .sync_method("subtract", |Params(p): Params<Subtract>| {
            p.minuend.wrapping_sub(p.subtrahend)
        })
        .sync_method("fail", |Params(data): Params<serde_json::Value>| {
            Err::<(), _>(ErrorObject::new(ErrorCode::Application(-1), "failed").with_data(data))
        })
        .sync_method("n", || ())
        .sync_method("panic", || -> i64 { panic!("{}", PANIC) })
}

struct Setup {
    runtime: Runtime,
    /// The default-limit service and the tight one.
    services: [EndpointService; 2],
    codecs: [(Arc<dyn Codec>, Format); 4],
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let codecs: [(Arc<dyn Codec>, Format); 4] = [
            (Arc::new(JsonCodec::default()), Format::Json),
            (Arc::new(SimdJsonCodec::default()), Format::Json),
            (Arc::new(CborCodec::default()), Format::Cbor),
            (Arc::new(MsgPackCodec::default()), Format::MsgPack),
        ];
        let endpoint = Endpoint::new(router())
            .codecs(Codecs::default().with(SimdJsonCodec::default()))
            .batch_concurrency(4);
        Setup {
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a current-thread runtime"),
            services: [
                endpoint.clone().into_service(),
                endpoint.limits(tight()).into_service(),
            ],
            codecs,
        }
    })
}

fuzz_target!(
    init: {
        rpckit_fuzz::let_panics_pass(PANIC);
        setup();
    },
    |data: &[u8]| {
        let Some((&selector, body)) = data.split_first() else {
            return;
        };
        let setup = setup();
        let (codec, format) = &setup.codecs[usize::from(selector & 3)];
        let is_tight = selector & 4 != 0;
        let limits = if is_tight { tight() } else { DecodeLimits::default() };
        let service = setup.services[usize::from(is_tight)].clone();
        let body = Bytes::copy_from_slice(body);

        let expected = expected(&**codec, body.clone(), &limits);
        let frame = Frame::new(body, codec.clone());
        let answer = setup
            .runtime
            .block_on(service.oneshot(frame))
            .unwrap_or_else(|never| match never {});
        match (answer, expected) {
            (None, None) => {}
            (Some(frame), Some((batch, expected))) => {
                assert_eq!(frame.codec.name(), codec.name(), "answered in another codec");
                check_reply(*format, &frame.bytes, batch, &expected);
            }
            (None, Some(expected)) => panic!("no answer; expected {expected:?}"),
            (Some(frame), None) => panic!("an answer to notifications only: {:02x?}", frame.bytes),
        }
    }
);

/// What the endpoint must answer, found by decoding the body the same way:
/// whether the reply is a batch, and the responses.
fn expected(
    codec: &dyn Codec,
    body: Bytes,
    limits: &DecodeLimits,
) -> Option<(bool, Vec<Expected>)> {
    let (entries, batch) = match codec.decode(body, limits) {
        Message::Single(entry) => (vec![entry], false),
        Message::Batch(entries) => (entries, true),
    };
    let expected: Vec<Expected> = entries
        .into_iter()
        .filter_map(|entry| match entry {
            Err(err) => Some(Expected {
                id: rpckit::Id::Null,
                outcome: ExpectedOutcome::Error(err.code().code(), None),
            }),
            Ok(request) => {
                let outcome = match &*request.method {
                    "panic" => ExpectedOutcome::Error(-32603, None),
                    "n" => ExpectedOutcome::Result(Some(rpckit_fuzz::Tree::Null)),
                    "echo" | "e" | "subtract" | "fail" => ExpectedOutcome::Any,
                    _ => ExpectedOutcome::Error(-32601, None),
                };
                request.id.map(|id| Expected { id, outcome })
            }
        })
        .collect();
    (!expected.is_empty()).then_some((batch, expected))
}
