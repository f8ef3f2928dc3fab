//! Run with `cargo run -p rpckit-examples --bin auth -- --addr 127.0.0.1:7001 [--token TOKEN] [--trust-localhost]`
//!
//! The port of flaskJSONRPCServer's auth example: `/api` is open to
//! everyone; `/apiAuth` serves the same methods plus `secret`, but only to
//! callers that send the header `Token: <token>` — the token given with
//! `--token`, or `demo-token` without it (a demo: pass your own). Anyone
//! else gets HTTP 401 with a plain-text reason and `WWW-Authenticate:
//! Token`, before the request is even decoded.
//!
//! The original also let in every caller from localhost. Here that is the
//! switch `--trust-localhost`, off by default: on a machine where every
//! test, tool and other user connects from 127.0.0.1 it would open the
//! guarded route to all of them. With the switch, a caller whose client IP
//! is a loopback address needs no token.
//!
//! The guard is a tower layer over the route's frame service
//! (`token::RequireTokenLayer`), so it fits any route, codec or transport.
//!
//! ```text
//! curl -s http://127.0.0.1:7001/apiAuth -H 'Content-Type: application/json' \
//!      -d '{"jsonrpc":"2.0","method":"secret","id":1}'
//! # this endpoint needs a `Token` header          (HTTP 401)
//! curl -s http://127.0.0.1:7001/apiAuth -H 'Token: demo-token' -H 'Content-Type: application/json' \
//!      -d '{"jsonrpc":"2.0","method":"secret","id":1}'
//! # {"jsonrpc":"2.0","result":"the launch codes","id":1}
//! ```

mod token;

use rpckit::extract::Params;
use rpckit::http::{ClientIp, Route};
use rpckit::{Endpoint, Router};
use tower::Layer;

use token::{Policy, RequireTokenLayer};

/// The token when `--token` is not given.
const DEFAULT_TOKEN: &str = "demo-token";

fn methods() -> Router {
    Router::new()
        .sync_method(
            ["echo", "helloworld"],
            |Params((text,)): Params<(String,)>| text,
        )
        .sync_method("myip", |ClientIp(ip): ClientIp| ip.to_string())
}

fn guarded(policy: Policy) -> Route {
    let router = methods().sync_method("secret", || "the launch codes");
    let (codecs, service) = Endpoint::new(router).into_parts();
    Route::new(codecs, RequireTokenLayer::new(policy).layer(service))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    rpckit_examples::init_tracing();
    let addr = rpckit_examples::addr_from_args()?;
    let token = rpckit_examples::flag_value("--token").unwrap_or_else(|| DEFAULT_TOKEN.to_owned());
    anyhow::ensure!(!token.is_empty(), "--token must not be empty");
    let trust_localhost = rpckit_examples::has_flag("--trust-localhost");
    let policy = Policy::token(token).trust_localhost(trust_localhost);

    let server = rpckit::http::Server::builder()
        .route("/api", methods())
        .route("/apiAuth", guarded(policy))
        .bind(addr)
        .await?;
    let addr = server.local_addr();
    println!(
        "auth listening on http://{addr}/api (open) and http://{addr}/apiAuth (Token header{})",
        if trust_localhost { " or localhost" } else { "" }
    );
    server.serve().await?;
    Ok(())
}
