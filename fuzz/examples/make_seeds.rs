//! Writes the seed corpora under fuzz/seeds/: the specification's examples
//! (examples/tests/conformance/spec.rpc) in every format, plus the malformed
//! and edge cases of the codec tests. Run from anywhere:
//! `cargo run --manifest-path fuzz/Cargo.toml --example make_seeds`.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

const SPEC: &str = include_str!("../../examples/tests/conformance/spec.rpc");

// The frames of JsonCodec's fast-path tests: `ANSWERED` and `OTHERS`.
include!("../../codec/src/json/scan_frames.rs");

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let (json_texts, values) = spec_cases();
    let json = [json_texts.clone(), json_edge_cases()].concat();
    let cbor = [
        values.iter().map(to_cbor).collect(),
        cbor_edge_cases(),
        malformed_binary(&values, to_cbor),
    ]
    .concat();
    let msgpack = [
        values.iter().map(to_msgpack).collect(),
        msgpack_edge_cases(),
        malformed_binary(&values, to_msgpack),
    ]
    .concat();
    write(&root.join("decode_json"), &json);
    write(&root.join("decode_simd_json"), &json);
    write(&root.join("differential_json"), &json);
    let fast_path = ANSWERED
        .iter()
        .chain(OTHERS)
        .map(|text| text.as_bytes().to_vec());
    write(
        &root.join("json_fast_path"),
        &[fast_path.collect(), json.clone()].concat(),
    );
    write(&root.join("decode_cbor"), &cbor);
    write(&root.join("decode_msgpack"), &msgpack);

    // The endpoint: a selector byte (codec in bits 0-1, tight limits in
    // bit 2), then the body.
    let mut endpoint = Vec::new();
    let router_calls = router_calls();
    for (selector, bodies) in [
        (
            0u8,
            [
                json_texts.clone(),
                router_calls
                    .iter()
                    .map(|v| v.to_string().into_bytes())
                    .collect(),
            ]
            .concat(),
        ),
        (1, json.clone()),
        (
            2,
            [cbor.clone(), router_calls.iter().map(to_cbor).collect()].concat(),
        ),
        (
            3,
            [
                msgpack.clone(),
                router_calls.iter().map(to_msgpack).collect(),
            ]
            .concat(),
        ),
    ] {
        for body in bodies {
            endpoint.push([&[selector][..], &body].concat());
        }
    }
    for value in &router_calls {
        endpoint.push([&[4u8][..], value.to_string().as_bytes()].concat());
        endpoint.push([&[6u8][..], &to_cbor(value)].concat());
        endpoint.push([&[7u8][..], &to_msgpack(value)].concat());
    }
    write(&root.join("endpoint"), &endpoint);

    write(&root.join("jsonp_query"), &jsonp_queries());
    write(&root.join("decompress"), &compressed_bodies(&json_texts));

    let (newline, length, lsp) = framer_streams(&json_texts, &cbor);
    write(&root.join("frame_newline"), &newline);
    write(&root.join("frame_length"), &length);
    write(&root.join("frame_lsp"), &lsp);
    write(&root.join("stream"), &connections(&newline, &length, &lsp));
}

/// Seeds for the stream target: byte 0 picks the framing (bit 2: the
/// 64-byte limit), then the stream: the framer targets' streams (their two
/// leading bytes dropped), and calls of the target's own methods.
fn connections(newline: &[Vec<u8>], length: &[Vec<u8>], lsp: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let calls: Vec<Vec<u8>> = [
        json!({"jsonrpc": "2.0", "method": "echo", "params": ["hi"], "id": 1}),
        json!({"jsonrpc": "2.0", "method": "later", "params": {"a": [1, 2]}, "id": "x"}),
        json!([
            {"jsonrpc": "2.0", "method": "later", "params": [1], "id": 2},
            {"jsonrpc": "2.0", "method": "echo", "params": [2]},
            {"jsonrpc": "2.0", "method": "panic", "id": 3}
        ]),
        json!({"jsonrpc": "2.0", "method": "panic", "id": 4}),
        json!({"jsonrpc": "2.0", "method": "echo", "params": [5]}),
    ]
    .iter()
    .map(|call| call.to_string().into_bytes())
    .collect();
    let mut seeds = Vec::new();
    for (selector, streams) in [(0u8, newline), (1, length), (2, lsp)] {
        for (index, stream) in streams.iter().enumerate() {
            let tight = if index % 3 == 2 { 4 } else { 0 };
            seeds.push([&[selector | tight][..], &stream[2..]].concat());
        }
    }
    let framed = |frame: fn(&[u8]) -> Vec<u8>| {
        calls
            .iter()
            .flat_map(|call| frame(call))
            .collect::<Vec<u8>>()
    };
    seeds.push([vec![0], framed(|call| [call, b"\n"].concat())].concat());
    seeds.push(
        [
            vec![1],
            framed(|call| [&(call.len() as u32).to_be_bytes()[..], call].concat()),
        ]
        .concat(),
    );
    seeds.push(
        [
            vec![6],
            framed(|call| {
                [
                    format!("Content-Length: {}\r\n\r\n", call.len()).as_bytes(),
                    call,
                ]
                .concat()
            }),
        ]
        .concat(),
    );
    seeds
}

