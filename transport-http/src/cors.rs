//! Cross-origin resource sharing: which web pages may call the API from a
//! browser.
//!
//! [`Cors`] is the configuration a user writes; the server turns it into a
//! [`CorsPolicy`] once, with every header value it will send prepared, so
//! that a request only compares its `Origin` and copies values.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderName};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;

/// Which cross-origin web pages may call the server, and how; off unless
/// set with [`ServerBuilder::cors`](crate::ServerBuilder::cors).
///
/// A browser lets a page read the answer of a request to another origin
/// only when the answer says so: a preflight `OPTIONS` is answered `204`
/// with `Access-Control-Allow-Origin`, `-Allow-Methods`, `-Allow-Headers`
/// and `-Max-Age`, and every other answer (errors and `204`s included)
/// carries `Access-Control-Allow-Origin`. Every answer also carries
/// `Vary: Origin`, so that a cache never hands one origin's answer to
/// another. A request from an origin that is not allowed gets no
/// `Access-Control-*` header at all, and its page cannot read the answer
/// (the request itself is still served: CORS protects the reader, it is not
/// access control).
///
/// With [credentials](Cors::allow_credentials) the browser sends cookies
/// and the answer must name the exact origin, never `*`; the server then
/// echoes the `Origin` it received, if allowed.
///
/// ```
/// use std::time::Duration;
/// use http::HeaderName;
/// use rpckit_http::Cors;
///
/// // Any page, no cookies: `Access-Control-Allow-Origin: *`.
/// let open = Cors::permissive();
///
/// // Two sites, with their cookies, sending a `Token` header.
/// let strict = Cors::allow_origins(["https://app.example", "http://localhost:3000"])
///     .allow_credentials(true)
///     .allow_headers([HeaderName::from_static("token")])
///     .expose_headers([HeaderName::from_static("x-request-id")])
///     .max_age(Duration::from_secs(3600));
/// # let _ = (open, strict);
/// ```
#[derive(Clone, Debug)]
pub struct Cors {
    origins: Origins,
    allow_headers: Vec<HeaderName>,
    expose_headers: Vec<HeaderName>,
    max_age: Duration,
    credentials: bool,
}

#[derive(Clone, Debug)]
enum Origins {
    Any,
    List(Vec<HeaderValue>),
}

impl Cors {
    /// The default of [`Cors::max_age`]: ten minutes.
    pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);

    /// Any origin may call, sending any request header (the preflight
    /// echoes `Access-Control-Request-Headers`); no credentials.
    ///
    /// With [`allow_credentials(true)`](Cors::allow_credentials) every
    /// origin is echoed, which lets any web page make calls carrying the
    /// visitor's cookies and read their answers; only the opaque `null`
    /// origin (sandboxed frames, `file:` pages) is then refused. Prefer
    /// [`Cors::allow_origins`] with credentials.
    pub fn permissive() -> Self {
        Cors {
            origins: Origins::Any,
            allow_headers: Vec::new(),
            expose_headers: Vec::new(),
            max_age: Self::DEFAULT_MAX_AGE,
            credentials: false,
        }
    }

    /// Only these origins may call: `scheme://host[:port]`, exactly as a
    /// browser sends them in `Origin` (no path, no trailing `/`). Request
    /// headers beyond `Content-Type` must be named with
    /// [`Cors::allow_headers`].
    ///
    /// # Panics
    ///
    /// When an origin is not a valid header value, is `*` (use
    /// [`Cors::permissive`]), or ends with `/` (it would never match).
    ///
    /// ```should_panic
    /// rpckit_http::Cors::allow_origins(["https://app.example/"]);
    /// ```
    #[track_caller]
    pub fn allow_origins<I, S>(origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let list = origins
            .into_iter()
            .map(|origin| {
                let origin = origin.as_ref();
                assert!(
                    origin != "*",
                    "CORS origin `*`: use `Cors::permissive()` to allow any origin"
                );
                assert!(
                    !origin.ends_with('/'),
                    "CORS origin `{origin}` ends with `/`; browsers send origins without one"
                );
                HeaderValue::from_str(origin).unwrap_or_else(|_| {
                    panic!("CORS origin `{origin}` is not a valid header value")
                })
            })
            .collect();
        Cors {
            origins: Origins::List(list),
            ..Self::permissive()
        }
    }

    /// Request headers a page may send besides `Content-Type` (which is
    /// always allowed), such as an auth token. A [permissive](Cors::permissive)
    /// policy allows whatever the preflight asks for, and sends this list
    /// only to a preflight that names none.
    pub fn allow_headers(mut self, headers: impl IntoIterator<Item = HeaderName>) -> Self {
        self.allow_headers.extend(headers);
        self
    }

    /// Response headers a page may read besides the CORS-safelisted ones
    /// (`Content-Type` and a few others), such as a request id. Default:
    /// none.
    pub fn expose_headers(mut self, headers: impl IntoIterator<Item = HeaderName>) -> Self {
        self.expose_headers.extend(headers);
        self
    }

    /// How long a browser may cache a preflight's answer
    /// (`Access-Control-Max-Age`, whole seconds). Default ten minutes;
    /// browsers cap it (Chromium at two hours, Firefox at a day).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Whether pages may send credentials (cookies, HTTP auth) and read the
    /// answers (`Access-Control-Allow-Credentials: true`). Default `false`.
    pub fn allow_credentials(mut self, allow: bool) -> Self {
        self.credentials = allow;
        self
    }
}

