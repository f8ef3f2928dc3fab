//! The latency probe of the contended scenarios: `loadbench __paced`, run
//! on core 0 as its own process.
//!
//! wrk keeps its connections busy: each sends its next request the moment
//! the last is answered, so the server is saturated and a request's
//! latency is mostly the time it queues behind the others. Its p99 then
//! measures that queue, and on this box also whenever a softirq thread
//! takes the core for a few milliseconds: the same server's idle p99 ranged
//! from 0.6 to 3.7 ms between runs. The probe here is open-loop instead:
//! each connection sends at fixed times (together `rate` requests a
//! second, staggered), so the server is far from saturated and a
//! request's latency is how long the server took to answer it. A request
//! whose time came while its connection still waited for the previous
//! answer is sent at once, and its latency counts from its due time, not
//! from when it could go (no coordinated omission: a server that stalls
//! is charged for every request the stall held back).
//!
//! The probe runs at a real-time priority (`chrt -f 1`) where the box
//! allows it. It shares core 0 with wrk, and an answer it was sent waited
//! to be read while wrk held the core: under the 4 MiB load, 86 of the 114
//! probe requests slower than 600 µs in a `p99_trace.sh` run had waited
//! for wrk, not for the server. Preempting wrk, the probe times the server
//! (a client elsewhere does not share its core with the load), and at
//! 4,000 small requests a second it takes little of wrk's time.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::http::parse_head;

/// The probe's rate in the contended scenarios: a small echo every 250 µs,
/// a few percent of what the server answers saturated.
pub(crate) const RATE: u32 = 4_000;

/// Its connections: enough that a slow answer holds up few others.
pub(crate) const CONNECTIONS: u32 = 8;

/// Runs the probe as its own process on core 0 (`loadbench __paced`):
/// `request` (a whole HTTP/1.1 request) [`RATE`] times a second to `addr`
/// for `seconds`.
pub(crate) fn probe(
    work: &Path,
    addr: SocketAddr,
    request: &[u8],
    seconds: u64,
) -> anyhow::Result<Outcome> {
    let file = work.join("paced.http");
    std::fs::write(&file, request)?;
    let line = crate::helper(
        launcher(),
        "__paced",
        "the paced probe",
        &[
            addr.to_string(),
            RATE.to_string(),
            CONNECTIONS.to_string(),
            seconds.to_string(),
            file.display().to_string(),
        ],
    )?;
    parse_outcome(&line)
}

/// The paced generator as a background load: `request` (a whole HTTP/1.1
/// request) `rate` times a second over `connections` connections for
/// `seconds`, at normal priority on core 0, running while the caller
/// probes. Unlike wrk's closed loop, every server gets the same work
/// whatever its speed.
pub(crate) fn spawn_background(
    work: &Path,
    addr: SocketAddr,
    request: &[u8],
    rate: u32,
    connections: u32,
    seconds: u64,
) -> anyhow::Result<Background> {
    let file = work.join("paced-background.http");
    std::fs::write(&file, request)?;
    let args = [
        addr.to_string(),
        rate.to_string(),
        connections.to_string(),
        seconds.to_string(),
        file.display().to_string(),
    ];
    let child = crate::helper_command(Command::new("taskset"), "__paced", &args)?
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("could not start the paced background load")?;
    Ok(Background(crate::KillOnDrop(Some(child))))
}

/// A running [`spawn_background`] load.
#[derive(Debug)]
pub(crate) struct Background(crate::KillOnDrop);

impl Background {
    /// Waits for the load to end: its own latencies.
    pub(crate) fn finish(self) -> anyhow::Result<Outcome> {
        let output = self.0.take().wait_with_output()?;
        parse_outcome(&crate::helper_result(&output, "the paced background load")?)
    }
}

/// `ANSWERED P50_US P99_US MAX_US`, as [`paced`] prints them.
fn parse_outcome(line: &str) -> anyhow::Result<Outcome> {
    let numbers: Vec<f64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("the paced probe said {line:?}"))?;
    let [answered, p50_us, p99_us, max_us] = numbers[..] else {
        bail!("the paced probe said {line:?}");
    };
    Ok(Outcome {
        answered: answered as u64,
        p50_us,
        p99_us,
        max_us,
    })
}

