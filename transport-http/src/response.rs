//! Headers, cookies and status a handler sets on the HTTP response, and
//! whether it may be compressed.
//!
//! The frame service answers with bytes only; what else the response should
//! carry is collected in a [`ResponseHandle`] the transport put into the
//! frame's extensions, and applied once the service has answered.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use cookie::Cookie;
use http::header::{self, HeaderName};
use http::{HeaderValue, Response, StatusCode};

use crate::jsonp::callback::{self, InvalidCallback};

/// A handle to the HTTP response of the current request: add headers, set
/// and remove cookies, change the status or the JSONP callback, allow or
/// forbid compression.
///
/// Clones share one response, so every call of a batch writes to the same
/// place. Changes are applied after the frame service answers, to a `200`
/// and to a `204` (an answer of only notifications) alike, and after the
/// server's own headers, CORS included: a header set here wins. A request
/// the transport rejects, or whose service fails, gets none of them.
///
/// ```
/// use rpckit_http::cookie::{Cookie, SameSite};
/// use rpckit_http::ResponseHandle;
///
/// let response = ResponseHandle::default();
/// response.set_cookie(
///     Cookie::build(("session", "opaque"))
///         .path("/")
///         .secure(true)
///         .http_only(true)
///         .same_site(SameSite::Strict)
///         .max_age(rpckit_http::cookie::time::Duration::hours(1))
///         .build(),
/// );
/// response.remove_cookie("tracking");
/// ```
#[derive(Clone, Default)]
pub struct ResponseHandle(Arc<Mutex<Changes>>);

#[derive(Debug, Default)]
struct Changes {
    /// In call order, so an insert replaces what an earlier append added.
    headers: Vec<(HeaderName, HeaderValue, Mode)>,
    cookies: Vec<Cookie<'static>>,
    status: Option<StatusCode>,
    jsonp_callback: Option<Box<str>>,
    /// `None` until someone allows or forbids; a forbid is final.
    compression: Option<bool>,
}

impl Changes {
    /// Nothing [`ResponseHandle::apply`] would do.
    fn leave_the_response_alone(&self) -> bool {
        self.status.is_none() && self.headers.is_empty() && self.cookies.is_empty()
    }
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    Insert,
    Append,
}

impl ResponseHandle {
    /// A handle with no changes.
    pub fn new() -> Self {
        Self::default()
    }

    // The lock is never held across an await or user code, so a poisoned
    // lock only means a panic elsewhere; the data is still consistent.
    fn changes(&self) -> MutexGuard<'_, Changes> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets a header, replacing any value it had, including the transport's
    /// own (such as `Content-Type`).
    pub fn insert_header(&self, name: HeaderName, value: HeaderValue) {
        self.changes().headers.push((name, value, Mode::Insert));
    }

    /// Adds a value to a header, keeping those it has.
    pub fn append_header(&self, name: HeaderName, value: HeaderValue) {
        self.changes().headers.push((name, value, Mode::Append));
    }

    /// Sends a `Set-Cookie`. A cookie set earlier with the same name, path
    /// and domain is replaced.
    pub fn set_cookie(&self, cookie: Cookie<'static>) {
        let mut changes = self.changes();
        changes
            .cookies
            .retain(|earlier| !same_cookie(earlier, &cookie));
        changes.cookies.push(cookie);
    }

    /// Tells the client to delete a cookie: a `Set-Cookie` with an empty
    /// value that expired long ago.
    ///
    /// A browser deletes only the cookie whose path and domain match, so
    /// pass a cookie with those set if they were set:
    /// `remove_cookie(Cookie::build("id").path("/api"))`; a bare name
    /// removes the cookie with the default path and domain.
    pub fn remove_cookie(&self, cookie: impl Into<Cookie<'static>>) {
        let mut cookie = cookie.into();
        cookie.make_removal();
        self.set_cookie(cookie);
    }

    /// Sets the HTTP status of the response, replacing the transport's
    /// (`200`, or `204` for an answer of only notifications).
    ///
    /// The body stays what the codec wrote: this is for telling HTTP-level
    /// clients and proxies what happened (the router answers a JSONP call
    /// to a method that forbids JSONP with `403` this way). A `<script>` tag
    /// runs no reply whose status is not a success.
    pub fn set_status(&self, status: StatusCode) {
        self.changes().status = Some(status);
    }

    /// Wraps a JSONP reply in a call to `name` instead of the callback the
    /// request named, or wraps it even when the request named none. Has no
    /// effect on a `POST`. The name is checked like a client's, so a name
    /// built from request data cannot break out of the call.
    ///
    /// The reply's `Content-Type` is the transport's
    /// (`application/javascript; charset=utf-8` when wrapped); set another
    /// with [`insert_header`](Self::insert_header).
    ///
    /// # Errors
    ///
    /// When `name` is not a valid callback name (see [`InvalidCallback`]);
    /// the reply is then wrapped as it would have been.
    pub fn set_jsonp_callback(&self, name: &str) -> Result<(), InvalidCallback> {
        callback::validate(name)?;
        self.changes().jsonp_callback = Some(name.into());
        Ok(())
    }

    /// Whether [`apply`](Self::apply) would leave a response as it is: no
    /// status, header or cookie was set.
    pub(crate) fn is_untouched(&self) -> bool {
        self.changes().leave_the_response_alone()
    }

