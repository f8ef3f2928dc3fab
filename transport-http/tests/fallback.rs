//! `ServerBuilder::fallback`: every request no route takes goes to another
//! service on the same port — an axum `Router`, tower-http's `ServeDir`.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::extract::Extension;
use axum::routing::{get, post as axum_post};
use bytes::Bytes;
use common::{echo, post, send, send_h2, start};
use http::{header, HeaderValue, Request, StatusCode};
use http_body_util::Full;
use rpckit_codec::PeerAddr;
use rpckit_http::{ClientIp, Cors, Server};
use tower_http::services::ServeDir;

fn get_request(path: &str) -> Request<Full<Bytes>> {
    Request::get(path)
        .header("host", "localhost")
        .body(Full::default())
        .unwrap()
}

/// An ordinary web app: a page, a health check, a handler that reads the
/// body and one that reads what rpckit put into the extensions, and a 404
/// of its own.
fn site() -> axum::Router {
    axum::Router::new()
        .route("/", get(|| async { axum::response::Html("<h1>home</h1>") }))
        .route("/health", get(|| async { "healthy" }))
        .route(
            "/upload",
            axum_post(|body: String| async move { format!("got {body}") }),
        )
        .route(
            "/whoami",
            get(
                |Extension(PeerAddr(peer)): Extension<PeerAddr>,
                 Extension(ClientIp(ip)): Extension<ClientIp>| async move {
                    format!("{peer} {ip}")
                },
            ),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "site: no such page") })
}

