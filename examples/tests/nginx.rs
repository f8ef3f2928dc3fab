//! The client-IP rule behind a real reverse proxy: Debian's nginx, started
//! by the test with a generated config in a temp dir, in front of rpckit
//! servers with and without `trusted_proxies([127.0.0.1])`.
//!
//! nginx connects to the servers from 127.0.0.1. Clients connect to nginx
//! from 127.0.0.1 (itself a trusted address, like an inner proxy) or from
//! 127.0.0.2 (an ordinary client: the whole 127.0.0.0/8 is loopback on
//! Linux), so both halves of the rule show: a trusted hop's entry is
//! skipped, and the right-most untrusted `X-Forwarded-For` entry is the
//! client — never a forged entry to its left.
//!
//! The test fails when nginx is missing (`bash .ci/test` installs it),
//! unless `RPCKIT_SKIP_NGINX=1` is set; then it says so and passes.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rpckit::http::{ClientIp, RequestHeaders, Server, ServerHandle};
use rpckit::Router;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

/// Bounds every wait, so a broken setup fails instead of hanging.
const WAIT: Duration = Duration::from_secs(20);

const NGINX_HOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// An ordinary client's address: loopback, but not a trusted proxy.
const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

fn nginx_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("NGINX") {
        return Some(path.into());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file())
}

/// `myip` (the client IP the server decided on) and `forwarded` (the
/// `X-Forwarded-For` it received, to show what nginx sent).
fn api() -> Router {
    Router::new()
        .sync_method("myip", |ClientIp(ip): ClientIp| ip.to_string())
        .sync_method("forwarded", |headers: RequestHeaders| {
            headers
                .get("x-forwarded-for")
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        })
}

async fn start(trusted: bool) -> ServerHandle {
    let mut builder = Server::builder().route("/api", api());
    if trusted {
        builder = builder.trusted_proxies([NGINX_HOST]);
    }
    builder.bind("127.0.0.1:0").await.unwrap().spawn()
}

/// A directory of its own under the system's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!("rpckit-nginx-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An nginx in the foreground, stopped (by its own id) on drop.
struct Nginx {
    child: Child,
    addr: SocketAddr,
    dir: TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Three locations, each proxying `/<location>/api` to `/api` of a server:
/// `/xff/` appends the peer to `X-Forwarded-For`, `/realip/` also sets
/// `X-Real-IP`, `/untrusted/` goes to the server that trusts no proxy.
fn config(dir: &Path, port: u16, trusted: SocketAddr, untrusted: SocketAddr) -> String {
    let dir = dir.display();
    format!(
        r#"
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location /xff/ {{
            proxy_pass http://{trusted}/;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
        location /realip/ {{
            proxy_pass http://{trusted}/;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
        location /untrusted/ {{
            proxy_pass http://{untrusted}/;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"#
    )
}

async fn start_nginx(binary: &Path, trusted: SocketAddr, untrusted: SocketAddr) -> Nginx {
    let dir = TempDir::new();
    let port = free_port();
    std::fs::write(
        dir.0.join("nginx.conf"),
        config(&dir.0, port, trusted, untrusted),
    )
    .unwrap();
    let child = Command::new(binary)
        .arg("-p")
        .arg(&dir.0)
        // The error log before the config is read; the default path is
        // outside the temp dir.
        .arg("-e")
        .arg(dir.0.join("error.log"))
        .args(["-c", "nginx.conf", "-g", "daemon off;"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("could not start {}: {err}", binary.display()));
    let mut nginx = Nginx {
        child,
        addr: SocketAddr::new(NGINX_HOST, port),
        dir,
    };
    // Eventually listening, or exited: then its error log says why.
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = nginx.child.try_wait().unwrap() {
            let log = std::fs::read_to_string(nginx.dir.0.join("error.log")).unwrap_or_default();
            panic!("nginx exited with {status}:\n{log}");
        }
        if tokio::net::TcpStream::connect(nginx.addr).await.is_ok() {
            return nginx;
        }
        assert!(Instant::now() < deadline, "nginx did not listen in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Calls `method` at `path` of `to` from the address `from`, with extra
/// request headers; returns the result.
async fn call(
    from: IpAddr,
    to: SocketAddr,
    path: &str,
    method: &str,
    headers: &[(&str, &str)],
) -> Value {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    let mut stream = tokio::time::timeout(WAIT, socket.connect(to))
        .await
        .expect("connect in time")
        .unwrap();
    let body = format!(r#"{{"jsonrpc":"2.0","method":"{method}","id":1}}"#);
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .expect("response in time")
        .unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}\n\n{body}");
    let reply: Value = serde_json::from_str(body).unwrap_or_else(|err| panic!("{err}: {body}"));
    reply["result"].clone()
}

#[tokio::test]
async fn client_ip_behind_nginx() {
    let Some(binary) = nginx_binary() else {
        if std::env::var_os("RPCKIT_SKIP_NGINX").is_some() {
            println!("skipped: no nginx and RPCKIT_SKIP_NGINX is set");
            return;
        }
        panic!(
            "nginx not found: install Debian's nginx (`bash .ci/test` does), point NGINX at a \
             binary, or set RPCKIT_SKIP_NGINX=1"
        );
    };
    let trusted = start(true).await;
    let untrusted = start(false).await;
    let nginx = start_nginx(&binary, trusted.local_addr(), untrusted.local_addr()).await;
    let via = nginx.addr;
    let forged = [("X-Forwarded-For", "10.1.2.3")];

    // From 127.0.0.1, itself a trusted address (an inner proxy, say), its
    // entry is skipped: the client is the entry before it, 10.1.2.3.
    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    assert_eq!(
        call(localhost, via, "/xff/api", "forwarded", &forged).await,
        "10.1.2.3, 127.0.0.1",
        "nginx appends the address it saw"
    );
    assert_eq!(
        call(localhost, via, "/xff/api", "myip", &forged).await,
        "10.1.2.3"
    );

    // From an ordinary client the same forged entry is not believed: the
    // right-most untrusted entry, the client's own address, wins.
    assert_eq!(
        call(CLIENT, via, "/xff/api", "forwarded", &forged).await,
        "10.1.2.3, 127.0.0.2"
    );
    assert_eq!(
        call(CLIENT, via, "/xff/api", "myip", &forged).await,
        "127.0.0.2"
    );
    assert_eq!(
        call(CLIENT, via, "/xff/api", "myip", &[]).await,
        "127.0.0.2"
    );
    // X-Real-IP, set by nginx, wins over the forwarded list.
    assert_eq!(
        call(CLIENT, via, "/realip/api", "myip", &forged).await,
        "127.0.0.2"
    );

    // Straight to the server, forged headers are not believed: the peer
    // (127.0.0.2) is not a trusted proxy.
    let spoofed = [("X-Forwarded-For", "10.1.2.3"), ("X-Real-IP", "10.9.9.9")];
    assert_eq!(
        call(CLIENT, trusted.local_addr(), "/api", "myip", &spoofed).await,
        "127.0.0.2"
    );
    // A server that trusts no proxy sees nginx, whatever nginx forwards.
    assert_eq!(
        call(CLIENT, via, "/untrusted/api", "myip", &forged).await,
        "127.0.0.1"
    );

    drop(nginx);
    trusted.shutdown().await;
    untrusted.shutdown().await;
}
