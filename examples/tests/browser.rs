//! Run with `cargo test -p rpckit-examples --test browser`
//!
//! A real browser: headless Chromium loads a page from a second origin and
//! calls the API with `fetch` (CORS, with and without credentials) and with
//! JSONP `<script>` tags; the test reads what the page wrote into its DOM.
//!
//! Needs Debian's `chromium` (`.ci/test` installs it; `CHROMIUM=/path`
//! picks another binary). Without one the test fails, saying so, unless
//! `RPCKIT_SKIP_BROWSER=1` is set.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use rpckit::extract::Params;
use rpckit::http::cookie::{Cookie, SameSite};
use rpckit::http::{Cors, RequestCookies, ResponseHandle, Server, ServerHandle};
use rpckit::Router;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const PAGE: &str = include_str!("browser/page.html");

#[derive(Deserialize)]
struct Echo {
    data: serde_json::Value,
}

#[derive(Deserialize)]
struct Sum {
    a: i64,
    b: f64,
    #[serde(default)]
    negate: bool,
}

fn api() -> Router {
    Router::new()
        .sync_method(
            "echo",
            |Params(p): Params<Echo>, response: ResponseHandle| {
                // One header the CORS policy exposes to pages, one it does not.
                response.insert_header(
                    http::HeaderName::from_static("x-served-by"),
                    http::HeaderValue::from_static("rpckit"),
                );
                response.insert_header(
                    http::HeaderName::from_static("x-hidden"),
                    http::HeaderValue::from_static("not exposed"),
                );
                p.data
            },
        )
        .sync_method("sum", |Params(p): Params<Sum>| {
            let sum = p.a as f64 + p.b;
            if p.negate {
                -sum
            } else {
                sum
            }
        })
        .sync_method("separators", || "a\u{2028}b\u{2029}c")
        .sync_method("setcookie", |response: ResponseHandle| {
            response.set_cookie(
                Cookie::build(("session", "s3cret"))
                    .path("/")
                    .http_only(true)
                    .same_site(SameSite::Lax)
                    .build(),
            );
            "cookie set"
        })
        .sync_method("getcookie", |cookies: RequestCookies| {
            cookies.get("session").map(str::to_owned)
        })
        .configure("setcookie", |settings| settings.jsonp(false))
}

/// The API: JSONP on, CORS for the page's origin with credentials.
async fn start_api(page_origin: &str) -> ServerHandle {
    Server::builder()
        .route("/api", api())
        .jsonp(true)
        .cors(
            Cors::allow_origins([page_origin])
                .allow_credentials(true)
                .allow_headers([http::HeaderName::from_static("token")])
                .expose_headers([http::HeaderName::from_static("x-served-by")]),
        )
        .bind("127.0.0.1:0")
        .await
        .expect("bind the API")
        .spawn()
}

/// Serves `html` for `GET /` on `listener`: the page's own origin.
fn serve_page(listener: TcpListener, html: String) {
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let html = html.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let is_page = request.starts_with(b"GET / ");
                let (status, body) = if is_page {
                    ("200 OK", html)
                } else {
                    ("404 Not Found", String::new())
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
}

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(path.into());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|candidate| candidate.is_file())
}

/// Loads `url` in headless Chromium and returns the DOM once the page's
/// work is done (virtual time runs until the network is idle, up to 10 s).
async fn dump_dom(chromium: &PathBuf, url: &str) -> String {
    let profile = std::env::temp_dir().join(format!(
        "rpckit-browser-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let output = tokio::time::timeout(
        Duration::from_secs(90),
        tokio::process::Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-dev-shm-usage",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(["--virtual-time-budget=10000", "--dump-dom", url])
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("chromium finished within 90 s")
    .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() && dom.contains("<html"),
        "chromium failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    dom
}

/// The `<li id="name">value</li>` entries the page wrote.
fn results(dom: &str) -> HashMap<String, String> {
    let mut found = HashMap::new();
    for piece in dom.split("<li id=\"").skip(1) {
        let Some((name, rest)) = piece.split_once("\">") else {
            continue;
        };
        let Some((value, _)) = rest.split_once("</li>") else {
            continue;
        };
        let value = value
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&nbsp;", "\u{a0}")
            .replace("&amp;", "&");
        found.insert(name.to_owned(), value);
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_and_jsonp_in_headless_chromium() {
    let Some(chromium) = chromium() else {
        if std::env::var_os("RPCKIT_SKIP_BROWSER").is_some() {
            println!("skipped: no chromium and RPCKIT_SKIP_BROWSER is set");
            return;
        }
        panic!(
            "no `chromium` on PATH: install it (`apt-get install chromium`, or run \
             `bash .ci/test`), point CHROMIUM at a binary, or set RPCKIT_SKIP_BROWSER=1"
        );
    };

    // Bind the page first: its origin is part of the API's CORS policy, and
    // the API's address part of the page.
    let page_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let page_addr = page_listener.local_addr().unwrap();
    let api = start_api(&format!("http://{page_addr}")).await;
    let html = PAGE.replace("__API__", &format!("http://{}", api.local_addr()));
    serve_page(page_listener, html);
    assert_ne!(page_addr.port(), api.local_addr().port(), "two origins");

    let dom = dump_dom(&chromium, &format!("http://{page_addr}/")).await;
    let got = results(&dom);
    let expect = [
        // CORS fetch, no credentials.
        ("fetch_plain", "\"hi\""),
        // A listed request header passes the preflight; an unlisted one not.
        ("fetch_token_header", "\"with token\""),
        ("fetch_unlisted_header", "blocked: TypeError"),
        // Credentials: the cookie is stored and sent only when included.
        ("set_cookie", "\"cookie set\""),
        ("cookie_omitted", "null"),
        ("cookie_included", "\"s3cret\""),
        // Only exposed headers are readable.
        ("read_exposed_header", r#"["rpckit",null]"#),
        // JSONP: named params from the query, coerced; errors in the callback.
        ("jsonp_echo", "\"x y\""),
        ("jsonp_sum", "-2.5"),
        (
            "jsonp_error",
            r#"{"error":{"code":-32601,"message":"Method not found: nope"}}"#,
        ),
        ("jsonp_separators", "true"),
        // A script tag carries the visitor's cookies: why JSONP is opt-in.
        ("jsonp_cookie", "\"s3cret\""),
        // A method that refuses JSONP answers 403: the script never runs.
        ("jsonp_forbidden", "script error"),
        ("done", "yes"),
    ];
    let mut wrong = Vec::new();
    for (name, want) in expect {
        match got.get(name) {
            Some(value) if value == want => {}
            other => wrong.push(format!("{name}: want {want}, got {other:?}")),
        }
    }
    assert!(wrong.is_empty(), "{}\n\nDOM:\n{dom}", wrong.join("\n"));
    api.shutdown().await;
}
