//! Reading a request body under a size limit.
//!
//! The limit is checked twice: against the declared length before a single
//! byte is read (so a client announcing 10 GiB gets its 413 at once), and
//! against the running total while reading (so a chunked body is cut off as
//! soon as it crosses the limit, not after it has been buffered).

use bytes::{Buf, Bytes, BytesMut};
use http_body::Body;
use http_body_util::BodyExt;

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
/// returned without copying.
pub(crate) async fn read_limited<B>(body: B, limit: usize) -> Result<Bytes, Rejection>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    check_declared(&body, limit)?;
    // The declared length is trusted only up to the limit, for the capacity.
    let capacity = usize::try_from(body.size_hint().lower()).unwrap_or(0);
    let mut body = std::pin::pin!(body);
    let mut first: Option<Bytes> = None;
    let mut rest: Option<BytesMut> = None;
    let mut total = 0usize;

    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| Rejection::BodyRead(err.into()))?;
        let Ok(mut data) = frame.into_data() else {
            // Trailers carry nothing a frame needs.
            continue;
        };
        total = total.saturating_add(data.remaining());
        if total > limit {
            return Err(Rejection::PayloadTooLarge { limit });
        }
        if let Some(buffer) = rest.as_mut() {
            buffer.extend_from_slice(&data.copy_to_bytes(data.remaining()));
        } else if let Some(earlier) = first.take() {
            let mut buffer = BytesMut::with_capacity(capacity.max(total));
            buffer.extend_from_slice(&earlier);
            buffer.extend_from_slice(&data.copy_to_bytes(data.remaining()));
            rest = Some(buffer);
        } else {
            first = Some(data.copy_to_bytes(data.remaining()));
        }
    }

    Ok(match (rest, first) {
        (Some(buffer), _) => buffer.freeze(),
        (None, Some(only)) => only,
        (None, None) => Bytes::new(),
    })
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
}
