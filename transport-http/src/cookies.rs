//! Cookies the client sent, parsed on first use.
//!
//! Most calls never look at cookies, so the `Cookie` headers are parsed only
//! when a handler asks, and at most once per request however many calls of a
//! batch ask: the request's jar is shared by its calls, and a clone (what an
//! extractor hands a handler) parses the original first and shares the
//! result.

use std::fmt;
use std::sync::{Arc, OnceLock};

use cookie::Cookie;
use http::header;

use crate::RequestHeaders;

/// The cookies of the request, from its `Cookie` headers.
///
/// Parsing is lenient, as browsers are: a malformed pair is skipped, not an
/// error. When a name repeats (a browser sends the cookie with the most
/// specific path first), [`get`](RequestCookies::get) returns the first.
/// Values are as sent, not percent-decoded.
pub struct RequestCookies {
    headers: RequestHeaders,
    parsed: OnceLock<Arc<[Cookie<'static>]>>,
}

impl RequestCookies {
    /// The cookies of a request with these headers.
    pub fn new(headers: RequestHeaders) -> Self {
        RequestCookies {
            headers,
            parsed: OnceLock::new(),
        }
    }

    fn parsed(&self) -> &Arc<[Cookie<'static>]> {
        self.parsed.get_or_init(|| parse(&self.headers).into())
    }

    /// The value of the first cookie named `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.parsed()
            .iter()
            .find(|cookie| cookie.name() == name)
            .map(Cookie::value)
    }

    /// Every cookie as `(name, value)`, in the order sent.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.parsed()
            .iter()
            .map(|cookie| (cookie.name(), cookie.value()))
    }

    /// How many cookies were sent.
    pub fn len(&self) -> usize {
        self.parsed().len()
    }

    /// Whether no cookie was sent.
    pub fn is_empty(&self) -> bool {
        self.parsed().is_empty()
    }
}

fn parse(headers: &RequestHeaders) -> Vec<Cookie<'static>> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .map(Cookie::into_owned)
        .collect()
}

/// Parses `self` if it was not yet, so that the clone and the original
/// share one parse.
impl Clone for RequestCookies {
    fn clone(&self) -> Self {
        RequestCookies {
            headers: self.headers.clone(),
            parsed: OnceLock::from(Arc::clone(self.parsed())),
        }
    }
}

impl fmt::Debug for RequestCookies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue};

    use super::*;

    fn cookies(values: &[&'static str]) -> RequestCookies {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(header::COOKIE, HeaderValue::from_static(value));
        }
        RequestCookies::new(RequestHeaders::new(map))
    }

    #[test]
    fn parses_every_cookie_header() {
        let jar = cookies(&["a=1; b=two", "c=3"]);
        assert_eq!(jar.get("a"), Some("1"));
        assert_eq!(jar.get("b"), Some("two"));
        assert_eq!(jar.get("c"), Some("3"));
        assert_eq!(jar.get("d"), None);
        let all: Vec<_> = jar.iter().collect();
        assert_eq!(all, [("a", "1"), ("b", "two"), ("c", "3")]);
    }

    #[test]
    fn first_of_a_repeated_name_and_garbage_skipped() {
        let jar = cookies(&["a=specific; ; =novalue; a=general; b"]);
        assert_eq!(jar.get("a"), Some("specific"));
        assert!(jar.iter().all(|(name, _)| !name.is_empty()));
    }

    #[test]
    fn a_clone_shares_the_parse_of_the_original() {
        let jar = cookies(&["a=1"]);
        let clone = jar.clone();
        assert!(Arc::ptr_eq(jar.parsed(), clone.parsed()));
        assert_eq!(clone.get("a"), Some("1"));
    }

    #[test]
    fn none_sent() {
        assert!(cookies(&[]).is_empty());
    }
}