    /// The callback a handler chose, if any.
    pub(crate) fn jsonp_callback(&self) -> Option<Box<str>> {
        self.changes().jsonp_callback.clone()
    }

    /// Allows (`true`) or forbids (`false`) compressing this response: the
    /// original's `allowCompress`.
    ///
    /// Every call of a batch shares the response, so their wishes merge:
    /// the response is compressed if any call allowed it and none forbade
    /// it — a forbid is final. When nobody says anything the server's
    /// default applies (see
    /// [`Compression::enabled_by_default`](crate::Compression::enabled_by_default)). A method's
    /// own setting (`MethodSettings::compression` in rpckit) is applied
    /// here by the router before its handler runs. Allowing is not forcing:
    /// small bodies and clients that accept no compression still get the
    /// body as it is.
    ///
    /// ```
    /// use rpckit_http::ResponseHandle;
    ///
    /// let response = ResponseHandle::new();
    /// assert_eq!(response.compression_allowed(), None);
    /// response.allow_compression(true);
    /// assert_eq!(response.compression_allowed(), Some(true));
    /// response.clone().allow_compression(false); // another call of the batch
    /// response.allow_compression(true);
    /// assert_eq!(response.compression_allowed(), Some(false));
    /// ```
    pub fn allow_compression(&self, allowed: bool) {
        let mut changes = self.changes();
        changes.compression = Some(changes.compression.unwrap_or(true) && allowed);
    }

    /// What the calls said about compressing this response so far: `None`
    /// if nothing, `Some(false)` if any forbade it, else `Some(true)`.
    pub fn compression_allowed(&self) -> Option<bool> {
        self.changes().compression
    }

    /// Writes the status, headers and cookies set into `response`, and
    /// forgets them.
    pub(crate) fn apply<B>(&self, response: &mut Response<B>) {
        self.apply_after(response, |_| {});
    }

    /// [`apply`](Self::apply), calling `first` on the response before it
    /// changes anything, and only if it does.
    pub(crate) fn apply_after<B>(
        &self,
        response: &mut Response<B>,
        first: impl FnOnce(&mut Response<B>),
    ) {
        let changes = {
            let mut changes = self.changes();
            // Most handlers change nothing: no need to move the changes out.
            if changes.leave_the_response_alone() {
                return;
            }
            std::mem::take(&mut *changes)
        };
        first(response);
        if let Some(status) = changes.status {
            *response.status_mut() = status;
        }
        let headers = response.headers_mut();
        for (name, value, mode) in changes.headers {
            match mode {
                Mode::Insert => {
                    headers.insert(name, value);
                }
                Mode::Append => {
                    headers.append(name, value);
                }
            }
        }
        for cookie in changes.cookies {
            // `Cookie`'s Display writes a valid header unless a name or value
            // holds bytes a header can't; such a cookie is dropped, not sent
            // half-formed.
            match HeaderValue::try_from(cookie.to_string()) {
                Ok(value) => {
                    headers.append(header::SET_COOKIE, value);
                }
                Err(_) => tracing::warn!(name = cookie.name(), "cookie not sendable, dropped"),
            }
        }
    }
}

fn same_cookie(a: &Cookie<'_>, b: &Cookie<'_>) -> bool {
    a.name() == b.name() && a.path() == b.path() && a.domain() == b.domain()
}

impl fmt::Debug for ResponseHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ResponseHandle")
            .field(&*self.changes())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_headers_in_order_and_cookies() {
        let handle = ResponseHandle::new();
        let clone = handle.clone();
        handle.append_header(
            HeaderName::from_static("x-a"),
            HeaderValue::from_static("1"),
        );
        clone.append_header(
            HeaderName::from_static("x-a"),
            HeaderValue::from_static("2"),
        );
        handle.insert_header(header::CONTENT_TYPE, HeaderValue::from_static("text/x"));
        handle.set_cookie(Cookie::new("a", "old"));
        handle.set_cookie(Cookie::new("a", "new"));
        clone.remove_cookie("gone");

        let mut response = Response::new(());
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        handle.set_status(StatusCode::FORBIDDEN);
        handle.apply(&mut response);
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let headers = response.headers();

        let xa: Vec<_> = headers.get_all("x-a").iter().collect();
        assert_eq!(xa, ["1", "2"]);
        assert_eq!(headers[header::CONTENT_TYPE], "text/x");
        let cookies: Vec<_> = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        assert_eq!(cookies.len(), 2);
        assert_eq!(cookies[0], "a=new");
        assert!(cookies[1].starts_with("gone=;"), "{}", cookies[1]);
        assert!(cookies[1].contains("Max-Age=0"), "{}", cookies[1]);

        // Applied once: the handle is empty afterwards.
        let mut again = Response::new(());
        handle.apply(&mut again);
        assert!(again.headers().is_empty());
        assert_eq!(again.status(), StatusCode::OK);
    }

    #[test]
    fn jsonp_callback_is_checked() {
        let handle = ResponseHandle::new();
        assert_eq!(handle.jsonp_callback(), None);
        handle.set_jsonp_callback("ok.name[1]").unwrap();
        assert!(handle.set_jsonp_callback("x(1)").is_err());
        assert!(handle.set_jsonp_callback("").is_err());
        assert_eq!(handle.jsonp_callback().as_deref(), Some("ok.name[1]"));
    }
}
