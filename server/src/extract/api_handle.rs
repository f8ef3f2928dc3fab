//! The router's handle as a handler argument.

use rpckit_codec::ErrorObject;

use super::FromCall;
use crate::{ApiHandle, Call};

/// The handle of the router the call runs in, standing for this call: a
/// reload through it does not wait for the call itself (see
/// [`ApiHandle`]'s docs on handles taken from a call).
///
/// ```
/// use rpckit::{ApiHandle, ReloadOptions, Router};
///
/// // The original's `reloadApi`: a method that reloads its own router.
/// let router = Router::new()
///     .sync_method("version", || 1)
///     .method("reload_api", |api: ApiHandle| async move {
///         api.reload(ReloadOptions::new(), |_old| Router::new().sync_method("version", || 2))
///             .await
///             .map(|_| "reloaded")
///             .map_err(|error| rpckit::ErrorObject::internal_error(error))
///     });
/// # let _ = router;
/// ```
impl FromCall for ApiHandle {
    fn from_call(call: &Call) -> Result<Self, ErrorObject> {
        call.router
            .as_ref()
            .map(|router| ApiHandle::new(router.clone(), true))
            .ok_or_else(|| ErrorObject::internal_error("this call is not run by a router"))
    }
}
