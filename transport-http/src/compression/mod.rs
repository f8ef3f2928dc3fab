//! Response compression and request decompression.
//!
//! # Responses
//!
//! A response is compressed when all of these hold:
//!
//! 1. it is **allowed**: the calls that produced it said so (in rpckit, a
//!    method's `MethodSettings::compression`, or a handler's
//!    [`ResponseHandle::allow_compression`](crate::ResponseHandle::allow_compression)),
//!    or nobody said anything and [`Compression::enabled_by_default`] is on
//!    (it is off unless set). In a batch, the answer is compressed if any
//!    call allowed it and none forbade it;
//! 2. its body is at least [`Compression::min_size`] bytes (default 1 KiB:
//!    below that the headers cost more than compression saves);
//! 3. the client accepts one of the [`Compression::algorithms`], by
//!    `Accept-Encoding` with q-values; ties go to the earlier algorithm in
//!    that list. The default order is zstd, br, gzip, deflate: at the
//!    default levels zstd compresses JSON about as well as brotli, and
//!    faster, and both beat gzip;
//! 4. nothing set `Content-Encoding` already, and the compressed body is
//!    smaller than the original (random bytes are sent as they are).
//!
//! A compressed response gets `Content-Encoding` and its new length. Every
//! answer with a body (a `200`) from a server whose algorithm list is not
//! empty carries `Vary: Accept-Encoding`, compressed or not: whether the
//! next one is depends on that header, and a handler can allow compression
//! at any time.
//!
//! # Requests
//!
//! A request body with `Content-Encoding` gzip, deflate (zlib, as HTTP
//! means it), br or zstd is decompressed before the codec sees it, whatever
//! the response settings; `identity` is accepted too. The decompressed size
//! is capped ([`ServerBuilder::max_decompressed_size`], 10 MiB by default):
//! decoding stops, and the request gets a 413, as soon as the output would
//! pass the cap, so a decompression bomb never costs more memory than that.
//! An unknown coding (or several stacked) gets a 415 with `Accept-Encoding`
//! listing what is understood; data that does not decode gets a 400.
//!
//! # Keeping the runtime responsive
//!
//! Compressing and decompressing are CPU work on a body already in memory.
//! A small body (up to 64 KiB in, or 64 KiB out when decoding) is done
//! inline, where a thread hop would cost more than the work; a larger one
//! goes to rpckit's low-priority background threads
//! ([`rpckit_codec::background`]), so one multi-megabyte body never holds
//! up the other connections: not those served by the same worker, and, as
//! the kernel runs the workers first, not those on the same core either.
//!
//! [`ServerBuilder::max_decompressed_size`]: crate::ServerBuilder::max_decompressed_size

mod coder;
mod negotiate;
mod offload;

use std::fmt;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};

use crate::error::Rejection;
use crate::RequestHeaders;
use coder::{Coder, CoderError};
pub(crate) use offload::Offload;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

/// The default of [`Compression::min_size`]: 1 KiB.
pub const DEFAULT_MIN_SIZE: usize = 1024;

/// How a server compresses its responses; see the [module docs](self) for
/// when a response is compressed.
///
/// The default offers every algorithm (zstd, br, gzip, deflate, in that
/// order of preference) for bodies of 1 KiB and more at each algorithm's
/// [`Level::Default`], to the responses that methods or handlers allow:
/// compression is not on for every method unless
/// [`enabled_by_default`](Compression::enabled_by_default) says so.
///
/// ```
/// use rpckit_http::compression::{Algorithm, Compression, Level};
/// use rpckit_http::Server;
///
/// // Every answer of 4 KiB or more, gzip or brotli only, the client's
/// // favourite of the two or else gzip.
/// let builder = Server::builder().compression(
///     Compression::default()
///         .enabled_by_default(true)
///         .min_size(4096)
///         .algorithms([Algorithm::Gzip, Algorithm::Brotli])
///         .level(Level::Fastest),
/// );
/// # let _ = builder;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compression {
    algorithms: Vec<Algorithm>,
    min_size: usize,
    level: Level,
    enabled_by_default: bool,
}

impl Default for Compression {
    fn default() -> Self {
        Compression {
            algorithms: Algorithm::ALL.to_vec(),
            min_size: DEFAULT_MIN_SIZE,
            level: Level::Default,
            enabled_by_default: false,
        }
    }
}

