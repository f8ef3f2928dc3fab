//! Hot reload (`ApiHandle::reload`): atomic switch, waiting for calls in
//! flight while new ones are held, both timeout policies, failed builders,
//! carried state, reloads from inside a handler, clearing and removing.
//!
//! On tokio's paused clock and the current-thread runtime: a task runs
//! until it waits, so signals (oneshot, Notify) sequence every step, and a
//! `timeout` on the paused clock expires only once every task is idle — a
//! deterministic "this call is held", not a guess about timing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rpckit::{ApiHandle, Endpoint, OnTimeout, ReloadError, ReloadOptions, Router};
use serde_json::{json, Value};
use tokio::sync::{oneshot, Notify};

mod common;
use common::{ask, call, spawn_call};

/// Shorter than any reload timeout here (the paused clock jumps by it once
/// every task is idle).
const PATIENCE: Duration = Duration::from_secs(1);

fn version(v: u32) -> Router {
    Router::new().sync_method("version", move || v)
}

/// A method `slow` that says when it started and answers `v` once
/// `release` is notified.
fn slow(v: u32, started: Arc<Notify>, release: Arc<Notify>) -> Router {
    Router::new().method("slow", move || {
        let (started, release) = (started.clone(), release.clone());
        async move {
            started.notify_one();
            release.notified().await;
            v
        }
    })
}

/// An endpoint serving `version` 1, with a `slow` call in flight that
/// answers 1 once `release` is notified.
struct SlowCall {
    endpoint: Endpoint,
    api: ApiHandle,
    call: tokio::task::JoinHandle<Value>,
    release: Arc<Notify>,
}

