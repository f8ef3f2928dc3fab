//! What a caught panic says, and what a call whose handler panicked
//! answers: one rule for every place that catches one (the rpc layer, the
//! executors, a reload's builder).

use std::any::Any;

use rpckit_codec::ErrorObject;

/// The panic's message, when it was given one (`panic!("…")`).
pub(crate) fn message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|message| (*message).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// The answer to a call whose handler panicked: -32603, the panic logged
/// but not sent (it may say more about the server than a client should
/// read).
pub(crate) fn handler_panicked(panic: &(dyn Any + Send)) -> ErrorObject {
    tracing::error!(panic = %message(panic), "handler panicked");
    ErrorObject::internal_error("the handler panicked")
}
