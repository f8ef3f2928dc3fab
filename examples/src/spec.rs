//! The methods the JSON-RPC 2.0 specification's examples call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rpckit::extract::Params;
use rpckit::Router;
use serde::Deserialize;

/// `subtract`'s params, positional (`[42, 23]`) or named.
#[derive(Debug, Deserialize)]
pub struct Subtract {
    /// What is subtracted from.
    pub minuend: i64,
    /// What is subtracted.
    pub subtrahend: i64,
}

/// Counts the notifications the spec methods received, so a test can see
/// that notifications ran although nothing was answered.
#[derive(Debug, Default)]
pub struct Notified(AtomicU64);

impl Notified {
    /// How many notifications ran.
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The spec's methods: `subtract`, `sum`, `get_data`, `update`,
/// `notify_hello`, `notify_sum` (`foobar` is absent on purpose), plus
/// `panic`, which always panics, to show a panic fails its call alone.
pub fn router(notified: Arc<Notified>) -> Router {
    let on_update = notified.clone();
    let on_hello = notified.clone();
    let on_sum = notified;
    Router::new()
        .sync_method("subtract", |Params(p): Params<Subtract>| {
            p.minuend - p.subtrahend
        })
        .sync_method("sum", |Params(terms): Params<Vec<i64>>| {
            terms.iter().sum::<i64>()
        })
        .sync_method("get_data", || serde_json::json!(["hello", 5]))
        .sync_method("update", move |Params(_): Params<Vec<i64>>| {
            on_update.0.fetch_add(1, Ordering::SeqCst);
        })
        .sync_method("notify_hello", move |Params(_): Params<(i64,)>| {
            on_hello.0.fetch_add(1, Ordering::SeqCst);
        })
        .sync_method("notify_sum", move |Params(terms): Params<Vec<i64>>| {
            on_sum.0.fetch_add(1, Ordering::SeqCst);
            terms.iter().sum::<i64>()
        })
        .sync_method("panic", || -> i64 { panic!("this method always panics") })
}
