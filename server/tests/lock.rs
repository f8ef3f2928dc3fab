//! Locking a router or single methods (`ApiHandle::lock`, `lock_method`):
//! held calls wait without polling and resume on unlock; lock timeouts
//! answer -32002; exempt methods run while all is locked.
//!
//! On tokio's paused clock and the current-thread runtime: a `timeout` on
//! the paused clock expires only once every task is idle, so "this call is
//! held" is checked without guessing at timing.

use std::time::Duration;

use rpckit::{ApiHandle, Endpoint, ReloadOptions, Router, LOCK_TIMED_OUT};

mod common;
use common::{call, spawn_call};

/// Longer than any lock timeout here.
const PATIENCE: Duration = Duration::from_secs(3600);

fn api() -> Router {
    Router::new()
        .sync_method(["read", "get"], || "read")
        .sync_method("write", || "written")
        .method("lock", |api: ApiHandle| async move { api.lock() })
        .method("unlock", |api: ApiHandle| async move { api.unlock() })
        .configure("unlock", |settings| settings.lock_exempt(true))
}

#[tokio::test(start_paused = true)]
async fn calls_to_a_locked_router_wait_and_resume_on_unlock() {
    let endpoint = Endpoint::new(api());
    let handle = endpoint.handle();
    assert!(handle.lock());
    assert!(!handle.lock(), "already locked");
    assert!(handle.is_locked());

    let mut read = spawn_call(&endpoint, "read");
    let mut write = spawn_call(&endpoint, "write");
    assert!(common::is_held(&mut read, PATIENCE).await);
    assert!(common::is_held(&mut write, PATIENCE).await);
    assert_eq!(handle.in_flight(), 0, "held calls are not in flight");

    assert!(handle.unlock());
    assert_eq!(read.await.unwrap()["result"], "read");
    assert_eq!(write.await.unwrap()["result"], "written");
    assert!(!handle.is_locked());
}

#[tokio::test(start_paused = true)]
async fn a_locked_method_waits_while_the_others_run() {
    let endpoint = Endpoint::new(api());
    let handle = endpoint.handle();
    assert!(handle.lock_method("read"));
    assert!(handle.is_method_locked("read"));

    let mut read = spawn_call(&endpoint, "read");
    // Its alias shares the lock.
    let mut get = spawn_call(&endpoint, "get");
    assert!(common::is_held(&mut read, PATIENCE).await);
    assert!(common::is_held(&mut get, PATIENCE).await);
    assert_eq!(call(&endpoint, "write").await["result"], "written");

    assert!(handle.unlock_method("read"));
    assert!(!handle.unlock_method("read"), "already unlocked");
    assert_eq!(read.await.unwrap()["result"], "read");
    assert_eq!(get.await.unwrap()["result"], "read");
}

#[tokio::test(start_paused = true)]
async fn unlocking_the_router_leaves_a_method_lock_in_place() {
    let endpoint = Endpoint::new(api());
    let handle = endpoint.handle();
    handle.lock();
    handle.lock_method("write");
    let mut read = spawn_call(&endpoint, "read");
    let mut write = spawn_call(&endpoint, "write");
    assert!(common::is_held(&mut read, PATIENCE).await);
    handle.unlock();
    assert_eq!(read.await.unwrap()["result"], "read");
    assert!(
        common::is_held(&mut write, PATIENCE).await,
        "still locked by name"
    );
    handle.unlock_method("write");
    assert_eq!(write.await.unwrap()["result"], "written");
}

#[tokio::test(start_paused = true)]
async fn a_lock_wait_past_the_router_lock_timeout_answers_32002() {
    let endpoint = Endpoint::new(api().lock_timeout(Duration::from_secs(2)));
    let handle = endpoint.handle();
    handle.lock();
    let began = tokio::time::Instant::now();
    let reply = call(&endpoint, "read").await;
    assert_eq!(reply["error"]["code"], LOCK_TIMED_OUT.code());
    assert_eq!(LOCK_TIMED_OUT.code(), -32002);
    assert_eq!(
        reply["error"]["message"],
        "method `read` stayed locked for 2000 ms"
    );
    assert_eq!(began.elapsed(), Duration::from_secs(2));
    // The server goes on: unlocked, the method answers.
    handle.unlock();
    assert_eq!(call(&endpoint, "read").await["result"], "read");
}