/// Streams for the framer targets: byte 0 the read size, byte 1 the limit
/// (newline: 1..=64 bytes; length and LSP: 4 times the byte), then the
/// stream: the spec's requests framed each way, split and joined at
/// various points, plus broken and oversize frames.
fn framer_streams(
    texts: &[Vec<u8>],
    binary: &[Vec<u8>],
) -> (Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let seed = |step: u8, max: u8, stream: Vec<u8>| [vec![step, max], stream].concat();
    let mut newline = Vec::new();
    let mut length = Vec::new();
    let mut lsp = Vec::new();
    for (index, group) in texts.chunks(4).enumerate() {
        let step = (index * 7 % 64) as u8;
        let mut lines = Vec::new();
        let mut crlf = Vec::new();
        for text in group {
            lines.extend_from_slice(text);
            lines.push(b'\n');
            crlf.extend_from_slice(text);
            crlf.extend_from_slice(b"\r\n\n  \n");
        }
        newline.push(seed(step, 63, lines.clone()));
        newline.push(seed(step, 20, crlf));
        lines.truncate(lines.len().saturating_sub(3));
        newline.push(seed(step, 63, lines));
    }
    for (index, group) in [texts, binary].concat().chunks(4).enumerate() {
        let step = (index * 5 % 64) as u8;
        let mut prefixed = Vec::new();
        let mut headed = Vec::new();
        for body in group {
            prefixed.extend_from_slice(&(body.len() as u32).to_be_bytes());
            prefixed.extend_from_slice(body);
            let header = if index % 2 == 0 {
                format!("Content-Length: {}\r\n\r\n", body.len())
            } else {
                format!(
                    "content-type: application/vscode-jsonrpc; charset=utf-8\r\nCONTENT-LENGTH:{}\r\n\r\n",
                    body.len()
                )
            };
            headed.extend_from_slice(header.as_bytes());
            headed.extend_from_slice(body);
        }
        length.push(seed(step, 255, prefixed));
        lsp.push(seed(step, 255, headed));
    }
    length.push(seed(3, 1, [&[0, 0, 1, 0][..], b"{}"].concat()));
    length.push(seed(1, 2, vec![0xff, 0xff, 0xff, 0xff]));
    for broken in [
        &b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}"[..],
        b"Content-Type: x\r\n\r\n{}",
        b"Content-Length: -1\r\n\r\n",
        b"Content-Length: 99999999999999999999\r\n\r\n",
        b"Content-Length: 1000\r\n\r\n{}",
        b"no colon\r\n\r\n",
        b"Content-Length: 2\n\n{}",
    ] {
        lsp.push(seed(2, 10, broken.to_vec()));
    }
    newline.push(seed(
        5,
        8,
        b"0123456789abcdef\n[1]\n0123456789\r\n{}".to_vec(),
    ));
    (newline, length, lsp)
}

/// URL tails as the JSONP GET route hands them to `QueryCodec`:
/// `method?query`.
fn jsonp_queries() -> Vec<Vec<u8>> {
    [
        "echo?data=x&jsonp=cb",
        "echo",
        "echo?",
        "helloworld?data=%F0%9F%98%80&times=3",
        "sum?a=1&b=-2.5&c=true&d=&e",
        "m?a=1&a=2&%ZZ=%&+=+&jsonp=jQuery123_456",
        "rpc.discover?x=1",
        "?data=x",
        "a%2Fb?data=%00%ff",
        "echo?callback=window.cb&data=%7B%22k%22%3A%5B1%5D%7D",
    ]
    .iter()
    .map(|q| q.as_bytes().to_vec())
    .collect()
}

