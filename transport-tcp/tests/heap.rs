//! Binding a stream server makes glibc's malloc keep large blocks
//! (`rpckit_codec::heap`), unless told not to. Its own test binary: the
//! setting is process-wide, and only ever rises.

use std::convert::Infallible;

use rpckit_codec::heap::{reused_up_to, MAX_REUSED_BLOCK};
use rpckit_codec::{Codecs, Frame};
use rpckit_tcp::{FrameService, Server};

fn echo() -> FrameService {
    let echo = tower::service_fn(|frame: Frame| async move { Ok::<_, Infallible>(Some(frame)) });
    FrameService::new(Codecs::default(), echo)
}

#[tokio::test]
async fn binding_a_server_keeps_large_blocks_unless_told_not_to() {
    assert_eq!(reused_up_to(), 0, "nothing asked for before a server");

    let server = Server::builder(echo())
        .reuse_large_blocks(false)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    drop(server);
    assert_eq!(reused_up_to(), 0, "left alone when told not to");

    let server = Server::builder(echo()).bind("127.0.0.1:0").await.unwrap();
    assert_eq!(reused_up_to(), MAX_REUSED_BLOCK, "kept by default");
    drop(server);
}
