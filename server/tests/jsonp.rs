//! JSONP through the real stack: the HTTP transport, the codec and rpc
//! layers, the router and typed handlers, over raw HTTP/1.1.

use std::net::SocketAddr;

use rpckit::extract::{Extension, Params};
use rpckit::http::{JsonpRequest, ResponseHandle, Server, ServerHandle};
use rpckit::Router;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Deserialize)]
struct Sum {
    a: i64,
    b: f64,
    #[serde(default)]
    negate: bool,
}

fn api() -> Router {
    Router::new()
        .sync_method("sum", |Params(p): Params<Sum>| {
            let sum = p.a as f64 + p.b;
            if p.negate {
                -sum
            } else {
                sum
            }
        })
        .sync_method(["account", "whoami"], || "secret")
        .sync_method("open", || "public")
        .sync_method("explicit", || "allowed")
        .sync_method("wrapped", |response: ResponseHandle| {
            response.set_jsonp_callback("handler.cb").unwrap();
            response.insert_header(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/javascript; charset=utf-8"),
            );
            "rewrapped"
        })
        .sync_method(
            "how",
            |jsonp: Option<Extension<JsonpRequest>>| match jsonp {
                Some(Extension(jsonp)) => format!("jsonp {}", jsonp.callback().unwrap_or("-")),
                None => "post".to_owned(),
            },
        )
        .configure("whoami", |settings| settings.jsonp(false))
        .configure("explicit", |settings| settings.jsonp(true))
}

async fn start(jsonp: bool) -> ServerHandle {
    Server::builder()
        .route("/api", api())
        .jsonp(jsonp)
        .bind("127.0.0.1:0")
        .await
        .unwrap()
        .spawn()
}

/// Status line, head and body of one raw request.
async fn raw(addr: SocketAddr, request: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut received),
    )
    .await
    .expect("answer in time")
    .unwrap();
    let text = String::from_utf8(received).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_owned())
}

async fn get(addr: SocketAddr, target: &str) -> (u16, String, String) {
    raw(
        addr,
        &format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
    .await
}

async fn post(addr: SocketAddr, body: &str) -> (u16, String, String) {
    raw(
        addr,
        &format!(
            "POST /api HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
    .await
}

#[tokio::test]
async fn typed_params_from_the_query() {
    let server = start(true).await;
    let addr = server.local_addr();
    let (status, head, body) = get(addr, "/api/sum?a=2&b=0.5&jsonp=cb").await;
    assert_eq!(status, 200);
    assert!(head.contains("content-type: application/javascript; charset=utf-8"));
    assert_eq!(body, "/**/cb(2.5);");
    let (_, _, body) = get(addr, "/api/sum?a=2&b=0.5&negate=true&jsonp=cb").await;
    assert_eq!(body, "/**/cb(-2.5);");
    let (status, _, body) = get(addr, "/api/sum?a=two&b=1&jsonp=cb").await;
    assert_eq!(status, 200);
    assert!(
        body.starts_with(r#"/**/cb({"error":{"code":-32602,"#),
        "{body}"
    );
    assert!(body.contains(r#""param":"a""#), "{body}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_method_that_forbids_jsonp_is_403_for_every_alias() {
    let server = start(true).await;
    let addr = server.local_addr();
    for method in ["account", "whoami"] {
        let (status, head, body) = get(addr, &format!("/api/{method}?jsonp=cb")).await;
        assert_eq!(status, 403, "{method}");
        assert!(head.contains("x-content-type-options: nosniff"));
        assert_eq!(
            body,
            format!(
                r#"/**/cb({{"error":{{"code":-32000,"message":"JSONP is not allowed for method `{method}`"}}}});"#
            )
        );
        // Over POST it is an ordinary method.
        let (status, _, body) = post(
            addr,
            &format!(r#"{{"jsonrpc":"2.0","method":"{method}","id":1}}"#),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body, r#"{"jsonrpc":"2.0","result":"secret","id":1}"#);
    }
    // Without a callback: still refused.
    let (status, _, body) = get(addr, "/api/account").await;
    assert_eq!(status, 403);
    assert!(body.contains("-32000"), "{body}");
    // Methods left to the server, or allowed, answer.
    assert_eq!(
        get(addr, "/api/open?jsonp=cb").await.2,
        r#"/**/cb("public");"#
    );
    assert_eq!(
        get(addr, "/api/explicit?jsonp=cb").await.2,
        r#"/**/cb("allowed");"#
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_method_cannot_turn_jsonp_on_for_a_server_without_it() {
    let server = start(false).await;
    let (status, head, _) = get(server.local_addr(), "/api/explicit?jsonp=cb").await;
    assert_eq!(status, 404);
    assert!(!head.contains("javascript"));
    let (status, _, _) = get(server.local_addr(), "/api?jsonp=cb").await;
    assert_eq!(status, 405);
    server.shutdown().await;
}

#[tokio::test]
async fn handlers_see_the_jsonp_marker_and_change_the_wrapper() {
    let server = start(true).await;
    let addr = server.local_addr();
    assert_eq!(
        get(addr, "/api/how?callback=c1").await.2,
        r#"/**/c1("jsonp c1");"#
    );
    assert_eq!(get(addr, "/api/how").await.2, r#""jsonp -""#);
    let (_, _, body) = post(addr, r#"{"jsonrpc":"2.0","method":"how","id":1}"#).await;
    assert_eq!(body, r#"{"jsonrpc":"2.0","result":"post","id":1}"#);

    let (status, head, body) = get(addr, "/api/wrapped?jsonp=cb").await;
    assert_eq!(status, 200);
    assert_eq!(body, r#"/**/handler.cb("rewrapped");"#);
    assert!(
        head.contains("content-type: text/javascript; charset=utf-8"),
        "{head}"
    );
    server.shutdown().await;
}
