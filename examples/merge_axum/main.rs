//! Run with `cargo run -p rpckit-examples --bin merge_axum -- --addr 127.0.0.1:7001 [--mode axum-outside|rpckit-outside]`
//!
//! The port of flaskJSONRPCServer's "merge with another web app" example,
//! both ways round, with the same URLs either way:
//!
//! - `--mode axum-outside` (the default): an axum app serves `/` (an HTML
//!   page) and `/health`, and mounts rpckit with `nest_service("/api", …)`.
//!   axum strips the prefix, so the rpckit route is `/`, and JSONP's
//!   `GET /api/echo?data=x` arrives as `GET /echo`. The app is served with
//!   `into_make_service_with_connect_info`, and rpckit reads the caller's
//!   address from axum's `ConnectInfo` (`myip`).
//! - `--mode rpckit-outside`: an rpckit server serves `/api` and hands every
//!   other path to the same axum app, as its fallback.
//!
//! `/api` serves `echo` (alias `helloworld`), `myip`, and `mode` (which of
//! the two is running). Try:
//!
//! ```text
//! curl -s http://127.0.0.1:7001/health
//! curl -s http://127.0.0.1:7001/api -H 'Content-Type: application/json' \
//!      -d '{"jsonrpc":"2.0","method":"mode","id":1}'
//! curl -s 'http://127.0.0.1:7001/api/echo?text=hi&jsonp=cb'
//! ```

use std::net::SocketAddr;

use anyhow::bail;
use axum::extract::ConnectInfo;
use axum::response::Html;
use axum::routing::get;
use rpckit::extract::Params;
use rpckit::http::{ClientIp, Server, ServerBuilder};
use rpckit::Router;
use serde::Deserialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    AxumOutside,
    RpckitOutside,
}

impl Mode {
    fn from_args() -> anyhow::Result<Mode> {
        match rpckit_examples::flag_value("--mode").as_deref() {
            None | Some("axum-outside") => Ok(Mode::AxumOutside),
            Some("rpckit-outside") => Ok(Mode::RpckitOutside),
            Some(other) => bail!("--mode {other}: expected axum-outside or rpckit-outside"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Mode::AxumOutside => "axum-outside",
            Mode::RpckitOutside => "rpckit-outside",
        }
    }
}

#[derive(Deserialize)]
struct Echo {
    text: String,
}

fn api(mode: Mode) -> Router {
    Router::new()
        .sync_method(["echo", "helloworld"], |Params(p): Params<Echo>| p.text)
        .sync_method("myip", |ClientIp(ip): ClientIp| ip.to_string())
        .sync_method("mode", move || mode.name())
}

/// The ordinary web app: a page and a health check.
fn site(mode: Mode) -> axum::Router {
    let page = format!(
        "<!doctype html><title>merge_axum</title>\
         <h1>Served by axum</h1><p>mode: {}; JSON-RPC at <code>/api</code></p>",
        mode.name()
    );
    axum::Router::new()
        .route("/", get(move || async move { Html(page) }))
        .route("/health", get(|| async { "ok" }))
}

/// The rpckit side's settings, shared by both modes.
fn rpc() -> ServerBuilder {
    Server::builder().jsonp(true)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    rpckit_examples::init_tracing();
    let addr = rpckit_examples::addr_from_args()?;
    let mode = Mode::from_args()?;
    match mode {
        Mode::AxumOutside => {
            let rpc = rpc()
                // nested at `/api`: axum hands over `/api` as `/`
                .route("/", api(mode))
                .into_service()
                .peer_addr_from(|extensions| {
                    extensions
                        .get::<ConnectInfo<SocketAddr>>()
                        .map(|info| info.0)
                });
            let app = site(mode).nest_service("/api", rpc);
            let listener = tokio::net::TcpListener::bind(addr).await?;
            announce(mode, listener.local_addr()?);
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await?;
        }
        Mode::RpckitOutside => {
            let server = rpc()
                .route("/api", api(mode))
                .fallback(site(mode))
                .bind(addr)
                .await?;
            announce(mode, server.local_addr());
            server.serve().await?;
        }
    }
    Ok(())
}

fn announce(mode: Mode, addr: SocketAddr) {
    println!(
        "merge_axum ({}) listening on http://{addr}/ (axum: / and /health; JSON-RPC at /api)",
        mode.name()
    );
}
