//! HTTP/1 over raw sockets: the fast connection's rules (keep-alive by
//! version and `Connection`, pipelining, `Date`), and its hand-over to hyper
//! for everything else in the middle of a connection, with nothing lost.

mod common;

use std::time::{Duration, SystemTime};

use common::{echo, parse_response, start, Answer, WAIT};
use rpckit_http::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A POST of `body` to the echo route, `Content-Length` framed.
fn post(body: &str, extra: &str) -> String {
    format!(
        "POST /rpc HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// The same, its body chunked: a request the fast connection hands to hyper.
fn post_chunked(body: &str) -> String {
    format!(
        "POST /rpc HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    )
}

/// Reads answers off a connection, by their `Content-Length` or chunks.
struct Reader {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Reader {
    fn new(stream: TcpStream) -> Self {
        Reader {
            stream,
            buffer: Vec::new(),
        }
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = [0; 4096];
        let n = tokio::time::timeout(WAIT, self.stream.read(&mut chunk))
            .await
            .expect("bytes in time")
            .expect("read");
        self.buffer.extend_from_slice(&chunk[..n]);
        n > 0
    }

    /// The next answer's head (all of an answer to `HEAD`).
    async fn head(&mut self) -> Answer {
        let end = loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            assert!(self.fill().await, "closed before a head: {:?}", self.text());
        };
        let answer = parse_response(&self.buffer[..end]);
        self.buffer.drain(..end);
        answer
    }

    /// The next whole answer.
    async fn answer(&mut self) -> Answer {
        let mut answer = self.head().await;
        let chunked = answer.header("transfer-encoding") == Some("chunked");
        let length = answer
            .header("content-length")
            .map(|n| n.parse::<usize>().unwrap());
        let body = if chunked {
            self.chunks().await
        } else {
            let length = length.unwrap_or(0);
            while self.buffer.len() < length {
                assert!(self.fill().await, "closed mid-body");
            }
            self.buffer.drain(..length).collect()
        };
        answer.body = body.into();
        answer
    }

    async fn chunks(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(at) = self.buffer.windows(2).position(|w| w == b"\r\n") {
                    break at;
                }
                assert!(self.fill().await, "closed mid-chunk");
            };
            let size = std::str::from_utf8(&self.buffer[..line_end]).unwrap();
            let size = usize::from_str_radix(size.split(';').next().unwrap(), 16).unwrap();
            while self.buffer.len() < line_end + 2 + size + 2 {
                assert!(self.fill().await, "closed mid-chunk");
            }
            body.extend_from_slice(&self.buffer[line_end + 2..line_end + 2 + size]);
            self.buffer.drain(..line_end + 2 + size + 2);
            if size == 0 {
                return body;
            }
        }
    }

    /// Whether the server closed the connection (after what was read).
    async fn closed(&mut self) -> bool {
        self.buffer.is_empty() && !self.fill().await
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer).into_owned()
    }
}

async fn connect(addr: std::net::SocketAddr) -> Reader {
    Reader::new(TcpStream::connect(addr).await.expect("connect"))
}

#[tokio::test]
async fn a_connection_handed_to_hyper_midway_loses_nothing() {
    let server = start(Server::builder().route("/rpc", echo())).await;
    let mut conn = connect(server.local_addr()).await;
    // Pipelined in one write: two plain requests, a chunked one (which
    // hyper must take over, with the plain one after it already read),
    // and a plain one.
    let all = [
        post("\"one\"", ""),
        post("\"two\"", ""),
        post_chunked("\"three\""),
        post("\"four\"", ""),
    ]
    .concat();
    conn.stream.write_all(all.as_bytes()).await.unwrap();
    for expected in ["\"one\"", "\"two\"", "\"three\"", "\"four\""] {
        let answer = conn.answer().await;
        assert_eq!(answer.status, 200, "{expected}");
        assert_eq!(answer.text(), expected);
    }
    // And the connection goes on, now hyper's.
    conn.stream
        .write_all(post("\"five\"", "").as_bytes())
        .await
        .unwrap();
    assert_eq!(conn.answer().await.text(), "\"five\"");
    server.shutdown().await;
}

