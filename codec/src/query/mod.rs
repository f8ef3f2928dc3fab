//! Query strings, read strictly: JSONP's params (`GET
//! /api/echo?data=x&jsonp=cb`), which the HTTP transport reads too (for
//! the callback) and which handlers get typed through
//! [`QueryDeserializer`].
//!
//! `key=value` pairs separated by `&`; in keys and values `+` is a space and
//! `%XX` a byte; the decoded bytes must be UTF-8. Browsers and
//! `URLSearchParams` write exactly this. Unlike `form_urlencoded`, which
//! passes a malformed escape through as text, a `%` not followed by two hex
//! digits is an error: a client that sends `%ZZ` has a bug worth hearing
//! about, and a lenient reading would hand the method a value nobody sent.

mod de;

use std::borrow::Cow;
use std::fmt;

use serde::de::DeserializeOwned;

pub use de::QueryDeserializer;

use crate::params::{drive, Failure, Tracking};

/// Deserialises a query's params (`a=1&b=x+y`, not yet decoded) into `T`:
/// the fast path of the JSONP query codec's params, like the other
/// built-in codecs' (no `erased_serde` between the pairs and `T`).
pub(crate) fn read_value<T: DeserializeOwned>(
    query: &[u8],
    tracking: Tracking,
) -> Result<T, Failure> {
    let query = std::str::from_utf8(query).map_err(Failure::without_path)?;
    drive(QueryDeserializer::new(query), tracking)
}

/// A query string (or path segment) that does not decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError {
    kind: Kind,
    /// Byte offset of the problem in the text that was decoded.
    at: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    BadEscape,
    InvalidUtf8,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::BadEscape => write!(f, "`%` not followed by two hex digits at byte {}", self.at),
            Kind::InvalidUtf8 => write!(f, "not UTF-8 once decoded, at byte {}", self.at),
        }
    }
}

impl std::error::Error for QueryError {}

/// How `+` reads: a space in a query, itself in a path segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plus {
    Space,
    Literal,
}

/// Decodes `%XX` escapes (and `+`, per `plus`) in `raw`, which starts at
/// byte `offset` of the whole text (for error positions). Borrows when
/// nothing needs decoding. The text is a `str` already (a URI's query is
/// one, and a frame is checked once as a whole), so only what escapes
/// make is checked for UTF-8.
pub fn decode(raw: &str, plus: Plus, offset: usize) -> Result<Cow<'_, str>, QueryError> {
    let bytes = raw.as_bytes();
    let special = |b: &u8| *b == b'%' || (*b == b'+' && plus == Plus::Space);
    let Some(first) = bytes.iter().position(special) else {
        return Ok(Cow::Borrowed(raw));
    };
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..first]);
    let mut i = first;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let byte = bytes
                    .get(i + 1..i + 3)
                    .and_then(|hex| Some(hex_digit(hex[0])? << 4 | hex_digit(hex[1])?))
                    .ok_or(QueryError {
                        kind: Kind::BadEscape,
                        at: offset + i,
                    })?;
                out.push(byte);
                i += 3;
            }
            b'+' if plus == Plus::Space => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|err| QueryError {
            kind: Kind::InvalidUtf8,
            // The position in the decoded text; close enough to find the pair.
            at: offset + err.utf8_error().valid_up_to(),
        })
}

fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// One `key=value` of a query, undecoded.
#[derive(Clone, Copy, Debug)]
pub struct RawPair<'a> {
    /// The whole pair as sent, `key=value`.
    pub text: &'a str,
    pub key: &'a str,
    /// Empty for a bare `key`.
    pub value: &'a str,
    /// Where `text` starts in the query.
    pub offset: usize,
}

impl<'a> RawPair<'a> {
    /// The decoded key and value.
    pub fn decode(&self) -> Result<(Cow<'a, str>, Cow<'a, str>), QueryError> {
        let key = decode(self.key, Plus::Space, self.offset)?;
        let value_offset = self.offset + self.key.len() + 1;
        let value = decode(self.value, Plus::Space, value_offset)?;
        Ok((key, value))
    }
}

