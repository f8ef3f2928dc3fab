//! Building a server makes glibc's malloc keep large blocks
//! (`rpckit_codec::heap`), unless told not to. Its own test binary: the
//! setting is process-wide, and only ever rises.

use rpckit_codec::heap::{reused_up_to, MAX_REUSED_BLOCK};
use rpckit_http::Server;

#[tokio::test]
async fn building_a_server_keeps_large_blocks_unless_told_not_to() {
    assert_eq!(reused_up_to(), 0, "nothing asked for before a server");

    let server = Server::builder()
        .reuse_large_blocks(false)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    drop(server);
    let service = Server::builder().reuse_large_blocks(false).into_service();
    drop(service);
    assert_eq!(reused_up_to(), 0, "left alone when told not to");

    let server = Server::builder().bind("127.0.0.1:0").await.unwrap();
    assert_eq!(reused_up_to(), MAX_REUSED_BLOCK, "kept by default");
    drop(server);
}
