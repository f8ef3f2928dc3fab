//! The jsonrpsee HTTP client, a client nobody here wrote, against the spec
//! methods served by rpckit over HTTP.

use std::sync::Arc;

use jsonrpsee::core::client::{BatchResponse, ClientT};
use jsonrpsee::core::params::BatchRequestBuilder;
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::rpc_params;
use rpckit_examples::spec;

async fn serve() -> (String, Arc<spec::Notified>, rpckit::http::ServerHandle) {
    let notified = Arc::new(spec::Notified::default());
    let server = rpckit::http::Server::builder()
        .route("/rpc", spec::router(notified.clone()))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let url = format!("http://{}/rpc", server.local_addr());
    (url, notified, server.spawn())
}

#[tokio::test]
async fn calls_notifications_and_batches() {
    let (url, notified, handle) = serve().await;
    let client = HttpClientBuilder::default().build(&url).unwrap();

    let diff: i64 = client
        .request("subtract", rpc_params![42, 23])
        .await
        .unwrap();
    assert_eq!(diff, 19);
    let data: (String, i64) = client.request("get_data", rpc_params![]).await.unwrap();
    assert_eq!(data, ("hello".to_owned(), 5));

    let err = client
        .request::<i64, _>("foobar", rpc_params![])
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("-32601") || err.to_string().contains("not found"),
        "{err}"
    );
    let err = client
        .request::<i64, _>("subtract", rpc_params!["x"])
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("-32602") || err.to_string().contains("Invalid params"),
        "{err}"
    );

    // The empty 204 reply to a notification is accepted.
    client
        .notification("update", rpc_params![1, 2, 3])
        .await
        .unwrap();
    assert_eq!(notified.count(), 1);

    let mut batch = BatchRequestBuilder::new();
    batch.insert("sum", rpc_params![1, 2, 4]).unwrap();
    batch.insert("subtract", rpc_params![42, 23]).unwrap();
    batch.insert("foobar", rpc_params![]).unwrap();
    let responses: BatchResponse<'_, i64> = client.batch_request(batch).await.unwrap();
    assert_eq!(responses.num_successful_calls(), 2);
    assert_eq!(responses.num_failed_calls(), 1);
    let results: Vec<Result<i64, i32>> = responses
        .into_iter()
        .map(|r| r.map_err(|e| e.code()))
        .collect();
    assert_eq!(results, vec![Ok(7), Ok(19), Err(-32601)]);

    handle.shutdown().await;
}