/// The pairs of a query, in order; empty pieces (`a=1&&b=2`) are skipped.
pub fn raw_pairs(query: &str) -> impl Iterator<Item = RawPair<'_>> {
    let mut offset = 0;
    // Split at bytes, not chars: `&` and `=` are ASCII, so every cut is at
    // a char boundary, and a byte search is the cheap one for a short query.
    query
        .as_bytes()
        .split(|&b| b == b'&')
        .filter_map(move |piece| {
            let start = offset;
            offset += piece.len() + 1;
            if piece.is_empty() {
                return None;
            }
            let text = &query[start..start + piece.len()];
            let (key, value) = match piece.iter().position(|&b| b == b'=') {
                Some(eq) => (&text[..eq], &text[eq + 1..]),
                None => (text, ""),
            };
            Some(RawPair {
                text,
                key,
                value,
                offset: start,
            })
        })
}

/// Checks that every pair of `query` decodes, without keeping them; whether
/// there is any.
pub fn check(query: &str) -> Result<bool, QueryError> {
    let mut any = false;
    for pair in raw_pairs(query) {
        pair.decode()?;
        any = true;
    }
    Ok(any)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Pairs<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

    /// Every pair of `query`, decoded.
    fn pairs(query: &str) -> Result<Pairs<'_>, QueryError> {
        raw_pairs(query).map(|pair| pair.decode()).collect()
    }

    fn decoded(query: &str) -> Result<Vec<(String, String)>, QueryError> {
        pairs(query).map(|pairs| {
            pairs
                .into_iter()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
    }

    fn owned(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn pairs_plus_and_escapes() {
        assert_eq!(
            decoded("a=1&b=x+y%20z&&c&=e&d=%C3%A9%2B").unwrap(),
            owned(&[
                ("a", "1"),
                ("b", "x y z"),
                ("c", ""),
                ("", "e"),
                ("d", "é+")
            ])
        );
        assert_eq!(decoded("k=a=b").unwrap(), owned(&[("k", "a=b")]));
        assert!(decoded("").unwrap().is_empty());
    }

    #[test]
    fn check_agrees_with_pairs() {
        for query in ["", "&&", "a=1", "a=1&&b", "a=%ZZ", "ok=1&b=%FF", "x=%C3%A9"] {
            let pairs = pairs(query).map(|pairs| !pairs.is_empty());
            assert_eq!(check(query), pairs, "{query:?}");
        }
    }

    #[test]
    fn borrows_when_nothing_to_decode() {
        let pairs = pairs("plain=text").unwrap();
        assert!(matches!(pairs[0], (Cow::Borrowed(_), Cow::Borrowed(_))));
    }

    #[test]
    fn bad_escapes_and_utf8_are_errors_with_a_position() {
        let err = decoded("ok=1&a=%ZZ").unwrap_err();
        assert_eq!(err.kind, Kind::BadEscape);
        assert_eq!(err.at, 7);
        assert_eq!(decoded("a=%4").unwrap_err().kind, Kind::BadEscape);
        assert_eq!(decoded("a=%").unwrap_err().kind, Kind::BadEscape);
        assert_eq!(decoded("%zz=1").unwrap_err().at, 0);
        assert_eq!(
            decoded("a=%FF").unwrap_err(),
            QueryError {
                kind: Kind::InvalidUtf8,
                at: 2
            }
        );
        assert!(err.to_string().contains("byte 7"), "{err}");
    }

    #[test]
    fn plus_is_literal_in_a_path_segment() {
        assert_eq!(decode("a+b%2F", Plus::Literal, 0).unwrap(), "a+b/");
        assert_eq!(decode("a+b", Plus::Space, 0).unwrap(), "a b");
    }
}
