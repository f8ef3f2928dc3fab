//! Which connection serves a socket: the fast HTTP/1 one, hyper's HTTP/1,
//! or hyper-util's auto-detecting one when the client may speak HTTP/2.
//!
//! Most connections are HTTP/1, and most of those sit idle between calls.
//! hyper-util's auto connection keeps room for HTTP/2's state and a buffer
//! for the preface in every connection, HTTP/1 or not: about 8 KiB per idle
//! connection. So a plain-TCP connection whose first bytes cannot begin
//! HTTP/2's preface (`PRI * HTTP/2.0…`; an HTTP/1 request starts with its
//! method, `POST`, `GET`, …) gets the [fast HTTP/1 connection](h1), which
//! hands it to hyper's HTTP/1 connection when a request needs hyper, and
//! only the rest (and TLS, where ALPN decides) the auto-detecting one,
//! boxed.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::rt::{Read, Write};
use hyper::server::conn::http1;
use hyper_util::rt::TokioExecutor;
use hyper_util::server::conn::auto;
use tokio::net::TcpStream;

use super::connection::ConnService;
use super::h1;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What an HTTP/2 client with prior knowledge sends first.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Waits for the client's first bytes, without consuming them, and tells
/// whether they could begin HTTP/2's preface; `None` when the client closed
/// without sending anything.
pub(super) async fn may_be_http2(stream: &TcpStream) -> io::Result<Option<bool>> {
    let mut head = [0; PREFACE.len()];
    let read = stream.peek(&mut head).await?;
    Ok((read > 0).then(|| PREFACE.starts_with(&head[..read])))
}

pin_project_lite::pin_project! {
    /// The future of one connection, of the kind [`may_be_http2`] chose:
    /// plain TCP that is HTTP/1 gets the [fast connection](h1), the rest
    /// (and TLS) hyper-util's auto-detecting one, boxed.
    #[project = HttpProj]
    pub(super) enum Http<I> {
        Fast { connection: h1::Connection },
        Auto { connection: Pin<Box<auto::Connection<'static, I, ConnService, TokioExecutor>>> },
    }
}

impl<I> Http<I>
where
    I: Read + Write + Unpin + Send + 'static,
{
    pub(super) fn fast(builder: &http1::Builder, stream: TcpStream, service: ConnService) -> Self {
        Http::Fast {
            connection: h1::Connection::new(stream, service, builder),
        }
    }

    pub(super) fn auto(
        builder: &auto::Builder<TokioExecutor>,
        io: I,
        service: ConnService,
    ) -> Self {
        Http::Auto {
            connection: Box::pin(builder.serve_connection(io, service).into_owned()),
        }
    }

    /// Finishes the requests in flight, then closes.
    pub(super) fn graceful_shutdown(self: Pin<&mut Self>) {
        match self.project() {
            HttpProj::Fast { connection } => connection.graceful_shutdown(),
            HttpProj::Auto { connection } => connection.as_mut().graceful_shutdown(),
        }
    }
}

impl<I> Future for Http<I>
where
    I: Read + Write + Unpin + Send + 'static,
{
    type Output = Result<(), BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            HttpProj::Fast { connection } => Pin::new(connection).poll(cx),
            HttpProj::Auto { connection } => connection.as_mut().poll(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    async fn first_bytes(bytes: &'static [u8]) -> Option<bool> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.write_all(bytes).await.unwrap();
            stream.shutdown().await.unwrap();
            stream
        });
        let (server, _) = listener.accept().await.unwrap();
        let _client = client.await.unwrap();
        may_be_http2(&server).await.unwrap()
    }

    #[tokio::test]
    async fn http1_methods_are_told_from_the_http2_preface() {
        assert_eq!(first_bytes(b"POST /api HTTP/1.1\r\n").await, Some(false));
        assert_eq!(first_bytes(b"GET / HTTP/1.1\r\n").await, Some(false));
        assert_eq!(first_bytes(PREFACE).await, Some(true));
        // A prefix of the preface might still become it: auto decides.
        assert_eq!(first_bytes(b"PR").await, Some(true));
        assert_eq!(first_bytes(b"").await, None);
    }
}
