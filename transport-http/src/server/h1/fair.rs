//! Large writes in slices, with the worker given back between them; and
//! the socket as hyper gets it on a hand-over ([`HandedOver`]), which also
//! puts the bytes read before back in front of its reads.
//!
//! A socket write copies as much as the kernel takes in one system call:
//! on loopback, with the send buffer grown to megabytes, a 4 MiB answer
//! went out in one or two calls of a millisecond each, during which the
//! runtime's worker served nothing else. Small calls on other connections
//! of the same worker waited that long: their p99 under large answers was
//! three times their idle p99. Written [`SLICE`] at a time, with the task
//! yielding after each slice, a large answer takes its turns like any
//! other work.
//!
//! Reading a large body is the same in the other direction: hyper reads up
//! to 16 times (of up to 400 KB each) before its connection yields, so a
//! 4 MiB body arrived in one turn of 1 to 3 ms of the worker (the copies,
//! and the page faults of the fresh buffer it is gathered in), and a small
//! call that came meanwhile waited for all of it. [`HandedOver`] yields
//! once a [`SLICE`] has been read, too.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

/// The most written at once before the task yields.
pub(super) const SLICE: usize = 256 * 1024;

/// Writes `data` a [`SLICE`] at a time, yielding between slices.
pub(super) async fn write_all<W: AsyncWrite + Unpin>(
    writer: &mut W,
    data: &[u8],
) -> io::Result<()> {
    let mut slices = data.chunks(SLICE).peekable();
    while let Some(slice) = slices.next() {
        writer.write_all(slice).await?;
        if slices.peek().is_some() {
            tokio::task::yield_now().await;
        }
    }
    Ok(())
}

/// A socket handed to hyper: read from `prefix` (what the fast connection
/// read but did not serve) first, and read and written a [`SLICE`] at a
/// time: the task yields once a direction has moved that much since it
/// last yielded for it (hyper reads and writes what it can at once).
#[derive(Debug)]
pub(in crate::server) struct HandedOver<T> {
    prefix: Bytes,
    inner: T,
    reads: Turns,
    writes: Turns,
}

impl<T> HandedOver<T> {
    pub(in crate::server) fn new(prefix: Bytes, inner: T) -> Self {
        HandedOver {
            prefix,
            inner,
            reads: Turns::default(),
            writes: Turns::default(),
        }
    }
}