async fn slow_call_in_flight() -> SlowCall {
    let (started, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let endpoint = Endpoint::new(slow(1, started.clone(), release.clone()).merge(version(1)));
    let api = endpoint.handle();
    let call = spawn_call(&endpoint, "slow");
    started.notified().await;
    SlowCall {
        endpoint,
        api,
        call,
        release,
    }
}

/// Starts `api.reload(options, …)` to `version` 2 on its own task; the
/// receiver hears once the builder has run (the gate closes right after).
fn reload_to_version_2(
    api: &ApiHandle,
    options: ReloadOptions,
) -> (
    tokio::task::JoinHandle<Result<rpckit::Reloaded, ReloadError>>,
    oneshot::Receiver<()>,
) {
    let (built, built_rx) = oneshot::channel();
    let api = api.clone();
    let reload = tokio::spawn(async move {
        api.reload(options, move |_old| {
            built.send(()).unwrap();
            version(2)
        })
        .await
    });
    (reload, built_rx)
}

#[tokio::test(start_paused = true)]
async fn a_reload_switches_the_table_at_once() {
    let endpoint = Endpoint::new(version(1).merge(Router::new().sync_method("other", || "kept")));
    let api = endpoint.handle();
    assert_eq!(call(&endpoint, "version").await["result"], 1);

    let done = api
        .reload(ReloadOptions::new(), |_old| version(2))
        .await
        .unwrap();
    assert_eq!(done.in_flight, 0);
    assert!(!done.forced);
    assert_eq!(call(&endpoint, "version").await["result"], 2);
    // Merged over the old table: the other method stays.
    assert_eq!(call(&endpoint, "other").await["result"], "kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_concurrent_calls_each_caller_sees_old_then_new_never_back() {
    // Two names answer the table's version; a caller that saw version v
    // never sees an older one afterwards, on either name: a switch is
    // atomic for every call, and nothing is lost or failed meanwhile.
    fn table(v: u64) -> Router {
        Router::new()
            .sync_method("a", move || v)
            .sync_method("b", move || v)
    }
    const CALLERS: usize = 8;
    const CALLS: usize = 200;
    const RELOADS: u64 = 100;
    let endpoint = Endpoint::new(table(0));
    let api = endpoint.handle();
    let callers: Vec<_> = (0..CALLERS)
        .map(|n| {
            let endpoint = endpoint.clone();
            tokio::spawn(async move {
                let mut seen = 0;
                let mut answered = 0;
                for i in 0..CALLS {
                    let name = if (i + n) % 2 == 0 { "a" } else { "b" };
                    let v = call(&endpoint, name).await["result"]
                        .as_u64()
                        .expect("every call gets a result");
                    assert!(v >= seen, "saw version {v} after {seen}");
                    seen = v;
                    answered += 1;
                }
                answered
            })
        })
        .collect();
    for v in 1..=RELOADS {
        let reloaded = api
            .reload(ReloadOptions::new(), |_old| table(v))
            .await
            .unwrap();
        assert!(!reloaded.forced);
    }
    let mut answered = 0;
    for caller in callers {
        answered += caller.await.unwrap();
    }
    assert_eq!(answered, CALLERS * CALLS);
    assert_eq!(call(&endpoint, "a").await["result"], RELOADS);
}

#[tokio::test(start_paused = true)]
async fn a_reload_waits_for_calls_in_flight_and_held_calls_get_the_new_table() {
    let SlowCall {
        endpoint,
        api,
        call: slow_call,
        release,
    } = slow_call_in_flight().await;
    assert_eq!(api.in_flight(), 1);

    let (reload, built_rx) = reload_to_version_2(&api, ReloadOptions::new());
    // The builder ran; the gate closes right after it, before the reload
    // task first waits.
    built_rx.await.unwrap();
    let mut held = spawn_call(&endpoint, "version");
    assert!(
        common::is_held(&mut held, PATIENCE).await,
        "a new call waits for the switch"
    );
    assert!(!reload.is_finished(), "the reload waits for `slow`");

    release.notify_one();
    let reloaded = reload.await.unwrap().unwrap();
    assert_eq!(reloaded.in_flight, 0);
    // The call in flight finished on the old table, the held one ran on the
    // new one.
    assert_eq!(slow_call.await.unwrap()["result"], 1);
    assert_eq!(held.await.unwrap()["result"], 2);
}

#[tokio::test(start_paused = true)]
async fn at_the_timeout_give_up_keeps_the_old_table_and_releases_held_calls() {
    let SlowCall {
        endpoint,
        api,
        call: slow_call,
        release,
    } = slow_call_in_flight().await;

    let began = tokio::time::Instant::now();
    let (reload, built_rx) = reload_to_version_2(
        &api,
        ReloadOptions::new()
            .timeout(Duration::from_secs(2))
            .on_timeout(OnTimeout::GiveUp),
    );
    built_rx.await.unwrap();
    let held = spawn_call(&endpoint, "version");

    match reload.await.unwrap() {
        Err(ReloadError::TimedOut { in_flight, waited }) => {
            assert_eq!(in_flight, 1);
            assert_eq!(waited, Duration::from_secs(2));
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(began.elapsed(), Duration::from_secs(2));
    // Held during the wait, then served by the table that stayed.
    assert_eq!(held.await.unwrap()["result"], 1);
    assert_eq!(call(&endpoint, "version").await["result"], 1);
    release.notify_one();
    assert_eq!(slow_call.await.unwrap()["result"], 1);
}

#[tokio::test(start_paused = true)]
async fn at_the_timeout_proceed_switches_while_the_old_call_finishes_on_the_old_table() {
    let SlowCall {
        endpoint,
        api,
        call: slow_call,
        release,
    } = slow_call_in_flight().await;

    let began = tokio::time::Instant::now();
    let options = ReloadOptions::new()
        .timeout(Duration::from_secs(2))
        .on_timeout(OnTimeout::Proceed);
    let reloaded = api
        .reload(options, |_old| {
            slow(2, Arc::new(Notify::new()), Arc::new(Notify::new())).merge(version(2))
        })
        .await
        .unwrap();
    assert!(reloaded.forced);
    assert_eq!(reloaded.in_flight, 1);
    assert_eq!(began.elapsed(), Duration::from_secs(2));
    assert_eq!(call(&endpoint, "version").await["result"], 2);
    release.notify_one();
    assert_eq!(slow_call.await.unwrap()["result"], 1);
}

#[tokio::test(start_paused = true)]
async fn max_in_flight_lets_the_switch_happen_with_calls_still_running() {
    let SlowCall {
        endpoint,
        api,
        call: slow_call,
        release,
    } = slow_call_in_flight().await;

    let began = tokio::time::Instant::now();
    let reloaded = api
        .reload(ReloadOptions::new().max_in_flight(1), |_old| version(2))
        .await
        .unwrap();
    assert_eq!(began.elapsed(), Duration::ZERO, "no wait for one call");
    assert_eq!(reloaded.in_flight, 1);
    assert!(!reloaded.forced);
    assert_eq!(call(&endpoint, "version").await["result"], 2);
    release.notify_one();
    assert_eq!(slow_call.await.unwrap()["result"], 1);
}

#[tokio::test(start_paused = true)]
async fn a_builder_error_keeps_the_old_table() {
    let endpoint = Endpoint::new(version(1));
    let api = endpoint.handle();
    let error = api
        .try_reload(ReloadOptions::new().clear_first(true), |_old| {
            Err::<Router, _>("the config file is broken")
        })
        .await
        .unwrap_err();
    assert!(matches!(error, ReloadError::Build(_)), "{error:?}");
    assert_eq!(
        error.to_string(),
        "the new table could not be built: the config file is broken"
    );
    assert_eq!(call(&endpoint, "version").await["result"], 1);
}

#[tokio::test(start_paused = true)]
async fn a_builder_panic_keeps_the_old_table_and_the_gate_open() {
    let endpoint = Endpoint::new(version(1));
    let api = endpoint.handle();
    let error = api
        .reload(ReloadOptions::new().clear_first(true), |_old| {
            // A bug in the builder: a name registered twice.
            version(2).merge(version(3))
        })
        .await
        .unwrap_err();
    match &error {
        ReloadError::Panicked(message) => assert!(message.contains("registered twice")),
        other => panic!("expected a panic, got {other:?}"),
    }
    assert_eq!(call(&endpoint, "version").await["result"], 1);
    assert!(!api.is_locked());
    // And the next reload works.
    api.reload(ReloadOptions::new(), |_old| version(4))
        .await
        .unwrap();
    assert_eq!(call(&endpoint, "version").await["result"], 4);
}

/// `count` answers how many calls it had, in this version and before.
fn counting(calls: Arc<AtomicU64>, step: u64) -> Router {
    let state = calls.clone();
    Router::new()
        .sync_method("count", move || {
            calls.fetch_add(step, Ordering::SeqCst) + step
        })
        .with_state("count", state)
}

#[tokio::test(start_paused = true)]
async fn state_is_carried_from_the_old_handler_into_its_replacement() {
    let endpoint = Endpoint::new(counting(Arc::default(), 1));
    let api = endpoint.handle();
    assert_eq!(call(&endpoint, "count").await["result"], 1);
    assert_eq!(call(&endpoint, "count").await["result"], 2);

    api.reload(ReloadOptions::new(), |old| {
        let calls = old.state::<AtomicU64>("count").expect("the old counter");
        counting(calls, 10)
    })
    .await
    .unwrap();
    assert_eq!(call(&endpoint, "count").await["result"], 12);
    assert_eq!(
        api.table()
            .state::<AtomicU64>("count")
            .unwrap()
            .load(Ordering::SeqCst),
        12
    );
    // A state of another type is not found.
    assert!(api.table().state::<String>("count").is_none());
}

/// A router whose `reload_api` moves `version` on by one, from inside the
/// handler, and `slow` that waits for `release`.
fn self_reloading(v: u32, started: Arc<Notify>, release: Arc<Notify>) -> Router {
    Router::new()
        .method("reload_api", |api: ApiHandle| async move {
            let current: u32 = api.table().state::<u32>("version").map_or(0, |v| *v);
            api.reload(ReloadOptions::new(), |_old| {
                version(current + 1).with_state("version", Arc::new(current + 1))
            })
            .await
            .map(|_| current + 1)
            .map_err(rpckit::ErrorObject::internal_error)
        })
        .merge(version(v).with_state("version", Arc::new(v)))
        .merge(slow(v, started, release))
}

#[tokio::test(start_paused = true)]
async fn a_handler_reloads_its_own_router_without_waiting_for_itself() {
    let endpoint = Endpoint::new(self_reloading(1, Arc::default(), Arc::default()));
    let began = tokio::time::Instant::now();
    assert_eq!(call(&endpoint, "reload_api").await["result"], 2);
    assert_eq!(began.elapsed(), Duration::ZERO, "no timeout was waited");
    assert_eq!(call(&endpoint, "version").await["result"], 2);
}

#[tokio::test(start_paused = true)]
async fn a_handler_reload_still_waits_for_the_other_calls_in_flight() {
    let (started, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let endpoint = Endpoint::new(self_reloading(1, started.clone(), release.clone()));
    let slow_call = spawn_call(&endpoint, "slow");
    started.notified().await;
    let mut reload = spawn_call(&endpoint, "reload_api");
    assert!(
        common::is_held(&mut reload, PATIENCE).await,
        "it waits for `slow`"
    );
    release.notify_one();
    assert_eq!(reload.await.unwrap()["result"], 2);
    assert_eq!(slow_call.await.unwrap()["result"], 1);
}

#[tokio::test(start_paused = true)]
async fn two_handlers_reloading_at_once_do_not_wait_for_each_other() {
    let endpoint = Endpoint::new(self_reloading(1, Arc::default(), Arc::default()));
    let began = tokio::time::Instant::now();
    let reply = ask(
        &endpoint,
        json!([
            {"jsonrpc": "2.0", "method": "reload_api", "id": 1},
            {"jsonrpc": "2.0", "method": "reload_api", "id": 2},
        ]),
    )
    .await;
    let mut results: Vec<u64> = reply
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["result"].as_u64().expect("both reloaded"))
        .collect();
    results.sort_unstable();
    assert_eq!(results, [2, 3]);
    assert_eq!(began.elapsed(), Duration::ZERO, "no timeout was waited");
    assert_eq!(call(&endpoint, "version").await["result"], 3);
}

#[tokio::test(start_paused = true)]
async fn clear_first_serves_only_the_new_methods_and_remove_drops_names() {
    let endpoint = Endpoint::new(
        Router::new()
            .sync_method(["a", "alias"], || "a")
            .sync_method("b", || "b"),
    );
    let api = endpoint.handle();

    api.reload(ReloadOptions::new().remove("alias"), |_old| Router::new())
        .await
        .unwrap();
    assert_eq!(call(&endpoint, "alias").await["error"]["code"], -32601);
    assert_eq!(call(&endpoint, "a").await["result"], "a");

    api.reload(ReloadOptions::new().clear_first(true), |_old| {
        Router::new().sync_method("c", || "c")
    })
    .await
    .unwrap();
    assert_eq!(call(&endpoint, "a").await["error"]["code"], -32601);
    assert_eq!(call(&endpoint, "b").await["error"]["code"], -32601);
    assert_eq!(call(&endpoint, "c").await["result"], "c");
    assert_eq!(api.table().method_names(), ["c"]);
}

#[tokio::test(start_paused = true)]
async fn each_path_has_its_own_table() {
    let first = Endpoint::new(version(1));
    let second = Endpoint::new(version(1));
    let (api_first, api_second) = (first.handle(), second.handle());
    assert!(!api_first.same_router(&api_second));

    api_first
        .reload(ReloadOptions::new(), |_old| version(2))
        .await
        .unwrap();
    assert_eq!(call(&first, "version").await["result"], 2);
    assert_eq!(call(&second, "version").await["result"], 1);

    // A lock on one path holds nothing on the other.
    api_second.lock();
    assert_eq!(call(&first, "version").await["result"], 2);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_call_is_no_longer_counted_in_flight() {
    let SlowCall {
        api,
        call: slow_call,
        ..
    } = slow_call_in_flight().await;
    assert_eq!(api.in_flight(), 1);
    slow_call.abort();
    assert!(slow_call.await.unwrap_err().is_cancelled());
    assert_eq!(api.in_flight(), 0);
    // So a reload does not wait for it.
    let began = tokio::time::Instant::now();
    api.reload(ReloadOptions::new(), |_old| version(2))
        .await
        .unwrap();
    assert_eq!(began.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_reload_reopens_the_gate() {
    let SlowCall {
        endpoint,
        api,
        call: _slow_call,
        ..
    } = slow_call_in_flight().await;

    let (reload, built_rx) = reload_to_version_2(&api, ReloadOptions::new());
    built_rx.await.unwrap();
    let mut held = spawn_call(&endpoint, "version");
    assert!(common::is_held(&mut held, PATIENCE).await);
    reload.abort();
    assert_eq!(held.await.unwrap()["result"], 1, "released, old table");
}

#[test]
fn the_new_public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<ApiHandle>();
    send_sync::<ReloadOptions>();
    send_sync::<ReloadError>();
    send_sync::<rpckit::Reloaded>();
}

#[tokio::test(start_paused = true)]
async fn a_batch_call_that_starts_after_a_reload_runs_on_the_new_table() {
    // A batch shares one snapshot of the table; a call of it that starts
    // only after a reload switched the table must not run on the old one.
    // One call at a time: `version` waits behind `slow`, and the reload
    // (allowed one call in flight) switches meanwhile.
    let (started, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let endpoint = Endpoint::new(slow(1, started.clone(), release.clone()).merge(version(1)))
        .batch_concurrency(1);
    let api = endpoint.handle();
    let batch = {
        let endpoint = endpoint.clone();
        tokio::spawn(async move {
            ask(
                &endpoint,
                json!([
                    {"jsonrpc": "2.0", "method": "slow", "id": 1},
                    {"jsonrpc": "2.0", "method": "version", "id": 2},
                ]),
            )
            .await
        })
    };
    started.notified().await;
    assert_eq!(api.in_flight(), 1);
    let reloaded = api
        .reload(ReloadOptions::new().max_in_flight(1), |_old| version(2))
        .await
        .unwrap();
    assert_eq!(reloaded.in_flight, 1);
    release.notify_one();
    let reply = batch.await.unwrap();
    assert_eq!(reply[0]["result"], 1, "{reply}");
    assert_eq!(reply[1]["result"], 2, "{reply}");
    assert_eq!(api.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_batch_counts_each_running_call_in_flight_and_none_after() {
    // Sync calls answered at once are counted only while they run; the
    // slow one stays counted until it answers, and nothing stays after.
    let (started, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let endpoint = Endpoint::new(
        slow(1, started.clone(), release.clone())
            .merge(version(1))
            .sync_method("boom", || -> u32 { panic!("boom") }),
    );
    let api = endpoint.handle();
    let batch = {
        let endpoint = endpoint.clone();
        tokio::spawn(async move {
            ask(
                &endpoint,
                json!([
                    {"jsonrpc": "2.0", "method": "version", "id": 1},
                    {"jsonrpc": "2.0", "method": "slow", "id": 2},
                    {"jsonrpc": "2.0", "method": "boom", "id": 3},
                    {"jsonrpc": "2.0", "method": "version"},
                    {"jsonrpc": "2.0", "method": "missing", "id": 4},
                ]),
            )
            .await
        })
    };
    started.notified().await;
    assert_eq!(api.in_flight(), 1);
    release.notify_one();
    let reply = batch.await.unwrap();
    assert_eq!(reply.as_array().unwrap().len(), 4, "{reply}");
    assert_eq!(reply[0]["result"], 1);
    assert_eq!(reply[1]["result"], 1);
    assert_eq!(reply[2]["error"]["code"], -32603);
    assert_eq!(reply[3]["error"]["code"], -32601);
    assert_eq!(api.in_flight(), 0);
}
