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