/// One direction's share of the worker: what it moved since the task last
/// yielded for it, and the yield under way.
#[derive(Default)]
struct Turns {
    moved: usize,
    yielding: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl Turns {
    /// Ready while less than a slice has moved; then yields once, the way
    /// [`tokio::task::yield_now`] does. That matters: its waker is woken
    /// only after the worker has polled for I/O and run the tasks that were
    /// ready. Woken at once (`wake_by_ref`), the task would run again ahead
    /// of the connections whose requests just arrived, which the worker
    /// looks for only every 61 tasks: a 4 MiB answer's 16 slices went out
    /// as one turn of the worker, and a small call's p99 under such answers
    /// stayed at the 4 ms it was without slices.
    fn poll_turn(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielding.is_none() {
            if self.moved < SLICE {
                return Poll::Ready(());
            }
            self.moved = 0;
            self.yielding = Some(Box::pin(tokio::task::yield_now()));
        }
        if let Some(yielding) = &mut self.yielding {
            std::task::ready!(yielding.as_mut().poll(cx));
        }
        self.yielding = None;
        Poll::Ready(())
    }

    /// How much may move before the next yield.
    fn room(&self) -> usize {
        SLICE - self.moved
    }
}

impl fmt::Debug for Turns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Turns")
            .field("moved", &self.moved)
            .field("yielding", &self.yielding.is_some())
            .finish()
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for HandedOver<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.prefix.is_empty() {
            std::task::ready!(this.reads.poll_turn(cx));
            let before = buf.filled().len();
            std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
            this.reads.moved += buf.filled().len() - before;
            return Poll::Ready(Ok(()));
        }
        let len = this.prefix.len().min(buf.remaining());
        buf.put_slice(&this.prefix[..len]);
        this.prefix.advance(len);
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for HandedOver<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        std::task::ready!(this.writes.poll_turn(cx));
        let room = this.writes.room();
        let written = std::task::ready!(
            Pin::new(&mut this.inner).poll_write(cx, &buf[..buf.len().min(room)])
        )?;
        this.writes.moved += written;
        Poll::Ready(Ok(written))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total: usize = bufs.iter().map(|buf| buf.len()).sum();
        if total > self.writes.room() {
            // One slice's worth, from the first buffer with anything in it.
            let first = bufs
                .iter()
                .find(|buf| !buf.is_empty())
                .map_or(&[][..], |buf| &buf[..]);
            return self.poll_write(cx, first);
        }
        let this = &mut *self;
        std::task::ready!(this.writes.poll_turn(cx));
        let written = std::task::ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, bufs))?;
        this.writes.moved += written;
        Poll::Ready(Ok(written))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use tokio::io::AsyncReadExt;

    use super::*;

    #[tokio::test]
    async fn a_large_write_goes_out_a_slice_at_a_time_with_a_yield_between() {
        let (near, mut far) = tokio::io::duplex(4 * SLICE);
        let mut fair = HandedOver::new(Bytes::new(), near);
        let data = vec![7u8; 3 * SLICE];
        // One call moves at most a slice.
        let first = fair.write(&data).await.unwrap();
        assert_eq!(first, SLICE);
        // The next call yields first: pending once, its waker woken.
        let mut polls = 0;
        let second = poll_fn(|cx| {
            polls += 1;
            Pin::new(&mut fair).poll_write(cx, &data[first..])
        })
        .await
        .unwrap();
        assert_eq!((polls, second), (2, SLICE));
        // Vectored writes are held to a slice too, and all of it arrives.
        let rest = [
            io::IoSlice::new(&data[2 * SLICE..]),
            io::IoSlice::new(b"end"),
        ];
        let third = poll_fn(|cx| Pin::new(&mut fair).poll_write_vectored(cx, &rest))
            .await
            .unwrap();
        assert_eq!(third, SLICE);
        fair.write_all(b"end").await.unwrap();
        drop(fair);
        let mut received = Vec::new();
        far.read_to_end(&mut received).await.unwrap();
        assert_eq!(received.len(), 3 * SLICE + 3);
        assert!(received.ends_with(b"end"));
    }

    #[tokio::test]
    async fn a_large_read_yields_once_a_slice_has_arrived() {
        let (near, mut far) = tokio::io::duplex(4 * SLICE);
        far.write_all(&vec![7u8; 2 * SLICE]).await.unwrap();
        let mut socket = HandedOver::new(Bytes::new(), near);
        let mut slice = vec![0u8; SLICE];
        socket.read_exact(&mut slice).await.unwrap();
        // A slice has been read: the next read is pending once, its waker
        // woken, and then reads.
        let mut polls = 0;
        let mut next = [0u8; 16];
        let read = poll_fn(|cx| {
            polls += 1;
            let mut buf = ReadBuf::new(&mut next);
            Pin::new(&mut socket)
                .poll_read(cx, &mut buf)
                .map_ok(|()| buf.filled().len())
        })
        .await
        .unwrap();
        assert_eq!((polls, read), (2, 16));
        assert_eq!(next, [7u8; 16]);
    }

    /// Takes every write whole, and counts the vectored ones.
    #[derive(Default)]
    struct Recorder {
        data: Vec<u8>,
        vectored: usize,
    }

    impl AsyncWrite for Recorder {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.data.extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            self.vectored += 1;
            let mut written = 0;
            for buf in bufs {
                self.data.extend_from_slice(buf);
                written += buf.len();
            }
            Poll::Ready(Ok(written))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncRead for Recorder {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn small_vectored_writes_stay_vectored() {
        let mut fair = HandedOver::new(Bytes::new(), Recorder::default());
        assert!(fair.is_write_vectored());
        let parts = [io::IoSlice::new(b"head "), io::IoSlice::new(b"body")];
        let written = poll_fn(|cx| Pin::new(&mut fair).poll_write_vectored(cx, &parts))
            .await
            .unwrap();
        assert_eq!(written, 9);
        assert_eq!(
            (fair.inner.vectored, &fair.inner.data[..]),
            (1, &b"head body"[..])
        );
    }

    #[tokio::test]
    async fn the_prefix_is_read_before_the_rest_and_writes_go_through() {
        let (near, mut far) = tokio::io::duplex(64);
        far.write_all(b" world").await.unwrap();
        let mut socket = HandedOver::new(Bytes::from_static(b"hello"), near);
        let mut first = [0; 3];
        socket.read_exact(&mut first).await.unwrap();
        assert_eq!(&first, b"hel");
        let mut rest = [0; 8];
        socket.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b"lo world");
        socket.write_all(b"back").await.unwrap();
        let mut back = [0; 4];
        far.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"back");
    }

    #[tokio::test]
    async fn write_all_sends_everything_in_order() {
        let (mut near, mut far) = tokio::io::duplex(SLICE);
        let data: Vec<u8> = (0..(2 * SLICE + 5)).map(|i| (i % 251) as u8).collect();
        let reader = tokio::spawn(async move {
            let mut received = Vec::new();
            far.read_to_end(&mut received).await.unwrap();
            received
        });
        write_all(&mut near, &data).await.unwrap();
        drop(near);
        assert_eq!(reader.await.unwrap(), data);
    }
}
