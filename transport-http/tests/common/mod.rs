//! Stub frame services and small clients shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rpckit_codec::{
    Codec, Codecs, DecodeLimits, Frame, JsonCodec, Message, RawParams, Reply, Serializable,
    ValueError, Visit,
};
use rpckit_http::{Route, ServerBuilder, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bounds every wait, so a broken feature fails a test instead of hanging it.
pub const WAIT: Duration = Duration::from_secs(5);

pub async fn start(builder: ServerBuilder) -> ServerHandle {
    builder
        .bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
        .spawn()
}

/// A second codec with its own media type, to tell which codec answered.
#[derive(Debug, Default)]
pub struct OtherCodec(JsonCodec);

impl Codec for OtherCodec {
    fn name(&self) -> &'static str {
        "other"
    }
    fn media_types(&self) -> &'static [&'static str] {
        &["application/x-other"]
    }
    fn decode(&self, frame: Bytes, limits: &DecodeLimits) -> Message {
        self.0.decode(frame, limits)
    }
    fn deserialize_params(&self, raw: &RawParams, visit: Visit<'_>) -> Result<(), ValueError> {
        self.0.deserialize_params(raw, visit)
    }
    fn encode_value(&self, value: Serializable<'_>, out: &mut Vec<u8>) -> Result<(), ValueError> {
        self.0.encode_value(value, out)
    }
    fn encode_reply(&self, reply: &Reply, out: &mut Vec<u8>) {
        self.0.encode_reply(reply, out)
    }
}

pub fn codecs() -> Codecs {
    Codecs::new(JsonCodec::default()).with(OtherCodec::default())
}

/// Answers every frame with itself, in the codec it came in.
pub fn echo() -> Route {
    Route::new(
        codecs(),
        tower::service_fn(|frame: Frame| async move { Ok::<_, Infallible>(Some(frame)) }),
    )
}

/// Takes `delay` for every frame; counts calls that finished.
pub fn slow(delay: Duration, finished: Arc<AtomicUsize>) -> Route {
    Route::new(
        codecs(),
        tower::service_fn(move |frame: Frame| {
            let finished = finished.clone();
            async move {
                tokio::time::sleep(delay).await;
                finished.fetch_add(1, Ordering::SeqCst);
                Ok::<_, Infallible>(Some(frame))
            }
        }),
    )
}

/// Answers nothing, as for a notification.
pub fn silent() -> Route {
    Route::new(
        codecs(),
        tower::service_fn(|_: Frame| async move { Ok::<_, Infallible>(None) }),
    )
}

/// Answers how each body reached it: `own <spare bytes>` when the frame
/// is its buffer's only handle, `shared` otherwise.
pub fn body_buffer() -> Route {
    Route::new(
        codecs(),
        tower::service_fn(|frame: Frame| async move {
            let how = match frame.bytes.try_into_mut() {
                Ok(bytes) => format!("own {}", bytes.capacity() - bytes.len()),
                Err(_) => "shared".to_owned(),
            };
            Ok::<_, Infallible>(Some(Frame::new(Bytes::from(how), frame.codec)))
        }),
    )
}

/// Asserts that [`body_buffer`] got the body as its buffer's only handle
/// with `FRAME_PADDING` spare after it: what the SIMD-JSON codec needs to
/// parse it in place.
pub fn assert_room_for_an_in_place_parse(answer: &Answer, context: &str) {
    assert_eq!(answer.status, 200, "{context}: {}", answer.text());
    let spare: usize = answer
        .text()
        .strip_prefix("own ")
        .unwrap_or_else(|| panic!("{context}: not its buffer's only handle: {}", answer.text()))
        .parse()
        .unwrap();
    assert!(
        spare >= rpckit_codec::FRAME_PADDING,
        "{context}: {spare} bytes to spare"
    );
}

/// Always fails.
pub fn failing() -> Route {
    Route::new(
        codecs(),
        tower::service_fn(|_: Frame| async move {
            Err::<Option<Frame>, _>(std::io::Error::other("secret detail"))
        }),
    )
}

