//! `echo`: the method every stream example and client test calls.

use rpckit::extract::Params;
use rpckit::Router;
use serde::Deserialize;

/// `echo`'s params: positional `[x]` or named `{"data": x}`.
#[derive(Debug, Deserialize)]
pub struct Echo {
    /// What comes back.
    pub data: serde_json::Value,
}

/// A router with `echo`, which returns its one param as sent.
pub fn router() -> Router {
    Router::new().sync_method("echo", |Params(p): Params<Echo>| p.data)
}
