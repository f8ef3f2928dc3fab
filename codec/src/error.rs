//! JSON-RPC error objects and the specification's error codes.

use std::borrow::Cow;
use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};

/// A JSON-RPC error code, classified.
///
/// The specification reserves -32768..=-32000. Five codes have a meaning,
/// -32000..=-32099 are for implementation-defined server errors, and every
/// other value belongs to the application.
///
/// ```
/// use rpckit_codec::ErrorCode;
///
/// assert_eq!(ErrorCode::MethodNotFound.code(), -32601);
/// assert_eq!(ErrorCode::from_code(-32050), ErrorCode::ServerError(-32050));
/// assert_eq!(ErrorCode::from_code(42), ErrorCode::Application(42));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// -32700: the bytes are not a well-formed message in the codec's format.
    ParseError,
    /// -32600: well-formed, but not a valid request object.
    InvalidRequest,
    /// -32601: no such method.
    MethodNotFound,
    /// -32602: the params do not fit the method.
    InvalidParams,
    /// -32603: the server failed, for example a handler panicked.
    InternalError,
    /// -32000..=-32099: implementation-defined server errors.
    ServerError(i32),
    /// Any other code, chosen by the application.
    Application(i32),
}

impl ErrorCode {
    /// The numeric code on the wire.
    pub const fn code(self) -> i32 {
        match self {
            ErrorCode::ParseError => -32700,
            ErrorCode::InvalidRequest => -32600,
            ErrorCode::MethodNotFound => -32601,
            ErrorCode::InvalidParams => -32602,
            ErrorCode::InternalError => -32603,
            ErrorCode::ServerError(code) | ErrorCode::Application(code) => code,
        }
    }

    /// Classifies a numeric code.
    pub const fn from_code(code: i32) -> Self {
        match code {
            -32700 => ErrorCode::ParseError,
            -32600 => ErrorCode::InvalidRequest,
            -32601 => ErrorCode::MethodNotFound,
            -32602 => ErrorCode::InvalidParams,
            -32603 => ErrorCode::InternalError,
            -32099..=-32000 => ErrorCode::ServerError(code),
            _ => ErrorCode::Application(code),
        }
    }

    /// The message the specification gives for the code.
    pub const fn message(self) -> &'static str {
        match self {
            ErrorCode::ParseError => "Parse error",
            ErrorCode::InvalidRequest => "Invalid Request",
            ErrorCode::MethodNotFound => "Method not found",
            ErrorCode::InvalidParams => "Invalid params",
            ErrorCode::InternalError => "Internal error",
            ErrorCode::ServerError(_) => "Server error",
            ErrorCode::Application(_) => "Application error",
        }
    }
}

impl From<i32> for ErrorCode {
    fn from(code: i32) -> Self {
        ErrorCode::from_code(code)
    }
}

/// The `error` member of a JSON-RPC response: code, message, optional data.
///
/// Boxed inside, so `Result<T, ErrorObject>` stays one pointer wide. `data`
/// is a [`serde_json::Value`] that every codec serialises in its own format.
///
/// ```
/// use rpckit_codec::{ErrorCode, ErrorObject};
///
/// let err = ErrorObject::new(ErrorCode::Application(7), "out of stock")
///     .with_data(serde_json::json!({"item": "tea"}));
/// assert_eq!(err.code(), ErrorCode::Application(7));
/// assert_eq!(err.message(), "out of stock");
/// assert_eq!(err.data().unwrap()["item"], "tea");
/// ```
#[derive(Clone, PartialEq)]
pub struct ErrorObject {
    inner: Box<Inner>,
}

#[derive(Clone, PartialEq)]
struct Inner {
    code: ErrorCode,
    message: Cow<'static, str>,
    data: Option<serde_json::Value>,
}

impl ErrorObject {
    /// An error with a code and a message.
    pub fn new(code: impl Into<ErrorCode>, message: impl Into<Cow<'static, str>>) -> Self {
        ErrorObject {
            inner: Box::new(Inner {
                code: code.into(),
                message: message.into(),
                data: None,
            }),
        }
    }

    /// Attaches `data`, replacing any there was.
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.inner.data = Some(data);
        self
    }

    /// -32700 with the given detail.
    pub fn parse_error(detail: impl fmt::Display) -> Self {
        Self::new(ErrorCode::ParseError, format!("Parse error: {detail}"))
    }

    /// -32600 with the given detail.
    pub fn invalid_request(detail: impl fmt::Display) -> Self {
        Self::new(
            ErrorCode::InvalidRequest,
            format!("Invalid Request: {detail}"),
        )
    }

    /// -32601 naming the method.
    pub fn method_not_found(method: &str) -> Self {
        Self::new(
            ErrorCode::MethodNotFound,
            format!("Method not found: {method}"),
        )
    }

    /// -32602 with the given detail.
    pub fn invalid_params(detail: impl fmt::Display) -> Self {
        Self::new(
            ErrorCode::InvalidParams,
            format!("Invalid params: {detail}"),
        )
    }

    /// -32603 with the given detail.
    pub fn internal_error(detail: impl fmt::Display) -> Self {
        Self::new(
            ErrorCode::InternalError,
            format!("Internal error: {detail}"),
        )
    }

    /// The classified code.
    pub fn code(&self) -> ErrorCode {
        self.inner.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The data, if any.
    pub fn data(&self) -> Option<&serde_json::Value> {
        self.inner.data.as_ref()
    }
}

impl fmt::Debug for ErrorObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorObject")
            .field("code", &self.inner.code.code())
            .field("message", &self.inner.message)
            .field("data", &self.inner.data)
            .finish()
    }
}

impl fmt::Display for ErrorObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.inner.message, self.inner.code.code())
    }
}

impl std::error::Error for ErrorObject {}

/// Serialises as the wire object `{"code", "message", "data"?}`.
impl Serialize for ErrorObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let len = if self.inner.data.is_some() { 3 } else { 2 };
        let mut map = serializer.serialize_map(Some(len))?;
        map.serialize_entry("code", &self.inner.code.code())?;
        map.serialize_entry("message", &*self.inner.message)?;
        if let Some(data) = &self.inner.data {
            map.serialize_entry("data", data)?;
        }
        map.end()
    }
}

impl From<std::convert::Infallible> for ErrorObject {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_classify_and_round_trip() {
        for code in [
            -32700, -32600, -32601, -32602, -32603, -32000, -32099, -32100, 0, 5,
        ] {
            assert_eq!(ErrorCode::from_code(code).code(), code);
        }
        assert_eq!(ErrorCode::from_code(-32100), ErrorCode::Application(-32100));
        assert_eq!(ErrorCode::from_code(-31999), ErrorCode::Application(-31999));
    }

    #[test]
    fn serialises_without_absent_data() {
        let err = ErrorObject::new(ErrorCode::MethodNotFound, "Method not found");
        assert_eq!(
            serde_json::to_string(&err).unwrap(),
            r#"{"code":-32601,"message":"Method not found"}"#
        );
        let err = err.with_data(serde_json::json!([1]));
        assert_eq!(
            serde_json::to_string(&err).unwrap(),
            r#"{"code":-32601,"message":"Method not found","data":[1]}"#
        );
    }
}
