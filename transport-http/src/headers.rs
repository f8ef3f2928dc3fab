//! The request's headers, shared with every handler of the request.
//!
//! A request that came through the fast HTTP/1 connection carries its
//! headers as it read them: the head's bytes and where each field lies.
//! The [`HeaderMap`] is made the first time someone asks for it; the
//! transport's own questions (the `Content-Type`, whether there is a
//! `Content-Encoding`) are answered from the fields directly. Most requests
//! never need the map, and making one (hashing and inserting every field,
//! two allocations, and dropping it all again) cost about 1,500
//! instructions of a small call.

use std::fmt;
use std::ops::{Deref, Range};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;

/// The HTTP request headers, as the client sent them.
///
/// Behind an `Arc`: a batch fans out into many calls, and each gets this by
/// cloning a pointer, not the map.
#[derive(Clone, Default)]
pub struct RequestHeaders(Arc<Headers>);

#[derive(Default)]
struct Headers {
    map: OnceLock<HeaderMap>,
    /// The fields as read, while `map` is not made yet.
    raw: Option<RawHeaders>,
}

/// The fields of a request head, by position in its bytes.
pub(crate) struct RawHeaders {
    head: Bytes,
    fields: Fields,
}

/// Where each field of a head lies in it, at most [`MAX_FIELDS`] of them.
#[derive(Debug, Clone)]
pub(crate) struct Fields {
    list: [Field; MAX_FIELDS],
    count: usize,
}

/// The most [`Fields`] holds; more are the caller's to refuse.
pub(crate) const MAX_FIELDS: usize = 32;

/// The longest head whose fields [`Fields`] can place.
pub(crate) const MAX_HEAD: usize = u16::MAX as usize;

/// Where a field's name and value lie in its head: compact, since a head
/// read this way is short and the fields are moved about with the request.
#[derive(Debug, Clone, Copy, Default)]
struct Field {
    name: (u16, u16),
    value: (u16, u16),
}

impl Fields {
    pub(crate) fn new() -> Self {
        Fields {
            list: [Field::default(); MAX_FIELDS],
            count: 0,
        }
    }

    /// Adds a field whose name and value lie at these ranges of the head,
    /// valid as a [`HeaderName`] and a [`HeaderValue`] (as httparse checks
    /// them).
    ///
    /// # Panics
    ///
    /// Past [`MAX_FIELDS`] fields, or a range past [`MAX_HEAD`].
    pub(crate) fn push(&mut self, name: Range<usize>, value: Range<usize>) {
        let offset = |at: usize| u16::try_from(at).expect("a head of at most MAX_HEAD");
        self.list[self.count] = Field {
            name: (offset(name.start), offset(name.end)),
            value: (offset(value.start), offset(value.end)),
        };
        self.count += 1;
    }
}

impl RawHeaders {
    /// The `fields` of `head`.
    pub(crate) fn new(head: Bytes, fields: Fields) -> Self {
        RawHeaders { head, fields }
    }

    fn fields(&self) -> impl Iterator<Item = (&[u8], Range<usize>)> + '_ {
        self.fields.list[..self.fields.count].iter().map(|field| {
            let (name, value) = (field.name, field.value);
            (
                &self.head[usize::from(name.0)..usize::from(name.1)],
                usize::from(value.0)..usize::from(value.1),
            )
        })
    }

    fn first(&self, name: &HeaderName) -> Option<&[u8]> {
        // A `HeaderName` is lowercase already; most fields are told apart
        // by their length alone, without a look at their bytes.
        let wanted = name.as_str().as_bytes();
        let field = self.fields.list[..self.fields.count].iter().find(|field| {
            let (start, end) = (usize::from(field.name.0), usize::from(field.name.1));
            end - start == wanted.len()
                && self.head[start..end]
                    .iter()
                    .zip(wanted)
                    .all(|(byte, lower)| byte.to_ascii_lowercase() == *lower)
        })?;
        Some(&self.head[usize::from(field.value.0)..usize::from(field.value.1)])
    }

    /// The map of the fields. A field `http` would refuse is left out; as
    /// httparse checks names and values the way `http` does, there is none.
    fn to_map(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.fields.count);
        for (name, value) in self.fields() {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name),
                HeaderValue::from_maybe_shared(self.head.slice(value)),
            ) {
                map.append(name, value);
            }
        }
        map
    }
}

