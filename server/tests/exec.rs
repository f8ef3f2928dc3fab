//! Execution backends (`rpckit::exec`): each runs the handler where it
//! says, and the concurrency limit, the timeout and panic handling work on
//! every one. Events are sequenced with channels and semaphores, not
//! sleeps; the few real-clock limits below are only ever exceeded by
//! handlers that never finish on their own.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rpckit::codec::ErrorCode;
use rpckit::exec::{Executor, ThreadPool};
use rpckit::{Endpoint, Router, CALL_TIMED_OUT};
use serde_json::{json, Value};
use tokio::sync::{mpsc, Semaphore};

mod common;
use common::call_with as call;

fn thread_label() -> String {
    let thread = std::thread::current();
    format!("{:?} {}", thread.id(), thread.name().unwrap_or(""))
}

fn where_router(executor: Executor) -> Endpoint {
    Endpoint::new(
        Router::new()
            .sync_method("where_sync", thread_label)
            .method("where_async", || async { thread_label() })
            .configure("where_sync", |s| s.executor(executor.clone()))
            .configure("where_async", |s| s.executor(executor)),
    )
}

#[tokio::test(flavor = "current_thread")]
async fn inline_runs_on_the_serving_thread() {
    let endpoint = where_router(Executor::Inline);
    for method in ["where_sync", "where_async"] {
        let reply = call(&endpoint, method, json!([])).await;
        assert_eq!(reply["result"], json!(thread_label()), "{method}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn blocking_runs_on_another_thread() {
    let endpoint = where_router(Executor::Blocking);
    for method in ["where_sync", "where_async"] {
        let reply = call(&endpoint, method, json!([])).await;
        let label = reply["result"].as_str().unwrap().to_owned();
        assert_ne!(label, thread_label(), "{method}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn background_runs_on_rpckits_background_threads() {
    let endpoint = where_router(Executor::Background);
    for method in ["where_sync", "where_async"] {
        let reply = call(&endpoint, method, json!([])).await;
        let label = reply["result"].as_str().unwrap().to_owned();
        assert_ne!(label, thread_label(), "{method}");
        assert!(
            label.ends_with(" rpckit-background"),
            "{method} ran on {label}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_pool_runs_handlers_on_its_own_named_threads() {
    let pool = ThreadPool::new("crunch", 2).unwrap();
    let endpoint = where_router(pool.clone().into());
    for method in ["where_sync", "where_async"] {
        let reply = call(&endpoint, method, json!([])).await;
        let label = reply["result"].as_str().unwrap().to_owned();
        assert_ne!(label, thread_label(), "{method}");
        assert!(label.contains(" crunch-"), "{method} ran on {label}");
    }
}

/// On a single-threaded runtime an inline sync handler that blocks would
/// hold up everything; on the blocking pool it holds up nothing.
#[tokio::test(flavor = "current_thread")]
async fn a_blocked_sync_handler_on_the_blocking_pool_does_not_stall_inline_methods() {
    let (entered_tx, mut entered) = mpsc::unbounded_channel::<()>();
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let gate = Arc::new(std::sync::Mutex::new(gate));
    let endpoint = Endpoint::new(
        Router::new()
            .sync_method("block", move || {
                entered_tx.send(()).unwrap();
                gate.lock().unwrap().recv().unwrap();
                "released"
            })
            .sync_method("ping", || "pong")
            .configure("block", |s| s.executor(Executor::Blocking)),
    );
    let blocked = tokio::spawn({
        let endpoint = endpoint.clone();
        async move { call(&endpoint, "block", json!([])).await }
    });
    entered.recv().await.unwrap();
    // The blocking handler is running right now, and this is answered.
    for _ in 0..10 {
        assert_eq!(call(&endpoint, "ping", json!([])).await["result"], "pong");
    }
    assert!(!blocked.is_finished());
    release.send(()).unwrap();
    assert_eq!(blocked.await.unwrap()["result"], "released");
}

/// Sync handlers that all wait at a gate: the pool lets N in at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_of_n_threads_runs_at_most_n_sync_handlers_at_once() {
    const CALLS: usize = 6;
    let pool = ThreadPool::new("gate", 2).unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (entered_tx, mut entered) = mpsc::unbounded_channel::<()>();
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let gate = Arc::new(std::sync::Mutex::new(gate));
    let endpoint = Endpoint::new(
        Router::new()
            .sync_method("work", {
                let (running, most) = (running.clone(), most.clone());
                move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    entered_tx.send(()).unwrap();
                    gate.lock().unwrap().recv().unwrap();
                    running.fetch_sub(1, Ordering::SeqCst);
                    thread_label()
                }
            })
            .configure("work", |s| s.executor(pool.clone())),
    );
    let calls: Vec<_> = (0..CALLS)
        .map(|_| {
            let endpoint = endpoint.clone();
            tokio::spawn(async move { call(&endpoint, "work", json!([])).await })
        })
        .collect();
    // Two are in; the other four wait for a thread.
    entered.recv().await.unwrap();
    entered.recv().await.unwrap();
    assert_eq!(running.load(Ordering::SeqCst), 2);
    for _ in 0..CALLS {
        release.send(()).unwrap();
    }
    let mut answered = 0;
    for call in calls {
        let label = call.await.unwrap()["result"].as_str().unwrap().to_owned();
        assert!(label.contains(" gate-"), "{label}");
        answered += 1;
    }
    assert_eq!(answered, CALLS);
    assert_eq!(most.load(Ordering::SeqCst), 2);
}

/// An async handler that waits at a gate (a semaphore the test fills).
fn gated_router(executor: Executor, limit: usize) -> (Endpoint, Gate) {
    let gate = Gate {
        permits: Arc::new(Semaphore::new(0)),
        running: Arc::new(AtomicUsize::new(0)),
        most: Arc::new(AtomicUsize::new(0)),
        entered: Default::default(),
    };
    let (entered_tx, entered) = mpsc::unbounded_channel::<()>();
    *gate.entered.lock().unwrap() = Some(entered);
    let (permits, running, most) = (
        gate.permits.clone(),
        gate.running.clone(),
        gate.most.clone(),
    );
    let router = Router::new()
        .method("wait", move || {
            let (permits, running, most, entered_tx) = (
                permits.clone(),
                running.clone(),
                most.clone(),
                entered_tx.clone(),
            );
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let _ = entered_tx.send(());
                permits.acquire().await.unwrap().forget();
                running.fetch_sub(1, Ordering::SeqCst);
                "through"
            }
        })
        .configure("wait", |s| s.executor(executor).concurrency_limit(limit));
    (Endpoint::new(router), gate)
}

struct Gate {
    permits: Arc<Semaphore>,
    running: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
    entered: std::sync::Mutex<Option<mpsc::UnboundedReceiver<()>>>,
}

fn backends() -> Vec<Executor> {
    vec![
        Executor::Inline,
        Executor::Blocking,
        Executor::Background,
        ThreadPool::new("limited", 4).unwrap().into(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_concurrency_limit_holds_on_every_backend() {
    const CALLS: usize = 7;
    for executor in backends() {
        let name = executor.name();
        let (endpoint, gate) = gated_router(executor, 2);
        let mut entered = gate.entered.lock().unwrap().take().unwrap();
        let calls: Vec<_> = (0..CALLS)
            .map(|_| {
                let endpoint = endpoint.clone();
                tokio::spawn(async move { call(&endpoint, "wait", json!([])).await })
            })
            .collect();
        entered.recv().await.unwrap();
        entered.recv().await.unwrap();
        assert_eq!(gate.running.load(Ordering::SeqCst), 2, "{name}");
        // Let them through one at a time: each release lets one more in.
        for _ in 0..CALLS {
            gate.permits.add_permits(1);
        }
        let mut answered = 0;
        for call in calls {
            assert_eq!(call.await.unwrap()["result"], "through", "{name}");
            answered += 1;
        }
        assert_eq!(answered, CALLS, "{name}");
        assert_eq!(gate.most.load(Ordering::SeqCst), 2, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeout_answers_32001_on_every_backend() {
    for executor in backends() {
        let name = executor.name();
        let gate = Arc::new(Semaphore::new(0));
        let endpoint = Endpoint::new(
            Router::new()
                .method("never", {
                    let gate = gate.clone();
                    move || {
                        let gate = gate.clone();
                        async move {
                            gate.acquire().await.unwrap().forget();
                            "late"
                        }
                    }
                })
                .configure("never", |s| {
                    s.executor(executor).timeout(Duration::from_millis(50))
                }),
        );
        let reply = call(&endpoint, "never", json!([])).await;
        assert_eq!(
            reply["error"]["code"],
            json!(CALL_TIMED_OUT.code()),
            "{name}: {reply}"
        );
        // The blocking handler is still there: let it end.
        gate.add_permits(1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_answers_32603_on_every_backend_and_the_backend_goes_on() {
    for executor in backends() {
        let name = executor.name();
        let endpoint = Endpoint::new(
            Router::new()
                .sync_method("boom", || -> u32 { panic!("boom") })
                .method("boom_async", || async { panic!("boom") as u32 })
                .sync_method("fine", || "fine")
                .configure("boom", |s| s.executor(executor.clone()))
                .configure("boom_async", |s| s.executor(executor.clone()))
                .configure("fine", |s| s.executor(executor)),
        );
        for method in ["boom", "boom_async"] {
            let reply = call(&endpoint, method, json!([])).await;
            assert_eq!(
                reply["error"]["code"],
                json!(ErrorCode::InternalError.code()),
                "{name} {method}: {reply}"
            );
            assert_eq!(call(&endpoint, "fine", json!([])).await["result"], "fine");
        }
    }
}

#[test]
fn settings_report_the_backend() {
    let pool = ThreadPool::new("report", 1).unwrap();
    let router = Router::new()
        .sync_method("a", || 1)
        .sync_method("b", || 2)
        .configure("a", |s| s.executor(pool.clone()).concurrency_limit(3));
    let a = router.settings("a").unwrap();
    assert_eq!(a.execution_backend(), &Executor::Pool(pool.clone()));
    assert_ne!(
        a.execution_backend(),
        &Executor::Pool(ThreadPool::new("other", 1).unwrap())
    );
    assert_eq!(a.concurrency_max(), Some(3));
    assert_eq!(
        router.settings("b").unwrap().execution_backend(),
        &Executor::Inline
    );
    assert_eq!(router.settings("b").unwrap().concurrency_max(), None);
}

#[test]
fn the_backends_are_send_and_sync() {
    fn is<T: Send + Sync + Clone + std::fmt::Debug>() {}
    is::<Executor>();
    is::<ThreadPool>();
    is::<rpckit::exec::ConcurrencyLimit>();
    is::<rpckit::notify::NotificationQueue>();
    #[cfg(feature = "worker")]
    is::<rpckit::worker::WorkerPool>();
}

/// Worker processes: this test binary re-executed, running only
/// `workers::worker_entry` (which serves and exits in a worker, and passes
/// at once in a normal run).
#[cfg(feature = "worker")]
mod workers {
    use super::*;
    use rpckit::extract::Params;
    use rpckit::worker::{run_if_worker, WorkerPool};

    fn worker_router(name: &str) -> Option<Router> {
        (name == "t").then(|| {
            Router::new()
                .sync_method("pid", std::process::id)
                .sync_method("add", |Params((a, b)): Params<(i64, i64)>| a + b)
                .sync_method("echo", |Params((v,)): Params<(Value,)>| v)
                .sync_method("version", || {
                    std::env::var("TEST_VERSION").unwrap_or_default()
                })
                .sync_method("panic", || -> u32 { panic!("in the worker") })
                .sync_method("crash", || -> u32 { std::process::abort() })
                .method("sleep", |Params((ms,)): Params<(u64,)>| async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    std::process::id()
                })
        })
    }

    #[test]
    fn worker_entry() {
        run_if_worker(worker_router);
    }

    fn pool(workers: usize) -> rpckit::worker::WorkerPoolBuilder {
        WorkerPool::builder("t")
            .workers(workers)
            .program(std::env::current_exe().unwrap())
            .arg("workers::worker_entry")
            .arg("--exact")
            .arg("--nocapture")
            .arg("--test-threads=1")
    }

    fn endpoint(pool: &WorkerPool) -> Endpoint {
        let mut router = worker_router("t").unwrap();
        for method in ["pid", "add", "echo", "version", "panic", "crash", "sleep"] {
            router = router.configure(method, |s| s.executor(pool.clone()));
        }
        Endpoint::new(router.sync_method("parent_pid", std::process::id))
    }

    fn pid_of(reply: &Value) -> u32 {
        reply["result"]
            .as_u64()
            .unwrap_or_else(|| panic!("no pid: {reply}")) as u32
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_run_in_other_processes_with_params_and_results_transcoded() {
        let pool = pool(2).spawn().unwrap();
        let endpoint = endpoint(&pool);
        let pid = pid_of(&call(&endpoint, "pid", json!([])).await);
        assert_ne!(pid, std::process::id());
        assert!(pool.pids().contains(&pid), "{pid} in {:?}", pool.pids());
        assert_eq!(call(&endpoint, "add", json!([40, 2])).await["result"], 42);
        let value = json!({"s": "ü", "n": [1, -2, 3.5], "t": true, "z": null});
        assert_eq!(
            call(&endpoint, "echo", json!([value.clone()])).await["result"],
            value
        );
        // The worker's own errors come back as they were.
        let reply = call(&endpoint, "add", json!(["x"])).await;
        assert_eq!(
            reply["error"]["code"],
            json!(ErrorCode::InvalidParams.code()),
            "{reply}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_in_a_worker_answers_32603_and_the_worker_lives_on() {
        let pool = pool(1).spawn().unwrap();
        let endpoint = endpoint(&pool);
        let before = pid_of(&call(&endpoint, "pid", json!([])).await);
        let reply = call(&endpoint, "panic", json!([])).await;
        assert_eq!(
            reply["error"]["code"],
            json!(ErrorCode::InternalError.code()),
            "{reply}"
        );
        assert_eq!(pid_of(&call(&endpoint, "pid", json!([])).await), before);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_crashed_worker_fails_only_its_call_and_is_replaced() {
        let pool = pool(2).spawn().unwrap();
        let endpoint = endpoint(&pool);
        let first = pool.pids();
        assert_eq!(first.len(), 2);
        // A long call keeps one worker busy; the crash goes to the other.
        let long = tokio::spawn({
            let endpoint = endpoint.clone();
            async move { call(&endpoint, "sleep", json!([1500])).await }
        });
        while pool.in_flight() == 0 {
            tokio::task::yield_now().await;
        }
        let reply = call(&endpoint, "crash", json!([])).await;
        assert_eq!(
            reply["error"]["code"],
            json!(ErrorCode::InternalError.code()),
            "{reply}"
        );
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("worker process") && message.contains("exited"),
            "{message}"
        );
        // The next call is served, by the old busy worker or the replacement.
        let next = pid_of(&call(&endpoint, "pid", json!([])).await);
        assert!(pool.pids().contains(&next));
        // The long call was not touched by its neighbour's crash.
        let long = long.await.unwrap();
        assert!(first.contains(&pid_of(&long)), "{long}");
        // The crashed one was replaced: two live workers, one of them new.
        let now = pool.pids();
        assert_eq!(now.len(), 2, "{now:?}");
        assert_eq!(
            now.iter().filter(|pid| !first.contains(pid)).count(),
            1,
            "{first:?} -> {now:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn restart_moves_new_calls_to_new_workers_and_lets_old_calls_finish() {
        let pool = pool(1).spawn().unwrap();
        let endpoint = endpoint(&pool);
        let old = pid_of(&call(&endpoint, "pid", json!([])).await);
        let in_flight = tokio::spawn({
            let endpoint = endpoint.clone();
            async move { call(&endpoint, "sleep", json!([300])).await }
        });
        while pool.in_flight() == 0 {
            tokio::task::yield_now().await;
        }
        pool.restart().unwrap();
        assert_eq!(pool.generation(), 1);
        let new = pid_of(&call(&endpoint, "pid", json!([])).await);
        assert_ne!(new, old);
        // The old worker finished its call before it went.
        assert_eq!(pid_of(&in_flight.await.unwrap()), old);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reloaded_method_with_a_new_pool_runs_the_new_code() {
        let v1 = pool(1).env("TEST_VERSION", "1").spawn().unwrap();
        let v2 = pool(1).env("TEST_VERSION", "2").spawn().unwrap();
        assert_eq!(
            call(&endpoint(&v1), "version", json!([])).await["result"],
            "1"
        );
        // What a hot reload does: the same method, registered with a new pool.
        drop(v1);
        assert_eq!(
            call(&endpoint(&v2), "version", json!([])).await["result"],
            "2"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_timeout_and_the_concurrency_limit_apply_to_workers() {
        let pool = pool(2).spawn().unwrap();
        let router = worker_router("t").unwrap().configure("sleep", |s| {
            s.executor(pool.clone())
                .timeout(Duration::from_millis(50))
                .concurrency_limit(1)
        });
        let limit = router
            .settings("sleep")
            .unwrap()
            .concurrency()
            .unwrap()
            .clone();
        let endpoint = Endpoint::new(router);
        let reply = call(&endpoint, "sleep", json!([60_000])).await;
        assert_eq!(
            reply["error"]["code"],
            json!(CALL_TIMED_OUT.code()),
            "{reply}"
        );
        // The timed-out call still runs in its worker and keeps its slot,
        // so the next call waits for it (and times out waiting).
        assert_eq!(pool.in_flight(), 1);
        assert_eq!(limit.available(), 0);
        let reply = call(&endpoint, "sleep", json!([0])).await;
        assert_eq!(
            reply["error"]["code"],
            json!(CALL_TIMED_OUT.code()),
            "{reply}"
        );
        assert_eq!(
            pool.in_flight(),
            1,
            "the second call never reached a worker"
        );
    }
}
