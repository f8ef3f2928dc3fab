//! POST dispatch: codec negotiation, status codes, routing.

mod common;

use common::{echo, failing, post, send, silent, start};
use rpckit_http::Server;

const CALL: &str = r#"{"jsonrpc":"2.0","method":"ping","id":1}"#;

#[tokio::test]
async fn json_with_charset_is_answered_as_json() {
    let server = start(Server::builder().route("/rpc", echo())).await;
    let answer = send(
        server.local_addr(),
        post("/rpc", Some("application/json; charset=utf-8"), CALL),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.text(), CALL);
    server.shutdown().await;
}

#[tokio::test]
async fn every_media_type_of_a_codec_is_accepted_and_answered_with_its_first() {
    let server = start(Server::builder().route("/rpc", echo())).await;
    let addr = server.local_addr();
    let answer = send(addr, post("/rpc", Some("application/json-rpc"), CALL)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/json"));

    let answer = send(addr, post("/rpc", Some("Application/X-Other"), CALL)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/x-other"));

    // No Content-Type: the route's default codec.
    let answer = send(addr, post("/rpc", None, CALL)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    server.shutdown().await;
}

#[tokio::test]
async fn unsupported_media_type_is_415_naming_it() {
    let server = start(Server::builder().route("/rpc", echo())).await;
    let answer = send(
        server.local_addr(),
        post("/rpc", Some("text/plain; charset=utf-8"), CALL),
    )
    .await;
    assert_eq!(answer.status, 415);
    assert!(answer.text().contains("text/plain"), "{}", answer.text());
    server.shutdown().await;
}

#[tokio::test]
async fn no_answer_is_204_with_empty_body() {
    let server = start(Server::builder().route("/notify", silent())).await;
    let answer = send(
        server.local_addr(),
        post("/notify", Some("application/json"), CALL),
    )
    .await;
    assert_eq!(answer.status, 204);
    assert!(answer.body.is_empty());
    assert_eq!(answer.header("content-type"), None);
    server.shutdown().await;
}

#[tokio::test]
async fn several_routes_and_unknown_path_is_404() {
    let server = start(Server::builder().route("/a", echo()).route("/b", silent())).await;
    let addr = server.local_addr();
    assert_eq!(send(addr, post("/a", None, CALL)).await.status, 200);
    assert_eq!(send(addr, post("/b", None, CALL)).await.status, 204);
    assert_eq!(send(addr, post("/c", None, CALL)).await.status, 404);
    assert_eq!(send(addr, post("/a/", None, CALL)).await.status, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn other_method_is_405_with_allow() {
    let server = start(Server::builder().route("/rpc", echo())).await;
    for method in [http::Method::GET, http::Method::PUT, http::Method::DELETE] {
        let request = http::Request::builder()
            .method(method.clone())
            .uri("/rpc")
            .header("host", "localhost")
            .body(Default::default())
            .unwrap();
        let answer = send(server.local_addr(), request).await;
        assert_eq!(answer.status, 405, "{method}");
        assert_eq!(answer.header("allow"), Some("POST"), "{method}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn service_error_is_500_without_its_details() {
    let server = start(Server::builder().route("/rpc", failing())).await;
    let answer = send(server.local_addr(), post("/rpc", None, CALL)).await;
    assert_eq!(answer.status, 500);
    assert!(!answer.text().contains("secret"), "{}", answer.text());
    // The server lives on.
    let answer = send(server.local_addr(), post("/rpc", None, CALL)).await;
    assert_eq!(answer.status, 500);
    server.shutdown().await;
}

#[test]
#[should_panic(expected = "already")]
fn duplicate_path_panics() {
    let _ = Server::builder()
        .route("/rpc", echo())
        .route("/rpc", echo());
}

#[test]
#[should_panic(expected = "must start with `/`")]
fn relative_path_panics() {
    let _ = Server::builder().route("rpc", echo());
}
