//! Run with `cargo run --release -p rpckit-examples --bin bench_json_lines -- --addr 127.0.0.1:7001 --threads 1`
//!
//! The floor of any JSON-RPC server over newline-delimited TCP, for the
//! load benchmark's `pipelined_lines` scenario: bare tokio-util
//! `LinesCodec` (as `bench_lines`) plus the least JSON-RPC there is — each
//! line parsed by serde_json into a typed, borrowing request, `echo`'s
//! first param answered with a reply serialized by serde_json, one call
//! after the other on each connection. No batches, notifications, router,
//! extensions or concurrency: what rpckit's transport and endpoint cost
//! on top of parsing and writing JSON is its distance from this server,
//! as `bench_lines` shows the framing's.

#[path = "../bench/shared.rs"]
mod shared;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A call, borrowed from its line.
#[derive(Deserialize)]
struct Call<'a> {
    #[serde(borrow)]
    method: &'a str,
    #[serde(borrow, default)]
    params: Option<(&'a str,)>,
    #[serde(borrow)]
    id: &'a RawValue,
}

#[derive(Serialize)]
struct Reply<'a> {
    jsonrpc: &'static str,
    result: &'a str,
    id: &'a RawValue,
}

#[derive(Serialize)]
struct Failure<'a> {
    jsonrpc: &'static str,
    error: Error,
    id: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct Error {
    code: i32,
    message: &'static str,
}

/// The reply line to `line`.
fn answer(line: &str) -> String {
    match serde_json::from_str::<Call<'_>>(line) {
        Ok(Call {
            method: "echo",
            params: Some((text,)),
            id,
        }) => serde_json::to_string(&Reply {
            jsonrpc: "2.0",
            result: text,
            id,
        }),
        Ok(call) => serde_json::to_string(&Failure {
            jsonrpc: "2.0",
            error: Error {
                code: -32601,
                message: "Method not found",
            },
            id: Some(call.id),
        }),
        Err(_) => serde_json::to_string(&Failure {
            jsonrpc: "2.0",
            error: Error {
                code: -32700,
                message: "Parse error",
            },
            id: None,
        }),
    }
    .expect("serializing to a string")
}

fn main() -> anyhow::Result<()> {
    shared::serve_lines("bench_json_lines", |line| answer(&line))
}

#[cfg(test)]
mod tests {
    use super::answer;

    #[test]
    fn answers_echo_like_any_json_rpc_server() {
        assert_eq!(
            answer(r#"{"jsonrpc":"2.0","method":"echo","params":["hello"],"id":1}"#),
            r#"{"jsonrpc":"2.0","result":"hello","id":1}"#
        );
        assert_eq!(
            answer(r#"{"jsonrpc":"2.0","method":"nope","id":"a"}"#),
            r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":"a"}"#
        );
        assert!(answer("{").contains("-32700"));
    }
}
