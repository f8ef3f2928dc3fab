//! A pool of worker processes.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use rpckit_codec::{encode_value, ErrorObject};
use tokio::sync::OwnedSemaphorePermit;

use super::process::{Shared, Worker};
use crate::router::ResponseFuture;
use crate::Call;

/// One worker process, as [`WorkerPool::workers`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerInfo {
    /// Its process id.
    pub pid: u32,
    /// Calls sent to it and not answered yet.
    pub in_flight: usize,
    /// The pool's generation it belongs to ([`WorkerPool::restart`]).
    pub generation: u64,
}

/// How to start a worker.
pub(super) struct Spec {
    pub(super) name: Box<str>,
    pub(super) program: PathBuf,
    pub(super) args: Vec<OsString>,
    pub(super) env: Vec<(OsString, OsString)>,
}

/// N worker processes serving the router that
/// [`run_if_worker`](super::run_if_worker) builds for this pool's name;
/// see the [module docs](super) for the model.
///
/// Give it to methods with
/// [`MethodSettings::executor`](crate::MethodSettings::executor). Clones
/// share the processes; when the last clone is dropped, the workers
/// finish their calls and exit.
#[derive(Clone)]
pub struct WorkerPool {
    inner: Arc<Inner>,
}

pub(super) struct Inner {
    spec: Spec,
    size: usize,
    generation: AtomicU64,
    /// The current workers, one per slot.
    slots: RwLock<Vec<Arc<Worker>>>,
}

/// Configures a [`WorkerPool`]: how many workers, and how to start them
/// (by default this very program, with no arguments).
#[derive(Debug)]
pub struct WorkerPoolBuilder {
    name: Box<str>,
    workers: usize,
    program: Option<PathBuf>,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
}

impl WorkerPoolBuilder {
    /// How many worker processes (at least one; default 2).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// The program to start instead of this one (default:
    /// `std::env::current_exe()`).
    pub fn program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = Some(program.into());
        self
    }

    /// An argument for the program.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// An environment variable for the workers (besides
    /// [`WORKER_ENV`](super::WORKER_ENV) and what the parent has).
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Starts the workers. They get ready in the background; calls sent
    /// meanwhile wait in their pipes.
    ///
    /// # Errors
    ///
    /// When the program cannot be found or a process cannot start.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn spawn(self) -> io::Result<WorkerPool> {
        let program = match self.program {
            Some(program) => program,
            None => std::env::current_exe()?,
        };
        let inner = Arc::new(Inner {
            spec: Spec {
                name: self.name,
                program,
                args: self.args,
                env: self.env,
            },
            size: self.workers,
            generation: AtomicU64::new(0),
            slots: RwLock::new(Vec::new()),
        });
        let workers = inner.spawn_generation(&inner, 0)?;
        *inner.slots.write().unwrap_or_else(|p| p.into_inner()) = workers;
        Ok(WorkerPool { inner })
    }
}

impl Inner {
    fn spawn_generation(&self, this: &Arc<Inner>, generation: u64) -> io::Result<Vec<Arc<Worker>>> {
        (0..self.size)
            .map(|slot| Worker::spawn(&self.spec, Arc::downgrade(this), slot, generation))
            .collect()
    }

    /// A worker that died after it was ready: start its replacement, if
    /// it is still this pool's current worker in its slot.
    pub(super) fn replace(self: Arc<Self>, slot: usize, dead: &Arc<Shared>) {
        let mut slots = self.slots.write().unwrap_or_else(|p| p.into_inner());
        let current = slots
            .get(slot)
            .is_some_and(|w| Arc::ptr_eq(&w.shared, dead));
        if !current {
            return;
        }
        match Worker::spawn(&self.spec, Arc::downgrade(&self), slot, dead.generation) {
            Ok(worker) => {
                tracing::warn!(pool = %self.spec.name, old = dead.pid, new = worker.shared.pid, "worker replaced");
                slots[slot] = worker;
            }
            Err(err) => {
                tracing::error!(pool = %self.spec.name, error = %err, "could not replace a worker; will retry at the next call");
            }
        }
    }

