//! Frames in, frames out: decoding and encoding around the rpc semantics.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use rpckit_codec::{DecodeLimits, Frame, Reply};
use tower::{Layer, Service};

use crate::Incoming;

/// Decodes each [`Frame`] with its codec into an [`Incoming`] message and
/// encodes the inner service's [`Reply`] back into a frame.
///
/// Malformed bytes never reach the inner service as an error: the codec
/// decodes them into an error answer, which the inner service replies with.
#[derive(Clone, Debug)]
pub struct CodecService<S> {
    inner: S,
    limits: DecodeLimits,
}

impl<S> CodecService<S> {
    /// Wraps `inner`, decoding with `limits`.
    pub fn new(inner: S, limits: DecodeLimits) -> Self {
        CodecService { inner, limits }
    }
}

impl<S> Service<Frame> for CodecService<S>
where
    S: Service<Incoming, Response = Option<Reply>>,
    S::Future: Send + 'static,
{
    type Response = Option<Frame>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Option<Frame>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, frame: Frame) -> Self::Future {
        let Frame {
            bytes,
            codec,
            extensions,
        } = frame;
        let message = codec.decode(bytes, &self.limits);
        let reply = self.inner.call(Incoming {
            message,
            codec: codec.clone(),
            extensions,
        });
        Box::pin(async move {
            let Some(reply) = reply.await? else {
                return Ok(None);
            };
            let mut out = Vec::with_capacity(128);
            codec.encode_reply(&reply, &mut out);
            Ok(Some(Frame::new(out, codec)))
        })
    }
}

/// Applies [`CodecService`].
#[derive(Clone, Copy, Default)]
pub struct CodecLayer {
    limits: DecodeLimits,
}

impl CodecLayer {
    /// A layer decoding with `limits`.
    pub fn new(limits: DecodeLimits) -> Self {
        CodecLayer { limits }
    }
}

impl fmt::Debug for CodecLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodecLayer")
            .field("limits", &self.limits)
            .finish()
    }
}

impl<S> Layer<S> for CodecLayer {
    type Service = CodecService<S>;

    fn layer(&self, inner: S) -> CodecService<S> {
        CodecService::new(inner, self.limits)
    }
}
