//! Statistics: exact counts, in-flight calls, latency quantiles on the
//! paused clock, stage times, connections and compression from the
//! transports, the Prometheus exposition (parsed strictly), and stats
//! switched off. Call spans are in `spans.rs`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rpckit::extract::Params;
use rpckit::stats::{Stage, Stats, Unit};
use rpckit::{Endpoint, ErrorObject, Router};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;
mod common;
use common::send as ask;
use tower::ServiceExt;

fn call(method: &str, params: Value, id: i64) -> String {
    json!({"jsonrpc": "2.0", "method": method, "params": params, "id": id}).to_string()
}

fn counting_router() -> Router {
    Router::new()
        .sync_method(["ok", "fine"], || "ok")
        .sync_method("fail", || {
            Err::<(), _>(ErrorObject::invalid_params("always refused"))
        })
        .sync_method("sync_boom", || -> &'static str { panic!("sync boom") })
        .method("async_boom", || async {
            tokio::task::yield_now().await;
            panic!("async boom");
            #[allow(unreachable_code)]
            "never"
        })
}

#[tokio::test]
async fn calls_and_errors_are_counted_exactly_panics_included() {
    let router = counting_router();
    let stats = router.stats_handle().unwrap();
    let endpoint = Endpoint::new(router);
    for id in 0..7 {
        assert_eq!(
            ask(&endpoint, &call("ok", json!([]), id)).await.unwrap()["result"],
            "ok"
        );
    }
    // Through the alias: the same method.
    ask(&endpoint, &call("fine", json!([]), 7)).await.unwrap();
    for id in 0..3 {
        let reply = ask(&endpoint, &call("fail", json!([]), id)).await.unwrap();
        assert_eq!(reply["error"]["code"], -32602);
    }
    for method in ["sync_boom", "async_boom"] {
        let reply = ask(&endpoint, &call(method, json!([]), 1)).await.unwrap();
        assert_eq!(reply["error"]["code"], -32603);
    }
    // A batch: each entry counts, the notification too.
    let batch = json!([
        {"jsonrpc": "2.0", "method": "ok", "id": 1},
        {"jsonrpc": "2.0", "method": "fail", "id": 2},
        {"jsonrpc": "2.0", "method": "async_boom", "id": 3},
        {"jsonrpc": "2.0", "method": "ok"},
        {"jsonrpc": "2.0", "method": "nope", "id": 4},
    ]);
    let reply = ask(&endpoint, &batch.to_string()).await.unwrap();
    assert_eq!(reply.as_array().unwrap().len(), 4);

    let snapshot = stats.snapshot(Unit::Seconds);
    let counts = |name: &str| {
        let method = snapshot.method(name).unwrap();
        (
            method.calls,
            method.errors,
            method.cancelled,
            method.in_flight,
        )
    };
    assert_eq!(counts("ok"), (10, 0, 0, 0));
    assert_eq!(counts("fine"), (10, 0, 0, 0), "an alias is the same method");
    assert_eq!(counts("fail"), (4, 4, 0, 0));
    assert_eq!(counts("sync_boom"), (1, 1, 0, 0));
    assert_eq!(counts("async_boom"), (2, 2, 0, 0));
    assert_eq!(snapshot.method("ok").unwrap().aliases, ["fine"]);
    assert_eq!(snapshot.method("ok").unwrap().latency.count, 10);
    // An unknown method is no method.
    assert!(snapshot.method("nope").is_none());
    assert_eq!(snapshot.methods.len(), 4);
    // The handler stage is every method's calls.
    assert_eq!(snapshot.stages.handler.count, 17);
}

#[tokio::test]
async fn a_parked_call_is_in_flight_until_it_answers() {
    let entered = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let router = {
        let (entered, release) = (entered.clone(), release.clone());
        Router::new().method("park", move || {
            let (entered, release) = (entered.clone(), release.clone());
            async move {
                entered.notify_one();
                release.notified().await;
                "done"
            }
        })
    };
    let stats = router.stats_handle().unwrap();
    let endpoint = Endpoint::new(router);
    let parked = tokio::spawn({
        let endpoint = endpoint.clone();
        async move { ask(&endpoint, &call("park", json!([]), 1)).await }
    });
    entered.notified().await;
    let method = stats.snapshot_ms().method("park").cloned().unwrap();
    assert_eq!(
        (method.calls, method.in_flight, method.latency.count),
        (1, 1, 0)
    );
    release.notify_one();
    assert_eq!(parked.await.unwrap().unwrap()["result"], "done");
    let method = stats.snapshot_ms().method("park").cloned().unwrap();
    assert_eq!(
        (method.calls, method.in_flight, method.latency.count),
        (1, 0, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn latency_quantiles_on_the_paused_clock() {
    let router = Router::new().method("sleep", |Params((ms,)): Params<(u64,)>| async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        ms
    });
    let stats = router.stats_handle().unwrap();
    let endpoint = Endpoint::new(router);
    for ms in 1..=100 {
        ask(&endpoint, &call("sleep", json!([ms]), 1))
            .await
            .unwrap();
    }
    let latency = stats
        .snapshot(Unit::Milliseconds)
        .method("sleep")
        .unwrap()
        .latency;
    assert_eq!(latency.count, 100);
    assert_eq!(latency.min, 1.0);
    assert_eq!(latency.max, 100.0);
    assert_eq!(latency.total, 5050.0);
    assert_eq!(latency.mean, 50.5);
    for (got, exact) in [
        (latency.p50, 50.0),
        (latency.p90, 90.0),
        (latency.p99, 99.0),
    ] {
        assert!((got - exact).abs() <= exact / 16.0, "{got} vs {exact}");
    }
    // The same in seconds.
    let seconds = stats
        .snapshot(Unit::Seconds)
        .method("sleep")
        .unwrap()
        .latency;
    assert_eq!(seconds.max, 0.1);
    assert_eq!(stats.snapshot(Unit::Seconds).unit, Unit::Seconds);
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_call_is_an_error_and_a_dropped_one_is_cancelled() {
    let router = Router::new()
        .method("slow", || async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            "late"
        })
        .configure("slow", |settings| settings.timeout(Duration::from_secs(1)))
        .method("forever", || async {
            std::future::pending::<()>().await;
            "never"
        });
    let stats = router.stats_handle().unwrap();
    let endpoint = Endpoint::new(router);
    let reply = ask(&endpoint, &call("slow", json!([]), 1)).await.unwrap();
    assert_eq!(reply["error"]["code"], -32001);
    let dropped = tokio::time::timeout(
        Duration::from_secs(1),
        ask(&endpoint, &call("forever", json!([]), 2)),
    )
    .await;
    assert!(dropped.is_err());
    let snapshot = stats.snapshot_ms();
    let slow = snapshot.method("slow").unwrap();
    assert_eq!((slow.calls, slow.errors, slow.cancelled), (1, 1, 0));
    assert_eq!(slow.latency.max, 1000.0);
    let forever = snapshot.method("forever").unwrap();
    assert_eq!(
        (
            forever.calls,
            forever.errors,
            forever.cancelled,
            forever.in_flight
        ),
        (1, 0, 1, 0)
    );
    assert_eq!(forever.latency.count, 0);
}

#[tokio::test]
async fn stages_are_timed_where_they_happen() {
    let router = Router::new().sync_method("echo", |Params((s,)): Params<(String,)>| s);
    let stats = router.stats_handle().unwrap();
    let endpoint = Endpoint::new(router);
    for id in 0..5 {
        ask(&endpoint, &call("echo", json!(["x".repeat(1000)]), id))
            .await
            .unwrap();
    }
    // A notification is decoded, never encoded.
    let note = json!({"jsonrpc": "2.0", "method": "echo", "params": ["n"]}).to_string();
    assert!(ask(&endpoint, &note).await.is_none());
    // A malformed frame is decoded (into an error) and its answer encoded.
    assert_eq!(
        ask(&endpoint, "{oops").await.unwrap()["error"]["code"],
        -32700
    );

    let stages = stats.snapshot(Unit::Seconds).stages;
    assert_eq!(stages.decode.count, 7);
    assert_eq!(stages.encode.count, 6);
    assert_eq!(stages.handler.count, 6);
    for stage in [Stage::Decode, Stage::Encode, Stage::Handler] {
        let timing = stages.get(stage);
        assert!(
            timing.total > 0.0 && timing.max > 0.0,
            "{stage}: {timing:?}"
        );
        assert!(
            timing.min <= timing.p50 && timing.p50 <= timing.max,
            "{stage}"
        );
    }
    // Nothing waited, nothing was compressed.
    assert_eq!((stages.wait.count, stages.compress.count), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn other_modules_record_waiting_with_a_stage_timer() {
    let router = Router::new().method("queued", |stats: Stats| async move {
        let waiting = stats.timer(Stage::Wait);
        tokio::time::sleep(Duration::from_millis(30)).await;
        waiting.stop();
        let cancelled = stats.timer(Stage::Wait);
        cancelled.cancel();
        "served"
    });
    let stats = router.stats_handle().unwrap();
    ask(&Endpoint::new(router), &call("queued", json!([]), 1))
        .await
        .unwrap();
    stats.record(Stage::Wait, Duration::from_millis(10));
    let wait = stats.snapshot_ms().stages.wait;
    assert_eq!(
        (wait.count, wait.total, wait.min, wait.max),
        (2, 40.0, 10.0, 30.0)
    );
}

/// The original's `stats(inMS=False)`.
#[derive(serde::Deserialize)]
struct InMs {
    #[serde(default, rename = "inMS")]
    in_ms: bool,
}

#[tokio::test]
async fn a_handler_reads_its_routers_stats() {
    let router = Router::new().sync_method("ping", || "pong").sync_method(
        "stats",
        |stats: Stats, Params(p): Params<InMs>| {
            let unit = if p.in_ms {
                Unit::Milliseconds
            } else {
                Unit::Seconds
            };
            Ok::<_, ErrorObject>(stats.snapshot(unit))
        },
    );
    let endpoint = Endpoint::new(router);
    ask(&endpoint, &call("ping", json!([]), 1)).await.unwrap();
    let reply = ask(&endpoint, &call("stats", json!([true]), 2))
        .await
        .unwrap();
    let snapshot = &reply["result"];
    assert_eq!(snapshot["unit"], "ms");
    let methods = snapshot["methods"].as_array().unwrap();
    let ping = methods.iter().find(|m| m["name"] == "ping").unwrap();
    assert_eq!(ping["calls"], 1);
    // The stats call itself is in flight while it reads.
    let own = methods.iter().find(|m| m["name"] == "stats").unwrap();
    assert_eq!(
        (own["calls"].as_u64(), own["in_flight"].as_u64()),
        (Some(1), Some(1))
    );
    for stage in ["decode", "wait", "handler", "encode", "compress"] {
        assert!(snapshot["stages"][stage]["p99"].is_number(), "{stage}");
    }
    let reply = ask(&endpoint, &call("stats", json!([]), 3)).await.unwrap();
    assert_eq!(reply["result"]["unit"], "s");
    let reply = ask(&endpoint, &call("stats", json!({"inMS": true}), 4))
        .await
        .unwrap();
    assert_eq!(reply["result"]["unit"], "ms");
}

#[tokio::test]
async fn stats_switched_off_record_nothing() {
    let router = Router::new()
        .sync_method("ping", || "pong")
        .sync_method("stats", |stats: Stats| {
            Ok::<_, ErrorObject>(stats.snapshot_ms())
        });
    let before = router.stats_handle().unwrap();
    let router = router.stats(false);
    assert!(router.stats_handle().is_none());
    let endpoint = Endpoint::new(router);
    assert!(endpoint.stats_handle().is_none());
    ask(&endpoint, &call("ping", json!([]), 1)).await.unwrap();
    let reply = ask(&endpoint, &call("stats", json!([]), 2)).await.unwrap();
    assert_eq!(reply["error"]["code"], -32603);
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(
        message.ends_with("statistics are off for this router"),
        "{message}"
    );
    let snapshot = before.snapshot_ms();
    assert!(snapshot.methods.iter().all(|method| method.calls == 0));
    assert_eq!(snapshot.stages.decode.count, 0);
    assert_eq!(snapshot.stages.encode.count, 0);
    // And on again: new, empty stats that count.
    let router = Router::new()
        .sync_method("ping", || "pong")
        .stats(false)
        .stats(true);
    let stats = router.stats_handle().unwrap();
    ask(&Endpoint::new(router), &call("ping", json!([]), 1))
        .await
        .unwrap();
    assert_eq!(stats.snapshot_ms().method("ping").unwrap().calls, 1);
}

#[tokio::test]
async fn merged_methods_count_in_the_merged_routers_stats() {
    let router = Router::new()
        .sync_method("a", || 1)
        .merge(Router::new().sync_method(["b", "bee"], || 2));
    let stats = router.stats_handle().unwrap();
    let endpoint = Endpoint::new(router);
    ask(&endpoint, &call("b", json!([]), 1)).await.unwrap();
    ask(&endpoint, &call("bee", json!([]), 2)).await.unwrap();
    let snapshot = stats.snapshot_ms();
    assert_eq!(snapshot.method("b").unwrap().calls, 2);
    assert_eq!(snapshot.method("b").unwrap().aliases, ["bee"]);
    assert_eq!(snapshot.method("a").unwrap().calls, 0);
}

// ---------------------------------------------------------------------------
// Over sockets.

/// Sends one HTTP/1.1 request on its own connection and reads the whole
/// answer (the server closes after it: `Connection: close`).
async fn http(addr: std::net::SocketAddr, head: &str, body: &str) -> (String, Vec<u8>) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{head}\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(answer[..split].to_vec()).unwrap();
    (head.to_ascii_lowercase(), answer[split + 4..].to_vec())
}

fn rpc_post(accept_encoding: &str) -> String {
    format!("POST /api HTTP/1.1\r\nContent-Type: application/json\r\nAccept-Encoding: {accept_encoding}")
}

#[tokio::test]
async fn the_http_transport_reports_path_connections_and_compression() {
    let router = Router::new()
        .sync_method("big", || "0123456789".repeat(10_000))
        .configure("big", |settings| settings.compression(true));
    let stats = router.stats_handle().unwrap();
    let server = rpckit::http::Server::builder()
        .route("/api", router)
        .service("/metrics", stats.prometheus_service())
        .bind("127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    let addr = server.local_addr();
    let (head, _) = http(addr, &rpc_post("gzip"), &call("big", json!([]), 1)).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-encoding: gzip"), "{head}");
    // Not accepted compressed: not compressed, not timed.
    let (head, body) = http(addr, &rpc_post("identity"), &call("big", json!([]), 2)).await;
    assert!(!head.contains("content-encoding"), "{head}");
    assert_eq!(
        body.len(),
        100_000 + r#"{"jsonrpc":"2.0","result":"","id":2}"#.len()
    );

    let (head, body) = http(addr, "GET /metrics HTTP/1.1", "").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    let text = String::from_utf8(body).unwrap();
    let families = parse_exposition(&text);
    assert_eq!(
        families["rpckit_calls_total"].samples
            [&sample_key("rpckit_calls_total", &[("path", "/api"), ("method", "big")])],
        2.0
    );
    // This connection is open while it is being answered.
    assert_eq!(
        families["rpckit_connections_open"].samples
            [&sample_key("rpckit_connections_open", &[("path", "/api")])],
        1.0
    );
    let (head, _) = http(addr, "DELETE /metrics HTTP/1.1", "").await;
    assert!(head.starts_with("http/1.1 405"), "{head}");

    server.shutdown().await;
    let snapshot = stats.snapshot(Unit::Seconds);
    assert_eq!(snapshot.path, "/api");
    assert_eq!(snapshot.stages.compress.count, 1);
    assert!(snapshot.stages.compress.total > 0.0);
    assert_eq!(snapshot.connections.accepted, 4);
    assert_eq!(snapshot.connections.open, 0);
    assert!(snapshot.connections.peak_per_second >= 1);
}

#[cfg(feature = "tcp")]
#[tokio::test]
async fn the_tcp_transport_reports_connections() {
    let router = Router::new().sync_method("ping", || "pong");
    let stats = router.stats_handle().unwrap();
    let server = rpckit::tcp::Server::builder(router)
        .bind("127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    let addr = server.local_addr().tcp().unwrap();
    for id in 0..3 {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(format!("{}\n", call("ping", json!([]), id)).as_bytes())
            .await
            .unwrap();
        stream.shutdown().await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.contains("pong"), "{answer}");
    }
    server.shutdown().await;
    let snapshot = stats.snapshot_ms();
    assert_eq!(snapshot.path, "");
    assert_eq!(snapshot.connections.accepted, 3);
    assert_eq!(snapshot.connections.open, 0);
    assert_eq!(snapshot.method("ping").unwrap().calls, 3);
}

// ---------------------------------------------------------------------------
// The exposition, parsed strictly.

#[derive(Debug, Default)]
struct Family {
    kind: String,
    help: bool,
    samples: HashMap<String, f64>,
}

fn sample_key(name: &str, labels: &[(&str, &str)]) -> String {
    let mut labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    labels.sort();
    format!("{name}|{}", labels.join(","))
}

/// A strict reader of the text format 0.0.4: every sample belongs to a
/// family declared by `# HELP` and `# TYPE` before it, with the suffixes
/// its type allows; label values are quoted with escapes; values are
/// floats. Panics on anything else.
fn parse_exposition(text: &str) -> HashMap<String, Family> {
    let mut families: HashMap<String, Family> = HashMap::new();
    let mut current: Option<String> = None;
    assert!(text.ends_with('\n'));
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _help) = rest.split_once(' ').unwrap();
            assert!(!families.contains_key(name), "{name} declared twice");
            families.insert(
                name.to_owned(),
                Family {
                    help: true,
                    ..Family::default()
                },
            );
            current = Some(name.to_owned());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert_eq!(current.as_deref(), Some(name), "TYPE after its HELP");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{kind}");
            families.get_mut(name).unwrap().kind = kind.to_owned();
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "stray line {line:?}"
        );
        let family_name = current.clone().expect("a sample before any family");
        let (name, labels, value) = parse_sample(line);
        let family = families.get_mut(&family_name).unwrap();
        assert!(family.help);
        let allowed: &[&str] = match family.kind.as_str() {
            "histogram" => &["_bucket", "_sum", "_count"],
            _ => &[""],
        };
        let suffix = name
            .strip_prefix(&family_name)
            .expect("a sample of its family");
        assert!(allowed.contains(&suffix), "{name} in {family_name}");
        if family.kind == "counter" {
            assert!(name.ends_with("_total"), "{name}");
        }
        let labels: Vec<(&str, &str)> = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let key = sample_key(&name, &labels);
        assert!(
            family.samples.insert(key, value).is_none(),
            "duplicate {line}"
        );
    }
    // Histograms: cumulative buckets ending in +Inf = _count.
    for (name, family) in &families {
        if family.kind != "histogram" {
            continue;
        }
        let mut series: HashMap<String, Vec<(f64, f64)>> = HashMap::new();
        for (key, value) in &family.samples {
            let (sample, labels) = key.split_once('|').unwrap();
            if sample.ends_with("_bucket") {
                let mut rest = Vec::new();
                let mut le = None;
                for label in labels.split(',') {
                    match label.strip_prefix("le=") {
                        Some(bound) => le = Some(bound.parse::<f64>().unwrap()),
                        None => rest.push(label),
                    }
                }
                series
                    .entry(rest.join(","))
                    .or_default()
                    .push((le.unwrap(), *value));
            }
        }
        assert!(!series.is_empty(), "{name} has no buckets");
        for (labels, mut buckets) in series {
            buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
            assert!(
                buckets.windows(2).all(|w| w[0].1 <= w[1].1),
                "{name}{{{labels}}}"
            );
            let (last_le, last) = *buckets.last().unwrap();
            assert_eq!(last_le, f64::INFINITY);
            let count = family.samples[&format!("{name}_count|{labels}")];
            assert_eq!(last, count, "{name}{{{labels}}}: +Inf bucket vs _count");
        }
    }
    families
}

fn parse_sample(line: &str) -> (String, Vec<(String, String)>, f64) {
    let name_end = line.find(['{', ' ']).unwrap();
    let name = &line[..name_end];
    assert!(name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'));
    let mut chars = line[name_end..].chars().peekable();
    let mut labels = Vec::new();
    if chars.peek() == Some(&'{') {
        chars.next();
        loop {
            let key: String = std::iter::from_fn(|| chars.next_if(|&c| c != '=')).collect();
            assert!(
                !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{key:?}"
            );
            assert_eq!(
                (chars.next(), chars.next()),
                (Some('='), Some('"')),
                "{line}"
            );
            let mut value = String::new();
            loop {
                match chars.next().expect("an unterminated label value") {
                    '\\' => value.push(match chars.next() {
                        Some('\\') => '\\',
                        Some('"') => '"',
                        Some('n') => '\n',
                        other => panic!("bad escape {other:?} in {line}"),
                    }),
                    '"' => break,
                    '\n' => panic!("a raw newline in a label value"),
                    c => value.push(c),
                }
            }
            labels.push((key, value));
            match chars.next() {
                Some(',') => continue,
                Some('}') => break,
                other => panic!("{other:?} after a label in {line}"),
            }
        }
    }
    assert_eq!(
        chars.next(),
        Some(' '),
        "one space before the value: {line}"
    );
    let value: String = chars.collect();
    let value = match value.as_str() {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        value => value
            .parse()
            .unwrap_or_else(|_| panic!("bad value {value:?}")),
    };
    (name.to_owned(), labels, value)
}

#[tokio::test]
async fn the_exposition_parses_strictly_with_several_routers() {
    let api = counting_router();
    let other = Router::new().sync_method("odd\"name\\", || 1);
    let (api_stats, other_stats) = (api.stats_handle().unwrap(), other.stats_handle().unwrap());
    let api = Endpoint::new(api);
    for id in 0..3 {
        ask(&api, &call("ok", json!([]), id)).await.unwrap();
    }
    ask(&api, &call("fail", json!([]), 9)).await.unwrap();
    ask(&Endpoint::new(other), &call("odd\"name\\", json!([]), 1))
        .await
        .unwrap();
    let text = rpckit::stats::PrometheusService::new([api_stats.clone(), other_stats])
        .oneshot(http::Request::get("/metrics").body(()).unwrap())
        .await
        .unwrap()
        .into_body();
    let families = parse_exposition(&text);
    let get = |family: &str, sample: &str, labels: &[(&str, &str)]| {
        families[family].samples[&sample_key(sample, labels)]
    };
    let ok = [("path", ""), ("method", "ok")];
    assert_eq!(get("rpckit_calls_total", "rpckit_calls_total", &ok), 3.0);
    assert_eq!(
        get(
            "rpckit_call_errors_total",
            "rpckit_call_errors_total",
            &[("path", ""), ("method", "fail")]
        ),
        1.0
    );
    assert_eq!(
        get("rpckit_calls_in_flight", "rpckit_calls_in_flight", &ok),
        0.0
    );
    assert_eq!(
        get(
            "rpckit_call_duration_seconds",
            "rpckit_call_duration_seconds_count",
            &ok
        ),
        3.0
    );
    let odd = [("path", "~2"), ("method", "odd\"name\\")];
    assert_eq!(get("rpckit_calls_total", "rpckit_calls_total", &odd), 1.0);
    let decode = [("path", ""), ("stage", "decode")];
    assert_eq!(
        get(
            "rpckit_stage_duration_seconds",
            "rpckit_stage_duration_seconds_count",
            &decode
        ),
        4.0
    );
    assert!(
        get(
            "rpckit_stage_duration_seconds",
            "rpckit_stage_duration_seconds_sum",
            &decode
        ) > 0.0
    );
    assert_eq!(
        families["rpckit_connections_accepted_total"].kind,
        "counter"
    );
    assert_eq!(families["rpckit_connections_open"].kind, "gauge");
    // The text a scrape gets is the text the handle renders.
    assert!(api_stats
        .prometheus_text()
        .contains("rpckit_calls_total{path=\"\",method=\"ok\"} 3\n"));
}

#[tokio::test(start_paused = true)]
async fn a_call_held_by_a_lock_records_its_wait() {
    let router = Router::new().sync_method("ping", || "pong");
    let (stats, api) = (router.stats_handle().unwrap(), router.handle());
    let endpoint = Endpoint::new(router);
    assert!(api.lock());
    let held = tokio::spawn({
        let endpoint = endpoint.clone();
        async move { ask(&endpoint, &call("ping", json!([]), 1)).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!held.is_finished());
    assert_eq!(stats.snapshot_ms().stages.wait.count, 0);
    assert!(api.unlock());
    assert_eq!(held.await.unwrap().unwrap()["result"], "pong");
    let wait = stats.snapshot_ms().stages.wait;
    assert_eq!((wait.count, wait.total), (1, 50.0));
    // An unlocked call waits for nothing and records no wait.
    ask(&endpoint, &call("ping", json!([]), 2)).await.unwrap();
    assert_eq!(stats.snapshot_ms().stages.wait.count, 1);
    assert_eq!(stats.snapshot_ms().method("ping").unwrap().calls, 2);
}

#[tokio::test(start_paused = true)]
async fn a_call_waiting_for_a_concurrency_slot_records_its_wait() {
    let (entered, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let router = Router::new()
        .method("one_at_a_time", {
            let (entered, release) = (entered.clone(), release.clone());
            move || {
                let (entered, release) = (entered.clone(), release.clone());
                async move {
                    entered.notify_one();
                    release.notified().await;
                    "done"
                }
            }
        })
        .configure("one_at_a_time", |s| s.concurrency_limit(1));
    let stats = router.stats_handle().unwrap();
    let endpoint = Endpoint::new(router);
    let spawn_call = |id| {
        let endpoint = endpoint.clone();
        tokio::spawn(async move { ask(&endpoint, &call("one_at_a_time", json!([]), id)).await })
    };
    // The first finds its slot free: no wait.
    let first = spawn_call(1);
    entered.notified().await;
    assert_eq!(stats.snapshot_ms().stages.wait.count, 0);
    // The second waits for it, 40 ms.
    let second = spawn_call(2);
    tokio::time::sleep(Duration::from_millis(40)).await;
    assert!(!second.is_finished());
    release.notify_one();
    assert_eq!(first.await.unwrap().unwrap()["result"], "done");
    entered.notified().await;
    release.notify_one();
    assert_eq!(second.await.unwrap().unwrap()["result"], "done");
    let wait = stats.snapshot_ms().stages.wait;
    assert_eq!((wait.count, wait.total), (1, 40.0));
}

#[tokio::test(start_paused = true)]
async fn a_queued_notification_records_its_time_in_the_queue() {
    use rpckit::notify::NotificationQueue;
    let (release, done) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let queue = NotificationQueue::new(1, 8);
    let router = Router::new()
        .method("work", {
            let (release, done) = (release.clone(), done.clone());
            move || {
                let (release, done) = (release.clone(), done.clone());
                async move {
                    release.notified().await;
                    done.notify_one();
                }
            }
        })
        .configure("work", |s| s.notifications(queue.clone()));
    let stats = router.stats_handle().unwrap();
    let endpoint = Endpoint::new(router);
    let note = json!({"jsonrpc": "2.0", "method": "work"}).to_string();
    // Both are accepted at once; the one worker takes the first, the
    // second stays queued until the first is released, 25 ms later.
    assert!(ask(&endpoint, &note).await.is_none());
    assert!(ask(&endpoint, &note).await.is_none());
    tokio::time::sleep(Duration::from_millis(25)).await;
    release.notify_one();
    done.notified().await;
    release.notify_one();
    done.notified().await;
    let wait = stats.snapshot_ms().stages.wait;
    assert_eq!(wait.count, 2, "{wait:?}");
    assert_eq!(wait.max, 25.0, "{wait:?}");
}

#[tokio::test]
async fn a_reloaded_method_counts_on_in_the_served_stats() {
    let router = Router::new()
        .sync_method("version", || 1)
        .sync_method("other", || 0);
    let (stats, api) = (router.stats_handle().unwrap(), router.handle());
    let endpoint = Endpoint::new(router);
    ask(&endpoint, &call("version", json!([]), 1))
        .await
        .unwrap();
    api.reload(rpckit::ReloadOptions::new(), |_old| {
        Router::new()
            .sync_method("version", || 2)
            .sync_method("new", || 3)
    })
    .await
    .unwrap();
    assert_eq!(
        ask(&endpoint, &call("version", json!([]), 2))
            .await
            .unwrap()["result"],
        2
    );
    ask(&endpoint, &call("new", json!([]), 3)).await.unwrap();
    // Cleared first: the served stats still, and `version` still counting.
    api.reload(rpckit::ReloadOptions::new().clear_first(true), |_old| {
        Router::new().sync_method("version", || 4)
    })
    .await
    .unwrap();
    assert_eq!(
        ask(&endpoint, &call("version", json!([]), 4))
            .await
            .unwrap()["result"],
        4
    );
    assert!(api.table().stats_handle().unwrap().same_as(&stats));
    let snapshot = stats.snapshot_ms();
    assert_eq!(snapshot.method("version").unwrap().calls, 3);
    assert_eq!(snapshot.method("new").unwrap().calls, 1);
    assert_eq!(snapshot.stages.decode.count, 4);
}
