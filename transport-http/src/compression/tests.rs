//! The coder's limits and resumption, and the proof that large codec work
//! leaves the runtime free. The HTTP behaviour is in
//! `tests/compression.rs`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rpckit_codec::{Codecs, Frame};
use tokio::net::TcpStream;

use super::coder::{Coder, CoderError, Step};
use super::{Algorithm, Compression, Level};
use crate::{Route, Server};

/// Text that compresses about as well as JSON does.
fn text(len: usize) -> Bytes {
    let mut out = Vec::with_capacity(len + 64);
    let mut i = 0u64;
    while out.len() < len {
        out.extend_from_slice(
            format!("{{\"id\":{i},\"name\":\"item {}\"}},", i * 7919 % 1000).as_bytes(),
        );
        i += 1;
    }
    out.truncate(len);
    Bytes::from(out)
}

fn compress(algorithm: Algorithm, data: &Bytes) -> Bytes {
    let mut coder = Coder::encoder(algorithm, Level::Default, data.clone(), usize::MAX);
    assert!(matches!(coder.run(usize::MAX).unwrap(), Step::Done));
    coder.into_output()
}

fn decompress(algorithm: Algorithm, data: &Bytes, limit: usize) -> Result<Bytes, CoderError> {
    let mut coder = Coder::decoder(algorithm, data.clone(), limit);
    coder.run(usize::MAX)?;
    Ok(coder.into_output())
}

/// A decompressed body is its buffer's only handle, with `FRAME_PADDING`
/// spare after it (what the SIMD-JSON codec needs to parse it in place):
/// of any length, up to one that ends exactly at the limit.
#[test]
fn a_decompressed_body_has_room_for_an_in_place_parse() {
    for algorithm in Algorithm::ALL {
        for len in [10, 32 * 1024, 100_000] {
            let data = text(len);
            let compressed = compress(algorithm, &data);
            for limit in [len, len + 1, len + 63, 4 * len] {
                let out = decompress(algorithm, &compressed, limit).unwrap();
                assert_eq!(out, data);
                let out = out.try_into_mut().expect("its buffer's only handle");
                assert!(
                    out.capacity() - out.len() >= rpckit_codec::FRAME_PADDING,
                    "{algorithm:?}, {len} bytes, limit {limit}: {} spare",
                    out.capacity() - out.len()
                );
            }
        }
    }
}

#[test]
fn every_algorithm_round_trips_at_every_level() {
    // Small: brotli 11 and zstd 19 are slow in a debug build.
    let data = text(20_000);
    for algorithm in Algorithm::ALL {
        for level in [
            Level::Fastest,
            Level::Default,
            Level::Best,
            Level::Precise(2),
        ] {
            let mut coder = Coder::encoder(algorithm, level, data.clone(), usize::MAX);
            coder.run(usize::MAX).unwrap();
            let compressed = coder.into_output();
            assert!(compressed.len() < data.len() / 4, "{algorithm} {level:?}");
            assert_eq!(
                decompress(algorithm, &compressed, data.len()).unwrap(),
                data
            );
        }
    }
}

#[test]
fn the_limit_is_exact() {
    let data = text(10_000);
    for algorithm in Algorithm::ALL {
        let compressed = compress(algorithm, &data);
        assert_eq!(decompress(algorithm, &compressed, 10_000).unwrap(), data);
        assert!(matches!(
            decompress(algorithm, &compressed, 9_999),
            Err(CoderError::TooLarge)
        ));
        assert!(matches!(
            decompress(algorithm, &compressed, 0),
            Err(CoderError::TooLarge)
        ));
    }
    // An encoder stops once its output would be no smaller than its input.
    let mut coder = Coder::encoder(
        Algorithm::Gzip,
        Level::Default,
        Bytes::from_static(b"ab"),
        1,
    );
    assert!(matches!(coder.run(usize::MAX), Err(CoderError::TooLarge)));
}

