//! Limits a codec enforces while decoding untrusted bytes.

/// Limits applied while decoding one frame.
///
/// The defaults are safe for untrusted input. Frame size is the transport's
/// limit, not the codec's: a codec sees only frames that passed it.
///
/// ```
/// use rpckit_codec::DecodeLimits;
///
/// let limits = DecodeLimits::default().max_depth(32).max_batch_len(100);
/// assert_eq!(limits.depth(), 32);
/// assert_eq!(limits.batch_len(), 100);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    max_depth: usize,
    max_batch_len: usize,
}

impl DecodeLimits {
    /// The default nesting depth of a frame (the batch array counts as one).
    pub const DEFAULT_MAX_DEPTH: usize = 128;
    /// The default number of entries in a batch.
    pub const DEFAULT_MAX_BATCH_LEN: usize = 1_000;

    /// Sets the deepest nesting of arrays and maps a frame may have.
    ///
    /// The JSON codecs cap this at 128 whatever is set, the depth at which
    /// serde_json guards its own stack.
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// Sets the most entries a batch may have.
    pub fn max_batch_len(mut self, len: usize) -> Self {
        self.max_batch_len = len;
        self
    }

    /// The nesting limit.
    pub fn depth(&self) -> usize {
        self.max_depth
    }

    /// The batch length limit.
    pub fn batch_len(&self) -> usize {
        self.max_batch_len
    }
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_depth: Self::DEFAULT_MAX_DEPTH,
            max_batch_len: Self::DEFAULT_MAX_BATCH_LEN,
        }
    }
}