impl Compression {
    /// The default: every algorithm, 1 KiB minimum, only where allowed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Never compresses, whatever methods and handlers allow, and sends no
    /// `Vary: Accept-Encoding`. Request bodies are still decompressed.
    pub fn disabled() -> Self {
        Self::default().algorithms([])
    }

    /// Compresses only bodies of at least `bytes` bytes. Default 1 KiB.
    pub fn min_size(mut self, bytes: usize) -> Self {
        self.min_size = bytes;
        self
    }

    /// The algorithms offered, most preferred first: when the client
    /// accepts several with the same q-value, the earlier one wins.
    /// Duplicates are dropped; an empty list turns compression off.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms.clear();
        for algorithm in algorithms {
            if !self.algorithms.contains(&algorithm) {
                self.algorithms.push(algorithm);
            }
        }
        self
    }

    /// How hard to compress. Default [`Level::Default`].
    pub fn level(mut self, level: Level) -> Self {
        self.level = level;
        self
    }

    /// Whether to compress a response that no method setting and no
    /// handler allowed or forbade. Default `false`: only what is allowed is
    /// compressed. With `true`, everything is, except what is forbidden.
    pub fn enabled_by_default(mut self, enabled: bool) -> Self {
        self.enabled_by_default = enabled;
        self
    }

    /// Whether answers vary with the client's `Accept-Encoding`: whether
    /// any algorithm is offered.
    pub(crate) fn varies(&self) -> bool {
        !self.algorithms.is_empty()
    }

    /// Adds `accept-encoding` to `Vary` when answers vary with it (see
    /// [`Compression::varies`]), unless `Vary` has it (or `*`) already.
    pub(crate) fn add_vary(&self, headers: &mut HeaderMap) {
        if self.varies() {
            add_vary(headers);
        }
    }

    /// Compresses `body` for the client that sent `request` if the rules
    /// say so, updating `headers`; returns the body to send. `headers`
    /// have their `Vary` already ([`Compression::add_vary`]).
    ///
    /// `allowed` is what the calls said ([`ResponseHandle`]'s merged
    /// preference).
    ///
    /// [`ResponseHandle`]: crate::ResponseHandle
    pub(crate) async fn respond(
        &self,
        request: &RequestHeaders,
        allowed: Option<bool>,
        body: Bytes,
        headers: &mut HeaderMap,
        offload: &Offload,
        stats: Option<&dyn rpckit_codec::StatsSink>,
    ) -> Bytes {
        if self.algorithms.is_empty() {
            return body;
        }
        if !allowed.unwrap_or(self.enabled_by_default)
            || body.len() < self.min_size
            || headers.contains_key(header::CONTENT_ENCODING)
        {
            return body;
        }
        let Some(algorithm) = negotiate::negotiate(request, &self.algorithms) else {
            return body;
        };

        // Output as large as the input is no gain: stop there.
        let limit = body.len().saturating_sub(1);
        let coder = Coder::encoder(algorithm, self.level, body.clone(), limit);
        let inline = if body.len() <= offload::INLINE_BYTES {
            usize::MAX
        } else {
            0
        };
        let start = stats.map(|_| tokio::time::Instant::now());
        let compressed = offload.run(coder, inline).await;
        if let (Some(stats), Some(start)) = (stats, start) {
            stats.compressed(start.elapsed());
        }
        match compressed {
            Ok(compressed) => {
                headers.insert(header::CONTENT_ENCODING, algorithm.header_value());
                // A length a handler set is the uncompressed one; hyper
                // writes the right one from the body.
                headers.remove(header::CONTENT_LENGTH);
                compressed
            }
            Err(offload::Failure::Coder(CoderError::TooLarge)) => body,
            Err(err) => {
                tracing::error!(error = %err, %algorithm, "compression failed, sending uncompressed");
                body
            }
        }
    }
}

/// Adds `accept-encoding` to `Vary`, unless it (or `*`) is there already.
///
/// Through the entry: one hash of the name, where a look-up and then an
/// append would hash it twice (every answer with a body comes here).
fn add_vary(headers: &mut HeaderMap) {
    const ACCEPT_ENCODING: HeaderValue = HeaderValue::from_static("accept-encoding");
    match headers.entry(header::VARY) {
        header::Entry::Vacant(entry) => {
            entry.insert(ACCEPT_ENCODING);
        }
        header::Entry::Occupied(mut entry) => {
            let present = entry.iter().any(|value| {
                value.to_str().is_ok_and(|value| {
                    value.split(',').map(str::trim).any(|name| {
                        name == "*" || name.eq_ignore_ascii_case(header::ACCEPT_ENCODING.as_str())
                    })
                })
            });
            if !present {
                entry.append(ACCEPT_ENCODING);
            }
        }
    }
}