#[tokio::test]
async fn an_axum_router_answers_every_other_path() {
    let server = start(
        Server::builder()
            .route("/api", echo())
            .cors(Cors::permissive())
            .fallback(site()),
    )
    .await;
    let addr = server.local_addr();

    let home = send(addr, get_request("/")).await;
    assert_eq!(home.status, StatusCode::OK);
    assert_eq!(home.text(), "<h1>home</h1>");
    assert_eq!(
        home.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let health = send_h2(addr, get_request("/health")).await;
    assert_eq!((health.status, health.text()), (StatusCode::OK, "healthy"));

    // The body reaches the fallback whole.
    let upload = send(addr, post("/upload", Some("text/plain"), "some bytes")).await;
    assert_eq!(upload.text(), "got some bytes");

    // Unknown paths are the fallback's 404, not rpckit's.
    let missing = send(addr, post("/nope", None, "{}")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.text(), "site: no such page");

    // Routes stay rpckit's, including their other methods.
    let rpc = send(addr, post("/api", Some("application/json"), "[1]")).await;
    assert_eq!((rpc.status, rpc.text()), (StatusCode::OK, "[1]"));
    let get_api = send(addr, get_request("/api")).await;
    assert_eq!(get_api.status, StatusCode::METHOD_NOT_ALLOWED);

    // The server's CORS policy is for its routes; the fallback's answer
    // is sent as the fallback made it.
    let mut request = get_request("/");
    request.headers_mut().insert(
        header::ORIGIN,
        HeaderValue::from_static("https://app.example"),
    );
    let home = send(addr, request).await;
    assert!(home.cors_headers().is_empty(), "{:?}", home.headers);
    let mut request = post("/api", Some("application/json"), "[1]");
    request.headers_mut().insert(
        header::ORIGIN,
        HeaderValue::from_static("https://app.example"),
    );
    assert_eq!(
        send(addr, request)
            .await
            .header("access-control-allow-origin"),
        Some("*")
    );

    server.shutdown().await;
}

#[tokio::test]
async fn the_fallback_learns_the_peer_and_client() {
    let server = start(
        Server::builder()
            .route("/api", echo())
            .trusted_proxies(["127.0.0.1".parse().unwrap()])
            .fallback(site()),
    )
    .await;
    let stream = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    let local: SocketAddr = stream.local_addr().unwrap();
    drop(stream);

    let mut request = get_request("/whoami");
    request
        .headers_mut()
        .insert("x-real-ip", HeaderValue::from_static("192.0.2.1"));
    let answer = send(server.local_addr(), request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let (peer, client) = answer.text().split_once(' ').unwrap();
    let peer: SocketAddr = peer.parse().unwrap();
    assert_eq!(peer.ip(), local.ip());
    // The peer is a trusted proxy: its X-Real-IP is the client.
    assert_eq!(client, "192.0.2.1");
    server.shutdown().await;
}

#[tokio::test]
async fn with_jsonp_on_get_below_a_route_is_rpckit_s() {
    let server = start(
        Server::builder()
            .route("/api", common::rpc::stub(Default::default()))
            .jsonp(true)
            .fallback(site()),
    )
    .await;
    let addr = server.local_addr();
    // `GET /api/<name>` is a JSONP call, even for a method that is not
    // there: its error is rpckit's, not the site's 404.
    let jsonp = send(addr, get_request("/api/echo?data=x&jsonp=cb")).await;
    assert_eq!(jsonp.text(), r#"/**/cb({"data":"x"});"#);
    let unknown = send(addr, get_request("/api/nope?jsonp=cb")).await;
    assert!(unknown.text().contains("-32601"), "{}", unknown.text());
    // Deeper, or beside the route, is the fallback's.
    for path in ["/api2", "/other/echo"] {
        let answer = send(addr, get_request(path)).await;
        assert_eq!(answer.text(), "site: no such page", "{path}");
    }
    server.shutdown().await;
}

/// A fresh directory under the system's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir =
            std::env::temp_dir().join(format!("rpckit-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn serve_dir_answers_static_files() {
    let dir = TempDir::new("static");
    std::fs::write(dir.0.join("hello.txt"), "hello from disk\n").unwrap();
    std::fs::create_dir(dir.0.join("css")).unwrap();
    std::fs::write(dir.0.join("css/site.css"), "h1 { color: red }").unwrap();

    let server = start(
        Server::builder()
            .route("/api", echo())
            .fallback(ServeDir::new(&dir.0)),
    )
    .await;
    let addr = server.local_addr();

    let hello = send(addr, get_request("/hello.txt")).await;
    assert_eq!(hello.status, StatusCode::OK);
    assert_eq!(hello.text(), "hello from disk\n");
    assert!(hello
        .header("content-type")
        .is_some_and(|kind| kind.starts_with("text/plain")));
    let css = send_h2(addr, get_request("/css/site.css")).await;
    assert_eq!(css.text(), "h1 { color: red }");
    assert_eq!(css.header("content-type"), Some("text/css"));
    let missing = send(addr, get_request("/missing.txt")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    // No escaping the directory.
    let escape = common::raw(addr, "GET /../../etc/passwd HTTP/1.1").await;
    assert_ne!(escape.status, StatusCode::OK);

    let rpc = send(addr, post("/api", Some("application/json"), "[2]")).await;
    assert_eq!(rpc.text(), "[2]");
    server.shutdown().await;
}

#[tokio::test]
async fn a_failing_fallback_is_500_without_details() {
    let failing = tower::service_fn(|_: Request<rpckit_http::Body>| async {
        Err::<http::Response<rpckit_http::Body>, _>(std::io::Error::other("secret detail"))
    });
    let server = start(Server::builder().route("/api", echo()).fallback(failing)).await;
    let answer = send(server.local_addr(), get_request("/anything")).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.text(), "internal server error");
    server.shutdown().await;
}

#[tokio::test]
async fn a_mounted_service_keeps_its_fallback() {
    let rpc = Server::builder()
        .route("/", echo())
        .fallback(site())
        .into_service();
    let app = axum::Router::new().nest_service("/rpc", rpc);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let rpc = send(addr, post("/rpc", Some("application/json"), "[3]")).await;
    assert_eq!(rpc.text(), "[3]");
    // `/rpc/health` arrives as `/health`, which no route takes.
    let health = send(addr, get_request("/rpc/health")).await;
    assert_eq!(health.text(), "healthy");
}
