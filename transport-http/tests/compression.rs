//! Response compression and request decompression over real HTTP.
//!
//! The frame service here echoes the request body, and takes orders from
//! request headers: `x-compress: allow|forbid` is passed to the response
//! handle as a handler would, `x-response-header: name=value` is inserted
//! into the response. Decoding in the tests uses flate2, brotli and zstd
//! directly, not the server's own decoders.

mod common;

use std::convert::Infallible;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use common::{
    assert_room_for_an_in_place_parse, body_buffer, codecs, raw_head, send, send_h2, start, Answer,
};
use http::header::HeaderName;
use http::{HeaderValue, Request};
use http_body_util::Full;
use rpckit_codec::Frame;
use rpckit_http::compression::{Algorithm, Compression};
use rpckit_http::{RequestHeaders, ResponseHandle, Route, Server, ServerBuilder};
use tokio::net::TcpStream;

/// Echoes the body; obeys `x-compress` and `x-response-header`; counts calls.
fn directed(calls: Arc<AtomicUsize>) -> Route {
    Route::new(
        codecs(),
        tower::service_fn(move |frame: Frame| {
            calls.fetch_add(1, Ordering::SeqCst);
            let headers = frame.extensions.get::<RequestHeaders>().unwrap();
            let response = frame.extensions.get::<ResponseHandle>().unwrap();
            match headers.get("x-compress").map(|v| v.as_bytes()) {
                Some(b"allow") => response.allow_compression(true),
                Some(b"forbid") => response.allow_compression(false),
                _ => {}
            }
            for order in headers.get_all("x-response-header") {
                let (name, value) = order.to_str().unwrap().split_once('=').unwrap();
                response.insert_header(
                    HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    HeaderValue::from_str(value).unwrap(),
                );
            }
            async move { Ok::<_, Infallible>(Some(frame)) }
        }),
    )
}

fn directed_server(compression: Compression) -> ServerBuilder {
    Server::builder()
        .route("/rpc", directed(Arc::default()))
        .compression(compression)
}

/// On for every response, so that only negotiation and size decide.
fn on() -> Compression {
    Compression::default().enabled_by_default(true)
}

/// JSON-like text of `len` bytes that compresses well.
fn text(len: usize) -> Bytes {
    let mut out = Vec::with_capacity(len + 32);
    let mut i = 0;
    while out.len() < len {
        write!(out, "{{\"n\":{i},\"s\":\"value {}\"}},", i % 97).unwrap();
        i += 1;
    }
    out.truncate(len);
    Bytes::from(out)
}

fn request(headers: &[(&str, &str)], body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    let mut request = Request::post("/rpc")
        .header("host", "localhost")
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Full::new(body.into())).unwrap()
}

fn decode(coding: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        "gzip" => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .unwrap();
        }
        // HTTP's deflate is the zlib format.
        "deflate" => {
            flate2::read::ZlibDecoder::new(body)
                .read_to_end(&mut out)
                .unwrap();
        }
        "br" => {
            brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .unwrap();
        }
        "zstd" => out = zstd::decode_all(body).unwrap(),
        other => panic!("unexpected coding {other}"),
    }
    out
}

fn encode(coding: &str, body: &[u8]) -> Vec<u8> {
    match coding {
        "gzip" => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(body).unwrap();
            encoder.finish().unwrap()
        }
        "deflate" => {
            let mut encoder =
                flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(body).unwrap();
            encoder.finish().unwrap()
        }
        "br" => {
            let mut out = Vec::new();
            brotli::CompressorReader::new(body, 4096, 5, 22)
                .read_to_end(&mut out)
                .unwrap();
            out
        }
        "zstd" => zstd::encode_all(body, 3).unwrap(),
        other => panic!("unexpected coding {other}"),
    }
}

/// The coding the server chose, `None` for identity; checks that the body
/// decodes to `sent` either way.
fn coding_of(answer: &Answer, sent: &[u8]) -> Option<String> {
    assert_eq!(answer.status, 200, "{answer:?}");
    let coding = answer.header("content-encoding").map(str::to_owned);
    match &coding {
        Some(coding) => assert_eq!(decode(coding, &answer.body), sent, "{coding}"),
        None => assert_eq!(answer.body, sent),
    }
    coding
}

