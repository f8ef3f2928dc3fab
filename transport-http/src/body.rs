//! Reading a request body under a size limit.
//!
//! The limit is checked twice: against the declared length before a single
//! byte is read (so a client announcing 10 GiB gets its 413 at once), and
//! against the running total while reading (so a chunked body is cut off as
//! soon as it crosses the limit, not after it has been buffered).

use bytes::{Buf, Bytes, BytesMut};
use http_body::Body;
use http_body_util::BodyExt;
use rpckit_codec::FRAME_PADDING;

use crate::error::Rejection;
use crate::BoxError;

/// Fails fast when the body declares more than `limit` bytes.
pub(crate) fn check_declared<B: Body>(body: &B, limit: usize) -> Result<(), Rejection> {
    let declared = body.size_hint().lower();
    if usize::try_from(declared).map_or(true, |declared| declared > limit) {
        return Err(Rejection::PayloadTooLarge { limit });
    }
    Ok(())
}

/// Reads the whole body, or fails as soon as it grows past `limit`.
///
/// A body of one data frame (the common case for a small HTTP/1 request) is
/// returned without copying. The frames of a larger one are kept as they
/// come ([`Gathered`]) and joined at the end: on a background thread past
/// [`JOIN_INLINE`] bytes ([`rpckit_codec::background`]), where such a
/// frame is decoded and freed too. Copied into one buffer as they came on
/// the runtime's worker, 4 MiB bodies took a sixth of its time under two
/// connections echoing 4 MiB (the copies, and the page faults of the
/// fresh buffer).
pub(crate) async fn read_limited<B>(body: B, limit: usize) -> Result<Bytes, Rejection>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    check_declared(&body, limit)?;
    let mut body = std::pin::pin!(body);
    let mut total = 0usize;
    let Some(first) = next_data(body.as_mut(), &mut total, limit).await? else {
        return Ok(Bytes::new());
    };
    if body.is_end_stream() {
        return Ok(first);
    }
    let mut gathered = Gathered::new(first);
    while let Some(data) = next_data(body.as_mut(), &mut total, limit).await? {
        gathered.push(data);
    }
    let mut frames = gathered.into_frames();
    Ok(match frames.len() {
        // Not known to be the last until the body said so.
        1 => frames.swap_remove(0),
        _ if total <= JOIN_INLINE => join(&frames, total),
        _ => {
            // The frames come back to be dropped here: their memory is the
            // connection's (hyper's read buffers, made on this thread), and
            // a background thread freeing it would take this thread's heap
            // lock, and could keep it while the kernel takes pages back.
            let (joined, _frames) = rpckit_codec::background::spawn(move || {
                let joined = join(&frames, total);
                (joined, frames)
            })
            .await
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            joined
        }
    })
}

/// The body's next data frame (trailers carry nothing a frame needs), its
/// length counted into `total`: an error once that passes `limit`.
async fn next_data<B>(
    mut body: std::pin::Pin<&mut B>,
    total: &mut usize,
    limit: usize,
) -> Result<Option<Bytes>, Rejection>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| Rejection::BodyRead(err.into()))?;
        let Ok(mut data) = frame.into_data() else {
            continue;
        };
        *total = total.saturating_add(data.remaining());
        if *total > limit {
            return Err(Rejection::PayloadTooLarge { limit });
        }
        return Ok(Some(data.copy_to_bytes(data.remaining())));
    }
    Ok(None)
}

/// The frames of a body of more than one: kept as they come from
/// [`KEPT_FRAME`] bytes on, smaller ones after the first copied together
/// until they make one. Kept as they came, a chunked body's many small
/// frames would each hold on to the read buffer it was cut from, chunk
/// headers and all.
struct Gathered {
    frames: Vec<Bytes>,
    small: BytesMut,
}

impl Gathered {
    fn new(first: Bytes) -> Self {
        Gathered {
            frames: vec![first],
            small: BytesMut::new(),
        }
    }

    fn push(&mut self, data: Bytes) {
        if data.len() >= KEPT_FRAME {
            self.flush_small();
            self.frames.push(data);
        } else {
            self.small.extend_from_slice(&data);
            if self.small.len() >= KEPT_FRAME {
                self.flush_small();
            }
        }
    }

    fn flush_small(&mut self) {
        if !self.small.is_empty() {
            self.frames.push(self.small.split().freeze());
        }
    }

    fn into_frames(mut self) -> Vec<Bytes> {
        self.flush_small();
        self.frames
    }
}

/// The largest body whose frames are joined on the serving task: as large
/// as a frame the codec layer decodes there.
const JOIN_INLINE: usize = 256 * 1024;

/// Frames from this size on are kept as they come ([`Gathered`]).
const KEPT_FRAME: usize = 16 * 1024;