/// A [`Cors`] ready to serve: every header value prepared.
pub(crate) struct CorsPolicy {
    origins: Origins,
    credentials: bool,
    /// Permissive: the preflight echoes the requested headers.
    echo_request_headers: bool,
    allow_methods: HeaderValue,
    allow_headers: HeaderValue,
    expose_headers: Option<HeaderValue>,
    max_age: HeaderValue,
}

const ANY: HeaderValue = HeaderValue::from_static("*");
const TRUE: HeaderValue = HeaderValue::from_static("true");
const ORIGIN: HeaderValue = HeaderValue::from_static("origin");
const REQUEST_HEADERS: HeaderValue = HeaderValue::from_static("access-control-request-headers");

impl CorsPolicy {
    /// Prepares `cors` for a server whose routes answer `methods`.
    pub(crate) fn new(cors: Cors, methods: &[Method]) -> Self {
        let mut allow_headers = vec![header::CONTENT_TYPE];
        for name in cors.allow_headers {
            if !allow_headers.contains(&name) {
                allow_headers.push(name);
            }
        }
        CorsPolicy {
            echo_request_headers: matches!(cors.origins, Origins::Any),
            origins: cors.origins,
            credentials: cors.credentials,
            allow_methods: list(methods.iter().map(Method::as_str)),
            allow_headers: list(allow_headers.iter().map(HeaderName::as_str)),
            expose_headers: (!cors.expose_headers.is_empty())
                .then(|| list(cors.expose_headers.iter().map(HeaderName::as_str))),
            max_age: HeaderValue::from(cors.max_age.as_secs()),
        }
    }

    /// The `Access-Control-Allow-Origin` for a request from `origin`, or
    /// `None` when that origin is not allowed.
    fn allow_origin(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        match &self.origins {
            Origins::Any if !self.credentials => Some(ANY),
            Origins::Any => (origin.as_bytes() != b"null").then(|| origin.clone()),
            Origins::List(list) => list.contains(origin).then(|| origin.clone()),
        }
    }

    /// Adds the headers of an actual (not preflight) response.
    pub(crate) fn actual(&self, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
        add_vary(headers, ORIGIN);
        let Some(allow) = origin.and_then(|origin| self.allow_origin(origin)) else {
            return;
        };
        // A header the handler set for its own response wins.
        headers
            .entry(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .or_insert(allow);
        if self.credentials {
            headers
                .entry(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
                .or_insert(TRUE);
        }
        if let Some(expose) = &self.expose_headers {
            headers
                .entry(header::ACCESS_CONTROL_EXPOSE_HEADERS)
                .or_insert_with(|| expose.clone());
        }
    }

    /// Answers an `OPTIONS` request: a preflight when it asks for a method
    /// from an allowed origin, else a plain `204` listing the methods.
    pub(crate) fn options(&self, request: &HeaderMap, allow: HeaderValue) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::default());
        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        headers.insert(header::ALLOW, allow);
        let origin = request.get(header::ORIGIN);
        let is_preflight = request.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        if !is_preflight {
            self.actual(origin, headers);
            return response;
        }
        add_vary(headers, ORIGIN);
        if self.echo_request_headers {
            add_vary(headers, REQUEST_HEADERS);
        }
        let Some(allow_origin) = origin.and_then(|origin| self.allow_origin(origin)) else {
            return response;
        };
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        if self.credentials {
            headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE);
        }
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            self.allow_methods.clone(),
        );
        let requested = request
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .filter(|value| self.echo_request_headers && !value.is_empty());
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            requested.unwrap_or(&self.allow_headers).clone(),
        );
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, self.max_age.clone());
        response
    }
}

