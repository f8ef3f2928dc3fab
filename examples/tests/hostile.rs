//! Hostile input over real HTTP, in every codec (JSON, SIMD-JSON, CBOR,
//! MessagePack): truncated batches, deep nesting, invalid UTF-8, lone
//! surrogates, huge numbers, duplicate keys, a byte order mark, trailing
//! garbage, NaN and infinities, bodies over the limit and length headers
//! that lie. Each case asserts the exact JSON-RPC code (or HTTP status), and
//! after each one the server must still answer a valid call.
//!
//! Run with `cargo test -p rpckit-examples --test hostile`.

mod support;

use std::collections::BTreeMap;

use rpckit::extract::Params;
use rpckit::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use stats_alloc::Region;
use support::{assert_error, assert_result, request, Client, Wire};

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const INVALID_PARAMS: i64 = -32602;

const MIB: usize = 1024 * 1024;

#[derive(Deserialize)]
struct Named {
    a: i64,
    b: i64,
}

fn router() -> Router {
    Router::new()
        .sync_method("echo", |Params((text,)): Params<(String,)>| text)
        .sync_method("sum", |Params(numbers): Params<Vec<i64>>| {
            numbers.iter().sum::<i64>()
        })
        .sync_method("num", |Params((n,)): Params<(i64,)>| n)
        .sync_method("is_nan", |Params((x,)): Params<(f64,)>| x.is_nan())
        .sync_method("named", |Params(p): Params<Named>| p.a - p.b)
        .sync_method("map", |Params(map): Params<BTreeMap<String, i64>>| {
            map.get("k").copied()
        })
}

/// A valid call on `client` must still be answered.
async fn assert_serves(client: &mut Client, wire: Wire, context: &str) {
    let reply = client
        .rpc(wire, &request("sum", json!([1, 2, 3]), json!("alive")))
        .await
        .expect("a reply");
    assert_result(
        &reply,
        &json!(6),
        &json!("alive"),
        &format!("{context}: then"),
    );
}

/// Sends a hostile body on `client`, returns the reply, and checks that
/// the same connection still serves a valid call.
async fn hostile(client: &mut Client, wire: Wire, body: &[u8], context: &str) -> Value {
    let reply = client
        .rpc_bytes(wire, body)
        .await
        .unwrap_or_else(|| panic!("{context}: no reply"));
    assert_serves(client, wire, context).await;
    reply
}

/// Asserts that `body` is answered with the single error `code`, id `null`.
async fn assert_rejected(client: &mut Client, wire: Wire, body: &[u8], code: i64, what: &str) {
    let context = format!("{wire:?}: {what}");
    let reply = hostile(client, wire, body, &context).await;
    assert_error(&reply, code, &Value::Null, &context);
}

