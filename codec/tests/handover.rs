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
    listen_fds, notify_ready, InheritedListener, Successor, SuccessorFailed, MANAGER_NOTIFY_SOCKET,
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

/// Where the processes of a chain write their pids: `$PID_DIR/<role>`.
fn write_pid(role: &str) {
    let dir = std::env::var_os("PID_DIR").expect("PID_DIR");
    std::fs::write(
        std::path::Path::new(&dir).join(role),
        std::process::id().to_string(),
    )
    .unwrap();
}

fn read_pid(dir: &std::path::Path, role: &str) -> u32 {
    std::fs::read_to_string(dir.join(role))
        .unwrap_or_else(|err| panic!("the pid of {role}: {err}"))
        .parse()
        .unwrap()
}

/// The chain of the two tests below: `first` hands over to `second`, which
/// hands over to `third`; each waits for its successor to exit, so that
/// the exit status of `first` says whether every step went well.
async fn play_chain_role(name: &str, role: &str) {
    let next = match role {
        "first" => Some("second"),
        "second" => Some("third"),
        _ => None,
    };
    let manager = std::env::var_os("FAKE_MANAGER").unwrap_or_default();
    if role == "first" {
        // Started by the service manager (or by hand, without one).
        assert!(std::env::var_os(MANAGER_NOTIFY_SOCKET).is_none());
    } else {
        // The manager's socket, passed on; our NOTIFY_SOCKET is private.
        assert_eq!(
            std::env::var_os(MANAGER_NOTIFY_SOCKET).unwrap_or_else(|| "unset".into()),
            manager,
            "{role}"
        );
        assert_ne!(std::env::var_os("NOTIFY_SOCKET").unwrap(), manager);
    }
    write_pid(role);
    // A `Type=notify` service says it is ready; a successor tells its
    // predecessor.
    let told = notify_ready().expect("notify");
    assert_eq!(told, role != "first" || !manager.is_empty(), "{role}");
    if let Some(next) = next {
        let mut child = successor(name, next)
            .spawn()
            .await
            .unwrap_or_else(|err| panic!("{role} hands over to {next}: {err}"));
        let status = tokio::time::timeout(WAIT, child.wait())
            .await
            .expect("the successor exits")
            .unwrap();
        assert!(status.success(), "{next}: {status}");
    }
}

#[tokio::test]
async fn under_a_service_manager_each_hand_over_tells_it_the_new_main_pid() {
    const NAME: &str = "under_a_service_manager_each_hand_over_tells_it_the_new_main_pid";
    if let Some(role) = role() {
        play_chain_role(NAME, &role).await;
        return;
    }
    // A fake systemd: the NOTIFY_SOCKET of the first process.
    let dir = std::env::temp_dir().join(format!("rpckit-manager-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("notify");
    let manager = tokio::net::UnixDatagram::bind(&path).expect("bind the fake manager");
    let mut first = tokio::process::Command::new(std::env::current_exe().unwrap());
    first
        .args([NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env("ROLE", "first")
        .env("NOTIFY_SOCKET", &path)
        .env("FAKE_MANAGER", &path)
        .env("PID_DIR", &dir)
        .env_remove(MANAGER_NOTIFY_SOCKET)
        .stdout(std::process::Stdio::null());
    let mut first = first.spawn().expect("start the first process");
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    for _ in 0..3 {
        let n = tokio::time::timeout(WAIT, manager.recv(&mut buffer))
            .await
            .unwrap_or_else(|_| panic!("a notification in time; got {received:?}"))
            .unwrap();
        received.push(String::from_utf8_lossy(&buffer[..n]).into_owned());
    }
    let status = tokio::time::timeout(WAIT, first.wait())
        .await
        .expect("the chain ends")
        .unwrap();
    assert!(status.success(), "{status}");
    let (second, third) = (read_pid(&dir, "second"), read_pid(&dir, "third"));
    assert_eq!(
        received,
        [
            "READY=1\n".to_owned(),
            format!("MAINPID={second}\nREADY=1\n"),
            format!("MAINPID={third}\nREADY=1\n"),
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn without_a_service_manager_a_successor_hands_over_again_telling_nobody() {
    const NAME: &str = "without_a_service_manager_a_successor_hands_over_again_telling_nobody";
    if let Some(role) = role() {
        play_chain_role(NAME, &role).await;
        return;
    }
    // By the time `second` hands over, `first`'s private socket is gone:
    // taking it for a manager's would fail that hand-over.
    let dir = std::env::temp_dir().join(format!("rpckit-no-manager-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let status = tokio::time::timeout(
        WAIT,
        tokio::process::Command::new(std::env::current_exe().unwrap())
            .args([NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env("ROLE", "first")
            .env("PID_DIR", &dir)
            .env_remove("NOTIFY_SOCKET")
            .env_remove(MANAGER_NOTIFY_SOCKET)
            .stdout(std::process::Stdio::null())
            .status(),
    )
    .await
    .expect("the chain ends")
    .unwrap();
    assert!(status.success(), "{status}");
    read_pid(&dir, "third");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_manager_that_cannot_be_told_fails_the_hand_over() {
    const NAME: &str = "a_manager_that_cannot_be_told_fails_the_hand_over";
    match role().as_deref() {
        Some("gone-manager") => {
            // NOTIFY_SOCKET names a socket nobody listens on.
            let err = successor(NAME, "ready")
                .spawn()
                .await
                .expect_err("the manager was not told");
            let failed = err
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<SuccessorFailed>());
            assert!(
                matches!(failed, Some(SuccessorFailed::ManagerNotTold(_))),
                "{err}"
            );
            assert!(err.to_string().contains("service manager"), "{err}");
            return;
        }
        Some("ready") => {
            notify_ready().expect("notify");
            // Killed by the predecessor; exits on its own only if the
            // test has failed.
            std::thread::sleep(WAIT);
            return;
        }
        _ => {}
    }
    let dir = std::env::temp_dir().join(format!("rpckit-gone-manager-test-{}", std::process::id()));
    let status = tokio::time::timeout(
        WAIT,
        tokio::process::Command::new(std::env::current_exe().unwrap())
            .args([NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env("ROLE", "gone-manager")
            .env("NOTIFY_SOCKET", dir.join("nobody"))
            .env_remove(MANAGER_NOTIFY_SOCKET)
            .stdout(std::process::Stdio::null())
            .status(),
    )
    .await
    .expect("the hand-over fails in time")
    .unwrap();
    assert!(status.success(), "{status}");
}

#[test]
#[should_panic(expected = "without `:`")]
fn a_listener_name_cannot_hold_the_separator() {
    let tcp = TcpListener::bind("127.0.0.1:0").expect("bind");
    let _ = Successor::new(Command::new("true")).listener("a:b", tcp);
}
