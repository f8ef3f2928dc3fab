//! A connection's two buffers: frames split from the bytes read, and
//! replies framed into the bytes to write.
//!
//! tokio-util's `FramedRead` and `FramedWrite` do the same, but the
//! connection needs two things they do not offer: to take every frame
//! already buffered without polling the socket (a pipelined burst is then
//! started in one go, not one event-loop turn per frame), and to frame a
//! reply into the write buffer without awaiting the sink, so that replies
//! of calls that finish at once cost no channel, no wake-up and no
//! `Sink` protocol on the way out.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{Decoder, Encoder};
use tokio_util::io::poll_read_buf;

use crate::framing::{AnyCodec, FrameError, Inbound};

/// How much a buffer short of room grows by before a read (what
/// `FramedRead` starts with); a read gets at least half of it.
const READ_SIZE: usize = 8 * 1024;

/// How many framed bytes may wait to be written before the connection stops
/// taking more replies and reading more frames. A reply larger than this
/// still goes out whole: the limit is checked before each is added.
const WRITE_HIGH_WATER: usize = 64 * 1024;

/// Bytes read from the peer, and the framing that splits them.
///
/// The buffer is allocated on the first read, so an idle connection that
/// never sent anything holds none.
#[derive(Debug)]
pub(crate) struct Inbox<R> {
    reader: R,
    buffer: BytesMut,
    framer: AnyCodec,
    eof: bool,
}

impl<R: AsyncRead + Unpin> Inbox<R> {
    pub(crate) fn new(reader: R, framer: AnyCodec) -> Self {
        Inbox {
            reader,
            buffer: BytesMut::new(),
            framer,
            eof: false,
        }
    }

    /// The next frame already in the buffer; `None` when the buffer holds
    /// no whole frame (reading more may complete one).
    ///
    /// A frame larger than a read leaves with the memory the buffer grew
    /// to for it: what is left behind it, when less than a read, moves to
    /// a fresh buffer. Otherwise the buffer would take that memory back
    /// once the frame is dropped, and keep it as long as the connection
    /// stays open: every idle connection that was once sent a large frame
    /// would hold a buffer of that size.
    pub(crate) fn buffered(&mut self) -> Result<Option<Inbound>, FrameError> {
        let inbound = self.framer.decode(&mut self.buffer)?;
        if let Some(Inbound::Frame(frame)) = &inbound {
            if frame.len() > READ_SIZE && self.buffer.len() < READ_SIZE {
                self.buffer = BytesMut::from(&self.buffer[..]);
            }
        }
        Ok(inbound)
    }

    /// The next frame, reading from the peer as needed; `None` once the
    /// peer has closed its side and every whole frame was taken.
    ///
    /// Cancel-safe: bytes read stay in the buffer.
    pub(crate) async fn next(&mut self) -> Option<Result<Inbound, FrameError>> {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Inbound, FrameError>>> {
        loop {
            if self.eof {
                return Poll::Ready(self.framer.decode_eof(&mut self.buffer).transpose());
            }
            match self.buffered() {
                Ok(None) => {}
                ready => return Poll::Ready(ready.transpose()),
            }
            if self.buffer.capacity() - self.buffer.len() < READ_SIZE / 2 {
                self.buffer.reserve(READ_SIZE);
            }
            match ready!(poll_read_buf(
                Pin::new(&mut self.reader),
                cx,
                &mut self.buffer
            )) {
                Ok(0) => self.eof = true,
                Ok(_) => {}
                Err(err) => return Poll::Ready(Some(Err(err.into()))),
            }
        }
    }
}

/// Replies framed and waiting to be written to the peer.
///
/// Like the inbox, the buffer is allocated when the first reply comes.
/// Once a large reply (or a burst) has grown it past [`WRITE_HIGH_WATER`],
/// it is given back when everything in it is written, rather than kept at
/// that size for as long as the connection stays open.
#[derive(Debug)]
pub(crate) struct Outbox<W> {
    writer: W,
    buffer: BytesMut,
    /// The buffer has grown past [`WRITE_HIGH_WATER`].
    oversized: bool,
    framer: AnyCodec,
}

impl<W: AsyncWrite + Unpin> Outbox<W> {
    pub(crate) fn new(writer: W, framer: AnyCodec) -> Self {
        Outbox {
            writer,
            buffer: BytesMut::new(),
            oversized: false,
            framer,
        }
    }

    /// Frames `reply` into the buffer; written by the next flush.
    pub(crate) fn push(&mut self, reply: Bytes) -> Result<(), FrameError> {
        self.framer.encode(reply, &mut self.buffer)?;
        self.oversized |= self.buffer.capacity() > WRITE_HIGH_WATER;
        Ok(())
    }

    /// Nothing waits to be written.
    pub(crate) fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    /// Under [`WRITE_HIGH_WATER`]: more replies may be added.
    pub(crate) fn has_room(&self) -> bool {
        self.buffer.len() < WRITE_HIGH_WATER
    }

