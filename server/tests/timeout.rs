//! Per-method call timeouts (`MethodSettings::timeout`), on tokio's paused
//! clock: time moves only when every task waits, so no test sleeps for real.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rpckit::codec::{Frame, JsonCodec};
use rpckit::extract::Params;
use rpckit::{Endpoint, Router, CALL_TIMED_OUT};
use serde_json::{json, Value};
use tower::ServiceExt;

async fn ask(endpoint: &Endpoint, body: Value) -> Value {
    let frame = Frame::new(body.to_string(), Arc::new(JsonCodec::default()));
    let reply = endpoint
        .clone()
        .into_service()
        .oneshot(frame)
        .await
        .unwrap();
    serde_json::from_slice(&reply.expect("an answer").bytes).unwrap()
}

/// Sets its flag when dropped: tells whether a handler's future was dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn router(dropped: Arc<AtomicBool>) -> Router {
    Router::new()
        .method("sleep", move |Params((ms,)): Params<(u64,)>| {
            let guard = DropFlag(dropped.clone());
            async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                drop(guard);
                ms
            }
        })
        .sync_method("sync", || "sync handlers run to their end")
        .configure("sleep", |settings| settings.timeout(Duration::from_secs(1)))
        .configure("sync", |settings| {
            settings.timeout(Duration::from_millis(1))
        })
}

#[tokio::test(start_paused = true)]
async fn a_call_past_its_limit_gets_32001_and_its_future_is_dropped() {
    let dropped = Arc::new(AtomicBool::new(false));
    let endpoint = Endpoint::new(router(dropped.clone()));
    let started = tokio::time::Instant::now();
    let reply = ask(
        &endpoint,
        json!({"jsonrpc": "2.0", "method": "sleep", "params": [60_000], "id": 7}),
    )
    .await;
    assert_eq!(reply["id"], 7);
    assert_eq!(reply["error"]["code"], CALL_TIMED_OUT.code());
    assert_eq!(
        reply["error"]["message"],
        "the call did not finish within 1000 ms"
    );
    // Answered at the limit, not when the handler would have finished.
    assert_eq!(started.elapsed(), Duration::from_secs(1));
    assert!(
        dropped.load(Ordering::SeqCst),
        "the handler's future was dropped"
    );
}

#[tokio::test(start_paused = true)]
async fn calls_within_the_limit_are_answered_as_usual() {
    let endpoint = Endpoint::new(router(Arc::new(AtomicBool::new(false))));
    let reply = ask(
        &endpoint,
        json!({"jsonrpc": "2.0", "method": "sleep", "params": [999], "id": 1}),
    )
    .await;
    assert_eq!(reply["result"], 999);
    let reply = ask(
        &endpoint,
        json!({"jsonrpc": "2.0", "method": "sync", "id": 2}),
    )
    .await;
    assert_eq!(reply["result"], "sync handlers run to their end");
}

#[tokio::test(start_paused = true)]
async fn in_a_batch_only_the_late_call_times_out() {
    let endpoint = Endpoint::new(router(Arc::new(AtomicBool::new(false))));
    let reply = ask(
        &endpoint,
        json!([
            {"jsonrpc": "2.0", "method": "sleep", "params": [10], "id": 1},
            {"jsonrpc": "2.0", "method": "sleep", "params": [5_000], "id": 2},
        ]),
    )
    .await;
    assert_eq!(reply[0]["result"], 10);
    assert_eq!(reply[1]["error"]["code"], CALL_TIMED_OUT.code());
    assert_eq!(reply[1]["id"], 2);
}
