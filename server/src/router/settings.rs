//! Per-method settings.

/// How one method may be called and answered, beyond its handler.
///
/// `None` for a setting means "the server's default". Transports and layers
/// read these; see [`Router::configure`](super::Router::configure).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MethodSettings {
    jsonp: Option<bool>,
    compression: Option<bool>,
}

impl MethodSettings {
    /// Allows or forbids calling this method through JSONP (HTTP `GET`).
    ///
    /// JSONP is switched on for a whole server (`rpckit::http::Server::
    /// builder().jsonp(true)`); while it is off, a `GET` never reaches a
    /// method, so `jsonp(true)` cannot turn it on for one. `jsonp(false)`
    /// forbids it for this method: a JSONP call is answered with error
    /// -32000 ("JSONP is not allowed for method …") inside the callback,
    /// with HTTP status 403, and the handler does not run.
    ///
    /// ```
    /// use rpckit::Router;
    ///
    /// let router = Router::new()
    ///     .sync_method("public", || "anyone may read this")
    ///     .sync_method("account", || "only same-origin pages")
    ///     .configure("account", |settings| settings.jsonp(false));
    /// assert_eq!(router.settings("account").unwrap().jsonp_allowed(), Some(false));
    /// ```
    pub fn jsonp(mut self, allowed: bool) -> Self {
        self.jsonp = Some(allowed);
        self
    }

    /// Allows or forbids compressing this method's responses over HTTP.
    ///
    /// Unset, the server's default applies
    /// (`rpckit::http::Compression::enabled_by_default`). A handler can
    /// still forbid it for one response, or allow it where this is unset,
    /// through its `ResponseHandle`; in a batch the response is compressed
    /// if any call allowed it and none forbade it.
    pub fn compression(mut self, allowed: bool) -> Self {
        self.compression = Some(allowed);
        self
    }

    /// Whether JSONP is allowed; `None` when left to the server.
    pub fn jsonp_allowed(&self) -> Option<bool> {
        self.jsonp
    }

    /// Whether compression is allowed; `None` when left to the server.
    pub fn compression_allowed(&self) -> Option<bool> {
        self.compression
    }
}
