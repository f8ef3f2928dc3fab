//! The fast HTTP/1 connection's head reader, for the fuzz targets in
//! `fuzz/` (feature `fuzzing`): not a stable API.

use bytes::Bytes;

use super::head::{self, Head};

/// The largest body the fast connection serves itself.
pub const MAX_BODY: usize = head::MAX_BODY;
/// The longest head it serves.
pub const MAX_HEAD: usize = head::MAX_HEAD;
/// The most headers it serves.
pub const MAX_HEADERS: usize = head::MAX_HEADERS;

/// What the fast connection makes of the bytes at the start of its buffer.
#[derive(Debug)]
pub enum Outcome {
    /// Not a whole head yet: it waits for more.
    Partial,
    /// Hyper's to serve.
    HandOver,
    /// Served here: the head's and the body's lengths, whether the
    /// connection stays open, and the request's parts (an error when the
    /// head is taken but `http` refuses its URI or a header: a `400`).
    Request {
        head_len: usize,
        body_len: usize,
        keep_alive: bool,
        parts: Result<Box<http::request::Parts>, ()>,
    },
}

/// Reads `buf` as the fast connection reads its buffer.
pub fn read_head(buf: &[u8]) -> Outcome {
    match head::parse(buf) {
        Head::Partial => Outcome::Partial,
        Head::HandOver => Outcome::HandOver,
        Head::Request(request) => {
            let (head_len, body_len, keep_alive) =
                (request.head_len, request.body_len, request.keep_alive);
            let head = Bytes::copy_from_slice(&buf[..head_len]);
            let parts = request.into_head(head).map_err(|_| ()).map(|head| {
                let mut request = http::Request::new(());
                *request.method_mut() = head.method;
                *request.uri_mut() = head.uri;
                *request.version_mut() = head.version;
                // The map the headers make when a handler asks for it.
                *request.headers_mut() = head.headers.into_map();
                Box::new(request.into_parts().0)
            });
            Outcome::Request {
                head_len,
                body_len,
                keep_alive,
                parts,
            }
        }
    }
}
