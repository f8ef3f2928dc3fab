//! Run with `cargo run --release -p rpckit-examples --bin bench_server -- --addr 127.0.0.1:7001 --threads 1`
//!
//! The rpckit side of the load benchmark (`loadbench`): `echo` returns its
//! one param (positional `[x]` or named `{"data": x}`), `echo_struct`
//! deserialises its param into a typed [`Catalog`] and returns it. Served
//! at `/`, `/rpc` and `/api` with every codec by content type (JSON, CBOR,
//! MessagePack), and at `/simd` with SIMD-JSON decoding JSON. The transport
//! matches exact paths, so those are the paths; anything else is a 404.
//! JSONP is on (`GET /api/echo?data=x&jsonp=cb`, the `jsonp_get` scenario),
//! and `big` answers 2.1 MB of text, compressed for clients that accept it
//! (the `small_under_gzip` scenario); it runs on `Executor::Background`, as
//! a method that builds megabytes should, so that building and encoding
//! its answer yields the CPU to the small calls (`--big-inline` keeps it
//! on the runtime worker, to measure the difference).
//! With `--tcp-addr HOST:PORT` the same methods are also served on TCP,
//! one JSON message per line (printed on a second line as
//! `bench_server listening on tcp://HOST:PORT`).
//! No tracing subscriber: the comparison servers log nothing either.
//! Statistics are on, as by default; `--no-stats` switches them off (to
//! measure what recording them costs).

#[path = "../bench/shared.rs"]
mod shared;

use rpckit::codec::{Codecs, SimdJsonCodec};
use rpckit::exec::Executor;
use rpckit::extract::Params;
use rpckit::{Endpoint, ErrorObject, Router};
use serde::Deserialize;
use shared::{Catalog, EchoStruct};

#[derive(Deserialize)]
struct Echo {
    data: serde_json::Value,
}

fn methods(big_executor: Executor) -> Router {
    Router::new()
        .sync_method("echo", |Params(p): Params<Echo>| p.data)
        .sync_method(
            "echo_struct",
            |Params(p): Params<EchoStruct>| -> Result<Catalog, ErrorObject> { Ok(p.data) },
        )
        .sync_method("big", || "foobar".repeat(350_000))
        .configure("big", |settings| {
            settings.compression(true).executor(big_executor)
        })
}

fn main() -> anyhow::Result<()> {
    let addr = rpckit_examples::addr_from_args()?;
    let threads = shared::threads_from_args()?;
    let tcp_addr = rpckit_examples::flag_value("--tcp-addr")
        .map(|value| {
            value
                .parse::<std::net::SocketAddr>()
                .map_err(|err| anyhow::anyhow!("--tcp-addr {value}: {err} (expected HOST:PORT)"))
        })
        .transpose()?;
    shared::runtime(threads)?.block_on(async {
        let big_executor = if rpckit_examples::has_flag("--big-inline") {
            Executor::Inline
        } else {
            Executor::Background
        };
        let api = methods(big_executor).stats(!rpckit_examples::has_flag("--no-stats"));
        let simd =
            Endpoint::new(api.clone()).codecs(Codecs::default().with(SimdJsonCodec::default()));
        let tcp = match tcp_addr {
            Some(addr) => Some(rpckit::tcp::Server::builder(api.clone()).bind(addr).await?),
            None => None,
        };
        let server = rpckit::http::Server::builder()
            .route("/", api.clone())
            .route("/rpc", api.clone())
            .route("/api", api)
            .route("/simd", simd)
            .jsonp(true)
            // The idle scenarios hold 10,000 connections plus the probes;
            // loadbench raises the open-file limit with prlimit.
            .max_connections(100_000)
            .bind(addr)
            .await?;
        println!("bench_server listening on http://{}/", server.local_addr());
        match tcp {
            Some(tcp) => {
                println!("bench_server listening on {}", tcp.local_addr());
                tokio::try_join!(server.serve(), tcp.serve())?;
            }
            None => server.serve().await?,
        }
        Ok(())
    })
}
