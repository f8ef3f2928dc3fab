//! One worker process: its pipes, the calls it has in flight, its end.

use std::collections::HashMap;
use std::io;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use rpckit_codec::ErrorObject;
use rpckit_tcp::framing::{Inbound, LengthPrefixedCodec};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit};
use tokio_util::codec::{FramedRead, FramedWrite};

use super::child::READY_LINE;
use super::pool::{Inner as PoolInner, Spec};
use super::wire::{self, Answer};

/// How much a worker may print before its ready line.
const MAX_PREAMBLE: usize = 64 * 1024;

/// A call waiting for its worker's answer. The concurrency slot is held
/// here, so it is released when the worker is done, not when the caller
/// stops waiting.
struct Pending {
    answer: oneshot::Sender<Answer>,
    _permit: Option<OwnedSemaphorePermit>,
}

/// What the worker's tasks share with the pool.
pub(super) struct Shared {
    pub(super) pid: u32,
    pub(super) generation: u64,
    pending: Mutex<HashMap<u64, Pending>>,
    next_id: AtomicU64,
    in_flight: AtomicUsize,
    alive: AtomicBool,
    ready: AtomicBool,
}

/// One worker process, as the pool holds it. Dropping it (or
/// [`retire`](Worker::retire)) closes the worker's stdin: it answers what
/// it has and exits.
pub(super) struct Worker {
    pub(super) shared: Arc<Shared>,
    outgoing: Mutex<Option<mpsc::UnboundedSender<Bytes>>>,
}

impl Worker {
    /// Starts a worker for slot `slot` of the pool.
    pub(super) fn spawn(
        spec: &Spec,
        pool: Weak<PoolInner>,
        slot: usize,
        generation: u64,
    ) -> io::Result<Arc<Worker>> {
        let mut command = Command::new(&spec.program);
        command
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .env(super::WORKER_ENV, &*spec.name)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(false);
        let mut child = command.spawn()?;
        let pid = child.id().unwrap_or(0);
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let shared = Arc::new(Shared {
            pid,
            generation,
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            in_flight: AtomicUsize::new(0),
            alive: AtomicBool::new(true),
            ready: AtomicBool::new(false),
        });
        let (outgoing, frames) = mpsc::unbounded_channel();
        tokio::spawn(write(frames, stdin));
        tokio::spawn(read(child, stdout, Arc::clone(&shared), pool, slot));
        tracing::debug!(pool = %spec.name, pid, generation, "worker started");
        Ok(Arc::new(Worker {
            shared,
            outgoing: Mutex::new(Some(outgoing)),
        }))
    }

    pub(super) fn is_alive(&self) -> bool {
        self.shared.alive.load(Ordering::SeqCst)
    }

    pub(super) fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::SeqCst)
    }

    /// Closes the worker's stdin once what was sent is written.
    pub(super) fn retire(&self) {
        lock(&self.outgoing).take();
    }

    /// Sends one call; the answer arrives on the receiver.
    pub(super) fn send(
        &self,
        method: &str,
        params: Option<&serde_json::Value>,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Result<oneshot::Receiver<Answer>, ErrorObject> {
        let shared = &self.shared;
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = wire::encode_request(method, params, id)?;
        let (answer, receiver) = oneshot::channel();
        shared.in_flight.fetch_add(1, Ordering::SeqCst);
        lock(&shared.pending).insert(
            id,
            Pending {
                answer,
                _permit: permit,
            },
        );
        // The worker may have died between the pick and the insert: then
        // the reader has failed every pending call already, or will not
        // see this one. Check again after inserting.
        let sent = lock(&self.outgoing)
            .as_ref()
            .is_some_and(|outgoing| outgoing.send(frame).is_ok());
        if !sent || !self.is_alive() {
            if lock(&shared.pending).remove(&id).is_some() {
                shared.in_flight.fetch_sub(1, Ordering::SeqCst);
            }
            return Err(gone(shared.pid, "is gone"));
        }
        Ok(receiver)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.retire();
    }
}

fn gone(pid: u32, what: &str) -> ErrorObject {
    ErrorObject::internal_error(format_args!(
        "worker process {pid} {what} while running the call"
    ))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes frames to the worker's stdin until the worker is retired.
async fn write(mut frames: mpsc::UnboundedReceiver<Bytes>, stdin: tokio::process::ChildStdin) {
    let mut sink = FramedWrite::new(stdin, LengthPrefixedCodec::new());
    while let Some(frame) = frames.recv().await {
        if let Err(err) = sink.send(frame).await {
            tracing::debug!(error = %err, "a worker's stdin closed");
            return;
        }
    }
    // Retired: closing stdin tells the worker to finish and exit.
    let _ = sink.close().await;
}

/// Reads answers until the worker's stdout ends, then fails what is left
/// and, if the worker was ready and is still the pool's, replaces it.
async fn read(
    mut child: Child,
    stdout: ChildStdout,
    shared: Arc<Shared>,
    pool: Weak<PoolInner>,
    slot: usize,
) {
    let mut stdout = BufReader::new(stdout);
    let ready = skip_preamble(&mut stdout).await;
    if ready {
        shared.ready.store(true, Ordering::SeqCst);
        let mut frames = FramedRead::new(stdout, LengthPrefixedCodec::new());
        while let Some(frame) = frames.next().await {
            let frame = match frame {
                Ok(Inbound::Frame(frame)) => frame,
                Ok(_) | Err(_) => {
                    tracing::error!(pid = shared.pid, "a worker broke the framing; stopping it");
                    let _ = child.start_kill();
                    break;
                }
            };
            let Some((id, answer)) = wire::decode_response(frame) else {
                continue;
            };
            let pending = lock(&shared.pending).remove(&id);
            if let Some(pending) = pending {
                shared.in_flight.fetch_sub(1, Ordering::SeqCst);
                // The caller may have stopped waiting (a timeout).
                let _ = pending.answer.send(answer);
            }
        }
    }
    shared.alive.store(false, Ordering::SeqCst);
    let status = match child.wait().await {
        Ok(status) => status.to_string(),
        Err(err) => format!("could not be waited for: {err}"),
    };
    let left: Vec<Pending> = lock(&shared.pending).drain().map(|(_, p)| p).collect();
    let what = if ready {
        format!("exited ({status})")
    } else {
        format!("failed to start ({status})")
    };
    if !left.is_empty() {
        tracing::error!(pid = shared.pid, calls = left.len(), %status, "a worker died with calls in flight");
    }
    for pending in left {
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        let _ = pending.answer.send(Err(gone(shared.pid, &what)));
    }
    if ready {
        if let Some(pool) = pool.upgrade() {
            pool.replace(slot, &shared);
        }
    }
}

/// Reads up to the ready line; whether it came.
async fn skip_preamble<R: AsyncRead + Unpin>(stdout: &mut BufReader<R>) -> bool {
    let mut seen = Vec::new();
    loop {
        let buffer = match stdout.fill_buf().await {
            Ok([]) | Err(_) => return false,
            Ok(buffer) => buffer,
        };
        // Take bytes one chunk at a time, stopping right after the line.
        let before = seen.len();
        seen.extend_from_slice(buffer);
        if let Some(at) = find(&seen, READY_LINE) {
            let used = at + READY_LINE.len() - before;
            stdout.consume(used);
            if at > 0 {
                tracing::debug!(
                    bytes = at,
                    "skipped what a worker printed before it was ready"
                );
            }
            return true;
        }
        let len = buffer.len();
        stdout.consume(len);
        if seen.len() > MAX_PREAMBLE + READY_LINE.len() {
            tracing::error!("a worker printed too much before it was ready");
            return false;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
