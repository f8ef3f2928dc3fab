//! The request decompression path, for `fuzz/` (feature `fuzzing`). Not a
//! stable API: it exists so that a fuzz target can reach code the server
//! only runs behind a socket.

use bytes::Bytes;

use super::coder::{Coder, CoderError, Step};
use super::{request_coding, Algorithm, Level};

/// What [`decompress`] made of a body.
#[derive(Debug)]
pub enum Outcome {
    /// Decoded, within the limit (an identity body is returned as it is).
    Decoded(Bytes),
    /// The output would pass the limit (413).
    TooLarge,
    /// The body does not decode (400).
    Invalid,
    /// The `Content-Encoding` is not one the server decodes (415).
    Unsupported,
}

/// Decodes `body` as the server would for a request with this
/// `Content-Encoding`, under `limit` bytes of output, pausing every `step`
/// bytes of output as the server does when it moves work to the blocking
/// pool (`step` 0 means never).
pub fn decompress(content_encoding: &str, body: &[u8], limit: usize, step: usize) -> Outcome {
    let mut headers = http::HeaderMap::new();
    let Ok(value) = http::HeaderValue::from_str(content_encoding) else {
        return Outcome::Unsupported;
    };
    headers.insert(http::header::CONTENT_ENCODING, value);
    let algorithm = match request_coding(&crate::RequestHeaders::new(headers)) {
        Ok(Some(algorithm)) => algorithm,
        Ok(None) => return Outcome::Decoded(Bytes::copy_from_slice(body)),
        Err(_) => return Outcome::Unsupported,
    };
    let mut coder = Coder::decoder(algorithm, Bytes::copy_from_slice(body), limit);
    let step = if step == 0 { usize::MAX } else { step };
    loop {
        match coder.run(step) {
            Ok(Step::Done) => return Outcome::Decoded(coder.into_output()),
            Ok(Step::Paused) => {}
            Err(CoderError::TooLarge) => return Outcome::TooLarge,
            Err(CoderError::Invalid(_)) => return Outcome::Invalid,
        }
    }
}

/// Compresses `data` with the coding named `coding` (`gzip`, `deflate`,
/// `br`, `zstd`) at the default level, as the server compresses a response;
/// `None` for another name.
pub fn compress(coding: &str, data: &[u8]) -> Option<Bytes> {
    let algorithm = Algorithm::from_token(coding)?;
    // An encoder's output is only bounded to stop useless work; here any
    // size is fine.
    let mut coder = Coder::encoder(
        algorithm,
        Level::Default,
        Bytes::copy_from_slice(data),
        usize::MAX,
    );
    match coder.run(usize::MAX) {
        Ok(_) => Some(coder.into_output()),
        Err(err) => panic!("compressing in memory failed: {err:?}"),
    }
}
