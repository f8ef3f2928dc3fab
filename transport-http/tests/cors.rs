//! CORS over raw HTTP/1.1: preflights (allowed, disallowed, with
//! credentials), the headers of actual answers (success, 204, errors,
//! JSONP), the `Allow` list, and a handler's override.

mod common;

use std::time::Duration;

use common::rpc::{stub, Calls};
use common::{raw, start, Answer};
use http::HeaderName;
use rpckit_http::{Cors, Server, ServerBuilder, ServerHandle};

const PAGE: &str = "http://page.test:8080";
const EVIL: &str = "http://evil.test";

async fn server(builder: ServerBuilder) -> ServerHandle {
    start(builder.route("/rpc", stub(Calls::default()))).await
}

fn list() -> Cors {
    Cors::allow_origins([PAGE, "https://other.test"])
        .allow_headers([HeaderName::from_static("token")])
        .max_age(Duration::from_secs(3600))
}

async fn preflight(server: &ServerHandle, path: &str, origin: &str, headers: &str) -> Answer {
    let mut head = format!(
        "OPTIONS {path} HTTP/1.1\r\nOrigin: {origin}\r\nAccess-Control-Request-Method: POST"
    );
    if !headers.is_empty() {
        head.push_str(&format!("\r\nAccess-Control-Request-Headers: {headers}"));
    }
    raw(server.local_addr(), &head).await
}

/// A POST of `body` from `origin` (none when empty).
async fn post_from(server: &ServerHandle, origin: &str, content_type: &str, body: &str) -> Answer {
    let mut request = http::Request::post("/rpc")
        .header("host", "localhost")
        .header("content-type", content_type);
    if !origin.is_empty() {
        request = request.header("origin", origin);
    }
    let request = request
        .body(http_body_util::Full::new(bytes::Bytes::copy_from_slice(
            body.as_bytes(),
        )))
        .unwrap();
    common::send(server.local_addr(), request).await
}

const CALL: &str = r#"{"jsonrpc":"2.0","method":"echo","params":["hi"],"id":1}"#;

#[tokio::test]
async fn off_by_default() {
    let server = server(Server::builder()).await;
    let answer = preflight(&server, "/rpc", PAGE, "").await;
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header("allow"), Some("POST"));
    assert!(answer.cors_headers().is_empty(), "{:?}", answer.headers);
    let answer = post_from(&server, PAGE, "application/json", CALL).await;
    assert_eq!(answer.status, 200);
    assert!(answer.cors_headers().is_empty(), "{:?}", answer.headers);
    assert!(!answer.varies_on("origin"));
    server.shutdown().await;
}

#[tokio::test]
async fn permissive_preflight() {
    let server = server(Server::builder().cors(Cors::permissive())).await;
    let answer = preflight(&server, "/rpc", EVIL, "content-type, x-anything").await;
    assert_eq!(answer.status, 204);
    assert!(answer.body.is_empty());
    assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        answer.header("access-control-allow-methods"),
        Some("POST, OPTIONS")
    );
    // Permissive echoes what the page asks to send.
    assert_eq!(
        answer.header("access-control-allow-headers"),
        Some("content-type, x-anything")
    );
    assert_eq!(answer.header("access-control-max-age"), Some("600"));
    assert_eq!(answer.header("access-control-allow-credentials"), None);
    assert!(answer.varies_on("origin"));
    assert!(answer.varies_on("access-control-request-headers"));

    // Asking for no headers: at least Content-Type.
    let answer = preflight(&server, "/rpc", EVIL, "").await;
    assert_eq!(
        answer.header("access-control-allow-headers"),
        Some("content-type")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn with_jsonp_get_joins_the_methods() {
    let server = server(Server::builder().cors(Cors::permissive()).jsonp(true)).await;
    let answer = preflight(&server, "/rpc", PAGE, "").await;
    assert_eq!(
        answer.header("access-control-allow-methods"),
        Some("POST, GET, OPTIONS")
    );
    assert_eq!(answer.header("allow"), Some("POST, GET, OPTIONS"));
    // A JSONP method path has its preflight too.
    let answer = preflight(&server, "/rpc/echo", PAGE, "").await;
    assert_eq!(answer.status, 204);
    assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
    // And 405s list every method.
    let answer = raw(server.local_addr(), "DELETE /rpc HTTP/1.1").await;
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header("allow"), Some("POST, GET, OPTIONS"));
    server.shutdown().await;
}