    /// Writes everything buffered.
    ///
    /// Cancel-safe: what was written is gone from the buffer, the rest
    /// stays for the next flush.
    pub(crate) async fn flush(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.poll_flush(cx)).await
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.buffer.is_empty() {
            let n = ready!(Pin::new(&mut self.writer).poll_write(cx, &self.buffer))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.buffer.advance(n);
        }
        if self.oversized {
            self.buffer = BytesMut::new();
            self.oversized = false;
        }
        Pin::new(&mut self.writer).poll_flush(cx)
    }

    /// Writes everything buffered, then closes the write side.
    pub(crate) async fn close(&mut self) -> io::Result<()> {
        self.flush().await?;
        poll_fn(|cx| Pin::new(&mut self.writer).poll_shutdown(cx)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::Framing;

    fn newline() -> AnyCodec {
        AnyCodec::new(Framing::Newline, 1024)
    }

    #[tokio::test]
    async fn the_inbox_reads_only_when_no_whole_frame_is_buffered() {
        let (mut peer, ours) = tokio::io::duplex(64);
        let mut inbox = Inbox::new(ours, newline());
        tokio::io::AsyncWriteExt::write_all(&mut peer, b"[1]\n[2]\n[3")
            .await
            .unwrap();
        assert_eq!(
            inbox.next().await.unwrap().unwrap(),
            Inbound::Frame("[1]".into())
        );
        // The second frame came in the same read: it is there without one.
        assert_eq!(
            inbox.buffered().unwrap(),
            Some(Inbound::Frame("[2]".into()))
        );
        assert_eq!(inbox.buffered().unwrap(), None, "[3 is not whole yet");
        tokio::io::AsyncWriteExt::write_all(&mut peer, b"]\n")
            .await
            .unwrap();
        drop(peer);
        assert_eq!(
            inbox.next().await.unwrap().unwrap(),
            Inbound::Frame("[3]".into())
        );
        assert!(inbox.next().await.is_none(), "the peer closed");
    }

    /// Gives out its bytes `chunk` at a time, as a slow peer would.
    struct Chunked {
        data: Vec<u8>,
        at: usize,
        chunk: usize,
    }

    impl AsyncRead for Chunked {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let end = (self.at + self.chunk).min(self.data.len());
            let n = (end - self.at).min(buf.remaining());
            buf.put_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn every_framing_gives_the_same_frames_however_the_bytes_arrive() {
        let bodies: Vec<Bytes> = (0..40)
            .map(|i| Bytes::from(format!("{{\"id\":{i},\"pad\":\"{}\"}}", "x".repeat(i * 37))))
            .collect();
        for framing in [Framing::Newline, Framing::LengthPrefixed, Framing::Lsp] {
            let mut wire = BytesMut::new();
            let mut framer = AnyCodec::new(framing, 1 << 20);
            for body in &bodies {
                framer.encode(body.clone(), &mut wire).unwrap();
            }
            for chunk in [1, 2, 3, 7, 64, 1000, wire.len()] {
                let reader = Chunked {
                    data: wire.to_vec(),
                    at: 0,
                    chunk,
                };
                let mut inbox = Inbox::new(reader, AnyCodec::new(framing, 1 << 20));
                let mut frames = Vec::new();
                // As the connection takes them: one read, then what else
                // the buffer holds.
                while let Some(item) = inbox.next().await {
                    frames.push(item.unwrap());
                    while let Some(item) = inbox.buffered().unwrap() {
                        frames.push(item);
                    }
                }
                let expected: Vec<Inbound> = bodies.iter().cloned().map(Inbound::Frame).collect();
                assert_eq!(frames, expected, "{framing}, {chunk} bytes a read");
            }
        }
    }

    #[tokio::test]
    async fn the_outbox_writes_every_reply_pushed_in_one_flush() {
        let (ours, mut peer) = tokio::io::duplex(1024);
        let mut outbox = Outbox::new(ours, newline());
        assert!(outbox.is_empty() && outbox.has_room());
        outbox.push(Bytes::from_static(b"{\"id\":1}")).unwrap();
        outbox.push(Bytes::from_static(b"{\"id\":2}")).unwrap();
        assert!(!outbox.is_empty());
        outbox.close().await.unwrap();
        assert!(outbox.is_empty());
        let mut wire = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut peer, &mut wire)
            .await
            .unwrap();
        assert_eq!(wire, b"{\"id\":1}\n{\"id\":2}\n");
    }

    #[test]
    fn the_outbox_has_no_room_past_its_high_water_mark() {
        let (ours, _peer) = tokio::io::duplex(16);
        let mut outbox = Outbox::new(ours, newline());
        outbox
            .push(Bytes::from(vec![b'x'; WRITE_HIGH_WATER]))
            .unwrap();
        assert!(!outbox.has_room());
    }
}
