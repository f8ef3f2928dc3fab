//! Run with `cargo run --release -p rpckit-examples --bin bench_jsonrpsee -- --addr 127.0.0.1:7001 --threads 1`
//!
//! The jsonrpsee 0.26 side of the load benchmark (`loadbench`): the same
//! `echo` and `echo_struct` as `bench_server`, on jsonrpsee's HTTP server
//! (which answers POSTs on every path). Its defaults are kept except the
//! connection limit, raised from 100 so the idle-connection scenario can
//! open 10,000.

#[path = "../bench/shared.rs"]
mod shared;

use jsonrpsee::server::{RpcModule, Server, ServerConfig};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use shared::{Catalog, EchoStruct};

#[derive(Deserialize)]
struct Echo {
    data: serde_json::Value,
}

/// Positional `[x]` or named `{"data": x}`, as rpckit's `Params` takes them.
fn one_param<T, N>(params: &Params<'_>, named: impl FnOnce(N) -> T) -> Result<T, ErrorObjectOwned>
where
    T: DeserializeOwned,
    N: DeserializeOwned,
{
    match params.as_str().map(str::trim_start) {
        Some(raw) if raw.starts_with('{') => params.parse::<N>().map(named),
        _ => params.one::<T>(),
    }
}

fn methods() -> anyhow::Result<RpcModule<()>> {
    let mut module = RpcModule::new(());
    module.register_method("echo", |params, _, _| {
        one_param(&params, |named: Echo| named.data)
    })?;
    module.register_method("echo_struct", |params, _, _| -> Result<Catalog, _> {
        one_param(&params, |named: EchoStruct| named.data)
    })?;
    Ok(module)
}

fn main() -> anyhow::Result<()> {
    let addr = rpckit_examples::addr_from_args()?;
    let threads = shared::threads_from_args()?;
    shared::runtime(threads)?.block_on(async {
        let config = ServerConfig::builder().max_connections(100_000).build();
        let server = Server::builder().set_config(config).build(addr).await?;
        println!(
            "bench_jsonrpsee listening on http://{}/",
            server.local_addr()?
        );
        let handle = server.start(methods()?);
        handle.stopped().await;
        Ok(())
    })
}
