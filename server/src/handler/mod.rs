//! Handlers: plain async or sync Rust functions whose arguments are
//! extractors and whose return value becomes the result.
//!
//! Any `Fn(E1, .., En) -> impl Future<Output = R>` with up to eight
//! [`FromCall`] arguments is a [`Handler`]; any `Fn(E1, .., En) -> R` is a
//! [`SyncHandler`]; `R` implements [`IntoResult`]. This is axum's handler
//! shape, so it reads the same.

mod output;

use std::future::Future;
use std::pin::Pin;

pub use output::IntoResult;

use crate::extract::FromCall;
use crate::{Call, Outcome};

/// A boxed future of one call's outcome.
pub type BoxOutcome = Pin<Box<dyn Future<Output = Outcome> + Send + 'static>>;

/// An async function usable as a method. `Args` is a marker of the
/// function's argument types; you never name it.
///
/// ```
/// use rpckit::{extract::Params, ErrorObject, Router};
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Sum { a: i64, b: i64 }
///
/// async fn sum(Params(p): Params<Sum>) -> Result<i64, ErrorObject> {
///     Ok(p.a + p.b)
/// }
///
/// let router = Router::new().method("sum", sum);
/// assert!(router.has_method("sum"));
/// ```
pub trait Handler<Args>: Clone + Send + Sync + Sized + 'static {
    /// Runs the handler for one call.
    fn call(self, call: Call) -> BoxOutcome;
}

/// A synchronous function usable as a method. It runs on the task that
/// serves the call, so keep it short; long CPU work belongs on an executor.
pub trait SyncHandler<Args>: Clone + Send + Sync + Sized + 'static {
    /// Runs the handler for one call.
    fn call(self, call: Call) -> Outcome;
}

macro_rules! impl_handlers {
    ($($arg:ident),*) => {
        #[allow(non_snake_case, unused_variables)]
        impl<F, Fut, R, $($arg,)*> Handler<($($arg,)*)> for F
        where
            F: Fn($($arg),*) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: IntoResult,
            $($arg: FromCall + Send + 'static,)*
        {
            fn call(self, call: Call) -> BoxOutcome {
                Box::pin(async move {
                    $(let $arg = $arg::from_call(&call)?;)*
                    self($($arg),*).await.into_result(&*call.codec)
                })
            }
        }

        #[allow(non_snake_case, unused_variables)]
        impl<F, R, $($arg,)*> SyncHandler<($($arg,)*)> for F
        where
            F: Fn($($arg),*) -> R + Clone + Send + Sync + 'static,
            R: IntoResult,
            $($arg: FromCall,)*
        {
            fn call(self, call: Call) -> Outcome {
                $(let $arg = $arg::from_call(&call)?;)*
                self($($arg),*).into_result(&*call.codec)
            }
        }
    };
}

impl_handlers!();
impl_handlers!(A1);
impl_handlers!(A1, A2);
impl_handlers!(A1, A2, A3);
impl_handlers!(A1, A2, A3, A4);
impl_handlers!(A1, A2, A3, A4, A5);
impl_handlers!(A1, A2, A3, A4, A5, A6);
impl_handlers!(A1, A2, A3, A4, A5, A6, A7);
impl_handlers!(A1, A2, A3, A4, A5, A6, A7, A8);
