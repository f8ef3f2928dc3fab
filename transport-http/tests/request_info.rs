//! What the transport tells a handler, and what a handler tells the client:
//! peer and client address, headers, cookies in and out.

mod common;

use std::convert::Infallible;
use std::net::IpAddr;

use common::{codecs, post, send, start, H1};
use http::header::HeaderName;
use http::HeaderValue;
use rpckit_codec::{Frame, PeerAddr};
use rpckit_http::cookie::time::Duration;
use rpckit_http::cookie::{Cookie, SameSite};
use rpckit_http::{
    ClientIp, RequestCookies, RequestHeaders, ResponseHandle, Route, RoutePath, Server,
};

/// Reports what it found in the frame's extensions, one fact per line, and
/// sets a header and cookies through the response handle. `answer: false`
/// answers `None`, to check the handle also applies to a 204.
fn inspect(answer: bool) -> Route {
    Route::new(
        codecs(),
        tower::service_fn(move |frame: Frame| async move {
            let ext = &frame.extensions;
            let peer = ext.get::<PeerAddr>().expect("PeerAddr");
            let client = ext.get::<ClientIp>().expect("ClientIp");
            let headers = ext.get::<RequestHeaders>().expect("RequestHeaders");
            let cookies = ext.get::<RequestCookies>().expect("RequestCookies");
            let response = ext.get::<ResponseHandle>().expect("ResponseHandle");
            let route = ext.get::<RoutePath>().expect("RoutePath");

            let cookie_list: Vec<String> =
                cookies.iter().map(|(n, v)| format!("{n}={v}")).collect();
            let report = format!(
                "path={}\npeer={}\nclient={}\nx-test={}\ncookies={}\nsession={}",
                route.as_str(),
                peer.0,
                client.0,
                headers.get("x-test").map_or("", |v| v.to_str().unwrap()),
                cookie_list.join(","),
                cookies.get("session").unwrap_or("-"),
            );

            response.insert_header(
                HeaderName::from_static("x-handled-by"),
                HeaderValue::from_static("inspect"),
            );
            response.set_cookie(
                Cookie::build(("session", "new-value"))
                    .domain("example.com")
                    .path("/rpc")
                    .secure(true)
                    .http_only(true)
                    .same_site(SameSite::Strict)
                    .max_age(Duration::hours(1))
                    .build(),
            );
            response.remove_cookie("old");

            let answer = answer.then(|| Frame::new(report, frame.codec.clone()));
            Ok::<_, Infallible>(answer)
        }),
    )
}

fn facts(text: &str) -> std::collections::HashMap<&str, &str> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .collect()
}

fn with_headers(pairs: &[(&str, &str)]) -> http::Request<http_body_util::Full<bytes::Bytes>> {
    let mut request = post("/rpc", None, "{}");
    for (name, value) in pairs {
        request.headers_mut().append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    request
}

#[tokio::test]
async fn peer_and_client_ip_without_trusted_proxies_ignore_forwarding_headers() {
    let server = start(Server::builder().route("/rpc", inspect(true))).await;
    let stream = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    let local = stream.local_addr().unwrap();
    drop(stream);

    let answer = send(
        server.local_addr(),
        with_headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-real-ip", "203.0.113.8"),
        ]),
    )
    .await;
    assert_eq!(answer.status, 200);
    let facts = facts(answer.text());
    assert_eq!(facts["client"], "127.0.0.1");
    assert_eq!(facts["path"], "/rpc");
    let peer: std::net::SocketAddr = facts["peer"].parse().unwrap();
    assert_eq!(peer.ip(), local.ip());
    server.shutdown().await;
}

#[tokio::test]
async fn trusted_proxy_forwards_the_rightmost_untrusted_address() {
    let localhost: IpAddr = "127.0.0.1".parse().unwrap();
    let server = start(
        Server::builder()
            .route("/rpc", inspect(true))
            .trusted_proxies([localhost]),
    )
    .await;
    let addr = server.local_addr();

    // The client forged 198.51.100.66; the proxy appended the real address.
    let answer = send(
        addr,
        with_headers(&[("x-forwarded-for", "198.51.100.66, 203.0.113.9")]),
    )
    .await;
    assert_eq!(facts(answer.text())["client"], "203.0.113.9");

    // X-Real-IP, set by the proxy, wins.
    let answer = send(
        addr,
        with_headers(&[
            ("x-forwarded-for", "198.51.100.66, 203.0.113.9"),
            ("x-real-ip", "203.0.113.7"),
        ]),
    )
    .await;
    assert_eq!(facts(answer.text())["client"], "203.0.113.7");

    // No forwarding headers: the proxy itself.
    let answer = send(addr, with_headers(&[])).await;
    assert_eq!(facts(answer.text())["client"], "127.0.0.1");
    server.shutdown().await;
}

#[tokio::test]
async fn headers_and_cookies_in() {
    let server = start(Server::builder().route("/rpc", inspect(true))).await;
    let answer = send(
        server.local_addr(),
        with_headers(&[
            ("x-test", "hello"),
            ("cookie", "session=abc; theme=dark"),
            ("cookie", "lang=en"),
        ]),
    )
    .await;
    let facts = facts(answer.text());
    assert_eq!(facts["x-test"], "hello");
    assert_eq!(facts["cookies"], "session=abc,theme=dark,lang=en");
    assert_eq!(facts["session"], "abc");
    server.shutdown().await;
}

fn check_set_cookies(answer: &common::Answer) {
    assert_eq!(answer.header("x-handled-by"), Some("inspect"));
    let cookies: Vec<&str> = answer
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    let session = cookies
        .iter()
        .find(|c| c.starts_with("session="))
        .expect("session cookie");
    let parsed = Cookie::parse(*session).unwrap();
    assert_eq!(parsed.value(), "new-value");
    assert_eq!(parsed.domain(), Some("example.com"));
    assert_eq!(parsed.path(), Some("/rpc"));
    assert_eq!(parsed.secure(), Some(true));
    assert_eq!(parsed.http_only(), Some(true));
    assert_eq!(parsed.same_site(), Some(SameSite::Strict));
    assert_eq!(parsed.max_age(), Some(Duration::hours(1)));
    let old = cookies
        .iter()
        .find(|c| c.starts_with("old="))
        .expect("removal cookie");
    let parsed = Cookie::parse(*old).unwrap();
    assert_eq!(parsed.value(), "");
    assert_eq!(parsed.max_age(), Some(Duration::ZERO));
}

#[tokio::test]
async fn headers_and_cookies_out_on_200() {
    let server = start(Server::builder().route("/rpc", inspect(true))).await;
    let answer = send(server.local_addr(), with_headers(&[])).await;
    assert_eq!(answer.status, 200);
    check_set_cookies(&answer);
    server.shutdown().await;
}

#[tokio::test]
async fn headers_and_cookies_out_on_204() {
    let server = start(Server::builder().route("/rpc", inspect(false))).await;
    let answer = send(server.local_addr(), with_headers(&[])).await;
    assert_eq!(answer.status, 204);
    check_set_cookies(&answer);
    server.shutdown().await;
}

#[tokio::test]
async fn each_request_gets_its_own_response_handle() {
    let server = start(Server::builder().route("/rpc", inspect(true))).await;
    let mut connection = H1::connect(server.local_addr()).await;
    for _ in 0..2 {
        let answer = connection.send(with_headers(&[])).await;
        // Not four: the first request's changes did not leak into the second.
        assert_eq!(answer.headers.get_all("set-cookie").iter().count(), 2);
    }
    server.shutdown().await;
}
