//! The unit a transport hands to the codec layer.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;

use crate::{Codec, Extensions};

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
