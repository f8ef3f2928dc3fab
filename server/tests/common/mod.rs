//! What the router-level tests share: one JSON frame through an
//! [`Endpoint`]'s whole stack (codec layer, rpc layer, router), and the
//! calls built on it.

// Each test binary uses its own share of these.
#![allow(dead_code)]

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rpckit::codec::{Frame, JsonCodec};
use rpckit::Endpoint;
use serde_json::{json, Value};
use tower::ServiceExt;

/// Sends `body` as one JSON frame; `None` when nothing is answered (a
/// notification, a batch of them).
pub(crate) async fn send(endpoint: &Endpoint, body: impl fmt::Display) -> Option<Value> {
    let frame = Frame::new(body.to_string(), Arc::new(JsonCodec::default()));
    let reply = endpoint
        .clone()
        .into_service()
        .oneshot(frame)
        .await
        .unwrap();
    reply.map(|frame| serde_json::from_slice(&frame.bytes).unwrap())
}

/// Sends `body`, which must be answered.
pub(crate) async fn ask(endpoint: &Endpoint, body: Value) -> Value {
    send(endpoint, &body.to_string()).await.expect("an answer")
}

/// Calls `method` without params, id 1.
pub(crate) async fn call(endpoint: &Endpoint, method: &str) -> Value {
    ask(
        endpoint,
        json!({"jsonrpc": "2.0", "method": method, "id": 1}),
    )
    .await
}

/// Calls `method` with `params`, id 1.
pub(crate) async fn call_with(endpoint: &Endpoint, method: &str, params: Value) -> Value {
    ask(
        endpoint,
        json!({"jsonrpc": "2.0", "method": method, "params": params, "id": 1}),
    )
    .await
}

/// [`call`] on its own task.
pub(crate) fn spawn_call(endpoint: &Endpoint, method: &str) -> tokio::task::JoinHandle<Value> {
    let endpoint = endpoint.clone();
    let method = method.to_owned();
    tokio::spawn(async move { call(&endpoint, &method).await })
}

/// Whether `task` is still waiting after `patience`. On the paused clock
/// time only passes once every task is idle, so this says "held", not a
/// guess about timing; pick a patience shorter than any timeout the test
/// waits for.
pub(crate) async fn is_held<T>(task: &mut tokio::task::JoinHandle<T>, patience: Duration) -> bool {
    tokio::time::timeout(patience, task).await.is_err()
}