/// Bodies for `decompress`: byte 0 the pause interval, byte 1 the length
/// of the `Content-Encoding` value that follows, then the body, compressed
/// by the server's own encoder in every coding (and not at all).
fn compressed_bodies(texts: &[Vec<u8>]) -> Vec<Vec<u8>> {
    use rpckit_http::compression::fuzzing::compress;
    let mut cases = Vec::new();
    for (index, text) in texts.iter().take(6).enumerate() {
        for coding in [
            "gzip",
            "deflate",
            "br",
            "zstd",
            "identity",
            "gzip, br",
            "x-unknown",
        ] {
            let body = compress(coding, text).map_or_else(|| text.clone(), |b| b.to_vec());
            let mut case = vec![index as u8, coding.len() as u8];
            case.extend_from_slice(coding.as_bytes());
            case.extend_from_slice(&body);
            cases.push(case);
        }
    }
    // A small bomb: a megabyte of zeros, compressed.
    let zeros = vec![0u8; 1 << 20];
    for coding in ["gzip", "zstd"] {
        let mut case = vec![0, coding.len() as u8];
        case.extend_from_slice(coding.as_bytes());
        case.extend_from_slice(&compress(coding, &zeros).expect("a known coding"));
        cases.push(case);
    }
    cases
}

/// Every request of the conformance file as text, and the ones that are
/// JSON as values (the binary codecs' seeds).
fn spec_cases() -> (Vec<Vec<u8>>, Vec<Value>) {
    let mut texts = Vec::new();
    let mut values = Vec::new();
    for line in SPEC.lines() {
        if let Some(request) = line.strip_prefix("-->") {
            let request = request.trim();
            texts.push(request.as_bytes().to_vec());
            if let Ok(value) = serde_json::from_str::<Value>(request) {
                values.push(value);
            }
        }
    }
    assert!(values.len() > 20, "the conformance file was read");
    values.extend(extra_values());
    (texts, values)
}

/// Requests that exercise the params types the targets ask for.
fn extra_values() -> Vec<Value> {
    vec![
        json!({"jsonrpc": "2.0", "method": "fields", "params": {"name": "n", "count": -3, "ratio": 0.5, "tags": ["a", "b"], "shape": {"Struct": {"w": 1.5, "h": null}}}, "id": 1}),
        json!({"jsonrpc": "2.0", "method": "fields", "params": ["n", 4, null, [], "Unit"], "id": "f"}),
        json!({"jsonrpc": "2.0", "method": "shapes", "params": ["Unit", {"Newtype": 7}, {"Tuple": [-2, "t"]}, {"Struct": {"w": 0.0, "h": -1e100}}], "id": 2}),
        json!({"jsonrpc": "2.0", "method": "tuple", "params": [1, "s", [1.5, -0.0, 1e300], "c"], "id": 3}),
        json!({"jsonrpc": "2.0", "method": "wide", "params": [-9223372036854775808i64, null, [3.4e38, 1e-46], "é"], "id": 4}),
        json!({"jsonrpc": "2.0", "method": "keyed", "params": {"1": true, "42": false, "4294967295": true}, "id": 5}),
        json!({"jsonrpc": "2.0", "method": "deep", "params": [[[[[[[[[[1]]]]]]]]]], "id": 6}),
        json!({"jsonrpc": "2.0", "method": "ids", "id": -9223372036854775808i64}),
        json!({"jsonrpc": "2.0", "method": "ids", "id": 1e-300}),
        json!({"jsonrpc": "2.0", "method": "ids", "id": ""}),
        json!({"jsonrpc": "2.0", "method": "m", "params": {"x": {"y": [null, true, "ü"]}}, "id": null, "extra": [1, {"k": []}]}),
        json!([{"jsonrpc": "2.0", "method": "a", "id": 1}, {"jsonrpc": "2.0", "method": "b", "id": 2}, {"jsonrpc": "2.0", "method": "c", "id": 3}]),
        json!([{"jsonrpc": "2.0", "method": "n"}]),
        json!({"jsonrpc": "2.0", "method": "m", "method": "m2", "id": 1}),
    ]
}

