//! Writing a response head: the status line, the response's headers, and
//! the framing the fast connection chooses (`Content-Length` when the body's
//! length is known, else chunked, or for `HTTP/1.0` the end of the
//! connection), with a `Date` as hyper adds it.

use std::cell::RefCell;
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
use http::{response, HeaderValue, StatusCode, Version};

use crate::plain_headers::PlainHead;

/// How the body follows the head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// No body may follow (`1xx`, `204`, `304`).
    None,
    Length(u64),
    Chunked,
    /// The body ends with the connection (`HTTP/1.0`, length unknown).
    UntilClose,
}

impl Framing {
    /// The framing of a body of `length` (if known) in a response with
    /// `status` to a request of `version`.
    pub(super) fn of(status: StatusCode, version: Version, length: Option<u64>) -> Framing {
        if status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
            return Framing::None;
        }
        match length {
            Some(length) => Framing::Length(length),
            None if version == Version::HTTP_11 => Framing::Chunked,
            None => Framing::UntilClose,
        }
    }
}

/// Appends the head of a response to `out` (with the plain headers its
/// map left out, if it did: see [`PlainHead`]), and says whether the
/// connection stays open after it: `keep_alive` (what the request and the
/// server allow), unless the body's end is the connection's or the
/// response has a `Connection: close` of its own. An `HTTP/1.0` client that
/// asked for keep-alive is told it is kept, an `HTTP/1.1` one that is
/// closed is told so.
///
/// The response's own `Content-Length` and `Transfer-Encoding` are left
/// out: the body's framing is the connection's to say.
#[must_use = "the connection must close when the head says so"]
pub(super) fn head(
    out: &mut Vec<u8>,
    head: &response::Parts,
    plain: Option<PlainHead>,
    version: Version,
    framing: Framing,
    keep_alive: bool,
) -> bool {
    let mut keep_alive = keep_alive && framing != Framing::UntilClose;
    out.extend_from_slice(match version {
        Version::HTTP_10 => b"HTTP/1.0 ",
        _ => b"HTTP/1.1 ",
    });
    out.extend_from_slice(head.status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(head.status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    if let Some(plain) = plain {
        plain.write(out);
    }
    let (mut has_connection, mut has_date) = (false, false);
    for (name, value) in &head.headers {
        if name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
            continue;
        }
        has_date |= name == DATE;
        if name == CONNECTION {
            has_connection = true;
            keep_alive &= !lists_close(value);
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    match framing {
        Framing::None | Framing::UntilClose => {}
        Framing::Length(length) => {
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(itoa(length, &mut [0; 20]));
            out.extend_from_slice(b"\r\n");
        }
        Framing::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
    }
    if !has_connection {
        if !keep_alive && version == Version::HTTP_11 {
            out.extend_from_slice(b"connection: close\r\n");
        } else if keep_alive && version == Version::HTTP_10 {
            out.extend_from_slice(b"connection: keep-alive\r\n");
        }
    }
    if !has_date {
        out.extend_from_slice(b"date: ");
        out.extend_from_slice(&now());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    keep_alive
}

/// Whether a `Connection` value holds `close`.
fn lists_close(value: &HeaderValue) -> bool {
    value
        .as_bytes()
        .split(|&byte| byte == b',')
        .any(|option| option.trim_ascii().eq_ignore_ascii_case(b"close"))
}

/// The decimal digits of `n`, written into `buf`.
fn itoa(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

/// The length of an IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`.
const DATE_LEN: usize = 29;

thread_local! {
    /// The date of the current second, written once a second per thread.
    static DATE_NOW: RefCell<(u64, [u8; DATE_LEN])> = const { RefCell::new((u64::MAX, [0; DATE_LEN])) };
}

/// The current time as an HTTP date.
fn now() -> [u8; DATE_LEN] {
    let now = SystemTime::now();
    let second = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    DATE_NOW.with_borrow_mut(|(cached, text)| {
        if *cached != second {
            let mut cursor = &mut text[..];
            // An IMF-fixdate is always 29 bytes long.
            let _ = write!(cursor, "{}", httpdate::HttpDate::from(now));
            *cached = second;
        }
        *text
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn parts(status: StatusCode, headers: &[(&'static str, &'static str)]) -> response::Parts {
        let mut response = http::Response::new(());
        *response.status_mut() = status;
        for (name, value) in headers {
            response
                .headers_mut()
                .append(*name, HeaderValue::from_static(value));
        }
        response.into_parts().0
    }

    fn text(
        parts: &response::Parts,
        version: Version,
        framing: Framing,
        keep_alive: bool,
    ) -> String {
        written(parts, version, framing, keep_alive).0
    }

    /// The head, and whether the connection stays open.
    fn written(
        parts: &response::Parts,
        version: Version,
        framing: Framing,
        keep_alive: bool,
    ) -> (String, bool) {
        let mut out = Vec::new();
        let open = head(&mut out, parts, None, version, framing, keep_alive);
        (String::from_utf8(out).unwrap(), open)
    }

    #[test]
    fn a_head_has_its_status_headers_length_and_date() {
        let ok = parts(
            StatusCode::OK,
            &[
                ("content-type", "application/json"),
                ("content-length", "999"),
            ],
        );
        let written = text(&ok, Version::HTTP_11, Framing::Length(41), true);
        let (start, date) = written.split_once("date: ").unwrap();
        assert_eq!(
            start,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 41\r\n"
        );
        let date = date.strip_suffix("\r\n\r\n").unwrap();
        assert!(httpdate::parse_http_date(date).is_ok(), "{date:?}");
        let elapsed = SystemTime::now()
            .duration_since(httpdate::parse_http_date(date).unwrap())
            .unwrap();
        assert!(elapsed.as_secs() < 5);
    }

    #[test]
    fn the_connection_header_says_what_the_connection_does() {
        let ok = parts(StatusCode::OK, &[("date", "x")]);
        assert_eq!(
            text(&ok, Version::HTTP_11, Framing::Length(0), false),
            "HTTP/1.1 200 OK\r\ndate: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
        assert_eq!(
            text(&ok, Version::HTTP_10, Framing::Length(0), true),
            "HTTP/1.0 200 OK\r\ndate: x\r\ncontent-length: 0\r\nconnection: keep-alive\r\n\r\n"
        );
        assert_eq!(
            text(&ok, Version::HTTP_10, Framing::UntilClose, false),
            "HTTP/1.0 200 OK\r\ndate: x\r\n\r\n"
        );
        assert!(written(&ok, Version::HTTP_11, Framing::Length(0), true).1);
        assert!(!written(&ok, Version::HTTP_11, Framing::Length(0), false).1);
        // A body that ends with the connection closes it.
        assert!(!written(&ok, Version::HTTP_10, Framing::UntilClose, true).1);
        // So does a response that asks to.
        let closing = parts(
            StatusCode::OK,
            &[("date", "x"), ("connection", "keep-alive, Close")],
        );
        assert_eq!(
            written(&closing, Version::HTTP_11, Framing::Chunked, true),
            (
                "HTTP/1.1 200 OK\r\ndate: x\r\nconnection: keep-alive, Close\r\ntransfer-encoding: chunked\r\n\r\n"
                    .to_owned(),
                false
            )
        );
    }

    #[test]
    fn bodies_without_a_length_are_chunked_or_end_the_connection() {
        assert_eq!(
            Framing::of(StatusCode::OK, Version::HTTP_11, None),
            Framing::Chunked
        );
        assert_eq!(
            Framing::of(StatusCode::OK, Version::HTTP_10, None),
            Framing::UntilClose
        );
        assert_eq!(
            Framing::of(StatusCode::OK, Version::HTTP_11, Some(3)),
            Framing::Length(3)
        );
        assert_eq!(
            Framing::of(StatusCode::NO_CONTENT, Version::HTTP_11, Some(0)),
            Framing::None
        );
        assert_eq!(
            Framing::of(StatusCode::NOT_MODIFIED, Version::HTTP_11, None),
            Framing::None
        );
        assert_eq!(itoa(0, &mut [0; 20]), b"0");
        assert_eq!(itoa(u64::MAX, &mut [0; 20]), b"18446744073709551615");
    }
}