#[test]
fn a_paused_coder_resumes_where_it_stopped() {
    let data = text(300_000);
    for algorithm in Algorithm::ALL {
        let compressed = compress(algorithm, &data);
        let mut coder = Coder::decoder(algorithm, compressed, usize::MAX);
        let mut pauses = 0;
        while let Step::Paused = coder.run(50_000).unwrap() {
            pauses += 1;
        }
        assert!(pauses >= 3, "{algorithm}: {pauses}");
        assert_eq!(coder.into_output(), data);
    }
}

#[test]
fn empty_truncated_corrupt_and_trailing_input_is_invalid() {
    let data = text(5_000);
    for algorithm in Algorithm::ALL {
        let compressed = compress(algorithm, &data);
        let truncated = compressed.slice(..compressed.len() - 3);
        let mut trailing = compressed.to_vec();
        trailing.extend_from_slice(b"junk");
        let mut flipped = compressed.to_vec();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x55;
        flipped[middle + 1] ^= 0xaa;
        for (what, input) in [
            ("empty", Bytes::new()),
            ("truncated", truncated),
            ("trailing", Bytes::from(trailing)),
            ("flipped", Bytes::from(flipped)),
            ("plain", data.clone()),
        ] {
            let result = decompress(algorithm, &input, 1 << 20);
            assert!(
                matches!(result, Err(CoderError::Invalid(_))),
                "{algorithm} {what}: {result:?}"
            );
        }
    }
}

#[test]
fn several_gzip_members_and_zstd_frames_are_one_body() {
    for algorithm in [Algorithm::Gzip, Algorithm::Zstd] {
        let (a, b) = (text(3_000), Bytes::from_static(b"and more"));
        let mut both = compress(algorithm, &a).to_vec();
        both.extend_from_slice(&compress(algorithm, &b));
        let out = decompress(algorithm, &Bytes::from(both), 1 << 20).unwrap();
        assert_eq!(out.len(), a.len() + b.len(), "{algorithm}");
        assert!(out.starts_with(&a) && out.ends_with(&b));
    }
}

// ---------------------------------------------------------------------
// Large work runs off the async workers.
//
// `#[tokio::test]` gives a runtime with one worker thread, which serves the
// server, both clients and the test alike. Offloaded work is held at a
// gate (the test hook) until the test opens it; a small call made
// meanwhile must complete. Were the work done on the worker, the gate
// would never be reached and the test would fail waiting for it.
// ---------------------------------------------------------------------

/// How long a small call may take while the big work is held.
const WAIT: Duration = Duration::from_secs(10);

/// How long the big work itself may take to start and to finish. It runs
/// at the lowest priority, which on a busy machine (other tests of this
/// binary compressing megabytes in a debug build, at normal priority) gets
/// it a sliver of a core: with both cores of CI's box busy, 4 MiB took
/// longer than `WAIT`. Only a hang should fail these waits.
const EVENTUALLY: Duration = Duration::from_secs(300);

/// Answers every frame with its own bytes.
fn echo() -> Route {
    Route::new(
        Codecs::default(),
        tower::service_fn(|frame: Frame| async move { Ok::<_, Infallible>(Some(frame)) }),
    )
}

/// A hook that reports each offloaded job and holds it until released.
fn gate() -> (
    impl Fn() + Send + Sync + 'static,
    tokio::sync::mpsc::UnboundedReceiver<()>,
    mpsc::Sender<()>,
) {
    let (started_tx, started) = tokio::sync::mpsc::unbounded_channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let hook = move || {
        let _ = started_tx.send(());
        // A test that fails drops the sender, which lets the job go on.
        let _ = release_rx.lock().unwrap().recv();
    };
    (hook, started, release)
}

struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Bytes,
}

