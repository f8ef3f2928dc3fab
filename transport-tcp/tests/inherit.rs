//! Serving on sockets made elsewhere (`std` listeners, inherited ones)
//! and what a hand-over leaves behind. The two-process hand-over itself
//! is tested in rpckit-codec (tests/handover.rs) and examples/tests/handover.rs.
#![cfg(unix)]

use std::convert::Infallible;
use std::time::Duration;

use rpckit_codec::{Codecs, Frame};
use rpckit_tcp::{FrameService, ListenAddr, Server};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UnixStream};

const WAIT: Duration = Duration::from_secs(20);

fn echo() -> FrameService {
    let echo = tower::service_fn(|frame: Frame| async move { Ok::<_, Infallible>(Some(frame)) });
    FrameService::new(Codecs::default(), echo)
}

async fn round_trip<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(stream: S) -> String {
    let mut stream = BufReader::new(stream);
    stream.write_all(b"[1]\n").await.unwrap();
    let mut line = String::new();
    tokio::time::timeout(WAIT, stream.read_line(&mut line))
        .await
        .expect("a reply in time")
        .expect("read");
    line
}

#[tokio::test]
async fn a_std_tcp_listener_is_served_and_bind_inherited_falls_back_to_the_address() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::builder(echo()).from_std_listener(listener).unwrap();
    assert_eq!(server.local_addr(), &ListenAddr::Tcp(addr));
    let handle = server.spawn();
    assert_eq!(
        round_trip(TcpStream::connect(addr).await.unwrap()).await,
        "[1]\n"
    );
    handle.shutdown().await;

    // This test process inherited nothing.
    let server = Server::builder(echo())
        .bind_inherited("127.0.0.1:0")
        .await
        .unwrap();
    assert!(!server.is_inherited());
    let handle = server.spawn();
    let addr = handle.local_addr().tcp().unwrap();
    assert_eq!(
        round_trip(TcpStream::connect(addr).await.unwrap()).await,
        "[1]\n"
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn a_unix_socket_file_stays_when_the_server_did_not_bind_it() {
    let dir = std::env::temp_dir().join(format!("rpckit-tcp-inherit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("given.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let handle = Server::builder(echo())
        .from_std_unix_listener(listener)
        .unwrap()
        .spawn();
    assert_eq!(
        handle.local_addr(),
        &ListenAddr::Unix(std::sync::Arc::from(path.as_path()))
    );
    assert_eq!(
        round_trip(UnixStream::connect(&path).await.unwrap()).await,
        "[1]\n"
    );
    handle.shutdown().await;
    assert!(path.exists(), "whoever bound it owns the file");

    // One the server bound itself is removed, as before.
    let own = dir.join("own.sock");
    let handle = Server::builder(echo())
        .bind_unix_inherited(&own)
        .await
        .unwrap()
        .spawn();
    assert!(own.exists());
    handle.shutdown().await;
    assert!(!own.exists(), "removed at shutdown");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn listener_fd_duplicates_the_socket_until_shutdown() {
    let handle = Server::builder(echo())
        .bind("127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    let addr = handle.local_addr().tcp().unwrap();
    let copy = std::net::TcpListener::from(handle.listener_fd().expect("a duplicate"));
    assert_eq!(copy.local_addr().unwrap(), addr);
    handle.shutdown().await;
    // The duplicate keeps the port open: what a successor serves on.
    let _queued = TcpStream::connect(addr).await.expect("the copy listens");
    drop(copy);
    assert!(TcpStream::connect(addr).await.is_err());
}
