//! The codec layer's response future.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use pin_project_lite::pin_project;
use rpckit_codec::background::Background;
use rpckit_codec::{Codec, Frame, Reply};

use super::{encode, results_len, Thread};
use crate::stats::Stats;

/// A frame served on a background thread altogether (see
/// [`CodecService`](super::CodecService)).
pub(super) type Offloaded<E> = Pin<Box<dyn Future<Output = Result<Option<Frame>, E>> + Send>>;

pin_project! {
    /// The future of a [`CodecService`](super::CodecService): the inner
    /// service's reply, then its encoding.
    ///
    /// A named future, not a boxed `async` block: the transports box the
    /// whole frame future once, and with this in it a small call pays no
    /// allocation (and no extra indirect poll) of its own for the codec
    /// layer.
    pub struct CodecFuture<F, E> {
        #[pin]
        state: State<F, E>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, E> {
        /// The inner service serving the decoded message.
        Serving {
            #[pin]
            reply: F,
            // `None` once taken for the encoding.
            encoder: Option<Encoder>,
        },
        /// A reply with large results, encoded on a background thread.
        Encoding { job: Background<Frame> },
        /// A large frame, decoded, served and encoded on a background thread.
        Offloaded { job: Offloaded<E> },
        /// Answered.
        Done,
    }
}

/// What the encoding of a reply needs.
pub(super) struct Encoder {
    pub(super) codec: Arc<dyn Codec>,
    pub(super) stats: Option<Stats>,
    /// Replies whose results are larger are encoded on a background thread.
    pub(super) offload_above: usize,
}

impl<F, E> CodecFuture<F, E> {
    /// Waits for `reply`, then encodes it with `encoder`.
    pub(super) fn serving(reply: F, encoder: Encoder) -> Self {
        CodecFuture {
            state: State::Serving {
                reply,
                encoder: Some(encoder),
            },
        }
    }

    /// Waits for a frame served on a background thread.
    pub(super) fn offloaded(job: Offloaded<E>) -> Self {
        CodecFuture {
            state: State::Offloaded { job },
        }
    }
}

impl<F, E> Future for CodecFuture<F, E>
where
    F: Future<Output = Result<Option<Reply>, E>>,
{
    type Output = Result<Option<Frame>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        let frame = match state.as_mut().project() {
            StateProj::Serving { reply, encoder } => {
                let reply = ready!(reply.poll(cx));
                let Encoder {
                    codec,
                    stats,
                    offload_above,
                } = encoder
                    .take()
                    .expect("a CodecFuture is not polled after it answered");
                // The inner future goes as soon as it has answered.
                state.set(State::Done);
                let Some(reply) = reply? else {
                    return Poll::Ready(Ok(None));
                };
                let results = results_len(&reply);
                if results > offload_above {
                    // A small request with a large answer (a handler that
                    // built megabytes, on a background executor or not):
                    // copying it into its reply, and freeing it, also takes
                    // milliseconds.
                    let job = rpckit_codec::background::spawn(move || {
                        encode(stats.as_ref(), codec, &reply, results, Thread::Background)
                    });
                    state.set(State::Encoding { job });
                    return poll_encoding(state, cx);
                }
                encode(stats.as_ref(), codec, &reply, results, Thread::Runtime)
            }
            StateProj::Encoding { .. } => return poll_encoding(state, cx),
            StateProj::Offloaded { job } => {
                let answer = ready!(job.as_mut().poll(cx));
                state.set(State::Done);
                return Poll::Ready(answer);
            }
            StateProj::Done => panic!("a CodecFuture is not polled after it answered"),
        };
        Poll::Ready(Ok(Some(frame)))
    }
}

/// Polls the background encoding of a reply.
fn poll_encoding<F, E>(
    mut state: Pin<&mut State<F, E>>,
    cx: &mut Context<'_>,
) -> Poll<Result<Option<Frame>, E>> {
    let StateProj::Encoding { job } = state.as_mut().project() else {
        unreachable!("only called while encoding");
    };
    let frame =
        ready!(Pin::new(job).poll(cx)).unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    state.set(State::Done);
    Poll::Ready(Ok(Some(frame)))
}

impl<F, E> fmt::Debug for CodecFuture<F, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodecFuture")
    }
}
