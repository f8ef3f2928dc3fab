//! Every call has a `tracing` span with its method, id and route path.
//!
//! Alone in its test binary: a thread-local subscriber (`set_default`) and
//! other tests hitting the same callsites on other threads race on
//! tracing's interest cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rpckit::extract::Params;
use rpckit::Router;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends one HTTP/1.1 POST to `/api` on its own connection and reads the
/// whole answer's head (the server closes after it: `Connection: close`).
async fn post(addr: std::net::SocketAddr, body: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /api HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).to_ascii_lowercase()
}

/// The spans named `rpc.call`, with their fields.
#[derive(Clone, Default)]
struct CallSpans(Arc<Mutex<Vec<HashMap<String, String>>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CallSpans {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if attrs.metadata().name() != "rpc.call" {
            return;
        }
        struct Fields(HashMap<String, String>);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.insert(field.name().to_owned(), format!("{value:?}"));
            }
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                self.0.insert(field.name().to_owned(), value.to_owned());
            }
        }
        let mut fields = Fields(HashMap::new());
        attrs.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
}

#[tokio::test]
async fn every_call_has_a_span_with_method_id_and_path() {
    use tracing_subscriber::layer::SubscriberExt;
    let spans = CallSpans::default();
    // The test's runtime runs every task on this thread.
    let _default =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(spans.clone()));
    let server = rpckit::http::Server::builder()
        .route(
            "/api",
            Router::new().sync_method("echo", |Params((s,)): Params<(String,)>| s),
        )
        .bind("127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    let batch = json!([
        {"jsonrpc": "2.0", "method": "echo", "params": ["a"], "id": 7},
        {"jsonrpc": "2.0", "method": "echo", "params": ["b"], "id": "x"},
        {"jsonrpc": "2.0", "method": "echo", "params": ["c"]},
    ]);
    let answer = post(server.local_addr(), &batch.to_string()).await;
    assert!(answer.starts_with("http/1.1 200"), "{answer}");
    server.shutdown().await;
    let mut spans = spans.0.lock().unwrap().clone();
    spans.sort_by(|a, b| a["id"].cmp(&b["id"]));
    let seen: Vec<(&str, &str, &str)> = spans
        .iter()
        .map(|span| {
            (
                span["method"].as_str(),
                span["id"].as_str(),
                span["path"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("echo", "\"x\"", "/api"),
            ("echo", "-", "/api"),
            ("echo", "7", "/api")
        ]
    );
}
