//! Newline-delimited frames: one JSON message per line.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::{FrameError, Inbound, DEFAULT_MAX_FRAME_SIZE};

/// One message per line, ended by `\n` (a `\r` before it is dropped).
///
/// Like tokio-util's `LinesCodec::new_with_max_length`, but it yields bytes
/// rather than checked `String`s (the codec validates UTF-8 as part of
/// parsing, so checking here would read every byte twice), and a line over
/// the limit is not an error that ends the stream: the decoder yields
/// [`Inbound::TooLarge`] once, discards up to the next newline, and goes on.
/// Blank lines are skipped, so a person typing into `nc` can press enter.
///
/// The limit counts the bytes before the `\n` (a `\r` included).
///
/// ```
/// use bytes::BytesMut;
/// use rpckit_tcp::framing::{Inbound, NewlineCodec};
/// use tokio_util::codec::Decoder;
///
/// let mut codec = NewlineCodec::with_max_frame_size(4);
/// let mut wire = BytesMut::from(&b"[1]\r\n\n[1000000]\n{}\n"[..]);
/// assert_eq!(codec.decode(&mut wire).unwrap(), Some(Inbound::Frame("[1]".into())));
/// assert_eq!(codec.decode(&mut wire).unwrap(), Some(Inbound::TooLarge { max: 4 }));
/// assert_eq!(codec.decode(&mut wire).unwrap(), Some(Inbound::Frame("{}".into())));
/// assert_eq!(codec.decode(&mut wire).unwrap(), None);
/// ```
#[derive(Clone, Debug)]
pub struct NewlineCodec {
    max: usize,
    /// Where the search for `\n` resumes: the bytes before were searched.
    next_index: usize,
    /// Inside a line over the limit, dropping bytes up to its end.
    discarding: bool,
}

impl NewlineCodec {
    /// A codec with the default limit, [`DEFAULT_MAX_FRAME_SIZE`].
    pub fn new() -> Self {
        Self::with_max_frame_size(DEFAULT_MAX_FRAME_SIZE)
    }

    /// A codec refusing lines of more than `max` bytes.
    pub fn with_max_frame_size(max: usize) -> Self {
        NewlineCodec {
            max,
            next_index: 0,
            discarding: false,
        }
    }

    /// The limit.
    pub fn max_frame_size(&self) -> usize {
        self.max
    }
}

impl Default for NewlineCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder for NewlineCodec {
    type Item = Inbound;
    type Error = FrameError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Inbound>, FrameError> {
        loop {
            // Look no further than one byte past the limit: a line is over
            // it exactly when no `\n` is among its first `max + 1` bytes.
            let read_to = self.max.saturating_add(1).min(buf.len());
            let newline = memchr::memchr(b'\n', &buf[self.next_index..read_to])
                .map(|at| self.next_index + at);
            match (self.discarding, newline) {
                (true, Some(at)) => {
                    buf.advance(at + 1);
                    self.discarding = false;
                    self.next_index = 0;
                }
                (true, None) => {
                    buf.advance(read_to);
                    self.next_index = 0;
                    if buf.is_empty() {
                        return Ok(None);
                    }
                }
                (false, Some(at)) => {
                    let mut line = buf.split_to(at + 1);
                    self.next_index = 0;
                    line.truncate(at);
                    if line.last() == Some(&b'\r') {
                        line.truncate(at - 1);
                    }
                    if is_blank(&line) {
                        continue;
                    }
                    return Ok(Some(Inbound::Frame(line.freeze())));
                }
                (false, None) if buf.len() > self.max => {
                    self.discarding = true;
                    return Ok(Some(Inbound::TooLarge { max: self.max }));
                }
                (false, None) => {
                    self.next_index = read_to;
                    return Ok(None);
                }
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Inbound>, FrameError> {
        if let Some(item) = self.decode(buf)? {
            return Ok(Some(item));
        }
        // The last line may lack its newline.
        self.next_index = 0;
        if self.discarding {
            buf.clear();
            self.discarding = false;
            return Ok(None);
        }
        let mut line = buf.split();
        if line.last() == Some(&b'\r') {
            line.truncate(line.len() - 1);
        }
        if is_blank(&line) {
            return Ok(None);
        }
        Ok(Some(Inbound::Frame(line.freeze())))
    }
}

/// Appends the message and a `\n`. The JSON codecs never write a raw
/// newline inside a message (strings escape it).
impl Encoder<Bytes> for NewlineCodec {
    type Error = FrameError;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<(), FrameError> {
        dst.reserve(item.len() + 1);
        dst.put_slice(&item);
        dst.put_u8(b'\n');
        Ok(())
    }
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(codec: &mut NewlineCodec, chunks: &[&[u8]]) -> Vec<Inbound> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            while let Some(item) = codec.decode(&mut buf).unwrap() {
                out.push(item);
            }
        }
        while let Some(item) = codec.decode_eof(&mut buf).unwrap() {
            out.push(item);
        }
        out
    }

    #[test]
    fn lines_split_across_reads_and_the_last_without_newline() {
        let mut codec = NewlineCodec::new();
        let got = frames(&mut codec, &[b"{\"a\"", b":1}\n  \n{", b"}\r", b"\n[2]"]);
        assert_eq!(
            got,
            vec![
                Inbound::Frame("{\"a\":1}".into()),
                Inbound::Frame("{}".into()),
                Inbound::Frame("[2]".into()),
            ]
        );
    }

    #[test]
    fn an_overlong_line_is_reported_once_and_skipped_even_across_reads() {
        let mut codec = NewlineCodec::with_max_frame_size(3);
        let got = frames(&mut codec, &[b"123", b"4567", b"89", b"0\n[1]\n123\n"]);
        assert_eq!(
            got,
            vec![
                Inbound::TooLarge { max: 3 },
                Inbound::Frame("[1]".into()),
                Inbound::Frame("123".into()),
            ]
        );
        // Over the limit at the end of the stream: reported, then nothing.
        let got = frames(&mut NewlineCodec::with_max_frame_size(3), &[b"12345"]);
        assert_eq!(got, vec![Inbound::TooLarge { max: 3 }]);
    }
}
