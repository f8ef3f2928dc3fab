//! The unit a transport hands to the codec layer.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;

use crate::{Codec, Extensions};

/// Spare room a transport can leave after a frame's bytes, in a buffer of
/// the frame's own, so that a codec may parse the frame where it lies.
///
/// The SIMD-JSON codec needs its input mutable and padded: given a frame
/// that is the only handle to its buffer and has this much capacity left
/// after it, it parses the frame in place instead of copying it (for a
/// 128 KiB body, 128 KiB less memory touched). Any other frame is copied;
/// nothing else depends on it. rpckit's HTTP transport leaves it after a
/// body it decompressed or joined from several frames (HTTP/2, chunked),
/// and its HTTP/1 connection after a body larger than its read buffer,
/// which it hands over with the buffer and all.
pub const FRAME_PADDING: usize = 64;

/// The bytes of one message as a transport received them, the codec chosen
/// for them, and what the transport knows about where they came from.
///
/// A transport gives `extensions` its connection and request facts (such as
/// [`PeerAddr`]); handlers read them through extractors. The service that
/// takes a frame answers `Option<Frame>`: `None` when nothing is to be sent
/// back (a notification, or a batch of only notifications).
pub struct Frame {
    /// Exactly one encoded message.
    pub bytes: Bytes,
    /// The codec that decodes this frame and encodes its answer.
    pub codec: Arc<dyn Codec>,
    /// Facts about the connection and request, keyed by type.
    pub extensions: Extensions,
}

impl Frame {
    /// A frame with no extensions.
    pub fn new(bytes: impl Into<Bytes>, codec: Arc<dyn Codec>) -> Self {
        Frame {
            bytes: bytes.into(),
            codec,
            extensions: Extensions::new(),
        }
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frame")
            .field("bytes", &self.bytes)
            .field("codec", &self.codec.name())
            .finish_non_exhaustive()
    }
}

/// The socket address of the peer that sent a frame. Every transport with
/// an address puts one in [`Frame::extensions`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PeerAddr(pub SocketAddr);
