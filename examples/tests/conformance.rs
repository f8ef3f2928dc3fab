//! The specification's examples (tests/conformance/spec.rpc) through the
//! whole stack without sockets, in every codec.

mod script;

use std::sync::Arc;

use rpckit::codec::{CborCodec, Codec, Codecs, Frame, JsonCodec, MsgPackCodec, SimdJsonCodec};
use rpckit::Endpoint;
use rpckit_examples::spec;
use script::strip_messages;
use serde_json::Value;
use tower::ServiceExt;

struct Case {
    request: String,
    expected: Option<Value>,
    raw: bool,
}

fn cases() -> Vec<Case> {
    let text = include_str!("conformance/spec.rpc");
    let mut cases: Vec<Case> = Vec::new();
    let mut raw_next = false;
    for line in text.lines() {
        if line.starts_with("// raw") {
            raw_next = true;
        } else if let Some(request) = line.strip_prefix("-->") {
            cases.push(Case {
                request: request.trim().to_owned(),
                expected: None,
                raw: std::mem::take(&mut raw_next),
            });
        } else if let Some(response) = line.strip_prefix("<--") {
            let case = cases.last_mut().expect("a response follows a request");
            case.expected =
                Some(serde_json::from_str(response).expect("expected responses are JSON"));
        }
    }
    assert!(cases.len() > 20, "the conformance file was read");
    cases
}

type Encode = fn(&Value) -> Vec<u8>;
type Decode = fn(&[u8]) -> Value;

async fn run(codec: Arc<dyn Codec>, encode: Encode, decode: Decode, include_raw: bool) {
    let notified = Arc::new(spec::Notified::default());
    let endpoint = Endpoint::new(spec::router(notified.clone()))
        .codecs(Codecs::default().with_shared(codec.clone()));
    let mut checked = 0;
    for case in cases() {
        let bytes = if case.raw {
            if !include_raw {
                continue;
            }
            case.request.clone().into_bytes()
        } else {
            encode(&serde_json::from_str(&case.request).unwrap())
        };
        let reply = endpoint
            .clone()
            .into_service()
            .oneshot(Frame::new(bytes, codec.clone()))
            .await
            .unwrap();
        match (reply, case.expected) {
            (None, None) => {}
            (Some(frame), Some(mut expected)) => {
                let mut got = decode(&frame.bytes);
                strip_messages(&mut got);
                strip_messages(&mut expected);
                assert_eq!(got, expected, "{} for {}", codec.name(), case.request);
            }
            (got, expected) => panic!(
                "{}: {} answered {:?}, expected {:?}",
                codec.name(),
                case.request,
                got.map(|f| decode(&f.bytes)),
                expected
            ),
        }
        checked += 1;
    }
    assert!(checked > 20);
    // update, foobar (unknown: runs nothing), notify_hello x2, notify_sum.
    assert_eq!(notified.count(), 4, "notifications ran");
}

#[tokio::test]
async fn json() {
    run(
        Arc::new(JsonCodec::default()),
        |v| serde_json::to_vec(v).unwrap(),
        |b| serde_json::from_slice(b).unwrap(),
        true,
    )
    .await;
}

#[tokio::test]
async fn simd_json() {
    run(
        Arc::new(SimdJsonCodec::default()),
        |v| serde_json::to_vec(v).unwrap(),
        |b| serde_json::from_slice(b).unwrap(),
        true,
    )
    .await;
}

#[tokio::test]
async fn cbor() {
    run(
        Arc::new(CborCodec::default()),
        |v| {
            let mut out = Vec::new();
            ciborium::into_writer(v, &mut out).unwrap();
            out
        },
        |b| ciborium::from_reader(b).unwrap(),
        false,
    )
    .await;
}

#[tokio::test]
async fn msgpack() {
    run(
        Arc::new(MsgPackCodec::default()),
        |v| rmp_serde::to_vec(v).unwrap(),
        |b| rmp_serde::from_slice(b).unwrap(),
        false,
    )
    .await;
}
