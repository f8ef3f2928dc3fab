//! The whole stack without sockets: frames in, frames out, via `oneshot`.

use std::sync::Arc;

use rpckit::codec::{Frame, JsonCodec};
use rpckit::extract::{Extension, MethodName, Params, RequestId};
use rpckit::{Call, Endpoint, ErrorCode, ErrorObject, Router};
use serde_json::{json, Value};
use tokio::sync::Notify;
use tower::ServiceExt;

async fn ask(endpoint: &Endpoint, body: &str) -> Option<Value> {
    ask_with(
        endpoint,
        Frame::new(body.to_owned(), Arc::new(JsonCodec::default())),
    )
    .await
}

async fn ask_with(endpoint: &Endpoint, frame: Frame) -> Option<Value> {
    let reply = endpoint
        .clone()
        .into_service()
        .oneshot(frame)
        .await
        .unwrap();
    reply.map(|frame| serde_json::from_slice(&frame.bytes).expect("replies are JSON"))
}

fn call(method: &str, params: Value, id: i64) -> String {
    json!({"jsonrpc": "2.0", "method": method, "params": params, "id": id}).to_string()
}

#[tokio::test]
async fn aliases_reach_one_handler_that_knows_its_name() {
    let router = Router::new()
        .sync_method(["echo", "helloworld"], |MethodName(name): MethodName| {
            name.to_string()
        });
    let endpoint = Endpoint::new(router);
    let reply = ask(&endpoint, &call("helloworld", json!([]), 1))
        .await
        .unwrap();
    assert_eq!(reply["result"], "helloworld");
    let reply = ask(&endpoint, &call("echo", json!([]), 2)).await.unwrap();
    assert_eq!(reply["result"], "echo");
}

#[tokio::test]
async fn async_and_sync_handlers_with_typed_errors() {
    #[derive(Debug)]
    struct Refused;
    impl From<Refused> for ErrorObject {
        fn from(_: Refused) -> Self {
            ErrorObject::new(ErrorCode::Application(42), "refused")
                .with_data(json!({"why": "test"}))
        }
    }
    let router = Router::new()
        .method(
            "add",
            |Params((a, b)): Params<(i64, i64)>| async move { a + b },
        )
        .method("refuse", || async { Err::<(), _>(Refused) })
        .sync_method("id", |RequestId(id): RequestId| id.map(|id| id.to_string()));
    let endpoint = Endpoint::new(router);
    assert_eq!(
        ask(&endpoint, &call("add", json!([2, 3]), 1))
            .await
            .unwrap()["result"],
        5
    );
    let reply = ask(&endpoint, &call("refuse", json!([]), 2)).await.unwrap();
    assert_eq!(reply["error"]["code"], 42);
    assert_eq!(reply["error"]["data"]["why"], "test");
    assert_eq!(reply["id"], 2);
    assert_eq!(
        ask(&endpoint, &call("id", json!([]), 3)).await.unwrap()["result"],
        "3"
    );
}

#[tokio::test]
async fn invalid_params_name_the_param() {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Move {
        from: u32,
        to: u32,
    }
    let router = Router::new().sync_method("move", |Params(_): Params<Move>| true);
    let endpoint = Endpoint::new(router);
    let reply = ask(&endpoint, &call("move", json!([1, "x"]), 1))
        .await
        .unwrap();
    assert_eq!(reply["error"]["code"], -32602);
    assert_eq!(reply["error"]["data"]["param"], "to");
    assert!(reply["error"]["message"].as_str().unwrap().contains("`to`"));
    let reply = ask(&endpoint, &call("move", json!({"to": 1}), 2))
        .await
        .unwrap();
    assert_eq!(reply["error"]["data"]["param"], "from");
}

#[tokio::test]
async fn a_panicking_handler_fails_its_call_and_the_service_lives_on() {
    let router = Router::new()
        .sync_method("boom", || -> u8 { panic!("boom") })
        .method("async_boom", || async { panic!("async boom") as u8 })
        .sync_method("ok", || 1);
    let endpoint = Endpoint::new(router);
    for method in ["boom", "async_boom"] {
        let reply = ask(&endpoint, &call(method, json!([]), 1)).await.unwrap();
        assert_eq!(reply["error"]["code"], -32603, "{method}");
        assert_eq!(reply["id"], 1);
    }
    assert_eq!(
        ask(&endpoint, &call("ok", json!([]), 2)).await.unwrap()["result"],
        1
    );
}

