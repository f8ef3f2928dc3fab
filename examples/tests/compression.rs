//! Compression decided by the whole stack over HTTP: a method's setting
//! (`Router::configure`), a handler's `ResponseHandle::allow_compression`,
//! the server default, and the batch rule (compress if any call allowed it
//! and none forbade it). The transport's own rules (negotiation, sizes,
//! codings, caps) are tested in `transport-http/tests/compression.rs`.

use std::io::{Read, Write};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rpckit::http::compression::Compression;
use rpckit::http::{ResponseHandle, Server, ServerHandle};
use rpckit::Router;
use serde_json::{json, Value};
use tokio::net::TcpStream;

fn long() -> String {
    "compressible ".repeat(500)
}

fn router() -> Router {
    Router::new()
        .sync_method("on", long)
        .sync_method("off", long)
        .sync_method("unset", long)
        .sync_method("handler_allows", |response: ResponseHandle| {
            response.allow_compression(true);
            long()
        })
        .configure("on", |s| s.compression(true))
        .configure("off", |s| s.compression(false))
}

async fn serve(compression: Compression) -> ServerHandle {
    Server::builder()
        .route("/api", router())
        .compression(compression)
        .bind("127.0.0.1:0")
        .await
        .unwrap()
        .spawn()
}

/// Posts `body` accepting gzip; returns the `Content-Encoding` and the
/// decoded JSON.
async fn post(
    server: &ServerHandle,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (Option<String>, Value) {
    let stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let (mut send, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut request = http::Request::post("/api")
        .header("host", "localhost")
        .header("content-type", "application/json")
        .header("accept-encoding", "gzip");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = send
        .send_request(request.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let coding = response
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let json = match coding.as_deref() {
        Some("gzip") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut out)
                .unwrap();
            out
        }
        None => body.to_vec(),
        Some(other) => panic!("unexpected coding {other}"),
    };
    (coding, serde_json::from_slice(&json).unwrap())
}

/// Whether calling `methods` (as a batch when several) got a gzip answer.
async fn compressed(server: &ServerHandle, methods: &[&str]) -> bool {
    let calls: Vec<Value> = methods
        .iter()
        .enumerate()
        .map(|(id, method)| json!({"jsonrpc": "2.0", "method": method, "id": id}))
        .collect();
    let body = if calls.len() == 1 {
        calls[0].clone()
    } else {
        Value::Array(calls)
    };
    let (coding, answer) = post(server, &[], body.to_string().into_bytes()).await;
    let answers = answer.as_array().cloned().unwrap_or_else(|| vec![answer]);
    assert_eq!(answers.len(), methods.len());
    for answer in answers {
        assert_eq!(answer["result"], long(), "{answer}");
    }
    coding.is_some()
}

#[tokio::test]
async fn methods_opt_in_when_the_server_default_is_off() {
    let server = serve(Compression::default()).await;
    assert!(compressed(&server, &["on"]).await);
    assert!(!compressed(&server, &["off"]).await);
    assert!(!compressed(&server, &["unset"]).await);
    assert!(compressed(&server, &["handler_allows"]).await);
    // Batches: any allowed and none forbade.
    assert!(compressed(&server, &["unset", "on"]).await);
    assert!(compressed(&server, &["handler_allows", "unset"]).await);
    assert!(!compressed(&server, &["on", "off"]).await);
    assert!(!compressed(&server, &["off", "handler_allows"]).await);
    assert!(!compressed(&server, &["unset", "unset"]).await);
    server.shutdown().await;
}

#[tokio::test]
async fn methods_opt_out_when_the_server_default_is_on() {
    let server = serve(Compression::default().enabled_by_default(true)).await;
    assert!(compressed(&server, &["on"]).await);
    assert!(!compressed(&server, &["off"]).await);
    assert!(compressed(&server, &["unset"]).await);
    assert!(compressed(&server, &["unset", "unset"]).await);
    assert!(!compressed(&server, &["unset", "off"]).await);
    server.shutdown().await;
}

#[tokio::test]
async fn a_notification_does_not_decide_for_the_calls_it_rides_with() {
    let server = serve(Compression::default()).await;
    let batch = json!([
        {"jsonrpc": "2.0", "method": "on", "id": 1},
        {"jsonrpc": "2.0", "method": "off"},
    ]);
    let (coding, answer) = post(&server, &[], batch.to_string().into_bytes()).await;
    assert_eq!(coding.as_deref(), Some("gzip"));
    assert_eq!(answer.as_array().unwrap().len(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn a_gzipped_request_reaches_the_handler_decoded() {
    let server = serve(Compression::default()).await;
    let request = json!({"jsonrpc": "2.0", "method": "on", "id": 7}).to_string();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(request.as_bytes()).unwrap();
    let gzipped = encoder.finish().unwrap();
    let (coding, answer) = post(&server, &[("content-encoding", "gzip")], gzipped).await;
    assert_eq!(coding.as_deref(), Some("gzip"));
    assert_eq!(answer["id"], 7);
    assert_eq!(answer["result"], long());
    server.shutdown().await;
}
