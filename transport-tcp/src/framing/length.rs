//! Length-prefixed frames: a 4-byte big-endian length, then the message.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::{FrameError, Inbound, DEFAULT_MAX_FRAME_SIZE};

/// A 4-byte big-endian length, then that many bytes of message: fits any
/// codec, binary ones included.
///
/// The wire format of tokio-util's `LengthDelimitedCodec` with
/// `big_endian().length_field_length(4)`, written out here so that a frame
/// over the limit is a typed [`FrameError::TooLarge`], found from the
/// prefix alone (nothing of the body is buffered), rather than an opaque
/// I/O error.
///
/// ```
/// use bytes::BytesMut;
/// use rpckit_tcp::framing::{FrameError, Inbound, LengthPrefixedCodec};
/// use tokio_util::codec::Decoder;
///
/// let mut codec = LengthPrefixedCodec::with_max_frame_size(16);
/// let mut wire = BytesMut::from(&b"\x00\x00\x00\x02{}\x00\x00\x01\x00"[..]);
/// assert_eq!(codec.decode(&mut wire).unwrap(), Some(Inbound::Frame("{}".into())));
/// assert!(matches!(codec.decode(&mut wire), Err(FrameError::TooLarge { len: 256, max: 16 })));
/// ```
#[derive(Debug, Clone)]
pub struct LengthPrefixedCodec {
    max: usize,
    /// The body length, once its prefix is read.
    body_len: Option<usize>,
}

impl LengthPrefixedCodec {
    /// A codec with the default limit, [`DEFAULT_MAX_FRAME_SIZE`].
    pub fn new() -> Self {
        Self::with_max_frame_size(DEFAULT_MAX_FRAME_SIZE)
    }

    /// A codec refusing frames of more than `max` bytes (the prefix not
    /// counted).
    pub fn with_max_frame_size(max: usize) -> Self {
        LengthPrefixedCodec {
            max,
            body_len: None,
        }
    }

    /// The limit.
    pub fn max_frame_size(&self) -> usize {
        self.max
    }
}

impl Default for LengthPrefixedCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder for LengthPrefixedCodec {
    type Item = Inbound;
    type Error = FrameError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Inbound>, FrameError> {
        let len = match self.body_len {
            Some(len) => len,
            None => {
                if buf.len() < 4 {
                    return Ok(None);
                }
                let len = u64::from((&buf[..4]).get_u32());
                if len > self.max as u64 {
                    return Err(FrameError::TooLarge { len, max: self.max });
                }
                buf.advance(4);
                // Within the limit, so it fits a usize.
                let len = len as usize;
                buf.reserve(len.saturating_sub(buf.len()));
                self.body_len = Some(len);
                len
            }
        };
        if buf.len() < len {
            return Ok(None);
        }
        self.body_len = None;
        Ok(Some(Inbound::Frame(buf.split_to(len).freeze())))
    }
}

impl Encoder<Bytes> for LengthPrefixedCodec {
    type Error = FrameError;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<(), FrameError> {
        let len = u32::try_from(item.len()).map_err(|_| FrameError::TooLarge {
            len: item.len() as u64,
            max: u32::MAX as usize,
        })?;
        dst.reserve(4 + item.len());
        dst.put_u32(len);
        dst.put_slice(&item);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_split_at_every_byte() {
        let mut codec = LengthPrefixedCodec::new();
        let mut wire = BytesMut::new();
        codec
            .encode(Bytes::from_static(b"\x81\xa1a\x01"), &mut wire)
            .unwrap();
        codec.encode(Bytes::new(), &mut wire).unwrap();
        let wire = wire.freeze();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for byte in wire.iter() {
            buf.put_u8(*byte);
            while let Some(item) = codec.decode(&mut buf).unwrap() {
                got.push(item);
            }
        }
        assert_eq!(
            got,
            vec![
                Inbound::Frame(Bytes::from_static(b"\x81\xa1a\x01")),
                Inbound::Frame(Bytes::new()),
            ]
        );
    }
}
