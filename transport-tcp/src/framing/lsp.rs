//! The Language Server Protocol's base protocol: headers, a blank line, a body.

use std::fmt::Write as _;

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::{FrameError, Inbound, DEFAULT_MAX_FRAME_SIZE};

/// The largest header section accepted, in bytes: LSP sends two short
/// headers, so 8 KiB leaves room for any sane client and no room to hoard.
pub const MAX_LSP_HEADER_SIZE: usize = 8 * 1024;

/// `Content-Length: N\r\n`, optionally `Content-Type: ...\r\n` (or any other
/// header, ignored), `\r\n`, then N bytes of message: the framing of the
/// Language Server Protocol, and of `vscode-jsonrpc`.
///
/// Header names are matched case-insensitively. `Content-Type` is not
/// checked: the listener's codec decides the format (LSP's default,
/// `application/vscode-jsonrpc; charset=utf-8`, is JSON). A missing,
/// repeated or non-numeric `Content-Length`, a line without `:`, or a
/// header section over [`MAX_LSP_HEADER_SIZE`] is
/// [`FrameError::InvalidHeader`]; a body over the limit is
/// [`FrameError::TooLarge`], found from the header before any of the body
/// is buffered. Replies carry only `Content-Length`.
///
/// ```
/// use bytes::BytesMut;
/// use rpckit_tcp::framing::{Inbound, LspCodec};
/// use tokio_util::codec::Decoder;
///
/// let mut codec = LspCodec::new();
/// let mut wire = BytesMut::from(
///     &b"content-length: 2\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n[]"[..],
/// );
/// assert_eq!(codec.decode(&mut wire).unwrap(), Some(Inbound::Frame("[]".into())));
/// ```
#[derive(Clone, Debug)]
pub struct LspCodec {
    max: usize,
    /// The body length, once its header section is read.
    body_len: Option<usize>,
}

impl LspCodec {
    /// A codec with the default limit, [`DEFAULT_MAX_FRAME_SIZE`].
    pub fn new() -> Self {
        Self::with_max_frame_size(DEFAULT_MAX_FRAME_SIZE)
    }

    /// A codec refusing bodies of more than `max` bytes.
    pub fn with_max_frame_size(max: usize) -> Self {
        LspCodec {
            max,
            body_len: None,
        }
    }

    /// The limit.
    pub fn max_frame_size(&self) -> usize {
        self.max
    }

    /// Reads a header section once it is complete; `None` until then.
    fn header(&self, buf: &mut BytesMut) -> Result<Option<usize>, FrameError> {
        let window = &buf[..buf.len().min(MAX_LSP_HEADER_SIZE)];
        let Some(end) = window.windows(4).position(|w| w == b"\r\n\r\n") else {
            if buf.len() >= MAX_LSP_HEADER_SIZE {
                return Err(FrameError::InvalidHeader(
                    "no blank line within the first 8 KiB",
                ));
            }
            return Ok(None);
        };
        let mut length = None;
        for line in buf[..end].split(|&byte| byte == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(colon) = line.iter().position(|&byte| byte == b':') else {
                return Err(FrameError::InvalidHeader("a header line without `:`"));
            };
            let (name, value) = (&line[..colon], &line[colon + 1..]);
            if !name.eq_ignore_ascii_case(b"content-length") {
                continue;
            }
            if length.is_some() {
                return Err(FrameError::InvalidHeader("Content-Length given twice"));
            }
            length = Some(parse_length(value)?);
        }
        let len = length.ok_or(FrameError::InvalidHeader("no Content-Length"))?;
        if len > self.max as u64 {
            return Err(FrameError::TooLarge { len, max: self.max });
        }
        buf.advance(end + 4);
        // Within the limit, so it fits a usize.
        Ok(Some(len as usize))
    }
}

impl Default for LspCodec {
    fn default() -> Self {
        Self::new()
    }
}

/// ASCII digits, with optional spaces around; at most 19 of them, so any
/// value fits a `u64`.
fn parse_length(value: &[u8]) -> Result<u64, FrameError> {
    let digits = value.trim_ascii();
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(FrameError::InvalidHeader(
            "Content-Length is not a decimal number",
        ));
    }
    Ok(digits
        .iter()
        .fold(0u64, |n, digit| n * 10 + u64::from(digit - b'0')))
}

impl Decoder for LspCodec {
    type Item = Inbound;
    type Error = FrameError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Inbound>, FrameError> {
        let len = match self.body_len {
            Some(len) => len,
            None => match self.header(buf)? {
                Some(len) => {
                    self.body_len = Some(len);
                    buf.reserve(len.saturating_sub(buf.len()));
                    len
                }
                None => return Ok(None),
            },
        };
        if buf.len() < len {
            return Ok(None);
        }
        self.body_len = None;
        Ok(Some(Inbound::Frame(buf.split_to(len).freeze())))
    }
}

impl Encoder<Bytes> for LspCodec {
    type Error = FrameError;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<(), FrameError> {
        dst.reserve(item.len() + 40);
        // Writing into a BytesMut cannot fail.
        let _ = write!(dst, "Content-Length: {}\r\n\r\n", item.len());
        dst.extend_from_slice(&item);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> Result<Vec<Inbound>, FrameError> {
        let mut codec = LspCodec::with_max_frame_size(100);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for byte in input {
            buf.extend_from_slice(&[*byte]);
            while let Some(item) = codec.decode(&mut buf)? {
                out.push(item);
            }
        }
        Ok(out)
    }

    #[test]
    fn frames_split_at_every_byte() {
        let got =
            decode_all(b"Content-Length: 2\r\n\r\n{}CONTENT-LENGTH:3\r\nX-Other: y\r\n\r\n[1]")
                .unwrap();
        assert_eq!(
            got,
            vec![Inbound::Frame("{}".into()), Inbound::Frame("[1]".into())]
        );
    }

    #[test]
    fn bad_headers_are_errors() {
        for input in [
            &b"Content-Type: x\r\n\r\n{}"[..],
            b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
            b"Content-Length: -2\r\n\r\n{}",
            b"Content-Length: 99999999999999999999\r\n\r\n{}",
            b"Content-Length 2\r\n\r\n{}",
        ] {
            assert!(
                matches!(decode_all(input), Err(FrameError::InvalidHeader(_))),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        assert!(matches!(
            decode_all(b"Content-Length: 101\r\n\r\n"),
            Err(FrameError::TooLarge { len: 101, max: 100 })
        ));
        let endless = vec![b'a'; MAX_LSP_HEADER_SIZE + 1];
        assert!(matches!(
            decode_all(&endless),
            Err(FrameError::InvalidHeader(_))
        ));
    }
}