/// A compression algorithm, named by its HTTP content coding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// `zstd`: Zstandard (RFC 8878), with windows of at most 8 MiB as RFC
    /// 9659 requires.
    Zstd,
    /// `br`: Brotli (RFC 7932).
    Brotli,
    /// `gzip` (RFC 1952); `x-gzip` is accepted as the same.
    Gzip,
    /// `deflate`: the zlib format (RFC 1950), which is what HTTP's
    /// `deflate` coding means, not raw deflate.
    Deflate,
}

impl Algorithm {
    /// Every algorithm, in the default order of preference.
    pub(crate) const ALL: [Algorithm; 4] = [
        Algorithm::Zstd,
        Algorithm::Brotli,
        Algorithm::Gzip,
        Algorithm::Deflate,
    ];

    /// The content-coding token: `zstd`, `br`, `gzip` or `deflate`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::Zstd => "zstd",
            Algorithm::Brotli => "br",
            Algorithm::Gzip => "gzip",
            Algorithm::Deflate => "deflate",
        }
    }

    /// The algorithm of a content-coding token, ignoring ASCII case.
    pub(crate) fn from_token(token: &str) -> Option<Algorithm> {
        if token.eq_ignore_ascii_case("x-gzip") {
            return Some(Algorithm::Gzip);
        }
        Algorithm::ALL
            .into_iter()
            .find(|algorithm| token.eq_ignore_ascii_case(algorithm.as_str()))
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }

    fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(self.as_str())
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How hard to compress: a trade of CPU time for size.
///
/// The defaults suit answers made per request rather than static files:
/// gzip and deflate 6, zstd 3, and brotli 4 (brotli's own default, 11, takes
/// about a second per megabyte).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Level {
    /// Each algorithm's fastest useful level (zstd 1, brotli 0, gzip 1).
    Fastest,
    /// gzip and deflate 6, zstd 3, brotli 4.
    #[default]
    Default,
    /// gzip and deflate 9, brotli 11, zstd 19 (the highest whose window
    /// fits HTTP's 8 MiB). Slow: for bodies that are small or rare.
    Best,
    /// A level in the algorithm's own scale, clamped to its range (gzip and
    /// deflate 0–9, brotli 0–11, zstd 1–19).
    Precise(u32),
}

/// The coding of a request body: `None` for none (or `identity`).
///
/// Read before the body, so an unknown coding is refused unread.
pub(crate) fn request_coding(headers: &RequestHeaders) -> Result<Option<Algorithm>, Rejection> {
    // Most requests have none: one look-up (without making the map of a
    // request read by the fast HTTP/1 connection), where `get_all` costs a
    // look-up and an iterator's set-up.
    if headers.first(&header::CONTENT_ENCODING).is_none() {
        return Ok(None);
    }
    let mut found = None;
    for value in headers.get_all(header::CONTENT_ENCODING) {
        let text = String::from_utf8_lossy(value.as_bytes());
        for coding in text.split(',').map(str::trim) {
            if coding.is_empty() || coding.eq_ignore_ascii_case("identity") {
                continue;
            }
            match Algorithm::from_token(coding) {
                Some(algorithm) if found.is_none() => found = Some(algorithm),
                // Stacked codings are legal HTTP and never needed: refusing
                // them keeps one decoder, and one cap, per request.
                _ => return Err(Rejection::UnsupportedContentEncoding(text.trim().into())),
            }
        }
    }
    Ok(found)
}

/// Decompresses a request body, failing once the output passes `limit`.
pub(crate) async fn decode_request(
    algorithm: Algorithm,
    body: Bytes,
    limit: usize,
    offload: &Offload,
) -> Result<Bytes, Rejection> {
    let coder = Coder::decoder(algorithm, body, limit);
    offload
        .run(coder, offload::INLINE_BYTES)
        .await
        .map_err(|err| match err {
            offload::Failure::Coder(CoderError::TooLarge) => {
                Rejection::DecompressedTooLarge { limit }
            }
            offload::Failure::Coder(CoderError::Invalid(source)) => {
                Rejection::InvalidEncoding { algorithm, source }
            }
            offload::Failure::Panicked => {
                Rejection::Internal("the decompression job panicked".into())
            }
        })
}

#[cfg(test)]
mod tests;