/// Calls of the endpoint target's methods.
fn router_calls() -> Vec<Value> {
    vec![
        json!({"jsonrpc": "2.0", "method": "echo", "params": [1, "two", {"3": [4.5]}], "id": 1}),
        json!({"jsonrpc": "2.0", "method": "e", "params": {"k": null}, "id": "e"}),
        json!({"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 2}),
        json!({"jsonrpc": "2.0", "method": "echo", "params": [1, 2, 4]}),
        json!({"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 1, "minuend": -9223372036854775808i64}, "id": 3}),
        json!({"jsonrpc": "2.0", "method": "fail", "params": [{"why": "x"}], "id": 4}),
        json!({"jsonrpc": "2.0", "method": "n", "id": 5}),
        json!({"jsonrpc": "2.0", "method": "panic", "id": 6}),
        json!([
            {"jsonrpc": "2.0", "method": "panic", "id": 7},
            {"jsonrpc": "2.0", "method": "n"},
            {"jsonrpc": "2.0", "method": "echo", "params": [], "id": 8},
            {"jsonrpc": "2.0", "method": "rpc.discover", "id": 9},
            5
        ]),
        json!([{"jsonrpc": "2.0", "method": "n"}, {"jsonrpc": "2.0", "method": "panic"}]),
    ]
}

fn json_edge_cases() -> Vec<Vec<u8>> {
    let deep = |n: usize| {
        format!(
            r#"{{"jsonrpc":"2.0","method":"m","params":{}1{},"id":1}}"#,
            "[".repeat(n),
            "]".repeat(n)
        )
    };
    let mut cases: Vec<String> = vec![
        String::new(),
        " ".into(),
        "{".into(),
        "[1,2".into(),
        "{} x".into(),
        "NaN".into(),
        "1".into(),
        r#""x""#.into(),
        "{}".into(),
        "null".into(),
        "[]".into(),
        "[[]]".into(),
        "\u{feff}{}".into(),
        r#"{"jsonrpc":"2.0","method":"m","params":null,"id":1}"#.into(),
        r#"{"jsonrpc":"2.0","method":"m","id":true}"#.into(),
        r#"{"jsonrpc":2.0,"method":"m","id":1}"#.into(),
        r#"{"jsonrpc":"2.0","method":"a\u0062","params":{"x":[1]},"id":null}"#.into(),
        r#"{"jsonrpc":"2.0","method":"m","params":[-0, -0.0, 0e0, 1E+2],"id":-0}"#.into(),
        r#"{"jsonrpc":"2.0","method":"m","params":[-170141183460469231731687303715884105728,"\ud83d\ude00",[3.4e38,1e39],"\u00e9"],"id":1}"#.into(),
        r#"{"jsonrpc":"2.0","method":"m","params":[18446744073709551616, -9223372036854775809],"id":1}"#.into(),
        r#"{"jsonrpc":"2.0","method":"m","params":[1e400, 1e-400, 123456789012345678901234567890],"id":1}"#.into(),
        r#"{"jsonrpc":"2.0","method":"m","params":["\ud800", "\udc00\ud800", "\ud83d\ude00"],"id":"\u00e9"}"#.into(),
        r#"{"jsonrpc":"2.0","method":"m","params":{"1":true,"\u0032":false," 3":true,"4 ":false,"-5":true},"id":1}"#.into(),
        r#"{"jsonrpc":"2.0","method":"m","params":{"a":1,"a":2},"id":1}"#.into(),
        r#"{"jsonrpc":"2.0","method":"m","params":["Unit",{"Newtype":1,"Tuple":[1,"x"]}],"id":1}"#.into(),
        r#"{"jsonrpc":"2.0","method":"m","params":[1.7976931348623157e308, 5e-324, 0.1, 2.2250738585072011e-308],"id":2.5e-5}"#.into(),
        "\t{\n\"jsonrpc\" : \"2.0\" ,\r\"method\":\"m\"}\n".into(),
        format!("[{}]", [r#"{"jsonrpc":"2.0","method":"a"}"#; 3].join(",")),
        deep(125),
        deep(126),
        deep(127),
        deep(128),
        "[".repeat(200),
        format!(r#"["{}", "\"[["]"#, "[".repeat(300)),
        format!(r#"{{"jsonrpc":"2.0","method":"m","id":{}}}"#, "9".repeat(400)),
    ];
    // Every prefix of one batch, for truncation paths.
    let batch = r#"[{"jsonrpc":"2.0","method":"sum","params":[1,2.5,"x",null,{"a":[true]}],"id":"1"},{"jsonrpc":"2.0","method":"n"}]"#;
    cases.extend(
        (1..batch.len())
            .step_by(7)
            .map(|len| batch[..len].to_owned()),
    );
    let mut bytes: Vec<Vec<u8>> = cases.into_iter().map(String::into_bytes).collect();
    bytes.push(b"{\"jsonrpc\":\"2.0\",\"method\":\"\xff\",\"id\":1}".to_vec());
    bytes.push(
        b"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":[\"\xc3\x28\"],\"id\":1}".to_vec(),
    );
    // Grammatical JSON serde_json cannot hold, as an entry, a frame and a
    // member name (codec/tests/fuzz_regressions.rs).
    bytes.extend(
        [
            r#"[1,2,1e999]"#,
            r#"[{"jsonrpc":"2.0","method":"m","id":1},"\ud800"]"#,
            "1e999",
            r#""\ud800""#,
            r#"{"jsonrpc":"2.0","method":"m","id":1,"\ud800":1}"#,
        ]
        .map(|text| text.as_bytes().to_vec()),
    );
    bytes
}

fn cbor_edge_cases() -> Vec<Vec<u8>> {
    let t = |s: &str| {
        let mut out = vec![0x60 | s.len() as u8];
        out.extend_from_slice(s.as_bytes());
        out
    };
    let request = |extra: &[(&[u8], &[u8])]| {
        let mut out = vec![0xa2 + extra.len() as u8];
        out.extend([t("jsonrpc"), t("2.0"), t("method"), t("m")].concat());
        for (k, v) in extra {
            out.extend_from_slice(k);
            out.extend_from_slice(v);
        }
        out
    };
    let id = t("id");
    let params = t("params");
    let mut cases = vec![
        vec![],
        vec![0xff],
        vec![0x1c],
        vec![0x9f, 0x01],
        vec![0x80],
        vec![0xa0],
        vec![0x9b, 0x40, 0, 0, 0, 0, 0, 0, 0],
        vec![0x81, 0x61, 0xff],
        // Ids of every CBOR kind.
        request(&[(&id, &[0xf9, 0x3e, 0x00])]),
        request(&[(&id, &[0xfa, 0x3f, 0xc0, 0, 0])]),
        request(&[(&id, &[0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])]),
        request(&[(&id, &[0x3b, 0x80, 0, 0, 0, 0, 0, 0, 0])]),
        request(&[(&id, &[0x7f, 0x61, b'a', 0x62, b'b', b'c', 0xff])]),
        request(&[(&id, &[0xc0, 0x61, b'x'])]),
        request(&[(&id, &[0xf7])]),
        request(&[(&id, &[0xf9, 0x7e, 0x00])]),
        request(&[(&id, &[0x41, 0x01])]),
        // Params: indefinite lengths, chunks, tags, bytes, simple values,
        // big negative integers, a bignum tag.
        request(&[
            (
                &params,
                &[
                    0x9f, 0x01, 0x7f, 0x61, b'a', 0xff, 0xbf, 0x61, b'k', 0xf6, 0xff, 0xff,
                ],
            ),
            (&id, &[0x02]),
        ]),
        request(&[
            (
                &params,
                &[0xc1, 0x82, 0x42, 1, 2, 0x5f, 0x41, 3, 0x40, 0xff],
            ),
            (&id, &[0x03]),
        ]),
        request(&[
            (
                &params,
                &[
                    0x84, 0xf0, 0xf8, 0x20, 0xf7, 0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                    0xff,
                ],
            ),
            (&id, &[0x04]),
        ]),
        request(&[
            (&params, &[0x81, 0xc2, 0x49, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
            (&id, &[0x05]),
        ]),
        request(&[(&params, &[0xa1, 0x01, 0xf5]), (&id, &[0x06])]),
        request(&[(&params, &[0xa1, 0x82, 0x01, 0x02, 0xf5]), (&id, &[0x07])]),
        request(&[
            (
                &params,
                &[0x81, 0xbf, 0x64, b'U', b'n', b'i', b't', 0xf6, 0xff],
            ),
            (&id, &[0x08]),
        ]),
        request(&[(&params, &[0x81, 0x5e]), (&id, &[0x09])]),
        request(&[(&params, &[0x81, 0x62, 0xc3, 0x28]), (&id, &[0x0a])]),
        request(&[
            (&params, &[0x9b, 0x40, 0, 0, 0, 0, 0, 0, 0, 0x01]),
            (&id, &[0x0b]),
        ]),
    ];
    // The self-describe tag around a request.
    let mut described = vec![0xd9, 0xd9, 0xf7];
    described.extend(request(&[(&id, &[0x01])]));
    cases.push(described);
    // An indefinite-length batch and map with a chunked key.
    let mut batch = vec![0x9f];
    batch.extend(request(&[(&id, &[0x01])]));
    batch.extend([0x01, 0xff]);
    cases.push(batch);
    let mut map = vec![
        0xbf, 0x7f, 0x63, b'j', b's', b'o', 0x64, b'n', b'r', b'p', b'c', 0xff,
    ];
    map.extend(
        [
            t("2.0"),
            t("method"),
            vec![0xd8, 0x20],
            t("call"),
            t("id"),
            vec![0x02, 0xff],
        ]
        .concat(),
    );
    cases.push(map);
    for opener in [0x81u8, 0x9f, 0xa1] {
        let mut deep = vec![opener; 130];
        deep.push(0x01);
        cases.push(deep);
    }
    cases
}

fn msgpack_edge_cases() -> Vec<Vec<u8>> {
    let t = |s: &str| rmp_serde::to_vec(s).unwrap();
    let request = |extra: &[(&[u8], &[u8])]| {
        let mut out = vec![0x82 + extra.len() as u8];
        out.extend([t("jsonrpc"), t("2.0"), t("method"), t("m")].concat());
        for (k, v) in extra {
            out.extend_from_slice(k);
            out.extend_from_slice(v);
        }
        out
    };
    let id = t("id");
    let params = t("params");
    let mut cases = vec![
        vec![],
        vec![0xc1],
        vec![0x90],
        vec![0x80],
        vec![0xdd, 0xff, 0xff, 0xff, 0xff],
        vec![0x91, 0xa1, 0xff],
        request(&[(&id, &[0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0])]),
        request(&[(&id, &[0xca, 0x3f, 0xc0, 0, 0])]),
        request(&[(&id, &[0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0])]),
        request(&[(&id, &[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])]),
        request(&[(&id, &[0xe0])]),
        request(&[(&id, &[0xd9, 0x01, b'x'])]),
        request(&[(&id, &[0xc4, 0x01, 0x00])]),
        request(&[(&id, &[0xd4, 0x01, 0x00])]),
        request(&[(&id, &[0xc3])]),
        request(&[
            (
                &params,
                &[0x93, 0xc4, 0x02, 1, 2, 0xc7, 0x01, 0x05, 0xaa, 0xc0],
            ),
            (&id, &[0x01]),
        ]),
        request(&[(&params, &[0x81, 0x01, 0xc3]), (&id, &[0x02])]),
        request(&[(&params, &[0x81, 0x92, 0x01, 0x02, 0xc3]), (&id, &[0x03])]),
        request(&[
            (
                &params,
                &[
                    0x91, 0x81, 0xa7, b'N', b'e', b'w', b't', b'y', b'p', b'e', 0x07,
                ],
            ),
            (&id, &[0x04]),
        ]),
        request(&[
            (&params, &[0xdc, 0x00, 0x02, 0xd0, 0x80, 0xcd, 0xff, 0xff]),
            (&id, &[0x05]),
        ]),
        request(&[(&params, &[0x91, 0xa2, 0xc3, 0x28]), (&id, &[0x06])]),
        request(&[(&params, &[0xdf, 0xff, 0xff, 0xff, 0xff]), (&id, &[0x07])]),
        request(&[(&params, &[0x91, 0xca, 0x7f, 0xc0, 0, 0]), (&id, &[0x08])]),
    ];
    let mut deep = vec![0x91u8; 130];
    deep.push(0x01);
    cases.push(deep);
    cases
}

/// Prefixes and a trailing byte for a few binary frames.
fn malformed_binary(values: &[Value], encode: fn(&Value) -> Vec<u8>) -> Vec<Vec<u8>> {
    let batch = values
        .iter()
        .find(|v| v.as_array().is_some_and(|a| a.len() > 4))
        .expect("the spec's batch");
    let frame = encode(batch);
    let mut cases: Vec<Vec<u8>> = (1..frame.len())
        .step_by(13)
        .map(|len| frame[..len].to_vec())
        .collect();
    let mut long = encode(&values[0]);
    long.push(0x00);
    cases.push(long);
    cases
}

fn to_cbor(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).expect("CBOR encodes");
    out
}

fn to_msgpack(value: &Value) -> Vec<u8> {
    rmp_serde::to_vec_named(value).expect("MessagePack encodes")
}

/// Replaces `dir`'s files with `cases`, named by their number.
fn write(dir: &PathBuf, cases: &[Vec<u8>]) {
    if dir.exists() {
        fs::remove_dir_all(dir).expect("old seeds removed");
    }
    fs::create_dir_all(dir).expect("seed folder");
    for (index, case) in cases.iter().enumerate() {
        fs::write(dir.join(format!("seed-{index:03}")), case).expect("seed written");
    }
    println!("{}: {} seeds", dir.display(), cases.len());
}