async fn post(addr: SocketAddr, headers: &[(&str, &str)], body: Bytes) -> Answer {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut send, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut request = Request::post("/rpc")
        .header("host", "localhost")
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = send
        .send_request(request.body(Full::new(body)).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

#[tokio::test]
async fn a_small_call_completes_while_a_large_response_is_compressed() {
    let (hook, mut started, release) = gate();
    let server = Server::builder()
        .route("/rpc", echo())
        .compression(Compression::default().enabled_by_default(true))
        .offload_hook(hook)
        .bind("127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    let addr = server.local_addr();

    let big = text(4 << 20);
    let large = tokio::spawn(post(addr, &[("accept-encoding", "gzip")], big.clone()));
    tokio::time::timeout(EVENTUALLY, started.recv())
        .await
        .expect("the large response's compression went to a background thread")
        .unwrap();

    let small = Bytes::from_static(br#"{"jsonrpc":"2.0","method":"ping","id":1}"#);
    let answer = tokio::time::timeout(
        WAIT,
        post(addr, &[("accept-encoding", "gzip")], small.clone()),
    )
    .await
    .expect("a small call is answered while the compression is held");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, small);

    release.send(()).unwrap();
    let answer = tokio::time::timeout(EVENTUALLY, large)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["content-encoding"], "gzip");
    assert_eq!(
        decompress(Algorithm::Gzip, &answer.body, usize::MAX).unwrap(),
        big
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_small_call_completes_while_a_large_request_is_decompressed() {
    let (hook, mut started, release) = gate();
    let server = Server::builder()
        .route("/rpc", echo())
        .offload_hook(hook)
        .bind("127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    let addr = server.local_addr();

    let big = text(4 << 20);
    let gzipped = compress(Algorithm::Gzip, &big);
    let large = tokio::spawn(post(addr, &[("content-encoding", "gzip")], gzipped));
    tokio::time::timeout(EVENTUALLY, started.recv())
        .await
        .expect("the large request's decompression went to a background thread")
        .unwrap();

    let small = compress(Algorithm::Gzip, &Bytes::from_static(b"[1,2,3]"));
    let answer = tokio::time::timeout(WAIT, post(addr, &[("content-encoding", "gzip")], small))
        .await
        .expect("a small call is answered while the decompression is held");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, "[1,2,3]");

    release.send(()).unwrap();
    let answer = tokio::time::timeout(EVENTUALLY, large)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, big);
    server.shutdown().await;
}

#[tokio::test]
async fn small_work_stays_inline() {
    let offloaded = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = offloaded.clone();
    let server = Server::builder()
        .route("/rpc", echo())
        .compression(Compression::default().enabled_by_default(true))
        .offload_hook(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        })
        .bind("127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    let body = text(super::offload::INLINE_BYTES);
    let answer = post(
        server.local_addr(),
        &[("accept-encoding", "br"), ("content-encoding", "zstd")],
        compress(Algorithm::Zstd, &body),
    )
    .await;
    assert_eq!(answer.headers["content-encoding"], "br");
    assert_eq!(
        decompress(Algorithm::Brotli, &answer.body, usize::MAX).unwrap(),
        body
    );
    assert_eq!(offloaded.load(std::sync::atomic::Ordering::SeqCst), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn a_compression_that_panics_sends_the_answer_uncompressed() {
    // The background job panics (in the test hook, before the coder
    // runs); the serving task still has the answer and sends it as it is.
    let server = Server::builder()
        .route("/rpc", echo())
        .compression(Compression::default().enabled_by_default(true))
        .offload_hook(|| panic!("the coder broke"))
        .bind("127.0.0.1:0")
        .await
        .unwrap()
        .spawn();
    let big = text(super::offload::INLINE_BYTES + 1);
    let answer = tokio::time::timeout(
        EVENTUALLY,
        post(
            server.local_addr(),
            &[("accept-encoding", "gzip")],
            big.clone(),
        ),
    )
    .await
    .expect("the answer came");
    assert_eq!(answer.status, 200);
    assert!(answer.headers.get("content-encoding").is_none());
    assert_eq!(answer.body, big);
    server.shutdown().await;
}
