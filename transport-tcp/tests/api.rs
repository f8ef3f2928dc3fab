//! The public types are `Send + Sync` (they cross tasks and threads) and
//! `Debug`; the builder's defaults are the documented ones.

use rpckit_tcp::framing::{FrameError, Inbound, LengthPrefixedCodec, LspCodec, NewlineCodec};
use rpckit_tcp::{
    BoundServer, ConnectionId, FrameService, Framing, IncompatibleCodec, ListenAddr, LocalAddr,
    LocalPath, PeerCredentials, ServerBuilder, ServerHandle, UnknownCodec,
};

fn send_sync<T: Send + Sync + std::fmt::Debug>() {}

#[test]
fn public_types_are_send_sync_and_debug() {
    send_sync::<FrameService>();
    send_sync::<ServerBuilder>();
    send_sync::<BoundServer>();
    send_sync::<ServerHandle>();
    send_sync::<ListenAddr>();
    send_sync::<Framing>();
    send_sync::<ConnectionId>();
    send_sync::<LocalAddr>();
    send_sync::<LocalPath>();
    send_sync::<PeerCredentials>();
    send_sync::<UnknownCodec>();
    send_sync::<IncompatibleCodec>();
    send_sync::<FrameError>();
    send_sync::<Inbound>();
    send_sync::<NewlineCodec>();
    send_sync::<LengthPrefixedCodec>();
    send_sync::<LspCodec>();
}

#[test]
fn the_default_limits_are_the_documented_ones() {
    assert_eq!(rpckit_tcp::framing::DEFAULT_MAX_FRAME_SIZE, 8 * 1024 * 1024);
    assert_eq!(NewlineCodec::new().max_frame_size(), 8 * 1024 * 1024);
    assert_eq!(LengthPrefixedCodec::new().max_frame_size(), 8 * 1024 * 1024);
    assert_eq!(LspCodec::new().max_frame_size(), 8 * 1024 * 1024);
    assert_eq!(rpckit_tcp::DEFAULT_MAX_IN_FLIGHT, 64);
    assert_eq!(rpckit_tcp::DEFAULT_MAX_CONNECTIONS, 4096);
    assert_eq!(rpckit_tcp::DEFAULT_IDLE_TIMEOUT.as_secs(), 300);
    assert_eq!(Framing::default(), Framing::Newline);
}
