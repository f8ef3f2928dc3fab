//! The endpoint as a `tower::Service` (`ServerBuilder::into_service`):
//! nested into a real axum app over sockets, and called without sockets.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::routing::get;
use bytes::Bytes;
use common::{codecs, post, read, Answer, WAIT};
use http::{header, HeaderValue, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rpckit_codec::{Frame, PeerAddr};
use rpckit_http::cookie::Cookie;
use rpckit_http::{
    ClientIp, Compression, Cors, HttpError, HttpService, ResponseHandle, Route, Server,
};
use tokio::net::TcpStream;
use tower::ServiceExt;

/// Answers every frame with what it knows: its own name, the peer and the
/// client address in the frame's extensions (`none` when absent), and sets
/// a cookie through the response handle.
fn report(name: &'static str) -> Route {
    Route::new(
        codecs(),
        tower::service_fn(move |frame: Frame| async move {
            let ext = &frame.extensions;
            let peer = ext
                .get::<PeerAddr>()
                .map_or("none".to_owned(), |peer| peer.0.to_string());
            let client = ext
                .get::<ClientIp>()
                .map_or("none".to_owned(), |ip| ip.0.to_string());
            if let Some(response) = ext.get::<ResponseHandle>() {
                response.set_cookie(Cookie::new("route", name));
            }
            let text = format!("route={name}\npeer={peer}\nclient={client}");
            Ok::<_, Infallible>(Some(Frame::new(text, frame.codec.clone())))
        }),
    )
}

fn facts(answer: &Answer) -> std::collections::HashMap<String, String> {
    answer
        .text()
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Serves `app` like an application would, with the peer address in
/// axum's `ConnectInfo`.
async fn serve_axum(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

/// One request on a fresh connection; also returns the client's own
/// address, to compare with what the server saw.
async fn send_from(addr: SocketAddr, request: Request<Full<Bytes>>) -> (SocketAddr, Answer) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let local = stream.local_addr().unwrap();
    let (mut send, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let response = tokio::time::timeout(WAIT, send.send_request(request))
        .await
        .expect("response in time")
        .unwrap();
    (local, read(response).await)
}

async fn send(addr: SocketAddr, request: Request<Full<Bytes>>) -> Answer {
    send_from(addr, request).await.1
}

fn get_request(path: &str) -> Request<Full<Bytes>> {
    Request::get(path)
        .header("host", "localhost")
        .body(Full::default())
        .unwrap()
}

fn connect_info(extensions: &http::Extensions) -> Option<SocketAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0)
}

#[tokio::test]
async fn nested_routes_match_the_path_axum_leaves() {
    let nested = Server::builder()
        .route("/", report("root"))
        .route("/api", report("api"))
        .into_service();
    let whole = Server::builder()
        .route("/whole", report("whole"))
        .into_service();
    let app = axum::Router::new()
        .route("/health", get(|| async { "ok" }))
        .nest_service("/rpc", nested)
        .route_service("/whole", whole);
    let addr = serve_axum(app).await;

    for (path, route) in [
        ("/rpc", "root"),
        ("/rpc/", "root"),
        ("/rpc/api", "api"),
        ("/whole", "whole"),
    ] {
        let answer = send(addr, post(path, None, "{}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text());
        assert_eq!(facts(&answer)["route"], route, "{path}");
        // The handler's cookie arrives through the mount too.
        assert_eq!(
            answer.header("set-cookie"),
            Some(&*format!("route={route}"))
        );
    }
    let health = send(addr, get_request("/health")).await;
    assert_eq!((health.status, health.text()), (StatusCode::OK, "ok"));

    // A path under the prefix that is no route is rpckit's 404, in its
    // words; the full path is not a route of the nested service.
    let missing = send(addr, post("/rpc/nope", None, "{}")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.text(), "not found");
    let unstripped = send(addr, post("/rpc/rpc/api", None, "{}")).await;
    assert_eq!(unstripped.status, StatusCode::NOT_FOUND);
    // A route's other methods stay its 405.
    let get = send(addr, get_request("/rpc/api")).await;
    assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(get.header("allow"), Some("POST"));
}

#[tokio::test]
async fn peer_comes_from_connect_info_when_asked() {
    let service = || {
        Server::builder()
            .route("/", report("root"))
            .trusted_proxies(["127.0.0.1".parse().unwrap()])
    };
    let app = axum::Router::new()
        .nest_service(
            "/told",
            service().into_service().peer_addr_from(connect_info),
        )
        .nest_service("/untold", service().into_service());
    let addr = serve_axum(app).await;

    let (local, told) = send_from(addr, post("/told", None, "{}")).await;
    let told = facts(&told);
    assert_eq!(told["peer"], local.to_string());
    assert_eq!(told["client"], local.ip().to_string());

    // The peer is a trusted proxy, so its forwarding header is believed.
    let mut forwarded = post("/told", None, "{}");
    forwarded
        .headers_mut()
        .insert("x-forwarded-for", HeaderValue::from_static("192.0.2.9"));
    let told = facts(&send(addr, forwarded).await);
    assert_eq!(told["client"], "192.0.2.9");

    // Nothing says who the peer is: no address at all, and forwarding
    // headers are not believed from an unknown peer.
    let mut forwarded = post("/untold", None, "{}");
    forwarded
        .headers_mut()
        .insert("x-forwarded-for", HeaderValue::from_static("192.0.2.9"));
    let untold = facts(&send(addr, forwarded).await);
    assert_eq!(untold["peer"], "none");
    assert_eq!(untold["client"], "none");
}

#[tokio::test]
async fn peer_from_peer_addr_or_socket_addr_extension() {
    let service = Server::builder()
        .route("/api", report("api"))
        .into_service();
    let peer: SocketAddr = "198.51.100.4:5000".parse().unwrap();

    let mut request = post("/api", None, "{}");
    request.extensions_mut().insert(PeerAddr(peer));
    let answer = oneshot(&service, request).await;
    assert_eq!(facts(&answer)["peer"], peer.to_string());

    let mut request = post("/api", None, "{}");
    request.extensions_mut().insert(peer);
    let answer = oneshot(&service, request).await;
    assert_eq!(facts(&answer)["client"], "198.51.100.4");

    let answer = oneshot(&service, post("/api", None, "{}")).await;
    assert_eq!(facts(&answer)["peer"], "none");
}

/// Calls the service without sockets, as an axum app's tests would.
async fn oneshot(service: &HttpService, request: Request<Full<Bytes>>) -> Answer {
    let response = service.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
        version: parts.version,
    }
}

/// Echoes the frame, padded to `len` bytes with spaces (still valid JSON
/// for a JSON body), so compression has something to do.
fn padded_echo(len: usize) -> Route {
    Route::new(
        codecs(),
        tower::service_fn(move |frame: Frame| async move {
            let mut bytes = frame.bytes.to_vec();
            bytes.resize(len.max(bytes.len()), b' ');
            Ok::<_, Infallible>(Some(Frame::new(bytes, frame.codec.clone())))
        }),
    )
}

#[tokio::test]
async fn the_service_does_what_the_server_does() {
    let calls = common::rpc::Calls::default();
    let service = Server::builder()
        .route("/api", common::rpc::stub(calls.clone()))
        .route("/big", padded_echo(64 * 1024))
        .cors(Cors::permissive())
        .jsonp(true)
        .compression(Compression::default().enabled_by_default(true))
        .max_body_size(1024)
        .into_service();

    // CORS on an actual request and on a preflight.
    let mut request = post(
        "/api",
        Some("application/json"),
        r#"{"jsonrpc":"2.0","method":"echo","params":["x"],"id":1}"#,
    );
    request.headers_mut().insert(
        header::ORIGIN,
        HeaderValue::from_static("https://app.example"),
    );
    let answer = oneshot(&service, request).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
    assert!(
        answer.text().contains(r#""result":"x""#),
        "{}",
        answer.text()
    );
    let preflight = Request::options("/api")
        .header(header::ORIGIN, "https://app.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .body(Full::default())
        .unwrap();
    let preflight = oneshot(&service, preflight).await;
    assert_eq!(preflight.status, StatusCode::NO_CONTENT);
    assert!(preflight
        .header("access-control-allow-methods")
        .is_some_and(|methods| methods.contains("POST")));

    // JSONP on GET.
    let jsonp = oneshot(&service, get_request("/api/echo?data=test&jsonp=cb")).await;
    assert_eq!(jsonp.status, StatusCode::OK);
    assert_eq!(jsonp.text(), r#"/**/cb({"data":"test"});"#);
    assert_eq!(
        jsonp.header("content-type"),
        Some("application/javascript; charset=utf-8")
    );

    // Compression, negotiated from Accept-Encoding.
    let mut request = post("/big", Some("application/json"), "{}");
    request
        .headers_mut()
        .insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
    let big = oneshot(&service, request).await;
    assert_eq!(big.header("content-encoding"), Some("gzip"));
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&big.body[..]), &mut plain)
        .unwrap();
    assert_eq!(plain.len(), 64 * 1024);
    assert!(plain.starts_with(b"{}"));

    // The body limit.
    let body = "x".repeat(2048);
    let request = Request::post("/api")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    assert_eq!(
        oneshot(&service, request).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

/// Refuses every frame with 401, after setting a cookie the refusal must
/// not carry.
fn refusing() -> Route {
    Route::new(
        codecs(),
        tower::service_fn(|frame: Frame| async move {
            if let Some(response) = frame.extensions.get::<ResponseHandle>() {
                response.set_cookie(Cookie::new("leaked", "yes"));
            }
            Err::<Option<Frame>, _>(
                HttpError::new(StatusCode::UNAUTHORIZED, "a Token header is required")
                    .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Token")),
            )
        }),
    )
}

#[tokio::test]
async fn a_frame_service_answers_its_own_http_error() {
    let service = Server::builder()
        .route("/locked", refusing())
        .cors(Cors::permissive())
        .into_service();
    let mut request = post("/locked", None, "{}");
    request.headers_mut().insert(
        header::ORIGIN,
        HeaderValue::from_static("https://app.example"),
    );
    let answer = oneshot(&service, request).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.text(), "a Token header is required");
    assert_eq!(answer.header("www-authenticate"), Some("Token"));
    assert_eq!(
        answer.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    // CORS applies, so a page can read the refusal; the handle's cookie
    // does not.
    assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
    assert_eq!(answer.header("set-cookie"), None);
}

#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<HttpService>();
    send_sync::<HttpError>();
    send::<rpckit_http::Body>();
    send::<rpckit_http::service::ResponseFuture>();
}
