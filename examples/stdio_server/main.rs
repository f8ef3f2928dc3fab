//! Run with `cargo run -p rpckit-examples --bin stdio_server` (then speak LSP framing on its stdin)
//!
//! A language-server-style process: JSON-RPC over its own stdin and stdout
//! with the Language Server Protocol's framing (`Content-Length: N`,
//! `\r\n\r\n`, N bytes of JSON), the way editors run language servers. It
//! serves `echo` and the JSON-RPC 2.0 specification's methods, and exits
//! once stdin closes and every request read is answered.
//!
//! It listens on no address, so it takes no `--addr`, and stdout carries
//! the protocol alone: logs go to stderr. Try it:
//! `printf 'Content-Length: 56\r\n\r\n{"jsonrpc":"2.0","method":"echo","params":["hi"],"id":1}' | stdio_server`.

use std::sync::Arc;

use rpckit::tcp::{Framing, Server};
use rpckit_examples::spec;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    rpckit_examples::init_tracing();
    let methods =
        spec::router(Arc::new(spec::Notified::default())).merge(rpckit_examples::echo::router());
    let stdio = tokio::io::join(tokio::io::stdin(), tokio::io::stdout());
    tracing::info!("stdio_server serving LSP framing on stdin/stdout");
    Server::builder(methods)
        .framing(Framing::Lsp)
        // An editor may leave its language server idle for hours.
        .idle_timeout(None)
        .serve_stream(stdio)
        .await?;
    Ok(())
}
