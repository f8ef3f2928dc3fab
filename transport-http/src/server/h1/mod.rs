//! The fast HTTP/1 connection: plain requests served without hyper, and
//! every other one handed, with the connection, to hyper.
//!
//! Almost every JSON-RPC request is the same plain thing: a `POST` with a
//! small body whose `Content-Length` is given, arriving whole (head and
//! body in one read), answered with a whole buffer, on a keep-alive
//! connection. For that request hyper's machinery
//! (its dispatcher's state machine, a body channel, its write queue) cost
//! about 6,000 instructions, more than decoding, dispatching and encoding
//! the call. This connection reads such a request with `httparse` (the
//! parser hyper uses), builds the same [`http::Request`] hyper would, hands
//! it to the same service, and writes the answer in one `write`.
//!
//! Everything else is hyper's: the first request this connection does not
//! take ([`head::Head::HandOver`]: chunked or large bodies, `Expect`,
//! upgrades, `HEAD`, anything malformed; and a body still on its way whose
//! request may be answered before it, with a 404, 413 or 415) goes to a
//! hyper HTTP/1 connection
//! made then, with the bytes read so far put back in front of the socket
//! ([`HandedOver`]), and hyper serves the connection from there on. So the
//! rules of HTTP/1 that are not implemented here are not approximated here.
//!
//! What it does implement: keep-alive by version and `Connection`,
//! pipelining (requests already read are answered in order, their answers
//! written together), `Content-Length`, chunked or close-delimited answer
//! bodies, `Date`, and a graceful close that waits for the request in
//! flight (see [`Connection::graceful_shutdown`]). Large answers, its own
//! and hyper's once handed over, are written a slice at a time with the
//! worker given back between slices ([`fair`]).

mod encode;
mod fair;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod head;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{Response, StatusCode, Version};
use http_body::Body as _;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use rpckit_codec::FRAME_PADDING;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use self::encode::Framing;
use self::fair::HandedOver;
use self::head::Head;
use super::connection::ConnService;
use crate::Body;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How much the read buffer grows by when it is full.
const READ_SIZE: usize = 8 * 1024;

/// Answers are gathered up to this size before they are written (several
/// when requests came pipelined); a larger body is written on its own.
const WRITE_SIZE: usize = 64 * 1024;

/// A plain-TCP HTTP/1 connection: served here while its requests are plain
/// ones (see the module docs), by hyper from the first that is not.
pub(in crate::server) struct Connection {
    state: State,
    control: Arc<Control>,
}

enum State {
    Fast {
        serving: Pin<Box<dyn Future<Output = io::Result<Ending>> + Send>>,
        /// For hyper, on a hand-over.
        service: ConnService,
        builder: http1::Builder,
    },
    Hyper(Pin<Box<http1::Connection<TokioIo<HandedOver<TcpStream>>, ConnService>>>),
}

/// What the connection's owner asked, and where it stands: read by
/// [`Connection::poll`] to close between requests. Shared by the
/// connection and its serving future, which run in one task (so relaxed
/// atomics are enough).
#[derive(Debug, Default)]
struct Control {
    /// Close once no request is in flight.
    shutdown: AtomicBool,
    /// Waiting for a request's head, every answer written.
    idle: AtomicBool,
}

impl Control {
    fn closing(&self) -> bool {
        self.shutdown.load(Ordering::Relaxed)
    }
}

/// How [`serve`] ended.
enum Ending {
    Closed,
    /// A request for hyper: the socket, and what was read but not served.
    HandOver {
        stream: TcpStream,
        read: Bytes,
    },
}

impl Connection {
    /// Serves `stream` with `service`; `builder` makes hyper's connection
    /// on a hand-over.
    pub(in crate::server) fn new(
        stream: TcpStream,
        service: ConnService,
        builder: &http1::Builder,
    ) -> Self {
        let control = Arc::new(Control::default());
        Connection {
            state: State::Fast {
                serving: Box::pin(serve(stream, service.clone(), Arc::clone(&control))),
                service,
                builder: builder.clone(),
            },
            control,
        }
    }

    /// Closes the connection once the request in flight (if any) is
    /// answered: at once while it waits for a request's head (whole or
    /// not: hyper too closes on a half-sent head), else after the answer.
    pub(in crate::server) fn graceful_shutdown(&mut self) {
        self.control.shutdown.store(true, Ordering::Relaxed);
        if let State::Hyper(connection) = &mut self.state {
            connection.as_mut().graceful_shutdown();
        }
    }
}