impl RequestHeaders {
    /// Wraps a header map.
    pub fn new(headers: HeaderMap) -> Self {
        RequestHeaders(Arc::new(Headers {
            map: OnceLock::from(headers),
            raw: None,
        }))
    }

    /// Headers whose map is made on first use.
    pub(crate) fn raw(raw: RawHeaders) -> Self {
        RequestHeaders(Arc::new(Headers {
            map: OnceLock::new(),
            raw: Some(raw),
        }))
    }

    /// The first value of `name`, without making the map.
    pub(crate) fn first(&self, name: &HeaderName) -> Option<&[u8]> {
        match (self.0.map.get(), &self.0.raw) {
            (None, Some(raw)) => raw.first(name),
            _ => self.get(name).map(HeaderValue::as_bytes),
        }
    }

    /// The map itself, taken out when no one else holds it.
    pub(crate) fn into_map(self) -> HeaderMap {
        match Arc::try_unwrap(self.0) {
            Ok(mut headers) => match headers.map.take() {
                Some(map) => map,
                None => headers
                    .raw
                    .as_ref()
                    .map(RawHeaders::to_map)
                    .unwrap_or_default(),
            },
            Err(shared) => RequestHeaders(shared).deref().clone(),
        }
    }
}

impl Deref for RequestHeaders {
    type Target = HeaderMap;

    fn deref(&self) -> &HeaderMap {
        let headers = &*self.0;
        headers.map.get_or_init(|| {
            headers
                .raw
                .as_ref()
                .map(RawHeaders::to_map)
                .unwrap_or_default()
        })
    }
}

impl fmt::Debug for RequestHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RequestHeaders").field(self.deref()).finish()
    }
}

impl From<HeaderMap> for RequestHeaders {
    fn from(headers: HeaderMap) -> Self {
        RequestHeaders::new(headers)
    }
}

#[cfg(test)]
mod tests {
    use http::header::{CONTENT_TYPE, COOKIE, HOST};

    use super::*;

    /// `Host: a`, `X-Two: 1`, `content-type: b`, `X-Two: 2`, as read.
    fn raw() -> RequestHeaders {
        let head = "Host: a\r\nX-Two: 1\r\ncontent-type: b\r\nX-Two: 2\r\n";
        let mut fields = Fields::new();
        let mut at = 0;
        for line in head.split_terminator("\r\n") {
            let colon = line.find(':').unwrap();
            fields.push(at..at + colon, at + colon + 2..at + line.len());
            at += line.len() + 2;
        }
        RequestHeaders::raw(RawHeaders::new(Bytes::from_static(head.as_bytes()), fields))
    }

    #[test]
    fn raw_headers_answer_without_a_map_and_make_the_same_map() {
        let headers = raw();
        assert_eq!(headers.first(&CONTENT_TYPE), Some(&b"b"[..]));
        assert_eq!(
            headers.first(&HeaderName::from_static("x-two")),
            Some(&b"1"[..])
        );
        assert_eq!(headers.first(&COOKIE), None);
        assert!(headers.0.map.get().is_none(), "no map made for `first`");

        let mut expected = HeaderMap::new();
        expected.append(HOST, HeaderValue::from_static("a"));
        expected.append("x-two", HeaderValue::from_static("1"));
        expected.append(CONTENT_TYPE, HeaderValue::from_static("b"));
        expected.append("x-two", HeaderValue::from_static("2"));
        assert_eq!(*headers, expected);
        // Once made, the map answers.
        assert_eq!(headers.first(&HOST), Some(&b"a"[..]));
        let shared = headers.clone();
        assert_eq!(headers.into_map(), expected);
        assert_eq!(shared.into_map(), expected);
        assert_eq!(raw().into_map(), expected);
    }

    #[test]
    fn a_map_is_kept_as_given() {
        let mut map = HeaderMap::new();
        map.insert(HOST, HeaderValue::from_static("h"));
        let headers = RequestHeaders::new(map.clone());
        assert_eq!(headers.first(&HOST), Some(&b"h"[..]));
        assert_eq!(*headers, map);
        assert_eq!(headers.into_map(), map);
        assert!(RequestHeaders::default().is_empty());
    }
}