fn json_bytes(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

// ---------------------------------------------------------------------------

#[tokio::test]
async fn every_truncation_of_a_batch_is_a_parse_error() {
    let _guard = support::shared().await;
    let server = support::start(router()).await;
    let batch = json!([
        {"jsonrpc": "2.0", "method": "sum", "params": [1, 2, 3], "id": 1},
        {"jsonrpc": "2.0", "method": "echo", "params": ["ünï"]},
        {"jsonrpc": "2.0", "method": "named", "params": {"a": 5, "b": 3}, "id": "three"},
        {"jsonrpc": "2.0", "method": "is_nan", "params": [1.5], "id": null}
    ]);
    let answer = json!([
        {"jsonrpc": "2.0", "result": 6, "id": 1},
        {"jsonrpc": "2.0", "result": 2, "id": "three"},
        {"jsonrpc": "2.0", "result": false, "id": null}
    ]);
    for wire in Wire::ALL {
        let mut client = Client::connect(server.local_addr()).await;
        let frame = wire.encode(&batch);
        let whole = client.rpc_bytes(wire, &frame).await;
        assert_eq!(whole, Some(answer.clone()), "{wire:?}: the whole batch");
        for len in 0..frame.len() {
            assert_rejected(
                &mut client,
                wire,
                &frame[..len],
                PARSE_ERROR,
                &format!("the first {len} of {} bytes", frame.len()),
            )
            .await;
        }
    }
    support::stop(server).await;
}

#[tokio::test]
async fn nesting_100_000_deep_is_a_parse_error() {
    let _guard = support::shared().await;
    let server = support::start(router()).await;
    let mut client = Client::connect(server.local_addr()).await;
    const DEPTH: usize = 100_000;
    for wire in Wire::ALL {
        // The same shapes in every codec: the whole frame, the params of a
        // request, an unknown member, and a request inside a batch.
        let frames: Vec<(&str, Vec<u8>)> = if wire.is_binary() {
            let one_array = if wire == Wire::Cbor { 0x81 } else { 0x91 };
            let mut deep = vec![one_array; DEPTH];
            deep.push(0x01);
            let template = json!({"jsonrpc": "2.0", "method": "sum", "id": 1, "placeholder": 0});
            let in_params = frame_with(wire, &template, "params", &deep);
            let in_unknown = frame_with(wire, &template, "x", &deep);
            let in_batch = array_of(wire, &[&in_params]);
            vec![
                ("the whole frame", deep),
                ("params", in_params),
                ("an unknown member", in_unknown),
                ("a batch entry's params", in_batch),
            ]
        } else {
            let deep = format!("{}1{}", "[".repeat(DEPTH), "]".repeat(DEPTH));
            let in_params = format!(r#"{{"jsonrpc":"2.0","method":"sum","id":1,"params":{deep}}}"#);
            let in_unknown = format!(r#"{{"jsonrpc":"2.0","method":"sum","id":1,"x":{deep}}}"#);
            let in_batch = format!("[{in_params}]");
            let objects = format!(r#"{}1{}"#, r#"{"a":"#.repeat(DEPTH), "}".repeat(DEPTH));
            let unclosed = "[".repeat(DEPTH);
            vec![
                ("the whole frame", json_bytes(&deep)),
                ("params", json_bytes(&in_params)),
                ("an unknown member", json_bytes(&in_unknown)),
                ("a batch entry's params", json_bytes(&in_batch)),
                ("objects in objects", json_bytes(&objects)),
                ("unclosed arrays", json_bytes(&unclosed)),
            ]
        };
        for (what, frame) in frames {
            assert_rejected(&mut client, wire, &frame, PARSE_ERROR, what).await;
        }
    }
    support::stop(server).await;
}

#[tokio::test]
async fn invalid_utf8_in_method_and_params_is_a_parse_error() {
    let _guard = support::shared().await;
    let server = support::start(router()).await;
    let mut client = Client::connect(server.local_addr()).await;
    // A stray continuation byte, a truncated sequence, an overlong
    // encoding, and a byte that never occurs in UTF-8.
    let bad: [&[u8]; 4] = [b"\x80", b"\xc3(", b"\xc0\xaf", b"a\xffb"];
    for wire in Wire::ALL {
        for bytes in bad {
            let frames: Vec<(&str, Vec<u8>)> = if wire.is_binary() {
                let text = |s: &str| wire.encode(&json!(s));
                let in_method = wire.raw_map(&[
                    (&text("jsonrpc"), &text("2.0")),
                    (&text("method"), &wire.raw_text(bytes)),
                    (&text("id"), &[0x01]),
                ]);
                let params = array_of(wire, &[&wire.raw_text(bytes)]);
                let in_params = wire.raw_map(&[
                    (&text("jsonrpc"), &text("2.0")),
                    (&text("method"), &text("echo")),
                    (&text("params"), &params),
                    (&text("id"), &[0x01]),
                ]);
                let valid = wire.encode(&request("sum", json!([1]), json!(1)));
                let in_batch = array_of(wire, &[&valid, &in_params]);
                vec![
                    ("in the method", in_method),
                    ("in the params", in_params),
                    ("in a batch entry's params", in_batch),
                ]
            } else {
                let wrap = |before: &str, after: &str| {
                    let mut frame = before.as_bytes().to_vec();
                    frame.extend_from_slice(bytes);
                    frame.extend_from_slice(after.as_bytes());
                    frame
                };
                vec![
                    (
                        "in the method",
                        wrap(r#"{"jsonrpc":"2.0","method":""#, r#"","id":1}"#),
                    ),
                    (
                        "in the params",
                        wrap(
                            r#"{"jsonrpc":"2.0","method":"echo","params":[""#,
                            r#""],"id":1}"#,
                        ),
                    ),
                    (
                        "in a batch entry's params",
                        wrap(
                            r#"[{"jsonrpc":"2.0","method":"sum","params":[1],"id":1},{"jsonrpc":"2.0","method":"echo","params":[""#,
                            r#""],"id":2}]"#,
                        ),
                    ),
                ]
            };
            for (what, frame) in frames {
                let what = format!("{bytes:02x?} {what}");
                assert_rejected(&mut client, wire, &frame, PARSE_ERROR, &what).await;
            }
        }
    }
    support::stop(server).await;
}

/// `"\ud800"` is grammatical JSON (RFC 8259, section 8.2, names it) that
/// no Rust string can hold: in params it does not fit the handler's
/// `String` (-32602), and as a method it makes the request invalid (-32600).
/// In the binary codecs a surrogate can only be sent as the bytes ED A0 80,
/// which are not UTF-8: malformed, -32700.
#[tokio::test]
async fn lone_surrogates() {
    let _guard = support::shared().await;
    let server = support::start(router()).await;
    let mut client = Client::connect(server.local_addr()).await;
    for wire in Wire::ALL {
        let context = format!("{wire:?}");
        if wire.is_binary() {
            let text = |s: &str| wire.encode(&json!(s));
            for surrogate in [&b"\xed\xa0\x80"[..], b"\xed\xb0\x80", b"a\xed\xa0\x80b"] {
                let in_method = wire.raw_map(&[
                    (&text("jsonrpc"), &text("2.0")),
                    (&text("method"), &wire.raw_text(surrogate)),
                    (&text("id"), &[0x01]),
                ]);
                let params = array_of(wire, &[&wire.raw_text(surrogate)]);
                let in_params = wire.raw_map(&[
                    (&text("jsonrpc"), &text("2.0")),
                    (&text("method"), &text("echo")),
                    (&text("params"), &params),
                    (&text("id"), &[0x01]),
                ]);
                let what = format!("{surrogate:02x?}");
                assert_rejected(&mut client, wire, &in_method, PARSE_ERROR, &what).await;
                assert_rejected(&mut client, wire, &in_params, PARSE_ERROR, &what).await;
            }
            continue;
        }
        for surrogate in [r"\ud800", r"\udc00", r"a\ud800b", r"\ud800\u0041"] {
            // In params: the handler's String cannot hold it.
            let frame =
                format!(r#"{{"jsonrpc":"2.0","method":"echo","params":["{surrogate}"],"id":7}}"#);
            let reply = hostile(&mut client, wire, frame.as_bytes(), &context).await;
            assert_error(&reply, INVALID_PARAMS, &json!(7), &frame);
            // As a method inside a batch: that entry is invalid, the rest runs.
            let frame = format!(
                r#"[{{"jsonrpc":"2.0","method":"{surrogate}","id":1}},{{"jsonrpc":"2.0","method":"sum","params":[2],"id":2}}]"#
            );
            let reply = hostile(&mut client, wire, frame.as_bytes(), &context).await;
            assert_error(&reply[0], INVALID_REQUEST, &Value::Null, &frame);
            assert_result(&reply[1], &json!(2), &json!(2), &frame);
        }
        // A proper pair is a character like any other.
        let frame = r#"{"jsonrpc":"2.0","method":"echo","params":["\ud83d\ude00"],"id":1}"#;
        let reply = hostile(&mut client, wire, frame.as_bytes(), &context).await;
        assert_result(&reply, &json!("😀"), &json!(1), frame);
    }
    support::stop(server).await;
}

/// The single-request counterpart of the batch case in [`lone_surrogates`]:
/// the same well-formed entry must get the same -32600 alone as in a batch.
#[tokio::test]
async fn lone_surrogate_method_alone_is_an_invalid_request() {
    let _guard = support::shared().await;
    let server = support::start(router()).await;
    let mut client = Client::connect(server.local_addr()).await;
    for wire in [Wire::Json, Wire::Simd] {
        let frame = r#"{"jsonrpc":"2.0","method":"\ud800","id":1}"#;
        let reply = hostile(&mut client, wire, frame.as_bytes(), "").await;
        assert_error(&reply, INVALID_REQUEST, &Value::Null, &format!("{wire:?}"));
    }
    support::stop(server).await;
}

/// A number of 10,000 digits: the binary codecs' nearest equivalents are a
/// CBOR bignum (tag 2) and, MessagePack having no big numbers, an
/// extension of the same 4,153 bytes.
fn huge_number(wire: Wire) -> Vec<u8> {
    const BYTES: usize = 4_153; // 10,000 decimal digits need 33,220 bits
    let mut out = match wire {
        Wire::Cbor => vec![0xc2, 0x59],
        Wire::MsgPack => vec![0xc8],
        _ => return "9".repeat(10_000).into_bytes(),
    };
    out.extend_from_slice(&(BYTES as u16).to_be_bytes());
    if wire == Wire::MsgPack {
        out.push(0x02); // the extension's type
    }
    out.extend(std::iter::repeat_n(0xff, BYTES));
    out
}

/// An array of raw items (fewer than 16).
fn array_of(wire: Wire, items: &[&[u8]]) -> Vec<u8> {
    assert!(items.len() < 16);
    match wire {
        Wire::Cbor | Wire::MsgPack => {
            let head = if wire == Wire::Cbor { 0x80 } else { 0x90 };
            let mut out = vec![head | items.len() as u8];
            items.iter().for_each(|item| out.extend_from_slice(item));
            out
        }
        _ => {
            let mut out = b"[".to_vec();
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(item);
            }
            out.push(b']');
            out
        }
    }
}

/// `template` encoded, with its member `"placeholder": 0` replaced by the
/// member `name` holding the raw item `item`.
fn frame_with(wire: Wire, template: &Value, name: &str, item: &[u8]) -> Vec<u8> {
    let frame = wire.encode(template);
    let (marker, key) = if wire.is_binary() {
        let marker = [wire.encode(&json!("placeholder")), wire.encode(&json!(0))].concat();
        (marker, wire.encode(&json!(name)))
    } else {
        (
            br#""placeholder":0"#.to_vec(),
            format!("{}:", json!(name)).into_bytes(),
        )
    };
    let at = frame
        .windows(marker.len())
        .position(|window| window == marker)
        .expect("the placeholder member");
    [&frame[..at], &key, item, &frame[at + marker.len()..]].concat()
}

#[tokio::test]
async fn numbers_of_10_000_digits() {
    let _guard = support::shared().await;
    let server = support::start(router()).await;
    let mut client = Client::connect(server.local_addr()).await;
    for wire in Wire::ALL {
        let context = format!("{wire:?}");
        let number = huge_number(wire);
        let params = array_of(wire, &[&number]);
        // As a param: well formed, but no i64 (nor f64) holds it.
        for (method, id) in [("num", 3), ("is_nan", 4)] {
            let template = json!({"jsonrpc": "2.0", "method": method, "id": id, "placeholder": 0});
            let frame = frame_with(wire, &template, "params", &params);
            let reply = hostile(&mut client, wire, &frame, &context).await;
            assert_error(&reply, INVALID_PARAMS, &json!(id), &context);
        }
        // As the id of a batch entry: that entry is invalid, with id null
        // (its own cannot be echoed), and the rest of the batch runs.
        let template = json!({"jsonrpc": "2.0", "method": "sum", "params": [1], "placeholder": 0});
        let entry = frame_with(wire, &template, "id", &number);
        let valid = wire.encode(&request("sum", json!([2]), json!(2)));
        let frame = array_of(wire, &[&entry, &valid]);
        let reply = hostile(&mut client, wire, &frame, &context).await;
        assert_error(&reply[0], INVALID_REQUEST, &Value::Null, &context);
        assert_result(&reply[1], &json!(2), &json!(2), &context);
        // As the id of a single request, in the binary codecs: the same.
        // (JSON: see `number_of_10_000_digits_as_a_single_id_is_an_invalid_request`.)
        if wire.is_binary() {
            assert_rejected(&mut client, wire, &entry, INVALID_REQUEST, "single id").await;
        }
    }
    support::stop(server).await;
}

/// The JSON counterpart of the single-request case in
/// [`numbers_of_10_000_digits`]: the frame is grammatical JSON, so the
/// request is invalid (-32600), as the same id is in a batch, and as a
/// CBOR bignum id is.
#[tokio::test]
async fn number_of_10_000_digits_as_a_single_id_is_an_invalid_request() {
    let _guard = support::shared().await;
    let server = support::start(router()).await;
    let mut client = Client::connect(server.local_addr()).await;
    for wire in [Wire::Json, Wire::Simd] {
        let frame = format!(
            r#"{{"jsonrpc":"2.0","method":"sum","params":[1],"id":{}}}"#,
            "9".repeat(10_000)
        );
        let reply = hostile(&mut client, wire, frame.as_bytes(), "").await;
        assert_error(&reply, INVALID_REQUEST, &Value::Null, &format!("{wire:?}"));
    }
    support::stop(server).await;
}

/// Grammatical JSON that serde_json cannot hold, where a request should
/// stand: as a batch entry or a whole frame it is one more value that is
/// not a request (-32600, id null) and the rest of the batch runs; as the
/// name of a member it names an unknown member, which is skipped.
#[tokio::test]
async fn values_serde_cannot_hold_in_place_of_a_request() {
    let _guard = support::shared().await;
    let server = support::start(router()).await;
    let mut client = Client::connect(server.local_addr()).await;
    let digits = "9".repeat(10_000);
    for wire in [Wire::Json, Wire::Simd] {
        for value in ["1e999", r#""\ud800""#, &digits] {
            let context = format!("{wire:?}: {:.20}", value);
            let valid = r#"{"jsonrpc":"2.0","method":"sum","params":[2],"id":2}"#;
            let frame = format!("[{value},{valid}]");
            let reply = hostile(&mut client, wire, frame.as_bytes(), &context).await;
            assert_error(&reply[0], INVALID_REQUEST, &Value::Null, &context);
            assert_result(&reply[1], &json!(2), &json!(2), &context);
            assert_rejected(
                &mut client,
                wire,
                value.as_bytes(),
                INVALID_REQUEST,
                &context,
            )
            .await;
        }
        let frame = r#"{"jsonrpc":"2.0","method":"sum","params":[2],"id":2,"\ud800":1}"#;
        let reply = hostile(&mut client, wire, frame.as_bytes(), "").await;
        assert_result(&reply, &json!(2), &json!(2), &format!("{wire:?}"));
    }
    support::stop(server).await;
}

#[tokio::test]
async fn duplicate_keys() {
    let _guard = support::shared().await;
    let server = support::start(router()).await;
    let mut client = Client::connect(server.local_addr()).await;
    for wire in Wire::ALL {
        let context = format!("{wire:?}");
        // Raw maps: an encoder from `Value` would merge the duplicates.
        let map = |entries: &[(&str, Value)]| -> Vec<u8> {
            if wire.is_binary() {
                let items: Vec<(Vec<u8>, Vec<u8>)> = entries
                    .iter()
                    .map(|(key, value)| (wire.encode(&json!(key)), wire.encode(value)))
                    .collect();
                let items: Vec<(&[u8], &[u8])> = items
                    .iter()
                    .map(|(k, v)| (k.as_slice(), v.as_slice()))
                    .collect();
                wire.raw_map(&items)
            } else {
                let members: Vec<String> = entries
                    .iter()
                    .map(|(key, value)| format!("{}:{value}", json!(key)))
                    .collect();
                format!("{{{}}}", members.join(",")).into_bytes()
            }
        };
        let envelope = |member: &str, first: Value, second: Value| {
            let mut entries = vec![
                ("jsonrpc", json!("2.0")),
                ("method", json!("sum")),
                ("params", json!([1])),
                ("id", json!(9)),
            ];
            let at = entries.iter().position(|(k, _)| *k == member).unwrap();
            entries[at].1 = first;
            entries.push((member, second));
            map(&entries)
        };
        for (member, first, second) in [
            ("jsonrpc", json!("2.0"), json!("2.0")),
            ("method", json!("sum"), json!("sum")),
            ("method", json!("sum"), json!("num")),
            ("params", json!([1]), json!([2])),
            ("id", json!(9), json!(9)),
        ] {
            let frame = envelope(member, first, second);
            let what = format!("duplicate `{member}`");
            assert_rejected(&mut client, wire, &frame, INVALID_REQUEST, &what).await;
        }
        // Inside params, keys are the handler type's business: a derived
        // struct refuses a duplicate field, a map keeps the last value.
        let params = map(&[("a", json!(5)), ("b", json!(3)), ("a", json!(6))]);
        let frame = with_params(wire, "named", &params, 1);
        let reply = hostile(&mut client, wire, &frame, &context).await;
        assert_error(&reply, INVALID_PARAMS, &json!(1), &context);
        let params = map(&[("k", json!(1)), ("k", json!(2))]);
        let frame = with_params(wire, "map", &params, 2);
        let reply = hostile(&mut client, wire, &frame, &context).await;
        assert_result(&reply, &json!(2), &json!(2), &context);
    }
    support::stop(server).await;
}

/// A request for `method` whose params are the raw item `params`.
fn with_params(wire: Wire, method: &str, params: &[u8], id: i64) -> Vec<u8> {
    let template = json!({"jsonrpc": "2.0", "method": method, "id": id, "placeholder": 0});
    frame_with(wire, &template, "params", params)
}

#[tokio::test]
async fn byte_order_mark_and_trailing_garbage_are_parse_errors() {
    let _guard = support::shared().await;
    let server = support::start(router()).await;
    let mut client = Client::connect(server.local_addr()).await;
    for wire in Wire::ALL {
        let valid = wire.encode(&request("sum", json!([1, 2]), json!(5)));
        let batch = wire.encode(&json!([request("sum", json!([1]), json!(1))]));
        let mut cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "a UTF-8 BOM before a request",
                [&b"\xef\xbb\xbf"[..], &valid].concat(),
            ),
            (
                "a UTF-8 BOM before a batch",
                [&b"\xef\xbb\xbf"[..], &batch].concat(),
            ),
            ("a second request", [&valid[..], &valid].concat()),
            ("a second batch", [&batch[..], &batch].concat()),
            ("a NUL byte", [&valid[..], b"\0"].concat()),
        ];
        if wire.is_binary() {
            cases.push(("a stray byte", [&valid[..], b"\x01"].concat()));
            cases.push(("a stray break", [&valid[..], b"\xff"].concat()));
        } else {
            cases.push(("a word", [&valid[..], b" garbage"].concat()));
            cases.push(("a closing brace", [&valid[..], b"}"].concat()));
            cases.push(("a comma", [&batch[..], b","].concat()));
            cases.push(("a comment", [&valid[..], b" // done"].concat()));
        }
        for (what, frame) in cases {
            assert_rejected(&mut client, wire, &frame, PARSE_ERROR, what).await;
        }
        if !wire.is_binary() {
            // Whitespace around a JSON text is part of the grammar.
            let padded = [&b" \r\n\t"[..], &valid, b"\n\n "].concat();
            let reply = hostile(&mut client, wire, &padded, "whitespace").await;
            assert_result(&reply, &json!(3), &json!(5), &format!("{wire:?}"));
        }
    }
    support::stop(server).await;
}

#[tokio::test]
async fn nan_and_infinities() {
    let _guard = support::shared().await;
    let server = support::start(router()).await;
    let mut client = Client::connect(server.local_addr()).await;
    for wire in Wire::ALL {
        let context = format!("{wire:?}");
        if !wire.is_binary() {
            // Not JSON at all: -32700, wherever they appear.
            for literal in [
                "NaN",
                "Infinity",
                "-Infinity",
                "nan",
                "inf",
                "+1",
                ".5",
                "01",
            ] {
                for frame in [
                    format!(r#"{{"jsonrpc":"2.0","method":"is_nan","params":[{literal}],"id":1}}"#),
                    format!(r#"{{"jsonrpc":"2.0","method":"is_nan","params":[1],"id":{literal}}}"#),
                    format!(
                        r#"[{{"jsonrpc":"2.0","method":"is_nan","params":[{literal}],"id":1}}]"#
                    ),
                ] {
                    assert_rejected(&mut client, wire, frame.as_bytes(), PARSE_ERROR, &frame).await;
                }
            }
            continue;
        }
        // The binary formats have NaN and infinities: as params they are
        // floats like any other, and reach the handler.
        let floats: Vec<(&str, Vec<u8>, bool)> = if wire == Wire::Cbor {
            vec![
                ("half NaN", vec![0xf9, 0x7e, 0x00], true),
                ("single NaN", vec![0xfa, 0x7f, 0xc0, 0, 0], true),
                ("double NaN", vec![0xfb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0], true),
                ("half infinity", vec![0xf9, 0x7c, 0x00], false),
                (
                    "double -infinity",
                    vec![0xfb, 0xff, 0xf0, 0, 0, 0, 0, 0, 0],
                    false,
                ),
            ]
        } else {
            vec![
                ("float 32 NaN", vec![0xca, 0x7f, 0xc0, 0, 0], true),
                (
                    "float 64 NaN",
                    vec![0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0],
                    true,
                ),
                ("float 32 infinity", vec![0xca, 0x7f, 0x80, 0, 0], false),
                (
                    "float 64 -infinity",
                    vec![0xcb, 0xff, 0xf0, 0, 0, 0, 0, 0, 0],
                    false,
                ),
            ]
        };
        for (what, float, nan) in floats {
            let context = format!("{context}: {what}");
            let frame = with_params(wire, "is_nan", &array_of(wire, &[&float]), 1);
            let reply = hostile(&mut client, wire, &frame, &context).await;
            assert_result(&reply, &json!(nan), &json!(1), &context);
            // No id is NaN or infinite: the request is invalid.
            let template =
                json!({"jsonrpc": "2.0", "method": "sum", "params": [1], "placeholder": 0});
            let frame = frame_with(wire, &template, "id", &float);
            assert_rejected(&mut client, wire, &frame, INVALID_REQUEST, &context).await;
        }
    }
    support::stop(server).await;
}

/// A 100 MiB string in params: the body is over the 10 MiB default limit,
/// so it is refused with 413 before it is read. With `Content-Length` the
/// request is headers only (the body never comes); chunked, the client
/// sends a little over 10 MiB of a chunk announced as 100 MiB, and the 413
/// comes while the rest is still unsent.
#[tokio::test]
async fn a_100_mib_body_is_refused_before_it_is_read() {
    let _guard = support::shared().await;
    let server = support::start(router()).await;
    let addr = server.local_addr();
    for wire in Wire::ALL {
        let context = format!("{wire:?}");
        let envelope = wire.encode(&request("echo", json!(["x"]), json!(1)));
        let length = envelope.len() + 100 * MIB;

        // Declared length: headers only.
        let mut client = Client::connect(addr).await;
        client
            .write(&support::post_head(
                wire.path(),
                Some(wire.content_type()),
                Some(length),
            ))
            .await;
        let response = client.response().await;
        assert_eq!(response.status, 413, "{context}: {}", response.text());
        client.expect_closed().await;

        // Chunked: one chunk announced as 100 MiB, 10 MiB + 64 KiB of it sent.
        let mut client = Client::connect(addr).await;
        let mut request = support::post_head(wire.path(), Some(wire.content_type()), None);
        request.extend_from_slice(format!("{length:x}\r\n").as_bytes());
        request.extend_from_slice(&envelope);
        request.resize(request.len() + 10 * MIB + 64 * 1024, b'x');
        let (response, written) = client.write_until_response(&request).await;
        assert_eq!(response.status, 413, "{context}: {}", response.text());
        assert!(written <= request.len() && written < length, "{context}");

        // And the server goes on.
        let mut client = Client::connect(addr).await;
        assert_serves(&mut client, wire, &context).await;
    }
    support::stop(server).await;
}

/// Length headers inside small frames claiming 100 MiB (strings, byte
/// strings, arrays, maps, a batch): each is a truncated frame, -32700, and
/// nothing near that size is allocated.
#[tokio::test]
async fn length_headers_claiming_100_mib_allocate_nothing() {
    // Alone: the allocation count covers the whole process.
    let _guard = support::exclusive().await;
    let server = support::start(router()).await;
    let mut client = Client::connect(server.local_addr()).await;
    let claim = (100 * MIB as u32).to_be_bytes();
    let with_claim = |head: &[u8], rest: &[u8]| [head, &claim, rest].concat();
    let mut cases: Vec<(Wire, &str, Vec<u8>)> = Vec::new();
    for wire in [Wire::Cbor, Wire::MsgPack] {
        let (text, bytes, array, map): (u8, u8, u8, u8) = if wire == Wire::Cbor {
            (0x7a, 0x5a, 0x9a, 0xba)
        } else {
            (0xdb, 0xc6, 0xdd, 0xdf)
        };
        let one = if wire == Wire::Cbor { 0x81 } else { 0x91 };
        let template = json!({"jsonrpc": "2.0", "method": "echo", "id": 1, "placeholder": 0});
        let member = |item: Vec<u8>, name: &str| frame_with(wire, &template, name, &item);
        cases.extend([
            (wire, "method text", {
                let frame = wire.encode(&json!({"jsonrpc": "2.0", "id": 1, "method": 0}));
                [&frame[..frame.len() - 1], &with_claim(&[text], b"echo")].concat()
            }),
            (
                wire,
                "params text",
                member(
                    [&[one][..], &with_claim(&[text], b"abc")].concat(),
                    "params",
                ),
            ),
            (
                wire,
                "params bytes",
                member(
                    [&[one][..], &with_claim(&[bytes], b"abc")].concat(),
                    "params",
                ),
            ),
            (
                wire,
                "params array",
                member(with_claim(&[array], &[1, 2, 3]), "params"),
            ),
            (
                wire,
                "params map",
                member(with_claim(&[map], &wire.encode(&json!("k"))), "params"),
            ),
            (wire, "id text", member(with_claim(&[text], b"1"), "id")),
            (
                wire,
                "unknown member",
                member(with_claim(&[bytes], b"abc"), "x"),
            ),
            (
                wire,
                "batch",
                with_claim(
                    &[array],
                    &wire.encode(&request("sum", json!([1]), json!(1))),
                ),
            ),
        ]);
    }
    // Warm up the connection and the server, so that their buffers are not
    // counted below.
    for wire in [Wire::Cbor, Wire::MsgPack] {
        assert_serves(&mut client, wire, "warm-up").await;
    }
    let region = Region::new(support::GLOBAL);
    for (wire, what, frame) in &cases {
        assert!(frame.len() < 200, "{what}: small frames");
        let reply = client.rpc_bytes(*wire, frame).await.expect("a reply");
        assert_error(
            &reply,
            PARSE_ERROR,
            &Value::Null,
            &format!("{wire:?}: {what}"),
        );
    }
    let change = region.change();
    // Growth by reallocation is counted in `bytes_allocated` too.
    let allocated = change.bytes_allocated;
    assert!(
        allocated < 4 * MIB,
        "{} frames claiming 100 MiB each allocated {allocated} bytes",
        cases.len()
    );
    for wire in [Wire::Cbor, Wire::MsgPack] {
        assert_serves(&mut client, wire, "after the claims").await;
    }
    drop(client);
    support::stop(server).await;
}
