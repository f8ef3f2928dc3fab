//! A dedicated pool of threads for the methods given it.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::runtime::{Handle, Runtime};
use tokio::sync::OwnedSemaphorePermit;

use super::join::AbortOnDrop;
use crate::router::{BoxedHandler, ResponseFuture};
use crate::Call;

/// N threads of their own for the methods given this pool (a tokio runtime
/// with N worker threads, timers and I/O on).
///
/// A sync handler occupies one thread while it runs, so at most N of them
/// run at once, whatever else the server does; async handlers share the
/// threads as tasks. Clones share the pool. When the last clone is
/// dropped (calls in flight hold one) the threads stop: each ends after
/// its current handler.
///
/// ```
/// use rpckit::exec::ThreadPool;
/// use rpckit::Router;
///
/// # fn main() -> std::io::Result<()> {
/// let pool = ThreadPool::new("images", 4)?;
/// let router = Router::new()
///     .sync_method("resize", || "resized")
///     .sync_method("crop", || "cropped")
///     .configure("resize", |s| s.executor(pool.clone()))
///     .configure("crop", |s| s.executor(pool.clone()));
/// assert_eq!(pool.threads(), 4);
/// # let _ = router;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ThreadPool {
    inner: Arc<Inner>,
}

struct Inner {
    name: Box<str>,
    threads: usize,
    handle: Handle,
    /// `Some` until dropped; shut down without blocking, as the last clone
    /// may well be dropped on an async task.
    runtime: Option<Runtime>,
}

impl ThreadPool {
    /// Starts `threads` threads (at least one) named `{name}-{n}`.
    ///
    /// # Errors
    ///
    /// When the operating system refuses a thread.
    pub fn new(name: &str, threads: usize) -> io::Result<Self> {
        let threads = threads.max(1);
        let counter = Arc::new(AtomicUsize::new(0));
        let prefix = name.to_owned();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name_fn(move || format!("{prefix}-{}", counter.fetch_add(1, Ordering::Relaxed)))
            .enable_all()
            .build()?;
        Ok(ThreadPool {
            inner: Arc::new(Inner {
                name: name.into(),
                threads,
                handle: runtime.handle().clone(),
                runtime: Some(runtime),
            }),
        })
    }

    /// The pool's name, the prefix of its threads' names.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// How many threads it has.
    pub fn threads(&self) -> usize {
        self.inner.threads
    }

    pub(crate) fn same_pool(&self, other: &ThreadPool) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Runs the handler on the pool. The call's future holds the pool, so
    /// the threads outlive the calls on them.
    pub(crate) fn run(
        &self,
        handler: BoxedHandler,
        call: Call,
        permit: Option<OwnedSemaphorePermit>,
    ) -> ResponseFuture {
        let task = self.inner.handle.spawn(async move {
            let _permit = permit;
            super::outcome(handler(call)).await
        });
        let pool = self.clone();
        ResponseFuture::handler(Box::pin(async move {
            let outcome = AbortOnDrop(task).await;
            drop(pool);
            outcome
        }))
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("name", &self.inner.name)
            .field("threads", &self.inner.threads)
            .finish()
    }
}
