//! Reading a request head off the connection's buffer, and deciding
//! whether it is one the fast connection serves.
//!
//! Only the plain case is taken: `HTTP/1.0` or `HTTP/1.1`, a path in
//! origin form, a body of at most [`MAX_BODY`] bytes whose length
//! `Content-Length` gives. Whatever else a head may ask for (chunked or
//! otherwise transfer-coded bodies, `Expect: 100-continue`, `Upgrade`,
//! `HEAD` and `CONNECT`, more than [`MAX_HEADERS`] headers, a malformed
//! head, a larger body) is [`Head::HandOver`]: hyper serves the connection
//! from then on, starting with this very request, which is still unread in
//! the buffer. So every rule of HTTP/1 this module does not implement is
//! hyper's, answered as hyper answers it.

use std::mem::MaybeUninit;
use std::ops::Range;

use bytes::Bytes;
use http::{Method, Uri, Version};

use crate::dispatch::RequestHead;
use crate::headers::{Fields, RawHeaders};
use crate::RequestHeaders;

/// The most headers a request the fast connection serves may have; more
/// go to hyper (which takes up to 100).
pub(super) const MAX_HEADERS: usize = crate::headers::MAX_FIELDS;

/// The largest body the fast connection reads whole before answering;
/// larger ones go to hyper, whose body streams under the server's limits.
/// As large as a frame decoded on the runtime's worker may be (the codec
/// layer moves larger ones off it): such a body, already arrived, is read
/// straight into the connection's buffer and handed on without a copy,
/// where hyper's path gathers it from its read buffer's chunks.
pub(super) const MAX_BODY: usize = 256 * 1024;

/// The largest head the fast connection waits for; a longer one (a large
/// cookie, say) goes to hyper, whose own limit is far higher.
pub(super) const MAX_HEAD: usize = 16 * 1024;

const _: () = assert!(MAX_HEAD <= crate::headers::MAX_HEAD);

/// What the start of the buffer holds.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "one lives on the stack at a time; a box would be an allocation a request"
)]
pub(super) enum Head {
    /// Not a whole head yet.
    Partial,
    /// A request the fast connection serves.
    Request(Request),
    /// A request for hyper (see the module docs).
    HandOver,
}

/// A parsed head, by position in the buffer: the buffer is frozen into
/// [`Bytes`] only once the head is taken, and the URI and the headers are
/// then read off it, not copied (the headers' map is made only if asked
/// for: see [`RequestHeaders`]).
#[derive(Debug)]
pub(super) struct Request {
    method: Method,
    pub(super) version: Version,
    path: Range<usize>,
    headers: Fields,
    /// Where the head ends (its blank line included).
    pub(super) head_len: usize,
    /// The body's length, from `Content-Length` (0 without).
    pub(super) body_len: usize,
    /// Whether the connection stays open after the answer, by the
    /// request's version and its `Connection` header.
    pub(super) keep_alive: bool,
}

/// Reads the head at the start of `buf`.
pub(super) fn parse(buf: &[u8]) -> Head {
    // Between requests, the usual case: nothing to ask httparse.
    if buf.is_empty() {
        return Head::Partial;
    }
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    let head_len = match httparse::ParserConfig::default().parse_request_with_uninit_headers(
        &mut request,
        buf,
        &mut slots,
    ) {
        Ok(httparse::Status::Complete(len)) if len <= MAX_HEAD => len,
        Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD => return Head::Partial,
        // Too long, too many headers, or not HTTP/1 as httparse reads it:
        // hyper says what it says to that.
        Ok(_) | Err(_) => return Head::HandOver,
    };
    let method = match request.method {
        Some("POST") => Method::POST,
        Some("GET") => Method::GET,
        Some("OPTIONS") => Method::OPTIONS,
        // `HEAD` answers carry no body and `CONNECT` tunnels.
        Some("HEAD" | "CONNECT") | None => return Head::HandOver,
        Some(other) => match Method::from_bytes(other.as_bytes()) {
            Ok(method) => method,
            Err(_) => return Head::HandOver,
        },
    };
    let version = match request.version {
        Some(1) => Version::HTTP_11,
        Some(0) => Version::HTTP_10,
        _ => return Head::HandOver,
    };
    let Some(path) = request.path.filter(|path| path.starts_with('/')) else {
        return Head::HandOver;
    };
    let mut parsed = Request {
        method,
        version,
        path: range_in(buf, path.as_bytes()),
        headers: Fields::new(),
        head_len,
        body_len: 0,
        keep_alive: false,
    };
    let mut length = None;
    // `close` wins over `keep-alive`, whatever their order.
    let (mut close, mut keep_alive) = (false, false);
    for header in request.headers.iter() {
        let name = header.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            // A second length, even an equal one, is hyper's to judge.
            match (length, content_length(header.value)) {
                (None, Some(len)) => length = Some(len),
                _ => return Head::HandOver,
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding")
            || name.eq_ignore_ascii_case(b"expect")
            || name.eq_ignore_ascii_case(b"upgrade")
        {
            return Head::HandOver;
        } else if name.eq_ignore_ascii_case(b"connection") {
            for option in header.value.split(|&byte| byte == b',') {
                let option = option.trim_ascii();
                if option.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if option.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                } else if option.eq_ignore_ascii_case(b"upgrade") {
                    return Head::HandOver;
                }
            }
        }
        parsed
            .headers
            .push(range_in(buf, name), range_in(buf, header.value));
    }
    parsed.keep_alive = !close && (version == Version::HTTP_11 || keep_alive);
    match length {
        Some(len) if len > MAX_BODY => Head::HandOver,
        len => {
            parsed.body_len = len.unwrap_or(0);
            Head::Request(parsed)
        }
    }
}