#[tokio::test]
async fn expect_100_continue_is_honoured() {
    let server = start(Server::builder().route("/rpc", echo())).await;
    let mut conn = connect(server.local_addr()).await;
    conn.stream
        .write_all(
            b"POST /rpc HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
              Expect: 100-continue\r\nContent-Length: 4\r\n\r\n",
        )
        .await
        .unwrap();
    let interim = conn.answer().await;
    assert_eq!(interim.status, 100);
    conn.stream.write_all(b"true").await.unwrap();
    let answer = conn.answer().await;
    assert_eq!((answer.status.as_u16(), answer.text()), (200, "true"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_body_sent_after_its_head_is_answered() {
    let server = start(Server::builder().route("/rpc", echo())).await;
    let mut conn = connect(server.local_addr()).await;
    let request = post("[1,2,3]", "");
    let (head, body) = request.split_at(request.len() - 7);
    conn.stream.write_all(head.as_bytes()).await.unwrap();
    // Let the head go on its own (whether the server reads it alone or
    // not, the answer must be the same).
    tokio::time::sleep(Duration::from_millis(20)).await;
    conn.stream.write_all(body.as_bytes()).await.unwrap();
    let answer = conn.answer().await;
    assert_eq!((answer.status.as_u16(), answer.text()), (200, "[1,2,3]"));
    server.shutdown().await;
}

/// A body of many read slices (the fast connection reads 256 KiB at a
/// time, yielding between them), with the next request right behind it:
/// both answered whole. (That the worker serves others between the slices
/// is the load benchmark's to show.)
#[tokio::test]
async fn a_body_of_many_slices_and_the_request_behind_it_are_answered_whole() {
    let server = start(Server::builder().route("/rpc", echo())).await;
    let mut conn = connect(server.local_addr()).await;
    let body = format!("[\"{}\"]", "y".repeat(1_100_000));
    let request = post(&body, "");
    let (head, rest) = request.split_at(request.len() - body.len());
    conn.stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let rest = format!("{rest}{}", post("[5]", ""));
    conn.stream.write_all(rest.as_bytes()).await.unwrap();
    let answer = conn.answer().await;
    assert_eq!(answer.status.as_u16(), 200);
    assert!(answer.body == body.as_bytes(), "the body came back changed");
    let answer = conn.answer().await;
    assert_eq!((answer.status.as_u16(), answer.text()), (200, "[5]"));
    server.shutdown().await;
}

/// A body larger than the read buffer reaches the route as the only
/// handle to its buffer, with `FRAME_PADDING` to spare after it, so the
/// SIMD-JSON codec can parse it where it lies; whether it came whole, in
/// pieces, or with the next requests right behind it.
#[tokio::test]
async fn a_large_body_reaches_the_route_in_a_buffer_of_its_own_with_room() {
    use common::assert_room_for_an_in_place_parse;

    let server = start(Server::builder().route("/rpc", common::body_buffer())).await;
    let mut conn = connect(server.local_addr()).await;
    let body = format!("[\"{}\"]", "z".repeat(100_000));
    let request = post(&body, "");
    // Whole, and in pieces (the head and a little first).
    conn.stream.write_all(request.as_bytes()).await.unwrap();
    assert_room_for_an_in_place_parse(&conn.answer().await, "whole");
    let (head, rest) = request.split_at(request.len() - body.len() + 10);
    conn.stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    conn.stream.write_all(rest.as_bytes()).await.unwrap();
    assert_room_for_an_in_place_parse(&conn.answer().await, "in pieces");
    // With the next requests behind it in the same write: still its own,
    // and what follows it is served from the connection's next buffer.
    let three = format!("{request}{request}{}", post("[6]", ""));
    conn.stream.write_all(three.as_bytes()).await.unwrap();
    assert_room_for_an_in_place_parse(&conn.answer().await, "first of three");
    assert_room_for_an_in_place_parse(&conn.answer().await, "second of three");
    assert_eq!(conn.answer().await.text(), "shared");
    server.shutdown().await;
}

#[tokio::test]
async fn a_body_in_pieces_is_waited_for_and_the_next_request_served() {
    let server = start(Server::builder().route("/rpc", echo())).await;
    let mut conn = connect(server.local_addr()).await;
    let body = format!("[\"{}\"]", "x".repeat(100_000));
    let request = post(&body, "");
    let (head, rest) = request.split_at(request.len() - body.len() + 10);
    conn.stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    conn.stream.write_all(rest.as_bytes()).await.unwrap();
    let answer = conn.answer().await;
    assert_eq!(
        (answer.status.as_u16(), answer.text()),
        (200, body.as_str())
    );
    // The connection goes on serving.
    conn.stream
        .write_all(post("[4]", "").as_bytes())
        .await
        .unwrap();
    let answer = conn.answer().await;
    assert_eq!((answer.status.as_u16(), answer.text()), (200, "[4]"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_request_answered_before_its_body_does_not_wait_for_it() {
    let server = start(Server::builder().route("/rpc", echo()).max_body_size(1000)).await;
    // A path no route serves, a body too large, a media type the route
    // does not speak: each answered with the body still to come.
    let heads = [
        ("POST /nowhere HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n", 404),
        ("POST /rpc HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n", 413),
        ("POST /rpc HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 500\r\n\r\n", 415),
    ];
    for (head, status) in heads {
        let mut conn = connect(server.local_addr()).await;
        conn.stream.write_all(head.as_bytes()).await.unwrap();
        assert_eq!(conn.head().await.status.as_u16(), status, "{head}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn http_1_0_closes_unless_asked_to_keep_alive() {
    let server = start(Server::builder().route("/rpc", echo())).await;
    let request = |extra: &str| {
        format!(
            "POST /rpc HTTP/1.0\r\nContent-Type: application/json\r\n{extra}Content-Length: 2\r\n\r\n[]"
        )
    };

    let mut conn = connect(server.local_addr()).await;
    conn.stream.write_all(request("").as_bytes()).await.unwrap();
    let answer = conn.answer().await;
    assert_eq!((answer.status.as_u16(), answer.text()), (200, "[]"));
    assert!(
        conn.closed().await,
        "an HTTP/1.0 connection closes after its answer"
    );

    let mut conn = connect(server.local_addr()).await;
    let keep = request("Connection: keep-alive\r\n");
    conn.stream.write_all(keep.as_bytes()).await.unwrap();
    let answer = conn.answer().await;
    assert_eq!(answer.header("connection"), Some("keep-alive"));
    conn.stream.write_all(keep.as_bytes()).await.unwrap();
    assert_eq!(conn.answer().await.text(), "[]");
    server.shutdown().await;
}

#[tokio::test]
async fn connection_close_is_answered_then_closed() {
    let server = start(Server::builder().route("/rpc", echo())).await;
    let mut conn = connect(server.local_addr()).await;
    // A second request after the close is never read.
    let both = [post("1", "Connection: close\r\n"), post("2", "")].concat();
    conn.stream.write_all(both.as_bytes()).await.unwrap();
    let answer = conn.answer().await;
    assert_eq!((answer.status.as_u16(), answer.text()), (200, "1"));
    assert_eq!(answer.header("connection"), Some("close"));
    assert!(conn.closed().await, "{:?}", conn.text());
    server.shutdown().await;
}

#[tokio::test]
async fn answers_are_dated_and_framed_by_their_length() {
    let server = start(Server::builder().route("/rpc", echo())).await;
    let mut conn = connect(server.local_addr()).await;
    conn.stream
        .write_all(post("{\"a\":1}", "").as_bytes())
        .await
        .unwrap();
    let answer = conn.answer().await;
    assert_eq!(answer.header("content-length"), Some("7"));
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let date = httpdate::parse_http_date(answer.header("date").expect("a Date")).unwrap();
    let skew = SystemTime::now()
        .duration_since(date)
        .unwrap_or_else(|err| err.duration());
    assert!(skew < Duration::from_secs(60), "{skew:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_and_unusual_heads_get_hyper_s_answers() {
    let server = start(Server::builder().route("/rpc", echo())).await;
    // A space in a header name: 400 from hyper.
    let mut conn = connect(server.local_addr()).await;
    conn.stream
        .write_all(b"POST /rpc HTTP/1.1\r\nHo st: x\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(conn.answer().await.status, 400);
    // `HEAD` on a route: its 405 without a body, then the connection
    // still serves.
    let mut conn = connect(server.local_addr()).await;
    conn.stream
        .write_all(b"HEAD /rpc HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(conn.head().await.status, 405);
    conn.stream
        .write_all(post("7", "").as_bytes())
        .await
        .unwrap();
    assert_eq!(conn.answer().await.text(), "7");
    server.shutdown().await;
}

/// The fast connection writes a plain answer's headers from the server's
/// plain head, not from a map; they must be the ones hyper writes from the
/// map (a chunked request is hyper's), each once, with `Content-Encoding`
/// beside them when the answer is compressed, and `Vary` naming `Origin`
/// too with CORS.
#[tokio::test]
async fn a_plain_answer_has_the_same_headers_from_either_connection() {
    use rpckit_http::compression::Compression;
    use rpckit_http::Cors;

    let compressing = Compression::default().enabled_by_default(true).min_size(1);
    let cases = [
        (Compression::default(), false, None),
        (Compression::disabled(), false, None),
        (compressing.clone(), false, Some("gzip")),
        (compressing, true, Some("gzip")),
    ];
    for (compression, cors, coding) in cases {
        let mut builder = Server::builder()
            .route("/rpc", echo())
            .compression(compression.clone());
        if cors {
            builder = builder.cors(Cors::allow_origins(["https://page.test"]));
        }
        let server = start(builder).await;
        // Long enough, and repetitive enough, to be worth compressing.
        let result = "echo ".repeat(100);
        let body = &format!("{{\"jsonrpc\":\"2.0\",\"result\":\"{result}\",\"id\":1}}");
        let mut fast = connect(server.local_addr()).await;
        let gzip = "Accept-Encoding: gzip\r\nOrigin: https://page.test\r\n";
        fast.stream
            .write_all(post(body, gzip).as_bytes())
            .await
            .unwrap();
        let fast = fast.answer().await;
        let mut hyper = connect(server.local_addr()).await;
        let chunked = post_chunked(body).replacen("\r\n", &format!("\r\n{gzip}"), 1);
        hyper.stream.write_all(chunked.as_bytes()).await.unwrap();
        let hyper = hyper.answer().await;

        let values = |answer: &Answer, name: &str| -> Vec<String> {
            let values = answer.headers.get_all(name).iter();
            values.map(|v| v.to_str().unwrap().to_owned()).collect()
        };
        for name in ["content-type", "vary", "content-encoding"] {
            let (on_fast, on_hyper) = (values(&fast, name), values(&hyper, name));
            assert_eq!(on_fast, on_hyper, "{name}, {compression:?}, {cors}");
            let distinct: std::collections::HashSet<_> = on_fast.iter().collect();
            assert_eq!(distinct.len(), on_fast.len(), "{name} repeats a value");
        }
        assert_eq!(values(&fast, "content-type"), ["application/json"]);
        assert_eq!(fast.header("content-encoding"), coding);
        let vary = values(&fast, "vary");
        assert_eq!(vary.contains(&"origin".to_owned()), cors, "{vary:?}");
        assert_eq!(fast.body, hyper.body);
        server.shutdown().await;
    }
}