    /// The live worker with the fewest calls in flight; a dead one is
    /// replaced first.
    fn pick(self: &Arc<Self>) -> Result<Arc<Worker>, ErrorObject> {
        {
            let slots = self.slots.read().unwrap_or_else(|p| p.into_inner());
            let best = slots
                .iter()
                .filter(|worker| worker.is_alive())
                .min_by_key(|worker| worker.in_flight());
            if let Some(best) = best {
                return Ok(Arc::clone(best));
            }
        }
        // Every worker is dead (say, they failed to start): try again now.
        let mut slots = self.slots.write().unwrap_or_else(|p| p.into_inner());
        let generation = self.generation.load(Ordering::SeqCst);
        for slot in 0..slots.len() {
            if !slots[slot].is_alive() {
                match Worker::spawn(&self.spec, Arc::downgrade(self), slot, generation) {
                    Ok(worker) => slots[slot] = worker,
                    Err(err) => {
                        return Err(ErrorObject::internal_error(format_args!(
                            "no worker process of pool `{}` could start: {err}",
                            self.spec.name
                        )))
                    }
                }
            }
        }
        slots
            .iter()
            .min_by_key(|worker| worker.in_flight())
            .cloned()
            .ok_or_else(|| ErrorObject::internal_error("the worker pool is empty"))
    }
}

impl WorkerPool {
    /// A builder for a pool named `name`: the value of
    /// [`WORKER_ENV`](super::WORKER_ENV) its workers see.
    pub fn builder(name: &str) -> WorkerPoolBuilder {
        WorkerPoolBuilder {
            name: name.into(),
            workers: 2,
            program: None,
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.inner.spec.name
    }

    /// How many workers it keeps.
    pub fn size(&self) -> usize {
        self.inner.size
    }

    /// How many times [`restart`](Self::restart) was called.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::SeqCst)
    }

    /// The process ids of the current workers that are alive.
    pub fn pids(&self) -> Vec<u32> {
        let slots = self.inner.slots.read().unwrap_or_else(|p| p.into_inner());
        slots
            .iter()
            .filter(|worker| worker.is_alive())
            .map(|worker| worker.shared.pid)
            .collect()
    }

    /// The current workers that are alive: process id and calls in flight.
    pub fn workers(&self) -> Vec<WorkerInfo> {
        let slots = self.inner.slots.read().unwrap_or_else(|p| p.into_inner());
        slots
            .iter()
            .filter(|worker| worker.is_alive())
            .map(|worker| WorkerInfo {
                pid: worker.shared.pid,
                in_flight: worker.in_flight(),
                generation: worker.shared.generation,
            })
            .collect()
    }

    /// Calls in flight on the current workers.
    pub fn in_flight(&self) -> usize {
        let slots = self.inner.slots.read().unwrap_or_else(|p| p.into_inner());
        slots.iter().map(|worker| worker.in_flight()).sum()
    }

    /// Starts a new generation of workers and sends every new call to
    /// them; the old workers finish their calls in flight, then exit.
    ///
    /// # Errors
    ///
    /// When a new process cannot start; the old workers stay then.
    pub fn restart(&self) -> io::Result<()> {
        let generation = self.inner.generation.load(Ordering::SeqCst) + 1;
        let fresh = self.inner.spawn_generation(&self.inner, generation)?;
        let old = {
            let mut slots = self.inner.slots.write().unwrap_or_else(|p| p.into_inner());
            self.inner.generation.store(generation, Ordering::SeqCst);
            std::mem::replace(&mut *slots, fresh)
        };
        for worker in &old {
            worker.retire();
        }
        tracing::info!(pool = %self.inner.spec.name, generation, "worker pool restarted");
        Ok(())
    }

    pub(crate) fn same_pool(&self, other: &WorkerPool) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Runs one call on a worker.
    pub(crate) fn run(&self, call: Call, permit: Option<OwnedSemaphorePermit>) -> ResponseFuture {
        let params = match &call.request.params {
            None => None,
            Some(_) => match call.parse_params::<serde_json::Value>() {
                Ok(params) => Some(params),
                Err(err) => return ResponseFuture::ready(Err(err.into())),
            },
        };
        let sent = self
            .inner
            .pick()
            .and_then(|worker| worker.send(call.method(), params.as_ref(), permit));
        let answer = match sent {
            Ok(answer) => answer,
            Err(error) => return ResponseFuture::ready(Err(error)),
        };
        let codec = call.codec;
        ResponseFuture::handler(Box::pin(async move {
            let value = answer.await.unwrap_or_else(|_| {
                Err(ErrorObject::internal_error("the worker dropped the call"))
            })?;
            encode_value(&*codec, &value).map_err(|err| {
                ErrorObject::internal_error(format_args!("the result could not be encoded: {err}"))
            })
        }))
    }
}

impl fmt::Debug for WorkerPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerPool")
            .field("name", &self.inner.spec.name)
            .field("size", &self.inner.size)
            .field("generation", &self.generation())
            .field("pids", &self.pids())
            .finish()
    }
}