/// `frames`, of `total` bytes, in one buffer, with [`FRAME_PADDING`] spare
/// after them: the body is that buffer's only handle, so the SIMD-JSON
/// codec parses it where it lies instead of copying it once more.
fn join(frames: &[Bytes], total: usize) -> Bytes {
    let mut buffer = BytesMut::with_capacity(total + FRAME_PADDING);
    for frame in frames {
        buffer.extend_from_slice(frame);
    }
    buffer.freeze()
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::convert::Infallible;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use http_body_util::Full;

    use super::*;

    /// A body of several data frames and no declared length, like a chunked
    /// HTTP/1 request.
    struct Chunked(VecDeque<&'static [u8]>);

    impl Body for Chunked {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
            let next = self.0.pop_front();
            Poll::Ready(next.map(|chunk| Ok(http_body::Frame::data(Bytes::from_static(chunk)))))
        }
    }

    fn chunked(chunks: &[&'static [u8]]) -> Chunked {
        Chunked(chunks.iter().copied().collect())
    }

    /// Whether `bytes` is its buffer's only handle with `FRAME_PADDING`
    /// spare after it, as the SIMD-JSON codec needs to parse it in place.
    fn has_room_for_an_in_place_parse(bytes: Bytes) -> bool {
        bytes
            .try_into_mut()
            .is_ok_and(|bytes| bytes.capacity() - bytes.len() >= FRAME_PADDING)
    }

    #[tokio::test]
    async fn reads_within_limit() {
        let bytes = read_limited(Full::new(Bytes::from_static(b"hello")), 5)
            .await
            .unwrap();
        assert_eq!(bytes, "hello");
        let bytes = read_limited(chunked(&[b"he", b"ll", b"o"]), 5)
            .await
            .unwrap();
        assert_eq!(bytes, "hello");
        let bytes = read_limited(chunked(&[]), 5).await.unwrap();
        assert!(bytes.is_empty());
    }

    #[tokio::test]
    async fn rejects_declared_length_over_limit() {
        let err = read_limited(Full::new(Bytes::from_static(b"hello")), 4)
            .await
            .unwrap_err();
        assert!(matches!(err, Rejection::PayloadTooLarge { limit: 4 }));
    }

    #[tokio::test]
    async fn rejects_chunks_crossing_limit() {
        let err = read_limited(chunked(&[b"he", b"ll", b"o"]), 4)
            .await
            .unwrap_err();
        assert!(matches!(err, Rejection::PayloadTooLarge { limit: 4 }));
    }

    #[tokio::test]
    async fn a_large_body_of_many_frames_is_joined_in_order() {
        // Past `JOIN_INLINE`, joined on a background thread.
        static PARTS: [[u8; 64 * 1024]; 5] = [
            [b'a'; 64 * 1024],
            [b'b'; 64 * 1024],
            [b'c'; 64 * 1024],
            [b'd'; 64 * 1024],
            [b'e'; 64 * 1024],
        ];
        let frames: Vec<&'static [u8]> = PARTS.iter().map(|part| &part[..]).collect();
        const { assert!(5 * 64 * 1024 > JOIN_INLINE) };
        let bytes = read_limited(chunked(&frames), usize::MAX).await.unwrap();
        assert_eq!(bytes.len(), 5 * 64 * 1024);
        for (index, part) in bytes.chunks(64 * 1024).enumerate() {
            assert!(part.iter().all(|&byte| byte == b'a' + index as u8));
        }
        assert!(has_room_for_an_in_place_parse(bytes));
    }

    #[tokio::test]
    async fn many_small_frames_make_the_same_body() {
        // A chunked body sent a byte at a time: copied together, in order.
        let letters: Vec<&'static [u8]> = (0..20_000)
            .map(|i| &b"abcdefghijklmnopqrstuvwxyz"[i % 26..i % 26 + 1])
            .collect();
        let bytes = read_limited(chunked(&letters), usize::MAX).await.unwrap();
        assert_eq!(bytes.len(), 20_000);
        assert!(bytes
            .iter()
            .enumerate()
            .all(|(i, &byte)| byte == b'a' + (i % 26) as u8));
        assert!(has_room_for_an_in_place_parse(bytes));
    }

    #[test]
    fn small_frames_are_copied_together_and_large_ones_kept() {
        let first = Bytes::from_static(b"{");
        let large = Bytes::from(vec![b'x'; KEPT_FRAME]);
        let mut gathered = Gathered::new(first.clone());
        for _ in 0..3 * KEPT_FRAME {
            gathered.push(Bytes::from_static(b"y"));
        }
        gathered.push(large.clone());
        gathered.push(Bytes::from_static(b"}"));
        let frames = gathered.into_frames();
        // The first as it came, three frames of copied bytes, the large one
        // as it came, and the last byte copied.
        assert_eq!(frames.len(), 6);
        assert_eq!(frames[0].as_ptr(), first.as_ptr());
        assert!(frames[1..4].iter().all(|frame| frame.len() == KEPT_FRAME));
        assert_eq!(frames[4].as_ptr(), large.as_ptr());
        assert_eq!(frames[5], "}");
    }
}
