//! Run with `cargo run --release -p rpckit-examples --bin bench_hyper -- --addr 127.0.0.1:7001 --threads 1`
//!
//! The HTTP limit of the load benchmark (`loadbench`): bare hyper 1
//! (HTTP/1.1, keep-alive, `TCP_NODELAY`) that reads each request body whole
//! and answers every request, on every path, with the same fixed
//! JSON-RPC-shaped body. No JSON is parsed or written.

#[path = "../bench/shared.rs"]
mod shared;

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const BODY: &[u8] = br#"{"jsonrpc":"2.0","result":"hello","id":1}"#;

async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // Read the body as every server must; a broken one still gets the answer.
    let _ = request.into_body().collect().await;
    let mut response = Response::new(Full::new(Bytes::from_static(BODY)));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

fn main() -> anyhow::Result<()> {
    let addr = rpckit_examples::addr_from_args()?;
    let threads = shared::threads_from_args()?;
    shared::runtime(threads)?.block_on(async {
        let listener = TcpListener::bind(addr).await?;
        println!(
            "bench_hyper listening on http://{}/",
            listener.local_addr()?
        );
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), hyper::service::service_fn(answer))
                    .await;
            });
        }
    })
}
