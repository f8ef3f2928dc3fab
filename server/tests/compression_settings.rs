//! Who decides whether an HTTP response may be compressed: the router
//! applies each method's setting to the call's `ResponseHandle`, handlers
//! add theirs, a batch merges them (forbid wins). Tested without sockets:
//! the handle is what the transport reads. `examples/tests/compression.rs`
//! checks the same rules end to end over HTTP.

use std::sync::Arc;

use rpckit::codec::{Frame, JsonCodec};
use rpckit::http::ResponseHandle;
use rpckit::{Endpoint, Router};
use serde_json::{json, Value};
use tower::ServiceExt;

fn router() -> Router {
    Router::new()
        .sync_method("allowed", || "a")
        .sync_method("forbidden", || "f")
        .sync_method("unset", || "u")
        .sync_method("handler_allows", |response: ResponseHandle| {
            response.allow_compression(true);
            "h"
        })
        .sync_method("handler_allows_unset", |response: ResponseHandle| {
            response.allow_compression(true);
            "h"
        })
        .sync_method("handler_forbids", |response: ResponseHandle| {
            response.allow_compression(false);
            "h"
        })
        .configure("allowed", |s| s.compression(true))
        .configure("forbidden", |s| s.compression(false))
        .configure("handler_allows", |s| s.compression(false))
}

/// Sends `body` through the whole stack and returns what the calls said.
async fn decision(body: Value) -> Option<bool> {
    let handle = ResponseHandle::new();
    let mut frame = Frame::new(body.to_string(), Arc::new(JsonCodec::default()));
    frame.extensions.insert(handle.clone());
    Endpoint::new(router())
        .into_service()
        .oneshot(frame)
        .await
        .unwrap();
    handle.compression_allowed()
}

fn call(method: &str, id: i64) -> Value {
    json!({"jsonrpc": "2.0", "method": method, "id": id})
}

fn notification(method: &str) -> Value {
    json!({"jsonrpc": "2.0", "method": method})
}

#[tokio::test]
async fn a_method_setting_reaches_the_response_handle() {
    assert_eq!(decision(call("allowed", 1)).await, Some(true));
    assert_eq!(decision(call("forbidden", 1)).await, Some(false));
    assert_eq!(decision(call("unset", 1)).await, None);
    assert_eq!(decision(call("no_such_method", 1)).await, None);
}

#[tokio::test]
async fn a_handler_allows_or_forbids_but_cannot_overrule_a_forbid() {
    assert_eq!(decision(call("handler_allows_unset", 1)).await, Some(true));
    assert_eq!(decision(call("handler_forbids", 1)).await, Some(false));
    assert_eq!(decision(call("allowed", 1)).await, Some(true));
    // `handler_allows` is configured off: the method's forbid stands.
    assert_eq!(decision(call("handler_allows", 1)).await, Some(false));
}

#[tokio::test]
async fn a_batch_compresses_if_any_call_allowed_and_none_forbade() {
    let batch = |calls: &[&str]| {
        Value::Array(
            calls
                .iter()
                .enumerate()
                .map(|(i, method)| call(method, i as i64))
                .collect(),
        )
    };
    assert_eq!(decision(batch(&["allowed", "unset"])).await, Some(true));
    assert_eq!(
        decision(batch(&["unset", "allowed", "unset"])).await,
        Some(true)
    );
    assert_eq!(
        decision(batch(&["allowed", "forbidden"])).await,
        Some(false)
    );
    assert_eq!(
        decision(batch(&["forbidden", "allowed"])).await,
        Some(false)
    );
    assert_eq!(
        decision(batch(&["allowed", "handler_forbids"])).await,
        Some(false)
    );
    assert_eq!(decision(batch(&["unset", "unset"])).await, None);
}

#[tokio::test]
async fn a_notification_has_no_say_in_a_response_it_is_not_part_of() {
    let batch = json!([call("allowed", 1), notification("forbidden")]);
    assert_eq!(decision(batch).await, Some(true));
    let batch = json!([call("unset", 1), notification("allowed")]);
    assert_eq!(decision(batch).await, None);
}