#[tokio::test]
async fn listed_origin_preflight() {
    let server = server(Server::builder().cors(list())).await;
    let answer = preflight(&server, "/rpc", PAGE, "content-type, token").await;
    assert_eq!(answer.status, 204);
    assert_eq!(answer.header("access-control-allow-origin"), Some(PAGE));
    assert_eq!(
        answer.header("access-control-allow-methods"),
        Some("POST, OPTIONS")
    );
    // The configured list, not an echo.
    assert_eq!(
        answer.header("access-control-allow-headers"),
        Some("content-type, token")
    );
    assert_eq!(answer.header("access-control-max-age"), Some("3600"));
    assert_eq!(answer.header("access-control-allow-credentials"), None);
    assert!(answer.varies_on("origin"));
    server.shutdown().await;
}

#[tokio::test]
async fn disallowed_origin_gets_no_cors_headers() {
    let server = server(Server::builder().cors(list())).await;
    for origin in [EVIL, "http://page.test", "http://page.test:8080/", "null"] {
        let answer = preflight(&server, "/rpc", origin, "content-type").await;
        assert_eq!(answer.status, 204, "{origin}");
        assert!(
            answer.cors_headers().is_empty(),
            "{origin}: {:?}",
            answer.headers
        );
        // Caches still learn that the answer depends on the origin.
        assert!(answer.varies_on("origin"));

        let answer = post_from(&server, origin, "application/json", CALL).await;
        assert_eq!(answer.status, 200);
        assert!(
            answer.cors_headers().is_empty(),
            "{origin}: {:?}",
            answer.headers
        );
        assert!(answer.varies_on("origin"));
    }
    server.shutdown().await;
}

#[tokio::test]
async fn credentials_echo_the_exact_origin() {
    let cors = list().allow_credentials(true);
    let server = server(Server::builder().cors(cors)).await;
    let answer = preflight(&server, "/rpc", PAGE, "content-type").await;
    assert_eq!(answer.header("access-control-allow-origin"), Some(PAGE));
    assert_eq!(
        answer.header("access-control-allow-credentials"),
        Some("true")
    );
    let answer = post_from(&server, PAGE, "application/json", CALL).await;
    assert_eq!(answer.header("access-control-allow-origin"), Some(PAGE));
    assert_eq!(
        answer.header("access-control-allow-credentials"),
        Some("true")
    );
    server.shutdown().await;

    // Permissive with credentials: any origin echoed, never `*`, never `null`.
    let cors = Cors::permissive().allow_credentials(true);
    let server = server_with(cors).await;
    let answer = preflight(&server, "/rpc", EVIL, "content-type").await;
    assert_eq!(answer.header("access-control-allow-origin"), Some(EVIL));
    assert_eq!(
        answer.header("access-control-allow-credentials"),
        Some("true")
    );
    let answer = post_from(&server, EVIL, "application/json", CALL).await;
    assert_eq!(answer.header("access-control-allow-origin"), Some(EVIL));
    let answer = preflight(&server, "/rpc", "null", "").await;
    assert!(answer.cors_headers().is_empty(), "{:?}", answer.headers);
    server.shutdown().await;
}

async fn server_with(cors: Cors) -> ServerHandle {
    server(Server::builder().cors(cors).jsonp(true)).await
}

