//! Run with `cargo run -p rpckit-examples --bin tcp_server -- --addr 127.0.0.1:7001 --framing newline --codec json`
//!
//! The JSON-RPC 2.0 specification's methods plus `echo` over TCP, in any
//! framing (`--framing newline|length|lsp`, default newline) and codec
//! (`--codec json|simd-json|cbor|msgpack`, default json; newline framing
//! takes only the JSON ones). `echo` returns its one param (positional
//! `[x]` or named `{"data": x}`); `whoami` returns the connection's id
//! and peer address. Try it: `echo '{"jsonrpc":"2.0","method":"echo","params":["hi"],"id":1}' | nc 127.0.0.1 7001`.

use std::sync::Arc;

use anyhow::Context;
use rpckit::codec::{Codecs, PeerAddr, SimdJsonCodec};
use rpckit::tcp::{ConnectionId, Framing, Server};
use rpckit::Endpoint;
use rpckit_examples::spec;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    rpckit_examples::init_tracing();
    let addr = rpckit_examples::addr_from_args()?;
    let framing: Framing = rpckit_examples::flag_value("--framing")
        .unwrap_or_else(|| "newline".into())
        .parse()?;
    let codec = rpckit_examples::flag_value("--codec").unwrap_or_else(|| "json".into());
    let methods = spec::router(Arc::new(spec::Notified::default()))
        .merge(rpckit_examples::echo::router())
        .sync_method("whoami", |id: ConnectionId, peer: PeerAddr| {
            serde_json::json!({"connection": id.0, "peer": peer.0.to_string()})
        });
    let endpoint = Endpoint::new(methods).codecs(Codecs::default().with(SimdJsonCodec::default()));
    let server = Server::builder(endpoint)
        .framing(framing)
        .codec_named(&codec)
        .context("--codec")?
        .bind(addr)
        .await?;
    println!(
        "tcp_server listening on {} ({framing}, {codec})",
        server.local_addr()
    );
    server.serve().await?;
    Ok(())
}
