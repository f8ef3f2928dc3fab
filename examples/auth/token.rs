//! `RequireToken`: a tower layer over a route's frame service that lets a
//! frame through only with the right `Token` header (or, when switched on,
//! from a caller on this machine), and otherwise answers HTTP 401.
//!
//! It sits at the frame level — before decoding — so a refused request
//! costs no parsing and reaches no method, and it fits any route of any
//! codec. The refusal is an HTTP status, not a JSON-RPC error: it is about
//! the request, not a call in it, and HTTP clients and proxies know 401.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rpckit::codec::Frame;
use rpckit::http::{BoxError, ClientIp, HttpError, RequestHeaders};
use tower::{Layer, Service};

/// The request header that carries the token.
pub(crate) const TOKEN_HEADER: &str = "token";

/// Who may call a guarded route.
#[derive(Debug)]
pub(crate) struct Policy {
    token: Box<str>,
    trust_localhost: bool,
}

impl Policy {
    /// Callers must send `Token: <token>`.
    pub(crate) fn token(token: impl Into<Box<str>>) -> Self {
        Policy {
            token: token.into(),
            trust_localhost: false,
        }
    }

    /// Also lets in callers whose [`ClientIp`] is a loopback address,
    /// without a token. The client IP, not the TCP peer: behind a trusted
    /// reverse proxy on this machine every request comes from localhost,
    /// and only the forwarded address tells who the caller is.
    pub(crate) fn trust_localhost(mut self, trust: bool) -> Self {
        self.trust_localhost = trust;
        self
    }

    fn check(&self, frame: &Frame) -> Result<(), Unauthorized> {
        if self.trust_localhost
            && frame
                .extensions
                .get::<ClientIp>()
                .is_some_and(|ClientIp(ip)| ip.is_loopback())
        {
            return Ok(());
        }
        let sent = frame
            .extensions
            .get::<RequestHeaders>()
            .and_then(|headers| headers.get(TOKEN_HEADER))
            .ok_or(Unauthorized::MissingToken)?;
        if constant_time_eq(sent.as_bytes(), self.token.as_bytes()) {
            Ok(())
        } else {
            Err(Unauthorized::WrongToken)
        }
    }
}

/// Compares without stopping at the first difference, so the time taken
/// does not tell how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why a frame was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unauthorized {
    /// No `Token` header.
    MissingToken,
    /// A `Token` header with another value.
    WrongToken,
}

impl fmt::Display for Unauthorized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unauthorized::MissingToken => "this endpoint needs a `Token` header",
            Unauthorized::WrongToken => "the `Token` header is not the right token",
        })
    }
}

impl std::error::Error for Unauthorized {}

impl From<Unauthorized> for HttpError {
    fn from(why: Unauthorized) -> Self {
        HttpError::new(http::StatusCode::UNAUTHORIZED, why.to_string()).with_header(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Token"),
        )
    }
}

/// The layer: wraps a frame service in [`RequireToken`].
#[derive(Clone, Debug)]
pub(crate) struct RequireTokenLayer {
    policy: Arc<Policy>,
}

impl RequireTokenLayer {
    pub(crate) fn new(policy: Policy) -> Self {
        RequireTokenLayer {
            policy: Arc::new(policy),
        }
    }
}

impl<S> Layer<S> for RequireTokenLayer {
    type Service = RequireToken<S>;

    fn layer(&self, inner: S) -> RequireToken<S> {
        RequireToken {
            inner,
            policy: Arc::clone(&self.policy),
        }
    }
}

/// A frame service that refuses frames its [`Policy`] does not let in.
#[derive(Clone, Debug)]
pub(crate) struct RequireToken<S> {
    inner: S,
    policy: Arc<Policy>,
}

impl<S> Service<Frame> for RequireToken<S>
where
    S: Service<Frame, Response = Option<Frame>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = Option<Frame>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Option<Frame>, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, frame: Frame) -> Self::Future {
        match self.policy.check(&frame) {
            Ok(()) => {
                let answer = self.inner.call(frame);
                Box::pin(async move { answer.await.map_err(Into::into) })
            }
            // `HttpError` itself, boxed: the transport answers with it.
            Err(why) => Box::pin(async move { Err(HttpError::from(why).into()) }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use rpckit::codec::JsonCodec;

    use super::*;

    fn frame(token: Option<&'static str>, client: &str) -> Frame {
        let mut frame = Frame::new("{}", Arc::new(JsonCodec::default()));
        let mut headers = http::HeaderMap::new();
        if let Some(token) = token {
            headers.insert(TOKEN_HEADER, http::HeaderValue::from_static(token));
        }
        frame.extensions.insert(RequestHeaders::new(headers));
        frame
            .extensions
            .insert(ClientIp(client.parse::<IpAddr>().unwrap()));
        frame
    }

    #[test]
    fn the_token_and_only_the_token_passes() {
        let policy = Policy::token("right");
        assert_eq!(policy.check(&frame(Some("right"), "192.0.2.1")), Ok(()));
        assert_eq!(
            policy.check(&frame(Some("wrong"), "192.0.2.1")),
            Err(Unauthorized::WrongToken)
        );
        assert_eq!(
            policy.check(&frame(None, "127.0.0.1")),
            Err(Unauthorized::MissingToken)
        );
    }

    #[test]
    fn localhost_passes_only_when_trusted() {
        let policy = Policy::token("right").trust_localhost(true);
        assert_eq!(policy.check(&frame(None, "127.0.0.1")), Ok(()));
        assert_eq!(policy.check(&frame(None, "::1")), Ok(()));
        assert_eq!(
            policy.check(&frame(None, "192.0.2.1")),
            Err(Unauthorized::MissingToken)
        );
    }

    #[test]
    fn a_refusal_is_401_with_a_challenge() {
        let answer = HttpError::from(Unauthorized::MissingToken);
        assert_eq!(answer.status(), http::StatusCode::UNAUTHORIZED);
        assert_eq!(answer.headers()[http::header::WWW_AUTHENTICATE], "Token");
        assert!(answer.message().contains("`Token` header"));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
