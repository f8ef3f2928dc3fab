//! The body type of [`HttpService`](crate::HttpService)'s responses and of
//! the requests a [fallback](crate::ServerBuilder::fallback) receives.
//!
//! rpckit's own answers are whole buffers; a fallback's (a file from
//! `tower-http`'s `ServeDir`, an axum handler's stream) can be anything.
//! One type holds both, so a server has one response type, and an answer
//! of rpckit's own costs no allocation for a boxed body.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::Response;
use http_body::{Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};

use crate::plain_headers::PlainHead;
use crate::BoxError;

/// An HTTP body: a whole buffer, or any [`http_body::Body`] of [`Bytes`]
/// with its type erased.
///
/// Implements [`http_body::Body`] with `Data = Bytes` and
/// `Error = `[`BoxError`], which is what hyper, axum and tower-http take.
///
/// ```
/// use http_body::Body as _;
/// use rpckit_http::Body;
///
/// let body = Body::from("hello");
/// assert_eq!(body.size_hint().exact(), Some(5));
/// let wrapped = Body::new(http_body_util::Full::new(bytes::Bytes::from_static(b"hi")));
/// assert!(!wrapped.is_end_stream());
/// ```
pub struct Body(Kind);

enum Kind {
    Full(Full<Bytes>),
    /// A whole answer whose plain headers are not in its response's map
    /// yet: the fast HTTP/1 connection writes them itself.
    Plain(Full<Bytes>, PlainHead),
    Boxed(UnsyncBoxBody<Bytes, BoxError>),
}

impl Body {
    /// Wraps any body whose chunks are [`Bytes`].
    pub fn new<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Body(Kind::Boxed(body.map_err(Into::into).boxed_unsync()))
    }

    /// A body of no bytes.
    pub fn empty() -> Self {
        Body(Kind::Full(Full::default()))
    }

    pub(crate) fn full(body: Full<Bytes>) -> Self {
        Body(Kind::Full(body))
    }

    /// `bytes`, answered with the plain headers `head`, which its
    /// response's map leaves out.
    pub(crate) fn plain(bytes: Bytes, head: PlainHead) -> Self {
        Body(Kind::Plain(Full::new(bytes), head))
    }

    /// The plain headers the response's map leaves out, if it does.
    pub(crate) fn plain_head(&self) -> Option<PlainHead> {
        match &self.0 {
            Kind::Plain(_, head) => Some(*head),
            _ => None,
        }
    }

    /// Puts the plain headers `response`'s map leaves out (if any) into it.
    pub(crate) fn unplain(response: &mut Response<Body>) {
        let body = response.body_mut();
        if let Kind::Plain(full, head) = &mut body.0 {
            let head = *head;
            body.0 = Kind::Full(std::mem::take(full));
            head.insert_into(response.headers_mut());
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body(Kind::Full(Full::new(bytes)))
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Self {
        Bytes::from_static(text.as_bytes()).into()
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Bytes::from(text).into()
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Bytes::from(bytes).into()
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        // Every kind is `Unpin`, so the body can be reached through `&mut`.
        match &mut self.get_mut().0 {
            Kind::Full(full) | Kind::Plain(full, _) => Pin::new(full)
                .poll_frame(cx)
                .map_err(|never| match never {}),
            Kind::Boxed(boxed) => Pin::new(boxed).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Kind::Full(full) | Kind::Plain(full, _) => full.is_end_stream(),
            Kind::Boxed(boxed) => boxed.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Kind::Full(full) | Kind::Plain(full, _) => full.size_hint(),
            Kind::Boxed(boxed) => boxed.size_hint(),
        }
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.0 {
            Kind::Full(_) => "full",
            Kind::Plain(..) => "plain",
            Kind::Boxed(_) => "boxed",
        };
        f.debug_tuple("Body").field(&kind).finish()
    }
}

#[cfg(test)]
mod tests {
    use http_body::Body as _;
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn both_kinds_read_whole() {
        let full = Body::from("abc").collect().await.unwrap().to_bytes();
        assert_eq!(full, "abc");
        let inner = Body::from(String::from("xyz"));
        // A body wrapped twice still reads the same.
        let boxed = Body::new(Body::new(inner))
            .collect()
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(boxed, "xyz");
        assert!(Body::empty().is_end_stream());
    }
}