#[tokio::test]
async fn every_actual_answer_carries_the_origin() {
    let cors = list()
        .allow_credentials(true)
        .expose_headers([HeaderName::from_static("x-handler")]);
    let server = server_with(cors).await;
    let check = |answer: &Answer, what: &str| {
        assert_eq!(
            answer.header("access-control-allow-origin"),
            Some(PAGE),
            "{what}: {:?}",
            answer.headers
        );
        assert_eq!(
            answer.header("access-control-allow-credentials"),
            Some("true"),
            "{what}"
        );
        assert_eq!(
            answer.header("access-control-expose-headers"),
            Some("x-handler"),
            "{what}"
        );
        assert!(answer.varies_on("origin"), "{what}");
        // Preflight-only headers stay out of actual answers.
        assert_eq!(
            answer.header("access-control-allow-methods"),
            None,
            "{what}"
        );
        assert_eq!(answer.header("access-control-max-age"), None, "{what}");
    };

    let answer = post_from(&server, PAGE, "application/json", CALL).await;
    assert_eq!(answer.status, 200);
    check(&answer, "200");

    let notification = r#"{"jsonrpc":"2.0","method":"echo","params":["hi"]}"#;
    let answer = post_from(&server, PAGE, "application/json", notification).await;
    assert_eq!(answer.status, 204);
    check(&answer, "204");

    let error = r#"{"jsonrpc":"2.0","method":"fail","id":1}"#;
    let answer = post_from(&server, PAGE, "application/json", error).await;
    assert!(answer.text().contains("failed"));
    check(&answer, "rpc error");

    let answer = post_from(&server, PAGE, "text/html", CALL).await;
    assert_eq!(answer.status, 415);
    check(&answer, "415");

    let origin = format!("Origin: {PAGE}");
    let answer = raw(
        server.local_addr(),
        &format!("GET /rpc/echo?data=x&jsonp=cb HTTP/1.1\r\n{origin}"),
    )
    .await;
    assert_eq!(answer.status, 200);
    check(&answer, "jsonp");

    let answer = raw(
        server.local_addr(),
        &format!("GET /rpc/echo?jsonp=a(b) HTTP/1.1\r\n{origin}"),
    )
    .await;
    assert_eq!(answer.status, 400);
    check(&answer, "400");

    let answer = raw(
        server.local_addr(),
        &format!("GET /rpc/forbidden?jsonp=cb HTTP/1.1\r\n{origin}"),
    )
    .await;
    assert_eq!(answer.status, 403);
    check(&answer, "403");

    let answer = raw(
        server.local_addr(),
        &format!("PUT /rpc HTTP/1.1\r\n{origin}"),
    )
    .await;
    assert_eq!(answer.status, 405);
    check(&answer, "405");

    let answer = raw(
        server.local_addr(),
        &format!("GET /nowhere HTTP/1.1\r\n{origin}"),
    )
    .await;
    assert_eq!(answer.status, 404);
    check(&answer, "404");

    // A plain OPTIONS (no requested method) is no preflight: 204 with Allow.
    let answer = raw(
        server.local_addr(),
        &format!("OPTIONS /rpc HTTP/1.1\r\n{origin}"),
    )
    .await;
    assert_eq!(answer.status, 204);
    assert_eq!(answer.header("allow"), Some("POST, GET, OPTIONS"));
    check(&answer, "plain OPTIONS");

    // No Origin, no CORS request: nothing but Vary.
    let answer = post_from(&server, "", "application/json", CALL).await;
    assert!(answer.cors_headers().is_empty(), "{:?}", answer.headers);
    assert!(answer.varies_on("origin"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_handler_overrides_a_cors_header() {
    let server = server_with(list()).await;
    let call = r#"{"jsonrpc":"2.0","method":"override_cors","id":1}"#;
    let answer = post_from(&server, PAGE, "application/json", call).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("http://override.test")
    );
    assert_eq!(answer.header("x-handler"), Some("yes"));
    // Even for an origin the policy refuses.
    let answer = post_from(&server, EVIL, "application/json", call).await;
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("http://override.test")
    );
    server.shutdown().await;
}

#[test]
#[should_panic(expected = "ends with `/`")]
fn an_origin_with_a_trailing_slash_panics() {
    let _ = Cors::allow_origins(["http://page.test/"]);
}
