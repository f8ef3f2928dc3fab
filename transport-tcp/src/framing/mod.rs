//! Framing: where one message ends and the next begins on a byte stream.
//!
//! A codec sees exactly one message per frame; splitting a stream into
//! frames is the transport's job, done here with tokio-util's
//! [`Decoder`]/[`Encoder`] machinery. There is one file per framing:
//!
//! | framing | file | on the wire | codecs |
//! |---|---|---|---|
//! | [`Framing::Newline`] | `newline.rs` | one message per line, `\n` (or `\r\n`) | text ones (JSON, SIMD-JSON) |
//! | [`Framing::LengthPrefixed`] | `length.rs` | a 4-byte big-endian length, then the message | any |
//! | [`Framing::Lsp`] | `lsp.rs` | `Content-Length: N`, optional `Content-Type`, `\r\n\r\n`, then N bytes | any (LSP uses JSON) |
//!
//! Every framing refuses frames over a maximum size, by default
//! [`DEFAULT_MAX_FRAME_SIZE`] (8 MiB, `LengthDelimitedCodec`'s default), so
//! an untrusted peer cannot make the server buffer without bound.
//!
//! The codecs are public so that a client can frame its side of the
//! conversation the same way:
//!
//! ```
//! use bytes::BytesMut;
//! use rpckit_tcp::framing::{Inbound, LspCodec};
//! use tokio_util::codec::{Decoder, Encoder};
//!
//! let mut codec = LspCodec::new();
//! let mut wire = BytesMut::new();
//! codec.encode(bytes::Bytes::from_static(b"{}"), &mut wire).unwrap();
//! assert_eq!(&wire[..], b"Content-Length: 2\r\n\r\n{}");
//! assert_eq!(codec.decode(&mut wire).unwrap(), Some(Inbound::Frame("{}".into())));
//! ```

mod length;
mod lsp;
mod newline;

use std::fmt;
use std::io;

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

pub use length::LengthPrefixedCodec;
pub use lsp::{LspCodec, MAX_LSP_HEADER_SIZE};
pub use newline::NewlineCodec;

/// The default largest frame, in bytes: 8 MiB, as tokio-util's
/// `LengthDelimitedCodec` (tonic takes 4 MiB, rpckit's HTTP transport 10).
pub const DEFAULT_MAX_FRAME_SIZE: usize = 8 * 1024 * 1024;

/// How a listener splits its byte streams into messages.
///
/// ```
/// use rpckit_tcp::Framing;
///
/// assert_eq!("lsp".parse::<Framing>(), Ok(Framing::Lsp));
/// assert_eq!(Framing::LengthPrefixed.to_string(), "length");
/// assert!("xml".parse::<Framing>().is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Framing {
    /// One message per line. Only for text codecs: a binary message may
    /// hold a newline byte. A line over the limit is answered with -32600
    /// and skipped; the connection goes on.
    #[default]
    Newline,
    /// A 4-byte big-endian length, then that many bytes. A frame over the
    /// limit is answered with -32600 and the connection is closed (its
    /// bytes cannot be skipped without reading them).
    LengthPrefixed,
    /// The Language Server Protocol's base protocol: `Content-Length`
    /// (required), `Content-Type` (optional, not checked), a blank line,
    /// the message. A frame over the limit gets -32600, a malformed header
    /// -32700, and the connection is closed.
    Lsp,
}

impl Framing {
    /// The name used on command lines and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Framing::Newline => "newline",
            Framing::LengthPrefixed => "length",
            Framing::Lsp => "lsp",
        }
    }

    /// Whether this framing can carry messages of a binary format.
    pub fn carries_binary(self) -> bool {
        !matches!(self, Framing::Newline)
    }
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Framing {
    type Err = UnknownFraming;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "newline" | "lines" => Ok(Framing::Newline),
            "length" | "length-prefixed" => Ok(Framing::LengthPrefixed),
            "lsp" | "content-length" => Ok(Framing::Lsp),
            _ => Err(UnknownFraming(name.to_owned())),
        }
    }
}

/// A framing name that [`Framing::from_str`](std::str::FromStr) does not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownFraming(String);

impl fmt::Display for UnknownFraming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown framing `{}` (expected newline, length or lsp)",
            self.0
        )
    }
}

impl std::error::Error for UnknownFraming {}

/// What a framing decoder yields.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Inbound {
    /// The bytes of one message.
    Frame(Bytes),
    /// A frame over the limit was skipped (newline framing only); the
    /// stream goes on with the next one.
    TooLarge {
        /// The limit it passed.
        max: usize,
    },
}

/// Why a stream can no longer be framed. After any of these the
/// connection is closed: where the next frame starts is unknown.
#[derive(Debug)]
#[non_exhaustive]
pub enum FrameError {
    /// A frame declared (or, outgoing, has) more bytes than allowed.
    TooLarge {
        /// Its length.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// An LSP header section that is not `Name: value` lines with one
    /// valid `Content-Length`.
    InvalidHeader(&'static str),
    /// Reading or writing failed.
    Io(io::Error),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLarge { len, max } => {
                write!(f, "frame of {len} bytes is over the limit of {max} bytes")
            }
            FrameError::InvalidHeader(why) => write!(f, "invalid frame header: {why}"),
            FrameError::Io(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for FrameError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FrameError::Io(err) => Some(err),
            _ => None,
        }
    }
}

impl From<io::Error> for FrameError {
    fn from(err: io::Error) -> Self {
        FrameError::Io(err)
    }
}

/// The framing of one listener, chosen at run time.
#[derive(Debug, Clone)]
pub(crate) enum AnyCodec {
    Newline(NewlineCodec),
    Length(LengthPrefixedCodec),
    Lsp(LspCodec),
}

impl AnyCodec {
    pub(crate) fn new(framing: Framing, max_frame_size: usize) -> Self {
        match framing {
            Framing::Newline => {
                AnyCodec::Newline(NewlineCodec::with_max_frame_size(max_frame_size))
            }
            Framing::LengthPrefixed => {
                AnyCodec::Length(LengthPrefixedCodec::with_max_frame_size(max_frame_size))
            }
            Framing::Lsp => AnyCodec::Lsp(LspCodec::with_max_frame_size(max_frame_size)),
        }
    }
}

impl Decoder for AnyCodec {
    type Item = Inbound;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Inbound>, FrameError> {
        match self {
            AnyCodec::Newline(codec) => codec.decode(src),
            AnyCodec::Length(codec) => codec.decode(src),
            AnyCodec::Lsp(codec) => codec.decode(src),
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Inbound>, FrameError> {
        match self {
            AnyCodec::Newline(codec) => codec.decode_eof(src),
            AnyCodec::Length(codec) => codec.decode_eof(src),
            AnyCodec::Lsp(codec) => codec.decode_eof(src),
        }
    }
}

impl Encoder<Bytes> for AnyCodec {
    type Error = FrameError;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<(), FrameError> {
        match self {
            AnyCodec::Newline(codec) => codec.encode(item, dst),
            AnyCodec::Length(codec) => codec.encode(item, dst),
            AnyCodec::Lsp(codec) => codec.encode(item, dst),
        }
    }
}