fn varies_on_accept_encoding(answer: &Answer) -> bool {
    answer.headers.get_all("vary").iter().any(|v| {
        v.to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("accept-encoding")
    })
}

#[tokio::test]
async fn negotiation_follows_q_values_and_the_server_order() {
    let server = start(directed_server(on())).await;
    let body = text(4096);
    let cases: &[(Option<&str>, Option<&str>)] = &[
        (Some("gzip;q=0, br"), Some("br")),
        (Some("*;q=0"), None),
        (Some("identity"), None),
        (None, None),
        (Some(""), None),
        (Some("gzip"), Some("gzip")),
        (Some("deflate"), Some("deflate")),
        (Some("zstd"), Some("zstd")),
        (Some("br;q=0.4, gzip;q=0.6"), Some("gzip")),
        (Some("gzip, deflate, br, zstd"), Some("zstd")),
        (Some("gzip, deflate, br"), Some("br")),
        (Some("*"), Some("zstd")),
        (Some("zstd;q=0, *;q=0.5"), Some("br")),
        (Some("identity;q=1, gzip;q=0.5"), None),
        (Some("compress, x-gzip"), Some("gzip")),
    ];
    for (accept, expected) in cases {
        let headers: Vec<_> = accept.iter().map(|a| ("accept-encoding", *a)).collect();
        let answer = send(server.local_addr(), request(&headers, body.clone())).await;
        assert_eq!(
            coding_of(&answer, &body).as_deref(),
            *expected,
            "Accept-Encoding: {accept:?}"
        );
        assert!(varies_on_accept_encoding(&answer), "{accept:?}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn the_server_order_breaks_ties() {
    let server = start(directed_server(
        on().algorithms([Algorithm::Gzip, Algorithm::Deflate]),
    ))
    .await;
    let body = text(4096);
    for (accept, expected) in [
        ("zstd, br, deflate, gzip", Some("gzip")),
        ("deflate;q=1, gzip;q=0.9", Some("deflate")),
        ("br, zstd", None),
    ] {
        let answer = send(
            server.local_addr(),
            request(&[("accept-encoding", accept)], body.clone()),
        )
        .await;
        assert_eq!(coding_of(&answer, &body).as_deref(), expected, "{accept}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn only_bodies_of_at_least_the_minimum_size_are_compressed() {
    let server = start(directed_server(on().min_size(100))).await;
    for (len, compressed) in [(99, false), (100, true), (5000, true)] {
        let body = text(len);
        let answer = send(
            server.local_addr(),
            request(&[("accept-encoding", "gzip")], body.clone()),
        )
        .await;
        assert_eq!(
            coding_of(&answer, &body).is_some(),
            compressed,
            "{len} bytes"
        );
        assert!(varies_on_accept_encoding(&answer), "{len} bytes");
    }
    server.shutdown().await;

    // The default minimum is 1 KiB.
    let server = start(server_default_on()).await;
    for (len, compressed) in [(1023, false), (1024, true)] {
        let body = text(len);
        let answer = send(
            server.local_addr(),
            request(&[("accept-encoding", "gzip")], body.clone()),
        )
        .await;
        assert_eq!(
            coding_of(&answer, &body).is_some(),
            compressed,
            "{len} bytes"
        );
    }
    server.shutdown().await;
}

fn server_default_on() -> ServerBuilder {
    directed_server(on())
}

#[tokio::test]
async fn vary_is_on_every_answer_unless_compression_is_disabled() {
    let server = start(directed_server(Compression::default())).await;
    let addr = server.local_addr();
    // Not allowed, so not compressed, but a handler could allow it.
    let answer = send(addr, request(&[("accept-encoding", "gzip")], text(4096))).await;
    assert!(answer.header("content-encoding").is_none());
    assert!(varies_on_accept_encoding(&answer));
    // A handler's own Vary is kept and extended, not duplicated.
    let answer = send(addr, request(&[("x-response-header", "vary=Origin")], "{}")).await;
    let vary: Vec<_> = answer.headers.get_all("vary").iter().collect();
    assert_eq!(vary, ["Origin", "accept-encoding"]);
    let answer = send(
        addr,
        request(
            &[("x-response-header", "vary=Accept-Encoding, Origin")],
            "{}",
        ),
    )
    .await;
    let vary: Vec<_> = answer.headers.get_all("vary").iter().collect();
    assert_eq!(vary, ["Accept-Encoding, Origin"]);
    server.shutdown().await;

    let server = start(directed_server(Compression::disabled())).await;
    let body = text(4096);
    let answer = send(
        server.local_addr(),
        request(
            &[("accept-encoding", "gzip"), ("x-compress", "allow")],
            body.clone(),
        ),
    )
    .await;
    assert_eq!(coding_of(&answer, &body), None);
    assert!(answer.headers.get("vary").is_none());
    server.shutdown().await;
}

#[tokio::test]
async fn a_handler_allows_or_forbids_compression_for_its_response() {
    let body = text(4096);
    let gzip = ("accept-encoding", "gzip");

    // Off by default: only an allowing handler gets compression.
    let server = start(directed_server(Compression::default())).await;
    let addr = server.local_addr();
    let answer = send(addr, request(&[gzip], body.clone())).await;
    assert_eq!(coding_of(&answer, &body), None);
    let answer = send(
        addr,
        request(&[gzip, ("x-compress", "allow")], body.clone()),
    )
    .await;
    assert_eq!(coding_of(&answer, &body).as_deref(), Some("gzip"));
    server.shutdown().await;

    // On by default: a forbidding handler opts out.
    let server = start(directed_server(on())).await;
    let addr = server.local_addr();
    let answer = send(addr, request(&[gzip], body.clone())).await;
    assert_eq!(coding_of(&answer, &body).as_deref(), Some("gzip"));
    let answer = send(
        addr,
        request(&[gzip, ("x-compress", "forbid")], body.clone()),
    )
    .await;
    assert_eq!(coding_of(&answer, &body), None);
    server.shutdown().await;
}

#[tokio::test]
async fn every_algorithm_round_trips_with_a_correct_length() {
    let server = start(directed_server(on())).await;
    let body = text(100_000);
    for coding in ["gzip", "deflate", "br", "zstd"] {
        for h2 in [false, true] {
            let request = request(
                &[
                    ("accept-encoding", coding),
                    // A length a handler set for the uncompressed body.
                    ("x-response-header", "content-length=100000"),
                ],
                body.clone(),
            );
            let answer = if h2 {
                send_h2(server.local_addr(), request).await
            } else {
                send(server.local_addr(), request).await
            };
            assert_eq!(coding_of(&answer, &body).as_deref(), Some(coding));
            assert!(
                answer.body.len() < body.len() / 5,
                "{coding}: {}",
                answer.body.len()
            );
            if let Some(length) = answer.header("content-length") {
                assert_eq!(length, answer.body.len().to_string(), "{coding}");
            }
            assert_eq!(answer.header("content-type"), Some("application/json"));
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn no_compression_when_it_would_not_help_or_is_done_already() {
    let server = start(directed_server(on())).await;
    let addr = server.local_addr();
    // Bytes that don't compress go out as they are.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let noise: Vec<u8> = (0..8192)
        .map(|_| {
            // xorshift64*: noise no compressor can shrink
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect();
    let answer = send(addr, request(&[("accept-encoding", "gzip")], noise.clone())).await;
    assert_eq!(coding_of(&answer, &noise), None);
    // A handler that set Content-Encoding itself is not encoded twice.
    let body = text(4096);
    let answer = send(
        addr,
        request(
            &[
                ("accept-encoding", "gzip"),
                ("x-response-header", "content-encoding=br"),
            ],
            body.clone(),
        ),
    )
    .await;
    assert_eq!(answer.header("content-encoding"), Some("br"));
    assert_eq!(answer.body, body);
    server.shutdown().await;
}

#[tokio::test]
async fn request_bodies_in_every_coding_are_decoded() {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = start(Server::builder().route("/rpc", directed(calls.clone()))).await;
    let body = text(50_000);
    for coding in ["gzip", "deflate", "br", "zstd", "GZIP", "x-gzip"] {
        let encoded = encode(&coding.to_ascii_lowercase().replace("x-", ""), &body);
        let answer = send(
            server.local_addr(),
            request(&[("content-encoding", coding)], encoded),
        )
        .await;
        assert_eq!(answer.status, 200, "{coding}: {}", answer.text());
        assert_eq!(answer.body, body, "{coding}");
    }
    for identity in ["identity", "Identity", ""] {
        let answer = send(
            server.local_addr(),
            request(&[("content-encoding", identity)], body.clone()),
        )
        .await;
        assert_eq!(answer.status, 200, "{identity:?}");
        assert_eq!(answer.body, body);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 9);
    server.shutdown().await;
}

/// A decompressed body reaches the route as its buffer's only handle with
/// `FRAME_PADDING` spare after it, small or large (decompressed on a
/// background thread), so that the SIMD-JSON codec parses it in place.
#[tokio::test]
async fn a_decompressed_body_reaches_the_route_with_room_for_an_in_place_parse() {
    let server = start(Server::builder().route("/rpc", body_buffer())).await;
    for len in [2_000, 300_000] {
        for coding in ["gzip", "br"] {
            let encoded = encode(coding, &text(len));
            let answer = send(
                server.local_addr(),
                request(&[("content-encoding", coding)], encoded),
            )
            .await;
            assert_room_for_an_in_place_parse(&answer, &format!("{coding}, {len}"));
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn the_decompressed_size_is_capped_exactly() {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = start(
        Server::builder()
            .route("/rpc", directed(calls.clone()))
            .max_decompressed_size(1000),
    )
    .await;
    for coding in ["gzip", "deflate", "br", "zstd"] {
        let answer = send(
            server.local_addr(),
            request(&[("content-encoding", coding)], encode(coding, &text(1000))),
        )
        .await;
        assert_eq!(answer.status, 200, "{coding}");
        let answer = send(
            server.local_addr(),
            request(&[("content-encoding", coding)], encode(coding, &text(1001))),
        )
        .await;
        assert_eq!(answer.status, 413, "{coding}");
        assert!(answer.text().contains("1000 bytes"), "{}", answer.text());
    }
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    // The cap is on decompressed bodies only: a plain body has its own limit.
    let answer = send(server.local_addr(), request(&[], text(5000))).await;
    assert_eq!(answer.status, 200);
    assert_eq!(rpckit_http::DEFAULT_MAX_DECOMPRESSED_SIZE, 10 << 20);
    server.shutdown().await;
}

/// 1 GiB of zeros as one gzip member of about 1 MiB, built without
/// compressing a gigabyte: one mebibyte of zeros is deflated with a full
/// flush (which ends byte-aligned and forgets the history), and that block
/// is repeated 1024 times, then closed by an empty final block.
fn gzip_bomb() -> Vec<u8> {
    const CHUNK: usize = 1 << 20;
    const COPIES: usize = 1024;
    let zeros = vec![0u8; CHUNK];
    let mut deflate = flate2::Compress::new(flate2::Compression::best(), false);
    let mut block = Vec::with_capacity(CHUNK / 100);
    deflate
        .compress_vec(&zeros, &mut block, flate2::FlushCompress::Full)
        .unwrap();
    assert_eq!(deflate.total_in(), CHUNK as u64);

    let mut crc_chunk = crc32fast::Hasher::new();
    crc_chunk.update(&zeros);
    let mut crc = crc32fast::Hasher::new();
    for _ in 0..COPIES {
        crc.combine(&crc_chunk);
    }

    let mut bomb = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    for _ in 0..COPIES {
        bomb.extend_from_slice(&block);
    }
    bomb.extend_from_slice(&[0x03, 0x00]); // final fixed block, end of block
    bomb.extend_from_slice(&crc.finalize().to_le_bytes());
    bomb.extend_from_slice(&((CHUNK * COPIES) as u32).to_le_bytes());
    bomb
}

#[test]
fn the_gzip_bomb_is_real() {
    // Decoded by flate2 up to 64 MiB: zeros all the way.
    let bomb = gzip_bomb();
    assert!(bomb.len() < 2 << 20, "{} bytes", bomb.len());
    let mut decoder = flate2::read::GzDecoder::new(&bomb[..]).take(64 << 20);
    let mut out = Vec::new();
    decoder.read_to_end(&mut out).unwrap();
    assert_eq!(out.len(), 64 << 20);
    assert!(out.iter().all(|&b| b == 0));
}

/// The process's peak resident memory so far, in bytes (Linux).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[tokio::test]
async fn a_gzip_bomb_gets_413_without_the_memory() {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = start(Server::builder().route("/rpc", directed(calls.clone()))).await;
    let bomb = gzip_bomb();
    let before = peak_rss();
    let answer = send(
        server.local_addr(),
        request(&[("content-encoding", "gzip")], bomb),
    )
    .await;
    assert_eq!(answer.status, 413, "{}", answer.text());
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the handler never runs");
    if let (Some(before), Some(after)) = (before, peak_rss()) {
        // The cap is 10 MiB; other tests in this binary run alongside, so
        // allow for them, but nowhere near the bomb's gigabyte.
        let grown = after.saturating_sub(before);
        assert!(grown < 200 << 20, "peak memory grew by {} MiB", grown >> 20);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn corrupt_compressed_data_is_a_400() {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = start(Server::builder().route("/rpc", directed(calls.clone()))).await;
    let good = encode("gzip", &text(5000));
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0xff;
    let mut bad_crc = good.clone();
    let crc_at = good.len() - 8;
    bad_crc[crc_at] ^= 1;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("gzip", b"this is not gzip".to_vec()),
        ("gzip", good[..good.len() / 2].to_vec()),
        ("gzip", flipped),
        ("gzip", bad_crc),
        ("gzip", [&good[..], b"trailing"].concat()),
        ("gzip", Vec::new()),
        ("deflate", good.clone()),
        ("br", b"\xff\xff\xff\xff".to_vec()),
        ("zstd", b"not zstd at all".to_vec()),
    ];
    for (coding, body) in cases {
        let answer = send(
            server.local_addr(),
            request(&[("content-encoding", coding)], body),
        )
        .await;
        assert_eq!(answer.status, 400, "{coding}: {}", answer.text());
        assert!(answer.text().contains(coding), "{}", answer.text());
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn a_zstd_window_over_8_mib_is_refused() {
    let server = start(Server::builder().route("/rpc", directed(Arc::default()))).await;
    let mut encoder = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
    encoder.window_log(27).unwrap(); // a 128 MiB window, declared up front
    encoder.write_all(&text(1000)).unwrap();
    let frame = encoder.finish().unwrap();
    let answer = send(
        server.local_addr(),
        request(&[("content-encoding", "zstd")], frame),
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.text());
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_and_stacked_codings_are_a_415_before_the_body_is_read() {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = start(Server::builder().route("/rpc", directed(calls.clone()))).await;
    for coding in ["compress", "lz4", "gzip, br", "br, identity, zstd", "x"] {
        let answer = send(
            server.local_addr(),
            request(&[("content-encoding", coding)], "{}"),
        )
        .await;
        assert_eq!(answer.status, 415, "{coding}");
        assert_eq!(
            answer.header("accept-encoding"),
            Some("gzip, deflate, br, zstd, identity")
        );
        assert!(answer.text().contains(coding), "{}", answer.text());
    }
    // Headers only, the body never sent: the 415 cannot have waited for it.
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let head = raw_head(
        &mut stream,
        b"POST /rpc HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
          Content-Encoding: snappy\r\nContent-Length: 1000\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 415"), "{head}");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    drop(stream);
    server.shutdown().await;
}

#[tokio::test]
async fn a_compressed_request_can_get_a_compressed_answer() {
    let server = start(directed_server(on())).await;
    let body = text(20_000);
    let answer = send(
        server.local_addr(),
        request(
            &[("content-encoding", "br"), ("accept-encoding", "zstd")],
            encode("br", &body),
        ),
    )
    .await;
    assert_eq!(coding_of(&answer, &body).as_deref(), Some("zstd"));
    server.shutdown().await;
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync + Clone + std::fmt::Debug>() {}
    check::<Compression>();
    check::<Algorithm>();
    check::<rpckit_http::compression::Level>();
}
