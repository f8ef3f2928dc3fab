//! The HTTP transport's facts as extractors.

use rpckit_codec::ErrorObject;
use rpckit_http::{ClientIp, RequestCookies, RequestHeaders, ResponseHandle};

use super::{extension, FromCall};
use crate::Call;

macro_rules! from_extension {
    ($($ty:ty),*) => {$(
        impl FromCall for $ty {
            fn from_call(call: &Call) -> Result<Self, ErrorObject> {
                extension(call)
            }
        }
    )*};
}

from_extension!(ClientIp, RequestCookies, RequestHeaders, ResponseHandle);
