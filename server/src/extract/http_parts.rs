//! The HTTP transport's facts as extractors.

use rpckit_codec::ErrorObject;
use rpckit_http::{ClientIp, RequestCookies, RequestHeaders, ResponseHandle, RoutePath};

use super::{extension, FromCall};
use crate::Call;

from_extension!(
    ClientIp,
    RequestCookies,
    RequestHeaders,
    ResponseHandle,
    RoutePath
);
