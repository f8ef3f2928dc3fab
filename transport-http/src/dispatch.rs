//! From an HTTP request to the handler for its path and method.
//!
//! Dispatch is two lookups: the path picks a [`Route`] (404 if none), the
//! method picks what to do with it (405 if nothing). Each method's handling
//! lives in its own module, so CORS preflight (`OPTIONS`) and JSONP (`GET`)
//! slot in as arms of one `match` and entries of the `Allow` list.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body::Body;
use http_body_util::Full;

use crate::client_ip::TrustedProxies;
use crate::compression::{Compression, Offload};
use crate::error::Rejection;
use crate::{post, BoxError, Route};

/// What every request of a server reads: set once by the builder.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) routes: HashMap<Box<str>, Route>,
    pub(crate) max_body_size: usize,
    pub(crate) max_decompressed_size: usize,
    pub(crate) trusted_proxies: TrustedProxies,
    pub(crate) compression: Compression,
    pub(crate) offload: Offload,
}

/// The methods a route answers, for the `Allow` header of a 405.
const ALLOWED: &[Method] = &[Method::POST];

/// What the transport knows about a request besides the request itself.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Connection {
    pub(crate) peer: SocketAddr,
}

/// Answers one request. Never fails: every rejection becomes a response.
pub(crate) async fn dispatch<B>(
    shared: Arc<Shared>,
    connection: Connection,
    request: Request<B>,
) -> Response<Full<Bytes>>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let Some(route) = shared.routes.get(request.uri().path()) else {
        return reject(Rejection::NotFound);
    };
    let result = match *request.method() {
        Method::POST => post::handle(&shared, route, connection, request).await,
        _ => Err(Rejection::MethodNotAllowed { allow: ALLOWED }),
    };
    result.unwrap_or_else(reject)
}

fn reject(rejection: Rejection) -> Response<Full<Bytes>> {
    match &rejection {
        Rejection::Service(_) | Rejection::Internal(_) => {
            tracing::error!(error = %rejection, "request failed")
        }
        _ => tracing::debug!(error = %rejection, "request rejected"),
    }
    rejection.into_response()
}
