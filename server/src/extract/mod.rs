//! Extractors: what a handler can ask for about its call.
//!
//! Each handler argument implements [`FromCall`]. A failing extractor
//! answers the call with its error and the handler does not run.

/// Implements [`FromCall`] for transport facts that frames carry in their
/// extensions: the value is cloned out, or the call fails with -32603.
macro_rules! from_extension {
    ($($ty:ty),*) => {$(
        impl FromCall for $ty {
            fn from_call(call: &Call) -> Result<Self, ErrorObject> {
                extension(call)
            }
        }
    )*};
}

mod api_handle;
#[cfg(feature = "http")]
mod http_parts;
#[cfg(feature = "tcp")]
mod tcp_parts;

use std::any::type_name;

use rpckit_codec::{ErrorObject, Id, PeerAddr};
use serde::de::DeserializeOwned;

use crate::Call;

/// Something a handler can take as an argument, made from the call.
pub trait FromCall: Sized {
    /// Extracts the value, or the error that answers the call instead.
    fn from_call(call: &Call) -> Result<Self, ErrorObject>;
}

/// The params, decoded into `T` from positional or named form.
///
/// Missing trailing params take their `#[serde(default)]`; a param of the
/// wrong type or a missing required one gives -32602 naming the param.
///
/// ```
/// use rpckit::extract::Params;
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Echo {
///     #[serde(default = "hello")]
///     data: String,
/// }
/// fn hello() -> String { "Hello world!".into() }
///
/// async fn echo(Params(p): Params<Echo>) -> String { p.data }
/// # let _ = rpckit::Router::new().method("echo", echo);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Params<T>(pub T);

impl<T: DeserializeOwned> FromCall for Params<T> {
    fn from_call(call: &Call) -> Result<Self, ErrorObject> {
        call.parse_params().map(Params).map_err(Into::into)
    }
}

/// The request id; `None` for a notification.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestId(pub Option<Id>);

impl FromCall for RequestId {
    fn from_call(call: &Call) -> Result<Self, ErrorObject> {
        Ok(RequestId(call.request.id.clone()))
    }
}

/// The method name the client called (useful with aliases).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MethodName(pub Box<str>);

impl FromCall for MethodName {
    fn from_call(call: &Call) -> Result<Self, ErrorObject> {
        Ok(MethodName(call.request.method.as_ref().into()))
    }
}

/// A value of type `T` from the call's extensions, put there by a transport
/// or by a tower layer (say, the user an auth layer found).
///
/// Missing, it answers -32603: that is a server misconfiguration, not the
/// client's fault.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extension<T>(pub T);

impl<T: Clone + Send + Sync + 'static> FromCall for Extension<T> {
    fn from_call(call: &Call) -> Result<Self, ErrorObject> {
        extension(call).map(Extension)
    }
}

/// Takes a value from the call's extensions, or says which one was missing.
pub(crate) fn extension<T: Clone + Send + Sync + 'static>(call: &Call) -> Result<T, ErrorObject> {
    call.extensions.get::<T>().cloned().ok_or_else(|| {
        ErrorObject::internal_error(format_args!(
            "`{}` is not available on this transport",
            type_name::<T>()
        ))
    })
}

from_extension!(PeerAddr);

impl<T: FromCall> FromCall for Option<T> {
    fn from_call(call: &Call) -> Result<Self, ErrorObject> {
        Ok(T::from_call(call).ok())
    }
}