#[tokio::test(start_paused = true)]
async fn a_method_lock_timeout_overrides_the_routers() {
    let endpoint = Endpoint::new(
        api()
            .lock_timeout(Duration::from_secs(2))
            .configure("write", |settings| {
                settings.lock_timeout(Duration::from_millis(300))
            }),
    );
    let handle = endpoint.handle();
    handle.lock_method("write");
    let began = tokio::time::Instant::now();
    let reply = call(&endpoint, "write").await;
    assert_eq!(reply["error"]["code"], -32002);
    assert_eq!(began.elapsed(), Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn a_call_unlocked_within_its_lock_timeout_runs() {
    let endpoint = Endpoint::new(api().lock_timeout(Duration::from_secs(2)));
    let handle = endpoint.handle();
    handle.lock();
    let read = spawn_call(&endpoint, "read");
    tokio::time::sleep(Duration::from_secs(1)).await;
    handle.unlock();
    assert_eq!(read.await.unwrap()["result"], "read");
}

#[tokio::test(start_paused = true)]
async fn an_exempt_unlock_method_works_while_everything_is_locked() {
    let endpoint = Endpoint::new(api());
    // Locked from inside a handler.
    assert_eq!(call(&endpoint, "lock").await["result"], true);
    let mut read = spawn_call(&endpoint, "read");
    assert!(common::is_held(&mut read, PATIENCE).await);
    assert_eq!(call(&endpoint, "unlock").await["result"], true);
    assert_eq!(read.await.unwrap()["result"], "read");
    assert!(!endpoint.handle().is_locked());
}

#[tokio::test(start_paused = true)]
async fn a_method_that_is_not_exempt_waits_like_the_others() {
    let endpoint = Endpoint::new(api());
    endpoint.handle().lock();
    let mut lock_again = spawn_call(&endpoint, "lock");
    assert!(common::is_held(&mut lock_again, PATIENCE).await);
    assert_eq!(call(&endpoint, "unlock").await["result"], true);
    assert_eq!(
        lock_again.await.unwrap()["result"],
        true,
        "it ran, unlocked"
    );
}

#[tokio::test(start_paused = true)]
async fn an_exempt_method_locked_by_name_waits() {
    let endpoint = Endpoint::new(api());
    let handle = endpoint.handle();
    handle.lock_method("unlock");
    let mut unlock = spawn_call(&endpoint, "unlock");
    assert!(common::is_held(&mut unlock, PATIENCE).await);
    handle.unlock_method("unlock");
    assert_eq!(unlock.await.unwrap()["result"], false, "was not locked");
}

#[tokio::test(start_paused = true)]
async fn unknown_methods_are_answered_at_once_while_locked() {
    let endpoint = Endpoint::new(api());
    let handle = endpoint.handle();
    handle.lock();
    handle.lock_method("nope");
    assert_eq!(call(&endpoint, "nope").await["error"]["code"], -32601);
}

#[tokio::test(start_paused = true)]
async fn locks_stay_across_a_reload_and_held_calls_run_on_the_new_table() {
    let endpoint = Endpoint::new(api());
    let handle = endpoint.handle();
    handle.lock_method("read");
    let mut read = spawn_call(&endpoint, "read");
    assert!(common::is_held(&mut read, PATIENCE).await);
    handle
        .reload(ReloadOptions::new(), |_old| {
            Router::new().sync_method("read", || "read v2")
        })
        .await
        .unwrap();
    assert!(
        common::is_held(&mut read, PATIENCE).await,
        "the lock is the router's"
    );
    handle.unlock_method("read");
    assert_eq!(read.await.unwrap()["result"], "read v2");
}

#[tokio::test(start_paused = true)]
async fn many_held_calls_all_resume_on_one_unlock() {
    const CALLS: usize = 100;
    let endpoint = Endpoint::new(api());
    let handle = endpoint.handle();
    handle.lock();
    let mut calls: Vec<_> = (0..CALLS).map(|_| spawn_call(&endpoint, "read")).collect();
    assert!(common::is_held(&mut calls[CALLS - 1], PATIENCE).await);
    handle.unlock();
    let mut answered = 0;
    for call in calls {
        assert_eq!(call.await.unwrap()["result"], "read");
        answered += 1;
    }
    assert_eq!(answered, CALLS);
}