/// `taskset` at a real-time priority when `chrt` may give one here (root
/// or `CAP_SYS_NICE`), else `taskset` alone.
fn launcher() -> Command {
    static REALTIME: OnceLock<bool> = OnceLock::new();
    let realtime = *REALTIME.get_or_init(|| {
        let allowed = Command::new("chrt")
            .args(["-f", "1", "true"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !allowed {
            // In the report (stdout), where its numbers are.
            println!("chrt -f 1 is not allowed here: the paced probe runs at normal priority");
        }
        allowed
    });
    if realtime {
        let mut chrt = Command::new("chrt");
        chrt.args(["-f", "1", "taskset"]);
        chrt
    } else {
        Command::new("taskset")
    }
}

/// What one probe run measured.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) answered: u64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) max_us: f64,
}

/// `loadbench __paced ADDR RATE CONNECTIONS SECONDS REQUEST_FILE`: sends the
/// request in REQUEST_FILE (a whole HTTP/1.1 request, keep-alive) RATE
/// times a second over CONNECTIONS connections for SECONDS; prints
/// `LOADBENCH ANSWERED P50_US P99_US MAX_US`. Every answer must be a 200.
pub(crate) fn paced(args: &[String]) -> anyhow::Result<()> {
    let [addr, rate, connections, seconds, request_file] = args else {
        bail!("usage: loadbench __paced ADDR RATE CONNECTIONS SECONDS REQUEST_FILE");
    };
    let addr: SocketAddr = addr.parse()?;
    let rate: f64 = rate.parse()?;
    let connections: usize = connections.parse()?;
    let duration = Duration::from_secs_f64(seconds.parse()?);
    let request = std::fs::read(request_file)?;
    // Every connection sends once per `period`; connection i starts i/rate
    // after the first, so that together they send evenly.
    let period = Duration::from_secs_f64(connections as f64 / rate);
    let start = Instant::now() + Duration::from_millis(50);
    let latencies = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..connections)
            .map(|index| {
                let first = start + Duration::from_secs_f64(index as f64 / rate);
                let request = &request;
                scope.spawn(move || connection(addr, request, first, period, start + duration))
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("a probe connection panicked"))
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let mut latencies: Vec<Duration> = latencies.into_iter().flatten().collect();
    if latencies.is_empty() {
        bail!("no request was answered");
    }
    latencies.sort_unstable();
    let at = |quantile: f64| {
        let index = ((latencies.len() as f64 * quantile).ceil() as usize).clamp(1, latencies.len());
        latencies[index - 1].as_secs_f64() * 1e6
    };
    let outcome = Outcome {
        answered: latencies.len() as u64,
        p50_us: at(0.50),
        p99_us: at(0.99),
        max_us: at(1.0),
    };
    println!(
        "LOADBENCH {} {:.1} {:.1} {:.1}",
        outcome.answered, outcome.p50_us, outcome.p99_us, outcome.max_us
    );
    Ok(())
}

/// One connection's requests, due at `first`, `first + period`, ... until
/// `end`: the latency of each.
fn connection(
    addr: SocketAddr,
    request: &[u8],
    first: Instant,
    period: Duration,
    end: Instant,
) -> anyhow::Result<Vec<Duration>> {
    let mut stream = TcpStream::connect(addr).context("could not connect")?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut latencies = Vec::new();
    let mut buf = Vec::with_capacity(4096);
    let mut due = first;
    while due < end {
        let now = Instant::now();
        // Sent on time: timed from the send, so that the sleep's own
        // lateness (timer slack, tens of microseconds) is not counted.
        // Held back by the last answer: timed from when it was due.
        let from = if due > now {
            std::thread::sleep(due - now);
            Instant::now()
        } else {
            due
        };
        stream.write_all(request)?;
        let status = read_response(&mut stream, &mut buf)?;
        latencies.push(from.elapsed());
        if status != 200 {
            bail!("HTTP {status}");
        }
        due += period;
    }
    Ok(latencies)
}

/// Reads one keep-alive response through `buf`; returns its status.
fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<u16> {
    buf.clear();
    let mut chunk = [0; 4096];
    loop {
        if let Some(head) = parse_head(buf)? {
            if buf.len() >= head.len + head.content_length {
                if buf.len() > head.len + head.content_length {
                    bail!("more bytes than one response: the probe does not pipeline");
                }
                return Ok(head.status);
            }
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            bail!("connection closed mid-response");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}