impl Future for Connection {
    type Output = Result<(), BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                State::Fast {
                    serving,
                    service,
                    builder,
                } => {
                    if this.control.closing() && this.control.idle.load(Ordering::Relaxed) {
                        return Poll::Ready(Ok(()));
                    }
                    let (stream, read) = match ready!(serving.as_mut().poll(cx)) {
                        Ok(Ending::Closed) => return Poll::Ready(Ok(())),
                        Ok(Ending::HandOver { stream, read }) => (stream, read),
                        Err(err) => return Poll::Ready(Err(err.into())),
                    };
                    let io = TokioIo::new(HandedOver::new(read, stream));
                    let mut connection = Box::pin(builder.serve_connection(io, service.clone()));
                    if this.control.closing() {
                        connection.as_mut().graceful_shutdown();
                    }
                    this.state = State::Hyper(connection);
                }
                State::Hyper(connection) => {
                    return connection.as_mut().poll(cx).map_err(Into::into);
                }
            }
        }
    }
}

/// Serves the plain requests of `stream` until it closes or a request is
/// not plain.
async fn serve(
    mut stream: TcpStream,
    service: ConnService,
    control: Arc<Control>,
) -> io::Result<Ending> {
    let mut read = BytesMut::new();
    let mut out = Vec::new();
    loop {
        let request = match head::parse(&read) {
            Head::Request(request) => {
                control.idle.store(false, Ordering::Relaxed);
                request
            }
            Head::Partial => {
                flush(&mut stream, &mut out).await?;
                control.idle.store(true, Ordering::Relaxed);
                // Told to close while an answer was being written: nothing
                // else wakes this future to see it.
                if control.closing() {
                    return Ok(Ending::Closed);
                }
                if read.capacity() - read.len() < READ_SIZE / 8 {
                    read.reserve(READ_SIZE);
                }
                if stream.read_buf(&mut read).await? == 0 {
                    return Ok(Ending::Closed);
                }
                continue;
            }
            Head::HandOver => {
                flush(&mut stream, &mut out).await?;
                return Ok(Ending::HandOver {
                    stream,
                    read: read.freeze(),
                });
            }
        };
        let (version, keep_alive) = (request.version, request.keep_alive);
        let whole = request.head_len + request.body_len;
        let body_len = request.body_len;
        // A body larger than the read buffer (which grows for it anyway)
        // gets a buffer that it alone holds, with `FRAME_PADDING` spare
        // after it, so that the SIMD-JSON codec can parse it where it lies
        // instead of copying it; the connection reads on into a new one.
        let own_body = body_len > READ_SIZE;
        let room = if own_body { FRAME_PADDING } else { 0 };
        let arrived = read_now(&mut stream, &mut read, whole, room)?;
        let head_bytes = if own_body {
            // Copied, so that the body is its buffer's only handle.
            let head = Bytes::copy_from_slice(&read[..request.head_len]);
            read.advance(request.head_len);
            head
        } else {
            read.split_to(request.head_len).freeze()
        };
        // Kept only for a hand-over, which needs them back.
        let kept = (!arrived).then(|| head_bytes.clone());
        let Ok(head) = request.into_head(head_bytes) else {
            write_bad_request(&mut out, version);
            flush(&mut stream, &mut out).await?;
            return Ok(Ending::Closed);
        };
        if let Some(head_bytes) = kept {
            // The rest of the body is on its way. Waited for here, under the
            // head's timer (and a graceful close's), as the rest of a head
            // would be, when the answer needs it anyway; handed over, the
            // connection would stay hyper's for good (a client sending
            // 128 KiB bodies over a real network would have been hyper's
            // after its first). A request that may be answered before its
            // body (a 404, 413, 415) goes to hyper, which answers at once.
            flush(&mut stream, &mut out).await?;
            if !service.reads_body_first(&head, body_len) {
                let mut unserved = BytesMut::from(&head_bytes[..]);
                unserved.extend_from_slice(&read);
                return Ok(Ending::HandOver {
                    stream,
                    read: unserved.freeze(),
                });
            }
            if !read_until(&mut stream, &mut read, body_len, room).await? {
                // The client stopped sending with the body half sent: it
                // may still read, and hyper tells it (400) too.
                write_bad_request(&mut out, version);
                flush(&mut stream, &mut out).await?;
                return Ok(Ending::Closed);
            }
        }
        let body = if own_body {
            // The whole buffer goes with the body, padding room and all: a
            // codec may parse the body where it lies (`FRAME_PADDING`), and
            // the connection keeps no buffer the size of the largest body
            // it was ever sent. What came in behind the body (the next
            // request, pipelined) moves to a fresh buffer.
            let behind = BytesMut::from(&read[body_len..]);
            read.truncate(body_len);
            std::mem::replace(&mut read, behind).freeze()
        } else {
            read.split_to(body_len).freeze()
        };
        let Ok(response) = service.call_head(head, Full::new(body)).await;
        let keep_alive = keep_alive && !control.closing();
        let keep_alive =
            write_response(&mut stream, &mut out, response, version, keep_alive).await?;
        if !keep_alive {
            flush(&mut stream, &mut out).await?;
            // The client reads the answer to its end; a failed close
            // changes nothing for it.
            let _ = stream.shutdown().await;
            return Ok(Ending::Closed);
        }
        if out.len() >= WRITE_SIZE {
            flush(&mut stream, &mut out).await?;
        }
    }
}

