//! Scripted conversations over newline-delimited TCP, in the format
//! go-ethereum uses for its RPC tests: `-->` lines are sent, `<--` lines
//! are the replies expected next. `conformance/spec.rpc` (the
//! specification's section 7 examples and more) and
//! `conformance/stream.rpc` (invalid and odd input on a stream) are
//! replayed on one connection each, to a real listener, one line at a
//! time. A case with no `<--` line must answer nothing: the next reply
//! read belongs to the next case, and a final sentinel request shows
//! that nothing stray was left.

mod script;
mod support;

use std::sync::Arc;

use rpckit::tcp::Server;
use rpckit_examples::spec;
use script::strip_messages;
use serde_json::Value;
use support::within;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;

struct Case {
    line: usize,
    request: String,
    expected: Vec<Value>,
}

fn cases(text: &str) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if let Some(request) = line.strip_prefix("-->") {
            // One space after the arrow is the format's; the rest is sent.
            let request = request.strip_prefix(' ').unwrap_or(request);
            cases.push(Case {
                line: index + 1,
                request: request.to_owned(),
                expected: Vec::new(),
            });
        } else if let Some(response) = line.strip_prefix("<--") {
            let case = cases.last_mut().expect("a response follows a request");
            case.expected
                .push(serde_json::from_str(response).expect("expected responses are JSON"));
        }
    }
    cases
}

/// The next reply line, parsed, its error messages stripped.
async fn next_reply(reader: &mut BufReader<OwnedReadHalf>) -> Value {
    let mut line = String::new();
    let n = within("a reply line", reader.read_line(&mut line))
        .await
        .expect("read");
    assert!(n > 0, "the server closed the connection");
    let mut value: Value = serde_json::from_str(line.trim_end())
        .unwrap_or_else(|err| panic!("reply {line:?} is not JSON: {err}"));
    strip_messages(&mut value);
    value
}

async fn replay(name: &str, text: &str) -> usize {
    let notified = Arc::new(spec::Notified::default());
    let server = Server::builder(spec::router(notified))
        .bind("127.0.0.1:0")
        .await
        .expect("bind")
        .spawn();
    let addr = server.local_addr().tcp().expect("TCP");
    let stream = within("connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let cases = cases(text);
    let sentinel =
        r#"{"jsonrpc": "2.0", "method": "subtract", "params": [2, 1], "id": "sentinel"}"#;
    for case in &cases {
        let mut bytes = case.request.clone().into_bytes();
        bytes.push(b'\n');
        writer.write_all(&bytes).await.expect("write");
        for expected in &case.expected {
            let mut expected = expected.clone();
            strip_messages(&mut expected);
            let got = next_reply(&mut reader).await;
            assert_eq!(
                got, expected,
                "{name}:{}: {} answered {got}, expected {expected}",
                case.line, case.request
            );
        }
    }
    writer
        .write_all(format!("{sentinel}\n").as_bytes())
        .await
        .expect("write");
    let got = next_reply(&mut reader).await;
    assert_eq!(
        got,
        serde_json::json!({"jsonrpc": "2.0", "result": 1, "id": "sentinel"}),
        "{name}: a stray reply was left before the sentinel's"
    );
    drop(writer);
    within("shutdown", server.shutdown()).await;
    cases.len()
}

#[tokio::test]
async fn the_specification_examples_over_newline_tcp() {
    let _guard = support::shared().await;
    let n = replay("spec.rpc", include_str!("conformance/spec.rpc")).await;
    assert!(n > 20, "the script was read: {n} cases");
}

#[tokio::test]
async fn invalid_and_odd_input_over_newline_tcp() {
    let _guard = support::shared().await;
    let n = replay("stream.rpc", include_str!("conformance/stream.rpc")).await;
    assert!(n > 15, "the script was read: {n} cases");
}