#[tokio::test]
async fn notifications_run_but_are_never_answered() {
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = seen.clone();
    let router = Router::new().sync_method("note", move || {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    });
    let endpoint = Endpoint::new(router);
    assert!(ask(&endpoint, r#"{"jsonrpc":"2.0","method":"note"}"#)
        .await
        .is_none());
    assert!(ask(&endpoint, r#"{"jsonrpc":"2.0","method":"missing"}"#)
        .await
        .is_none());
    let batch =
        r#"[{"jsonrpc":"2.0","method":"note"},{"jsonrpc":"2.0","method":"note","params":[]}]"#;
    assert!(ask(&endpoint, batch).await.is_none());
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 3);
    // `"id": null` is a request, and is answered.
    let reply = ask(&endpoint, r#"{"jsonrpc":"2.0","method":"note","id":null}"#)
        .await
        .unwrap();
    assert_eq!(reply, json!({"jsonrpc": "2.0", "result": null, "id": null}));
}

#[tokio::test]
async fn a_batch_runs_concurrently_and_answers_in_request_order() {
    // `first` can only finish after `second` ran: were the batch sequential,
    // this would never complete.
    let gate = Arc::new(Notify::new());
    let (wait, open) = (gate.clone(), gate);
    let router = Router::new()
        .method("first", move || {
            let wait = wait.clone();
            async move {
                wait.notified().await;
                "first"
            }
        })
        .method("second", move || {
            let open = open.clone();
            async move {
                open.notify_one();
                "second"
            }
        });
    let endpoint = Endpoint::new(router);
    let batch = json!([
        {"jsonrpc": "2.0", "method": "first", "id": 1},
        {"jsonrpc": "2.0", "method": "second", "id": 2},
    ]);
    let reply = ask(&endpoint, &batch.to_string()).await.unwrap();
    assert_eq!(reply[0]["result"], "first");
    assert_eq!(reply[1]["result"], "second");
}

#[tokio::test]
async fn extensions_from_the_frame_reach_handlers_and_missing_ones_are_internal_errors() {
    #[derive(Clone)]
    struct User(&'static str);
    let router = Router::new().sync_method("whoami", |Extension(User(name)): Extension<User>| name);
    let endpoint = Endpoint::new(router);
    let mut frame = Frame::new(call("whoami", json!([]), 1), Arc::new(JsonCodec::default()));
    frame.extensions.insert(User("ada"));
    assert_eq!(ask_with(&endpoint, frame).await.unwrap()["result"], "ada");
    let reply = ask(&endpoint, &call("whoami", json!([]), 1)).await.unwrap();
    assert_eq!(reply["error"]["code"], -32603);
}

#[tokio::test]
async fn tower_middleware_fits_at_the_call_level() {
    use rpckit::{CodecLayer, RpcLayer};
    use tower::ServiceBuilder;

    // A call-level layer that rejects one method before the router.
    let guard = tower::filter::FilterLayer::new(|call: Call| {
        if call.method() == "secret" {
            Err("forbidden by policy")
        } else {
            Ok(call)
        }
    });
    let service = ServiceBuilder::new()
        .layer(CodecLayer::default())
        .layer(RpcLayer::default())
        .layer(guard)
        .service(
            Router::new()
                .sync_method("secret", || 1)
                .sync_method("open", || 2),
        );
    let frame =
        |method: &str| Frame::new(call(method, json!([]), 7), Arc::new(JsonCodec::default()));
    let reply = service
        .clone()
        .oneshot(frame("open"))
        .await
        .unwrap()
        .unwrap();
    let reply: Value = serde_json::from_slice(&reply.bytes).unwrap();
    assert_eq!(reply["result"], 2);
    let reply = service.oneshot(frame("secret")).await.unwrap().unwrap();
    let reply: Value = serde_json::from_slice(&reply.bytes).unwrap();
    assert_eq!(reply["error"]["code"], -32603);
    assert!(reply["error"]["message"]
        .as_str()
        .unwrap()
        .contains("forbidden by policy"));
}

#[test]
#[should_panic(expected = "registered twice")]
fn duplicate_names_are_rejected_at_build_time() {
    let _ = Router::new()
        .sync_method("a", || 1)
        .sync_method(["b", "a"], || 2);
}

#[test]
#[should_panic(expected = "reserved")]
fn rpc_names_are_reserved() {
    let _ = Router::new().sync_method("rpc.discover", || 1);
}

#[test]
#[should_panic(expected = "registered twice")]
fn merging_routers_rejects_duplicates() {
    let _ = Router::new()
        .sync_method("a", || 1)
        .merge(Router::new().sync_method("a", || 2));
}

#[test]
fn public_types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Router>();
    assert_send_sync::<Endpoint>();
    assert_send_sync::<rpckit::EndpointService>();
    assert_send_sync::<Call>();
    assert_send_sync::<ErrorObject>();
    // The futures the transports box and poll from any worker.
    fn assert_send<T: Send>() {}
    assert_send::<rpckit::RpcFuture>();
    assert_send::<<rpckit::EndpointService as tower::Service<rpckit::codec::Frame>>::Future>();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn large_frames_are_served_off_the_runtime_worker() {
    // `big` holds its thread until released. With one runtime worker, were
    // the large frame served inline, `small` (spawned after `big` started)
    // would find the worker taken and never run.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let held = Arc::new(std::sync::Mutex::new(held));
    let (started, big_started) = std::sync::mpsc::channel::<()>();
    let started = Arc::new(std::sync::Mutex::new(started));
    let (small_ran, ran) = std::sync::mpsc::channel::<()>();
    let small_ran = Arc::new(std::sync::Mutex::new(small_ran));
    let router = Router::new()
        .sync_method("big", move |Params((text,)): Params<(String,)>| {
            started.lock().unwrap().send(()).unwrap();
            held.lock().unwrap().recv().unwrap();
            text.len()
        })
        .sync_method("small", move || small_ran.lock().unwrap().send(()).is_ok());
    let endpoint = Endpoint::new(router).offload_above(1024);
    let big = tokio::spawn({
        let endpoint = endpoint.clone();
        async move { ask(&endpoint, &call("big", json!(["x".repeat(4096)]), 1)).await }
    });
    // The test's own thread is not a runtime worker: it may block to wait.
    big_started.recv().unwrap();
    let small = tokio::spawn({
        let endpoint = endpoint.clone();
        async move { ask(&endpoint, &call("small", json!([]), 2)).await }
    });
    let served = ran.recv_timeout(std::time::Duration::from_secs(60));
    release.send(()).unwrap();
    served.expect("a small call starved behind a large frame");
    assert_eq!(small.await.unwrap().unwrap()["result"], true);
    assert_eq!(big.await.unwrap().unwrap()["result"], 4096);
}

/// JSON, noting the name of the thread each reply is encoded on.
#[derive(Debug, Default)]
struct EncodedWhere(std::sync::Mutex<Vec<String>>);

impl rpckit::codec::Codec for EncodedWhere {
    fn name(&self) -> &'static str {
        "json"
    }
    fn media_types(&self) -> &'static [&'static str] {
        JsonCodec::default().media_types()
    }
    fn decode(
        &self,
        frame: bytes::Bytes,
        limits: &rpckit::codec::DecodeLimits,
    ) -> rpckit::codec::Message {
        JsonCodec::default().decode(frame, limits)
    }
    fn deserialize_params(
        &self,
        raw: &rpckit::codec::RawParams,
        visit: rpckit::codec::Visit<'_>,
    ) -> Result<(), rpckit::codec::ValueError> {
        JsonCodec::default().deserialize_params(raw, visit)
    }
    fn encode_value(
        &self,
        value: rpckit::codec::Serializable<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), rpckit::codec::ValueError> {
        JsonCodec::default().encode_value(value, out)
    }
    fn encode_reply(&self, reply: &rpckit::codec::Reply, out: &mut Vec<u8>) {
        let thread = std::thread::current().name().unwrap_or_default().to_owned();
        self.0.lock().unwrap().push(thread);
        JsonCodec::default().encode_reply(reply, out);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_small_call_with_a_large_result_gets_its_reply_encoded_off_the_runtime_worker() {
    let router =
        Router::new().sync_method("text", |Params((len,)): Params<(usize,)>| "x".repeat(len));
    let endpoint = Endpoint::new(router).offload_above(1024);
    let codec = Arc::new(EncodedWhere::default());
    for (len, id) in [(10, 1), (4096, 2)] {
        let frame = Frame::new(call("text", json!([len]), id), codec.clone());
        let reply = ask_with(&endpoint, frame).await.unwrap();
        assert_eq!(reply["result"].as_str().unwrap().len(), len);
    }
    let threads = codec.0.lock().unwrap().clone();
    assert_eq!(threads.len(), 2);
    assert_ne!(
        threads[0], "rpckit-background",
        "a small result is encoded in place"
    );
    assert_eq!(threads[1], "rpckit-background");
}

#[tokio::test]
async fn a_batch_runs_at_most_batch_concurrency_calls_at_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    // Each call stays running for a few polls; were the limit ignored, all
    // six would run at once.
    let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (now, peak) = (running.clone(), most.clone());
    let router = Router::new().method("step", move |Params((n,)): Params<(u32,)>| {
        let (now, peak) = (now.clone(), peak.clone());
        async move {
            let at_once = now.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(at_once, Ordering::SeqCst);
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            now.fetch_sub(1, Ordering::SeqCst);
            n
        }
    });
    let endpoint = Endpoint::new(router).batch_concurrency(2);
    let batch: Vec<Value> = (0..6)
        .map(|n| json!({"jsonrpc": "2.0", "method": "step", "params": [n], "id": n}))
        .collect();
    let reply = ask(&endpoint, &Value::from(batch).to_string())
        .await
        .unwrap();
    let results: Vec<&Value> = reply
        .as_array()
        .unwrap()
        .iter()
        .map(|response| &response["result"])
        .collect();
    assert_eq!(
        results,
        [0, 1, 2, 3, 4, 5]
            .map(Value::from)
            .iter()
            .collect::<Vec<_>>()
    );
    assert_eq!(most.load(Ordering::SeqCst), 2);
    assert_eq!(running.load(Ordering::SeqCst), 0);
}
