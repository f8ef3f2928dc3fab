//! Turning what a handler returns into an [`Outcome`].

use rpckit_codec::{encode_value, Codec, ErrorObject};
use serde::Serialize;

use crate::Outcome;

/// What a handler may return: `Result<T, E>` with a serialisable `T` and an
/// `E` that converts into an [`ErrorObject`], or a plain serialisable value
/// of a common type.
///
/// The value is encoded once, by the codec the call came in with.
///
/// ```
/// use rpckit::ErrorObject;
/// use rpckit::codec::ErrorCode;
///
/// // A typed application error, converted at the boundary.
/// #[derive(Debug)]
/// enum ShopError { OutOfStock(String) }
///
/// impl From<ShopError> for ErrorObject {
///     fn from(err: ShopError) -> Self {
///         match err {
///             ShopError::OutOfStock(item) => ErrorObject::new(ErrorCode::Application(1), "out of stock")
///                 .with_data(serde_json::json!({ "item": item })),
///         }
///     }
/// }
///
/// async fn buy() -> Result<u32, ShopError> {
///     Err(ShopError::OutOfStock("tea".into()))
/// }
/// # let _ = rpckit::Router::new().method("buy", buy);
/// ```
pub trait IntoResult {
    /// Encodes the value with `codec`.
    fn into_result(self, codec: &dyn Codec) -> Outcome;
}

fn encode<T: Serialize + ?Sized>(codec: &dyn Codec, value: &T) -> Outcome {
    encode_value(codec, value).map_err(|err| {
        ErrorObject::internal_error(format_args!("the result could not be encoded: {err}"))
    })
}

impl<T: Serialize, E: Into<ErrorObject>> IntoResult for Result<T, E> {
    fn into_result(self, codec: &dyn Codec) -> Outcome {
        match self {
            Ok(value) => encode(codec, &value),
            Err(error) => Err(error.into()),
        }
    }
}

macro_rules! plain_results {
    ($($ty:ty),*) => {$(
        impl IntoResult for $ty {
            fn into_result(self, codec: &dyn Codec) -> Outcome {
                encode(codec, &self)
            }
        }
    )*};
}

plain_results!(
    (),
    bool,
    char,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    f32,
    f64,
    String,
    &'static str,
    serde_json::Value
);

impl<T: Serialize> IntoResult for Vec<T> {
    fn into_result(self, codec: &dyn Codec) -> Outcome {
        encode(codec, &self)
    }
}

impl<T: Serialize> IntoResult for Option<T> {
    fn into_result(self, codec: &dyn Codec) -> Outcome {
        encode(codec, &self)
    }
}