/// Appends `response` to `out` (or writes it, when its body is large or
/// streams). Returns whether the connection stays open after it: not if
/// asked otherwise (`keep_alive`, or the response's `Connection: close`),
/// nor after a body whose end is the connection's.
async fn write_response(
    stream: &mut TcpStream,
    out: &mut Vec<u8>,
    response: Response<Body>,
    version: Version,
    keep_alive: bool,
) -> io::Result<bool> {
    let (parts, mut body) = response.into_parts();
    let framing = Framing::of(parts.status, version, body.size_hint().exact());
    let plain = body.plain_head();
    let keep_alive = encode::head(out, &parts, plain, version, framing, keep_alive);
    if framing == Framing::None {
        return Ok(keep_alive);
    }
    let mut written = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(io::Error::other)?;
        let Ok(data) = frame.into_data() else {
            // Trailers: HTTP/1 answers here carry none.
            continue;
        };
        if data.is_empty() {
            continue;
        }
        written += data.len() as u64;
        if framing == Framing::Chunked {
            out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
        }
        if out.len() + data.len() <= WRITE_SIZE {
            out.extend_from_slice(&data);
        } else {
            flush(stream, out).await?;
            fair::write_all(stream, &data).await?;
        }
        if framing == Framing::Chunked {
            out.extend_from_slice(b"\r\n");
        }
        // A body that streams is written as it comes; a whole one (all
        // of rpckit's own) waits for the next flush.
        if !body.is_end_stream() {
            flush(stream, out).await?;
        }
    }
    match framing {
        Framing::Chunked => out.extend_from_slice(b"0\r\n\r\n"),
        Framing::Length(length) if written != length => {
            // The head promised another length: the connection can only
            // end, or the client would read the next answer wrongly.
            return Err(io::Error::other(format!(
                "an answer's body was {written} bytes, not the {length} its length said"
            )));
        }
        _ => {}
    }
    Ok(keep_alive)
}

/// The answer to a head that httparse took but `http` refuses, and to a
/// request whose client stopped sending before the end of its body.
fn write_bad_request(out: &mut Vec<u8>, version: Version) {
    let (parts, ()) = Response::builder()
        .status(StatusCode::BAD_REQUEST)
        .body(())
        .expect("a plain 400 is a valid response")
        .into_parts();
    let _closes = encode::head(out, &parts, None, version, Framing::Length(0), false);
}

/// Reads what the socket has, without waiting, until `read` holds `len`
/// bytes; whether it does then. The buffer is sized for `len` and `room`
/// more.
fn read_now(
    stream: &mut TcpStream,
    read: &mut BytesMut,
    len: usize,
    room: usize,
) -> io::Result<bool> {
    if read.len() >= len {
        return Ok(true);
    }
    read.reserve(len - read.len() + room);
    while read.len() < len {
        match stream.try_read_buf(read) {
            // The client closed: the request will never be whole, and
            // hyper closes such a connection too.
            Ok(0) => return Ok(false),
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(err) => return Err(err),
        }
    }
    Ok(true)
}

/// Reads until `read` holds `len` bytes; whether it does (not if the
/// client stopped sending first: the request will never be whole).
///
/// A [`fair::SLICE`] at most per read, the task yielding once it has read
/// a slice while more is to come, as large answers are written (and as
/// hyper's reads are cut, see [`fair`]): a read takes all the socket has
/// (up to 400 KB a call under the benchmark's 4 MiB bodies, by `strace`),
/// and the loop went on reading, without a yield, for as long as data was
/// there, while small calls on the worker's other connections waited.
async fn read_until(
    stream: &mut TcpStream,
    read: &mut BytesMut,
    len: usize,
    room: usize,
) -> io::Result<bool> {
    read.reserve(len.saturating_sub(read.len()) + room);
    // Read since the task last yielded. After a short read (the socket
    // had less than a slice) the next read most often waits for data,
    // which yields anyway.
    let mut turn = 0;
    while read.len() < len {
        let got = stream
            .read_buf(&mut (&mut *read).limit(fair::SLICE))
            .await?;
        if got == 0 {
            return Ok(false);
        }
        turn += got;
        if turn >= fair::SLICE && read.len() < len {
            tokio::task::yield_now().await;
            turn = 0;
        }
    }
    Ok(true)
}

/// Writes out what `out` gathered.
async fn flush(stream: &mut TcpStream, out: &mut Vec<u8>) -> io::Result<()> {
    if !out.is_empty() {
        stream.write_all(out).await?;
        out.clear();
    }
    Ok(())
}