/// A `Content-Length` value: digits only, and no more than fit.
fn content_length(value: &[u8]) -> Option<usize> {
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    value.iter().try_fold(0usize, |len, &digit| {
        len.checked_mul(10)?.checked_add(usize::from(digit - b'0'))
    })
}

/// Where `part`, a slice of `buf`, lies in it.
fn range_in(buf: &[u8], part: &[u8]) -> Range<usize> {
    let start = part.as_ptr() as usize - buf.as_ptr() as usize;
    start..start + part.len()
}

/// A head that is still malformed once read: nothing the fast connection
/// can answer but `400`.
#[derive(Debug)]
pub(super) struct Malformed;

impl Request {
    /// The request's head, its URI and headers read off `head` (the
    /// buffer's first [`head_len`](Self::head_len) bytes, frozen).
    ///
    /// httparse checks less than [`Uri`] does, so a path can still be
    /// refused here, after the head was taken from the buffer.
    pub(super) fn into_head(self, head: Bytes) -> Result<RequestHead, Malformed> {
        let uri = Uri::from_maybe_shared(head.slice(self.path)).map_err(|_| Malformed)?;
        Ok(RequestHead {
            method: self.method,
            uri,
            version: self.version,
            headers: RequestHeaders::raw(RawHeaders::new(head, self.headers)),
            extensions: http::Extensions::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str) -> Request {
        match parse(text.as_bytes()) {
            Head::Request(request) => request,
            other => panic!("{text:?} is not served: {other:?}"),
        }
    }

    fn handed_over(text: &str) -> bool {
        matches!(parse(text.as_bytes()), Head::HandOver)
    }

    #[test]
    fn a_plain_post_is_read_with_its_body_length() {
        let text = "POST /api?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\nX-Two: 1\r\nX-Two: 2\r\n\r\n";
        let parsed = request(&format!("{text}{{\"id\":1}}"));
        assert_eq!(parsed.head_len, text.len());
        assert_eq!(parsed.body_len, 12);
        assert!(parsed.keep_alive);
        let head = Bytes::copy_from_slice(text.as_bytes());
        let head = parsed.into_head(head).unwrap();
        assert_eq!(head.method, Method::POST);
        assert_eq!(head.uri, "/api?x=1");
        assert_eq!(head.version, Version::HTTP_11);
        assert_eq!(head.headers["host"], "a");
        let twos: Vec<_> = head.headers.get_all("x-two").iter().collect();
        assert_eq!(twos, ["1", "2"]);
    }

    #[test]
    fn an_unfinished_head_waits_until_it_is_too_long() {
        assert!(matches!(
            parse(b"POST /api HTTP/1.1\r\nHost: a\r\n"),
            Head::Partial
        ));
        assert!(matches!(parse(b""), Head::Partial));
        let long = format!("POST /api HTTP/1.1\r\nCookie: {}", "a".repeat(MAX_HEAD));
        assert!(handed_over(&long));
        assert!(handed_over(&format!("{long}\r\n\r\n")));
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection_header() {
        assert!(request("GET / HTTP/1.1\r\n\r\n").keep_alive);
        assert!(!request("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive);
        assert!(!request("GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n").keep_alive);
        assert!(!request("GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(request("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
        assert!(
            !request("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n")
                .keep_alive
        );
    }

    #[test]
    fn whatever_the_fast_path_does_not_implement_goes_to_hyper() {
        let cases = [
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
            "GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
            "GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n",
            "HEAD / HTTP/1.1\r\n\r\n",
            "CONNECT a:443 HTTP/1.1\r\n\r\n",
            "GET http://a/ HTTP/1.1\r\n\r\n",
            "OPTIONS * HTTP/1.1\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
            "POST / HTTP/2.0\r\n\r\n",
            "POST /\r\n\r\n",
            "P@ST / HTTP/1.1\r\n\r\n",
        ];
        for case in cases {
            assert!(handed_over(case), "{case:?} should go to hyper");
        }
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
        assert!(handed_over(&format!("GET / HTTP/1.1\r\n{many}\r\n")));
        let over = MAX_BODY + 1;
        assert!(handed_over(&format!(
            "POST / HTTP/1.1\r\nContent-Length: {over}\r\n\r\n"
        )));
        // The largest body served here is still served.
        assert_eq!(
            request(&format!(
                "POST / HTTP/1.1\r\nContent-Length: {MAX_BODY}\r\n\r\n"
            ))
            .body_len,
            MAX_BODY
        );
        assert_eq!(request("DELETE /x HTTP/1.1\r\n\r\n").method, Method::DELETE);
    }
}
