//! A hand-over between two real processes: this test binary starts
//! itself again as the successor (`ROLE` says which part it plays), passes
//! a listening socket, and checks what the successor found and did.
//!
//! Run with `cargo test -p rpckit-codec --features handover --test handover`.
#![cfg(unix)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixListener;
use std::process::Command;
use std::time::Duration;

use rpckit_codec::handover::{
    listen_fds, notify_ready, InheritedListener, Successor, SuccessorFailed,
};

/// Bounds every wait on a successor.
const WAIT: Duration = Duration::from_secs(30);

/// This binary again, running only the test `name` in the role `role`.
fn successor(name: &str, role: &str) -> Successor {
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("ROLE", role)
        // The harness of the successor prints its own summary: not ours.
        .stdout(std::process::Stdio::null());
    Successor::new(command).ready_timeout(WAIT)
}

/// The role this process plays: `None` for the test itself.
fn role() -> Option<String> {
    std::env::var("ROLE").ok()
}

#[tokio::test]
async fn the_successor_takes_the_sockets_says_ready_and_serves_on_them() {
    if role().as_deref() == Some("serve") {
        // The successor: a TCP and a Unix listener, named, in order.
        let taken = listen_fds().expect("inherited sockets");
        assert_eq!(taken.len(), 2, "{taken:?}");
        assert_eq!(taken[0].name(), Some("web"));
        assert_eq!(taken[1].name(), Some("local"));
        assert!(matches!(taken[1].listener(), InheritedListener::Unix(_)));
        assert!(std::env::var_os("LISTEN_FDS").is_none(), "not passed on");
        assert!(listen_fds().expect("again").is_empty(), "taken once only");
        let mut taken = taken.into_iter();
        let InheritedListener::Tcp(tcp) = taken.next().unwrap().into_listener() else {
            panic!("fd 3 is the TCP listener");
        };
        assert!(notify_ready().expect("notify"), "NOTIFY_SOCKET is set");
        // Answers one connection with its pid, on the socket it took over.
        tcp.set_nonblocking(false).unwrap();
        let (mut stream, _) = tcp.accept().expect("accept");
        writeln!(stream, "{}", std::process::id()).unwrap();
        return;
    }
    let tcp = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = tcp.local_addr().unwrap();
    let dir = std::env::temp_dir().join(format!("rpckit-handover-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let unix = UnixListener::bind(dir.join("s")).expect("bind unix");
    let mut child = successor(
        "the_successor_takes_the_sockets_says_ready_and_serves_on_them",
        "serve",
    )
    .listener("web", tcp.try_clone().unwrap())
    .listener("local", unix)
    .spawn()
    .await
    .expect("the successor is ready");
    // Our own listener is closed: only the successor can accept now, and
    // it accepts on the very port we had.
    drop(tcp);
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("the successor's answer");
    assert_eq!(
        answer.trim().parse::<u32>().ok(),
        child.id(),
        "answered by the successor"
    );
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("the successor exits")
        .unwrap();
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_successor_that_exits_before_it_is_ready_fails_the_hand_over() {
    if role().as_deref() == Some("exit") {
        std::process::exit(3);
    }
    let tcp = TcpListener::bind("127.0.0.1:0").expect("bind");
    let err = successor(
        "a_successor_that_exits_before_it_is_ready_fails_the_hand_over",
        "exit",
    )
    .listener("web", tcp.try_clone().unwrap())
    .spawn()
    .await
    .expect_err("the successor never got ready");
    let failed = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<SuccessorFailed>());
    assert!(
        matches!(failed, Some(SuccessorFailed::Exited(status)) if status.code() == Some(3)),
        "{err}"
    );
    // Our listener is as it was.
    tcp.set_nonblocking(true).unwrap();
    let _client = TcpStream::connect(tcp.local_addr().unwrap()).expect("still listening");
}

// The clock is paused: the ready timeout passes as soon as nothing else
// can happen, without a real wait.
#[tokio::test(start_paused = true)]
async fn a_successor_that_never_says_ready_is_killed_at_the_timeout() {
    if role().as_deref() == Some("hang") {
        // Has the socket, never says ready.
        assert_eq!(listen_fds().unwrap().len(), 1);
        std::thread::sleep(Duration::from_secs(600));
        return;
    }
    let tcp = TcpListener::bind("127.0.0.1:0").expect("bind");
    let err = successor(
        "a_successor_that_never_says_ready_is_killed_at_the_timeout",
        "hang",
    )
    .listener("web", tcp)
    .ready_timeout(Duration::from_secs(5))
    .spawn()
    .await
    .expect_err("never ready");
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
    assert!(err.to_string().contains("not ready within 5s"), "{err}");
}

#[test]
#[should_panic(expected = "without `:`")]
fn a_listener_name_cannot_hold_the_separator() {
    let tcp = TcpListener::bind("127.0.0.1:0").expect("bind");
    let _ = Successor::new(Command::new("true")).listener("a:b", tcp);
}
