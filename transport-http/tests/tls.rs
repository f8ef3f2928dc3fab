//! HTTPS with a certificate generated at test time: a rustls client over
//! HTTP/1.1 and HTTP/2 (by ALPN), curl, and the errors of `TlsConfig`.
#![cfg(feature = "tls")]

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{echo, read, Answer, WAIT};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rpckit_http::{Server, ServerHandle, TlsConfig, TlsErrorKind};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A self-signed certificate for `localhost` and 127.0.0.1, as PEM.
struct Cert {
    cert_pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
}

fn cert() -> Cert {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    Cert {
        cert_pem: certified.cert.pem(),
        key_pem: certified.key_pair.serialize_pem(),
        der: certified.cert.der().clone(),
    }
}

/// A fresh directory for one test's PEM files.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rpckit-tls-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes the PEM files and starts an HTTPS echo server from them.
async fn start_tls(cert: &Cert, name: &str) -> (ServerHandle, PathBuf) {
    let dir = temp_dir(name);
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, &cert.cert_pem).unwrap();
    std::fs::write(&key_path, &cert.key_pem).unwrap();
    let tls = TlsConfig::from_pem_files(&cert_path, &key_path).unwrap();
    let server = common::start(
        Server::builder()
            .route("/rpc", echo())
            .tls(tls)
            .header_read_timeout(Duration::from_millis(300)),
    )
    .await;
    (server, cert_path)
}

/// A TLS connection trusting only `cert`, offering `alpn`.
async fn connect(
    addr: SocketAddr,
    cert: &Cert,
    alpn: &[u8],
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    tokio::time::timeout(
        WAIT,
        connector.connect(ServerName::try_from("localhost").unwrap(), tcp),
    )
    .await
    .expect("handshake in time")
    .expect("handshake")
}

fn request(addr: SocketAddr, body: &'static str) -> http::Request<Full<Bytes>> {
    http::Request::post(format!("https://localhost:{}/rpc", addr.port()))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

async fn send_h1(stream: tokio_rustls::client::TlsStream<TcpStream>, body: &'static str) -> Answer {
    let addr = stream.get_ref().0.peer_addr().unwrap();
    let (mut send, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut request = request(addr, body);
    request
        .headers_mut()
        .insert("host", "localhost".parse().unwrap());
    read(send.send_request(request).await.unwrap()).await
}

#[tokio::test]
async fn https_over_http1_with_alpn() {
    let cert = cert();
    let (server, _) = start_tls(&cert, "h1").await;
    let stream = connect(server.local_addr(), &cert, b"http/1.1").await;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let answer = send_h1(stream, "[1]").await;
    assert_eq!(answer.version, http::Version::HTTP_11);
    assert_eq!((answer.status.as_u16(), answer.text()), (200, "[1]"));
    server.shutdown().await;
}

#[tokio::test]
async fn https_over_http2_with_alpn() {
    let cert = cert();
    let (server, _) = start_tls(&cert, "h2").await;
    let stream = connect(server.local_addr(), &cert, b"h2").await;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut send, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let answer = read(
        send.send_request(request(server.local_addr(), "[2]"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.version, http::Version::HTTP_2);
    assert_eq!((answer.status.as_u16(), answer.text()), (200, "[2]"));
    server.shutdown().await;
}

#[tokio::test]
async fn plain_http_and_silent_clients_are_disconnected() {
    let cert = cert();
    let (server, _) = start_tls(&cert, "plain").await;
    let addr = server.local_addr();
    for first_bytes in [
        &b"POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"[..],
        b"",
    ] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(first_bytes).await.unwrap();
        let mut received = Vec::new();
        let read = tokio::time::timeout(WAIT, stream.read_to_end(&mut received))
            .await
            .expect("the server should close the connection");
        assert!(
            !String::from_utf8_lossy(&received).contains("200"),
            "{read:?} {received:?}"
        );
    }
    // HTTPS still works.
    let answer = send_h1(connect(addr, &cert, b"http/1.1").await, "[3]").await;
    assert_eq!(answer.status, 200);
    server.shutdown().await;
}

/// curl, as installed by `.ci/test`, with `--cacert`.
async fn curl(addr: SocketAddr, cacert: &std::path::Path, version: &str) -> (String, String) {
    let port = addr.port();
    let output = tokio::time::timeout(
        WAIT,
        tokio::process::Command::new("curl")
            .args(["-sS", "--max-time", "5", version, "--cacert"])
            .arg(cacert)
            .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
            .args(["-H", "content-type: application/json", "-d", "[\"curl\"]"])
            .args(["-w", "\n%{http_version}"])
            .arg(format!("https://localhost:{port}/rpc"))
            .output(),
    )
    .await
    .expect("curl in time")
    .expect("curl runs (installed by .ci/test)");
    assert!(
        output.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let (body, version) = stdout.rsplit_once('\n').unwrap();
    (body.to_owned(), version.to_owned())
}

#[tokio::test]
async fn curl_with_cacert_over_http1_and_http2() {
    let cert = cert();
    let (server, cert_path) = start_tls(&cert, "curl").await;
    let (body, version) = curl(server.local_addr(), &cert_path, "--http1.1").await;
    assert_eq!((body.as_str(), version.as_str()), ("[\"curl\"]", "1.1"));
    let (body, version) = curl(server.local_addr(), &cert_path, "--http2").await;
    assert_eq!((body.as_str(), version.as_str()), ("[\"curl\"]", "2"));
    server.shutdown().await;
}

#[test]
fn bad_pem_gets_a_typed_error() {
    let cert = cert();
    let other = self::cert();

    let err = TlsConfig::from_pem(b"", cert.key_pem.as_bytes()).unwrap_err();
    assert_eq!(err.kind(), TlsErrorKind::NoCertificate);

    let err = TlsConfig::from_pem(cert.cert_pem.as_bytes(), b"not a key").unwrap_err();
    assert_eq!(err.kind(), TlsErrorKind::NoPrivateKey);

    let broken = cert.cert_pem.replace('M', "!");
    let err = TlsConfig::from_pem(broken.as_bytes(), cert.key_pem.as_bytes()).unwrap_err();
    assert_eq!(err.kind(), TlsErrorKind::InvalidCertificate, "{err}");

    // A key that is not the certificate's.
    let err = TlsConfig::from_pem(cert.cert_pem.as_bytes(), other.key_pem.as_bytes()).unwrap_err();
    assert_eq!(err.kind(), TlsErrorKind::Rejected, "{err}");

    let missing = temp_dir("missing").join("nope.pem");
    let err = TlsConfig::from_pem_files(&missing, &missing).unwrap_err();
    assert_eq!(err.kind(), TlsErrorKind::Read);
    assert_eq!(err.path(), Some(missing.as_path()));
    assert!(err.to_string().contains("nope.pem"), "{err}");
    assert!(std::error::Error::source(&err).is_some());

    assert!(TlsConfig::from_pem(cert.cert_pem.as_bytes(), cert.key_pem.as_bytes()).is_ok());
}