impl fmt::Debug for CorsPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CorsPolicy")
            .field("origins", &self.origins)
            .field("credentials", &self.credentials)
            .field("allow_headers", &self.allow_headers)
            .finish_non_exhaustive()
    }
}

/// `a, b, c` as a header value. Method and header names are tokens, so the
/// list is always a valid value.
pub(crate) fn list<'a>(items: impl Iterator<Item = &'a str>) -> HeaderValue {
    let text = items.collect::<Vec<_>>().join(", ");
    HeaderValue::try_from(text).expect("tokens joined by `, ` are a valid header value")
}

/// Appends `name` to `Vary` unless some `Vary` value already lists it.
fn add_vary(headers: &mut HeaderMap, name: HeaderValue) {
    let listed = headers.get_all(header::VARY).iter().any(|value| {
        value.to_str().is_ok_and(|text| {
            text.split(',').any(|item| {
                item.trim()
                    .eq_ignore_ascii_case(name.to_str().unwrap_or(""))
            })
        })
    });
    if !listed {
        headers.append(header::VARY, name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[Method] = &[Method::POST, Method::GET, Method::OPTIONS];

    fn origin(value: &'static str) -> HeaderValue {
        HeaderValue::from_static(value)
    }

    #[test]
    fn origin_rules() {
        let any = CorsPolicy::new(Cors::permissive(), ALL);
        assert_eq!(any.allow_origin(&origin("http://a")), Some(ANY));
        assert_eq!(any.allow_origin(&origin("null")), Some(ANY));

        let any_creds = CorsPolicy::new(Cors::permissive().allow_credentials(true), ALL);
        assert_eq!(
            any_creds.allow_origin(&origin("http://a")),
            Some(origin("http://a"))
        );
        assert_eq!(any_creds.allow_origin(&origin("null")), None);

        let list = CorsPolicy::new(Cors::allow_origins(["http://a", "null"]), ALL);
        assert_eq!(
            list.allow_origin(&origin("http://a")),
            Some(origin("http://a"))
        );
        assert_eq!(list.allow_origin(&origin("null")), Some(origin("null")));
        assert_eq!(list.allow_origin(&origin("http://a:80")), None);
        assert_eq!(list.allow_origin(&origin("http://b")), None);
    }

    #[test]
    fn vary_is_added_once() {
        let mut headers = HeaderMap::new();
        headers.insert(header::VARY, origin("Accept-Encoding, Origin"));
        add_vary(&mut headers, ORIGIN);
        assert_eq!(headers.get_all(header::VARY).iter().count(), 1);
        add_vary(&mut headers, REQUEST_HEADERS);
        assert_eq!(headers.get_all(header::VARY).iter().count(), 2);
    }

    #[test]
    fn content_type_is_always_allowed_once() {
        let policy = CorsPolicy::new(
            Cors::allow_origins(["http://a"])
                .allow_headers([header::CONTENT_TYPE, HeaderName::from_static("token")]),
            &[Method::POST, Method::OPTIONS],
        );
        assert_eq!(policy.allow_headers, "content-type, token");
        assert_eq!(policy.allow_methods, "POST, OPTIONS");
        assert_eq!(policy.max_age, "600");
    }

    #[test]
    #[should_panic(expected = "permissive")]
    fn star_in_a_list_panics() {
        let _ = Cors::allow_origins(["*"]);
    }
}