/// A whole response from the server.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub version: http::Version,
}

impl Answer {
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("utf-8 body")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("visible header"))
    }
}

pub fn post(path: &str, content_type: Option<&str>, body: &'static str) -> Request<Full<Bytes>> {
    let mut request = Request::post(path);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    request
        .header("host", "localhost")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

pub async fn read(response: http::Response<hyper::body::Incoming>) -> Answer {
    let (parts, body) = response.into_parts();
    let body = tokio::time::timeout(WAIT, body.collect())
        .await
        .expect("body in time")
        .expect("body")
        .to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
        version: parts.version,
    }
}

/// An HTTP/1.1 connection.
pub struct H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>);

impl H1 {
    pub async fn connect(addr: SocketAddr) -> H1 {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (send, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(connection);
        H1(send)
    }

    pub async fn send(&mut self, request: Request<Full<Bytes>>) -> Answer {
        let response = tokio::time::timeout(WAIT, self.0.send_request(request))
            .await
            .expect("response in time")
            .expect("response");
        read(response).await
    }
}

/// One request on a fresh HTTP/1.1 connection.
pub async fn send(addr: SocketAddr, request: Request<Full<Bytes>>) -> Answer {
    H1::connect(addr).await.send(request).await
}

/// One request on a fresh HTTP/2 connection with prior knowledge.
pub async fn send_h2(addr: SocketAddr, request: Request<Full<Bytes>>) -> Answer {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut send, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(connection);
    let response = tokio::time::timeout(WAIT, send.send_request(request))
        .await
        .expect("response in time")
        .expect("response");
    read(response).await
}

/// Writes raw bytes, then reads until the response head is complete.
/// Returns the head (status line and headers).
pub async fn raw_head(stream: &mut TcpStream, request: &[u8]) -> String {
    stream.write_all(request).await.expect("write");
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    tokio::time::timeout(WAIT, async {
        while !received.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buffer).await.expect("read");
            assert!(n > 0, "connection closed before a response: {received:?}");
            received.extend_from_slice(&buffer[..n]);
        }
    })
    .await
    .expect("response head in time");
    String::from_utf8_lossy(&received).into_owned()
}

/// Shared between a test and its stub service.
pub type Shared<T> = Arc<std::sync::Mutex<T>>;

/// Sends `head` (request line and headers, without the blank line) as raw
/// bytes with `Connection: close`, and reads the whole response. Nothing
/// between the test and the socket rewrites the request.
pub async fn raw(addr: SocketAddr, head: &str) -> Answer {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("{head}\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut received = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut received))
        .await
        .expect("response in time")
        .expect("read");
    parse_response(&received)
}

/// Splits a raw HTTP/1.1 response (with `Content-Length`) into its parts.
pub fn parse_response(raw: &[u8]) -> Answer {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete head in {:?}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..end]).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("status line {status_line:?}"));
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':').expect("header line");
        headers.append(
            http::HeaderName::from_bytes(name.trim().as_bytes()).expect("header name"),
            http::HeaderValue::from_str(value.trim()).expect("header value"),
        );
    }
    Answer {
        status: StatusCode::from_u16(status).expect("status"),
        headers,
        body: Bytes::copy_from_slice(&raw[end + 4..]),
        version: http::Version::HTTP_11,
    }
}

impl Answer {
    /// Every `Access-Control-*` header, for "no CORS headers at all".
    pub fn cors_headers(&self) -> Vec<String> {
        self.headers
            .keys()
            .map(|name| name.as_str().to_owned())
            .filter(|name| name.starts_with("access-control-"))
            .collect()
    }

    /// Whether some `Vary` value lists `name`.
    pub fn varies_on(&self, name: &str) -> bool {
        self.headers.get_all("vary").iter().any(|value| {
            value
                .to_str()
                .unwrap()
                .split(',')
                .any(|item| item.trim().eq_ignore_ascii_case(name))
        })
    }
}

pub mod rpc;
