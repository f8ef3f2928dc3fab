//! Run with `cargo run -p rpckit-examples --bin quickstart -- --addr 127.0.0.1:7001`
//!
//! The port of flaskJSONRPCServer's README example. `/api` serves `random`
//! (an integer in 0..65535), `echo` (param `data`, default "Hello world!",
//! alias `helloworld`), `myip`, `setcookie`, `big`, and `header` (the value
//! of the request header its param names, or `null`: what reaches a
//! handler); `/api2` serves its own `random` (a float with one decimal).
//! CORS is permissive (any page may call, without cookies) and JSONP is
//! on, except for `setcookie`, which changes state and so answers JSONP
//! with 403. `big` (600 kB of text) is
//! compressed for clients that accept it; nothing else is. `stats` answers
//! `/api`'s speed statistics (the original's `stats(inMS=False)`: param
//! `inMS`, durations in milliseconds when true, else seconds), and
//! `/metrics` serves both paths' statistics to Prometheus. Try:
//!
//! ```text
//! curl -s http://127.0.0.1:7001/api -H 'Content-Type: application/json' \
//!      -d '{"jsonrpc":"2.0","method":"echo","params":["hi"],"id":1}'
//! curl -s 'http://127.0.0.1:7001/api/echo?data=test&jsonp=cb'
//! # /**/cb("test");
//! curl -s --compressed -o /dev/null -w '%{size_download} bytes\n' \
//!      http://127.0.0.1:7001/api -H 'Content-Type: application/json' \
//!      -d '{"jsonrpc":"2.0","method":"big","id":1}'
//! curl -s http://127.0.0.1:7001/api -H 'Content-Type: application/json' \
//!      -d '{"jsonrpc":"2.0","method":"stats","params":{"inMS":true},"id":1}'
//! curl -s http://127.0.0.1:7001/metrics
//! ```

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use rpckit::extract::Params;
use rpckit::http::cookie::Cookie;
use rpckit::http::{ClientIp, Cors, RequestHeaders, ResponseHandle};
use rpckit::stats::{PrometheusService, Stats, Unit};
use rpckit::{ErrorObject, Router};
use serde::Deserialize;

#[derive(Deserialize)]
struct Echo {
    #[serde(default = "hello_world")]
    data: serde_json::Value,
}

fn hello_world() -> serde_json::Value {
    "Hello world!".into()
}

/// The params of `stats`.
#[derive(Deserialize)]
struct StatsParams {
    #[serde(default, rename = "inMS")]
    in_ms: bool,
}

/// A fresh random 64-bit number from the standard library's hasher seeds.
fn random_u64() -> u64 {
    RandomState::new().hash_one(0_u8)
}

fn api() -> Router {
    Router::new()
        .sync_method("random", || (random_u64() % 65_536) as u16)
        .sync_method(["echo", "helloworld"], |Params(p): Params<Echo>| p.data)
        .sync_method("myip", |ClientIp(ip): ClientIp| ip.to_string())
        .sync_method(
            "setcookie",
            |ClientIp(ip): ClientIp, response: ResponseHandle| {
                let cookie = Cookie::build(("myTestCookie", format!("Your IP is {ip}")))
                    .path("/")
                    .http_only(true)
                    .build();
                response.set_cookie(cookie);
                "Cookie set"
            },
        )
        .sync_method("big", || "foobar".repeat(100_000))
        .sync_method(
            "header",
            |Params((name,)): Params<(String,)>, headers: RequestHeaders| {
                headers
                    .get(name.as_str())
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned)
            },
        )
        .sync_method("stats", |stats: Stats, Params(p): Params<StatsParams>| {
            let unit = if p.in_ms {
                Unit::Milliseconds
            } else {
                Unit::Seconds
            };
            Ok::<_, ErrorObject>(stats.snapshot(unit))
        })
        .configure("setcookie", |settings| settings.jsonp(false))
        .configure("big", |settings| settings.compression(true))
}

fn api2() -> Router {
    Router::new().sync_method("random", || (random_u64() % 10) as f64 / 10.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    rpckit_examples::init_tracing();
    let addr = rpckit_examples::addr_from_args()?;
    let (api, api2) = (api(), api2());
    let metrics = PrometheusService::new(api.stats_handle().into_iter().chain(api2.stats_handle()));
    let server = rpckit::http::Server::builder()
        .route("/api", api)
        .route("/api2", api2)
        .service("/metrics", metrics)
        .cors(Cors::permissive())
        .jsonp(true)
        .bind(addr)
        .await?;
    println!(
        "quickstart listening on http://{}/api and /api2 (metrics at /metrics)",
        server.local_addr()
    );
    server.serve().await?;
    Ok(())
}
