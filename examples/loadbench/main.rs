//! Run with `cargo run --release -p rpckit-examples --bin loadbench -- --rounds 3 --duration 5`
//!
//! The side-by-side load benchmark (issue 3). It builds, in release, the
//! three servers — rpckit (`bench_server`), jsonrpsee 0.26
//! (`bench_jsonrpsee`) and bare hyper answering a fixed body
//! (`bench_hyper`, the HTTP limit of the box) — and runs every scenario of
//! `scenarios.rs` against each, one after another with the same settings:
//! the server pinned to core 1 with one tokio worker thread, the load
//! generator (wrk, installed with apt-get when missing) pinned to core 0,
//! everything on 127.0.0.1. Runs are interleaved (rpckit, jsonrpsee, hyper;
//! then jsonrpsee, hyper, rpckit; ...: each round starts with the next
//! server) and repeated for `--rounds`; every run gets a fresh server
//! and a warm-up. It prints req/s, p50 and p99 (or memory per connection),
//! and the server's CPU time and minor page faults per request,
//! per server and scenario as medians over the rounds, the ratios
//! rpckit/jsonrpsee and rpckit/hyper (each with the spread of its
//! per-round ratios), and PASS/MISS for the issue's targets, and writes
//! the same as JSON.
//!
//! Flags (defaults in parentheses): `--rounds N` (3), `--duration SECS` per
//! run (5), `--warmup SECS` (1), `--connections N` wrk connections (32),
//! `--threads N` server worker threads (1), `--scenarios KEY,KEY` (all; keys
//! in the report), `--out FILE` (`loadbench.json` next to the binary),
//! `--no-build` (use the server binaries already built), `--baseline PATH`
//! (see below); `--help` lists them and the scenarios.
//!
//! Before and after a change to the request path: build the `bench_server`
//! of the commit before it somewhere else and pass it as `--baseline PATH`.
//! It then runs as a fourth server, `baseline`, in every scenario rpckit
//! runs in, interleaved with the others, and the table gains the ratio
//! rpckit/baseline with the spread of its per-round ratios: the change's
//! effect measured in one run, not as the difference of two runs that the
//! box's drift between them can swamp.
//!
//! ```sh
//! git worktree add /tmp/before HEAD~1
//! (cd /tmp/before && cargo build --release -p rpckit-examples --bin bench_server)
//! target/release/loadbench --baseline /tmp/before/target/release/bench_server \
//!     --scenarios small_echo --rounds 10 --duration 2
//! ```
//!
//! Measurement only: a MISS is a finding, not something to tune here.

#[path = "../bench/shared.rs"]
mod shared;

mod http;
mod lines;
mod paced;
mod report;
mod scenarios;
mod wrk;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::Duration;

use anyhow::{bail, Context};

use scenarios::{Load, Request, Scenario, Wire};

/// The metrics of one run, by name (see the constants in `scenarios`).
pub(crate) type Metrics = BTreeMap<&'static str, f64>;

/// One of the servers compared.
#[derive(Debug)]
pub(crate) struct ServerKind {
    pub(crate) name: &'static str,
    /// Its binary's name, which it prints when listening.
    bin: &'static str,
    /// Where the binary is when not next to this one (`--baseline`).
    path: Option<&'static str>,
    /// Whether its answers are real JSON-RPC (bare hyper's are a fixed
    /// body, bare LinesCodec's the request line).
    answers: bool,
    /// Where the load goes: its HTTP port, or its newline TCP port.
    port: Port,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Port {
    Http,
    /// The TCP port of a server that serves HTTP too (`--tcp-addr`).
    TcpBeside,
    /// A TCP-only server (`--addr`).
    TcpOnly,
}

/// The servers, in the order they run within a scenario; rpckit first.
pub(crate) static SERVERS: [ServerKind; 3] = [
    ServerKind {
        name: "rpckit",
        bin: "bench_server",
        path: None,
        answers: true,
        port: Port::Http,
    },
    ServerKind {
        name: "jsonrpsee",
        bin: "bench_jsonrpsee",
        path: None,
        answers: true,
        port: Port::Http,
    },
    ServerKind {
        name: "hyper",
        bin: "bench_hyper",
        path: None,
        answers: false,
        port: Port::Http,
    },
];

/// The servers of the stream scenarios: rpckit's newline TCP listener, bare
/// tokio-util `LinesCodec` echoing each line (the stream limit), and the
/// same with each call parsed and answered by serde_json (the floor of any
/// JSON-RPC server over lines).
pub(crate) static STREAM_SERVERS: [ServerKind; 3] = [
    ServerKind {
        name: "rpckit",
        bin: "bench_server",
        path: None,
        answers: true,
        port: Port::TcpBeside,
    },
    ServerKind {
        name: "lines",
        bin: "bench_lines",
        path: None,
        answers: false,
        port: Port::TcpOnly,
    },
    ServerKind {
        name: "json_lines",
        bin: "bench_json_lines",
        path: None,
        answers: true,
        port: Port::TcpOnly,
    },
];

/// `--baseline`'s `bench_server`, as an HTTP and as a stream server.
static BASELINE: OnceLock<[ServerKind; 2]> = OnceLock::new();

/// Sets `--baseline`: the `bench_server` at `path` runs wherever rpckit's
/// does.
fn set_baseline(path: &Path) -> anyhow::Result<()> {
    if !path.is_file() {
        bail!("--baseline {}: no such file", path.display());
    }
    let path: &'static str = Box::leak(path.display().to_string().into_boxed_str());
    let baseline = |port| ServerKind {
        name: "baseline",
        bin: "bench_server",
        path: Some(path),
        answers: true,
        port,
    };
    let _ = BASELINE.set([baseline(Port::Http), baseline(Port::TcpBeside)]);
    Ok(())
}

/// The servers a scenario compares, rpckit first: the HTTP or the stream
/// servers by its load, those its [`Scenario::servers`] names, and the
/// baseline (if any) next to rpckit.
pub(crate) fn servers_for(scenario: &Scenario) -> Vec<&'static ServerKind> {
    let servers: &'static [ServerKind] = match scenario.load {
        Load::Pipelined { .. } => &STREAM_SERVERS,
        _ => &SERVERS,
    };
    let mut chosen: Vec<&'static ServerKind> = servers
        .iter()
        .filter(|server| scenario.runs_on(server.name))
        .collect();
    let rpckit_port = chosen
        .first()
        .filter(|server| server.name == "rpckit")
        .map(|rpckit| rpckit.port);
    if let (Some(port), Some(baselines)) = (rpckit_port, BASELINE.get()) {
        if let Some(baseline) = baselines.iter().find(|baseline| baseline.port == port) {
            chosen.insert(1, baseline);
        }
    }
    chosen
}

/// `--help`: the flags, and the scenarios with what they compare.
fn print_usage() {
    println!(
        "loadbench: rpckit side by side with jsonrpsee and bare hyper (issue 3)\n\n\
         usage: loadbench [--rounds N (3)] [--duration SECS (5)] [--warmup SECS (1)]\n\
         \x20                [--connections N (32)] [--threads N (1)] [--scenarios KEY,KEY (all)]\n\
         \x20                [--out FILE (loadbench.json next to the binary)] [--no-build]\n\
         \x20                [--baseline PATH (a bench_server to compare rpckit with)]\n\n\
         scenarios:"
    );
    for scenario in scenarios::all() {
        println!("  {:<20} {}", scenario.key, scenario.title);
    }
}

/// The command line.
#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) rounds: usize,
    pub(crate) duration: u64,
    pub(crate) warmup: u64,
    pub(crate) connections: u32,
    pub(crate) threads: usize,
    scenarios: Option<Vec<String>>,
    out: Option<PathBuf>,
    build: bool,
    pub(crate) baseline: Option<PathBuf>,
}

impl Options {
    fn parse(args: &[String]) -> anyhow::Result<Self> {
        let mut options = Options {
            rounds: 3,
            duration: 5,
            warmup: 1,
            connections: 32,
            threads: 1,
            scenarios: None,
            out: None,
            build: true,
            baseline: None,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) => (flag, Some(value.to_owned())),
                None => (arg.as_str(), None),
            };
            if flag == "--no-build" {
                options.build = false;
                continue;
            }
            let value = match inline.or_else(|| args.next().cloned()) {
                Some(value) => value,
                None => bail!("{flag} needs a value"),
            };
            let number = || -> anyhow::Result<u64> {
                match value.parse() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => bail!("{flag} {value}: expected a positive integer"),
                }
            };
            match flag {
                "--rounds" => options.rounds = number()? as usize,
                "--duration" => options.duration = number()?,
                "--warmup" => options.warmup = number()?,
                "--connections" => options.connections = number()? as u32,
                "--threads" => options.threads = number()? as usize,
                "--scenarios" => {
                    options.scenarios = Some(value.split(',').map(str::to_owned).collect());
                }
                "--out" => options.out = Some(value.into()),
                "--baseline" => options.baseline = Some(value.into()),
                _ => bail!("unknown flag {flag} (see the top of examples/loadbench/main.rs)"),
            }
        }
        Ok(options)
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("__hold") {
        return http::hold(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("__pipeline") {
        return lines::pipeline(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("__paced") {
        return paced::paced(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("__body") {
        return print_body(&args[1..]);
    }
    if args.iter().any(|arg| arg == "--help" || arg == "-h") {
        print_usage();
        return Ok(());
    }
    let options = Options::parse(&args)?;
    if let Some(path) = &options.baseline {
        set_baseline(path)?;
    }
    let scenarios = select(scenarios::all(), options.scenarios.as_deref())?;

    check_machine()?;
    let bin_dir = server_dir()?;
    if options.build {
        build_servers()?;
    }
    let work = std::env::temp_dir().join(format!("loadbench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let prepared = prepare(&scenarios, &work)?;
    let nofile = hard_nofile_limit()?;

    let load_before = load_average();
    println!(
        "loadbench: {} scenarios ({} server runs) x {} rounds, {} s runs (+{} s warm-up); load average before: {load_before}",
        scenarios.len(),
        scenarios
            .iter()
            .map(|scenario| servers_for(scenario).len())
            .sum::<usize>(),
        options.rounds,
        options.duration,
        options.warmup
    );
    let bench = Bench {
        options: &options,
        bin_dir: &bin_dir,
        work: &work,
        nofile,
        clock_ticks: clock_ticks()?,
    };
    let mut results = report::Results::default();
    for round in 1..=options.rounds {
        for (index, scenario) in scenarios.iter().enumerate() {
            // Each round starts with the next server, so that no server
            // always runs right after the same one (the box's state after
            // a run, the page cache, sockets in TIME_WAIT, is not neutral).
            let mut servers = servers_for(scenario);
            let turn = (round - 1) % servers.len().max(1);
            servers.rotate_left(turn);
            for server in servers {
                print!(
                    "[round {round}/{}] {:<18} {:<9} ",
                    options.rounds, scenario.key, server.name
                );
                std::io::stdout().flush()?;
                let outcome = bench.run(scenario, &prepared[index], server);
                match &outcome {
                    Ok(metrics) => println!("{}", report::brief(&scenario.load, metrics)),
                    Err(err) => println!("FAILED: {err:#}"),
                }
                results.record(scenario.key, server.name, outcome);
            }
        }
    }
    let load_after = load_average();

    let summary = report::Summary {
        options: &options,
        scenarios: &scenarios,
        results: &results,
        load_before: &load_before,
        load_after: &load_after,
        catalog_items: scenarios::catalog_items(),
    };
    println!();
    print!("{}", summary.table());
    let out = options
        .out
        .clone()
        .unwrap_or_else(|| bin_dir.join("loadbench.json"));
    std::fs::write(&out, serde_json::to_string_pretty(&summary.json())?)?;
    println!("written to {}", out.display());
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

/// `loadbench __body KEY`: writes the body (or line) that scenario KEY
/// sends to stdout, so that `examples/bench/callgrind.sh` (`BODY=FILE`) counts
/// the instructions of exactly the request the load benchmark makes. Of a
/// scenario that sends several bodies in turn ([`scenarios::Body::Cycle`]),
/// the first: callgrind.sh sends one body.
fn print_body(args: &[String]) -> anyhow::Result<()> {
    let [key] = args else {
        bail!("usage: loadbench __body SCENARIO_KEY");
    };
    let scenario = select(scenarios::all(), Some(std::slice::from_ref(key)))?
        .into_iter()
        .find(|scenario| scenario.key == key.as_str())
        .context("the selected scenario")?;
    let body = match &scenario.load {
        Load::Pipelined { line, .. } => line(),
        Load::Throughput(request)
        | Load::IdleConnections { request, .. }
        | Load::Contended { probe: request, .. } => request
            .body
            .all()
            .into_iter()
            .next()
            .context("a scenario without a body")?,
    };
    std::io::stdout().write_all(&body)?;
    Ok(())
}

/// The scenarios named by `--scenarios` (all without it), plus those
/// their targets compare with.
fn select(all: Vec<Scenario>, keys: Option<&[String]>) -> anyhow::Result<Vec<Scenario>> {
    let Some(keys) = keys else {
        return Ok(all);
    };
    let mut wanted: Vec<&str> = keys.iter().map(String::as_str).collect();
    for key in keys {
        match all.iter().find(|scenario| scenario.key == key.as_str()) {
            None => {
                let known: Vec<_> = all.iter().map(|scenario| scenario.key).collect();
                bail!("unknown scenario {key}; known: {}", known.join(", "));
            }
            Some(scenario) => wanted.extend(scenario.depends_on()),
        }
    }
    Ok(all
        .into_iter()
        .filter(|scenario| wanted.contains(&scenario.key))
        .collect())
}

/// Two cores, taskset and prlimit, and wrk (installed when missing).
fn check_machine() -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores < 2 {
        bail!("needs two cores (server on core 1, load on core 0); this machine has {cores}");
    }
    for tool in ["taskset", "prlimit"] {
        if !runs(Command::new(tool).arg("--version")) {
            bail!("`{tool}` is missing (Debian: apt-get install util-linux)");
        }
    }
    if !runs(Command::new("wrk").arg("--version")) {
        println!("wrk is missing; installing it with apt-get");
        let installed = runs(Command::new("apt-get").args(["install", "-y", "-q", "wrk"]))
            || (runs(Command::new("apt-get").args(["update", "-q"]))
                && runs(Command::new("apt-get").args(["install", "-y", "-q", "wrk"])));
        if !installed {
            bail!("could not install wrk: run `apt-get update && apt-get install -y wrk` as root");
        }
    }
    Ok(())
}

/// Whether the command starts and exits (any status: `wrk --version` exits 1).
fn runs(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Where the release server binaries are: next to this one, or in the
/// sibling `release` folder when this one is a debug build.
fn server_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("binary without a folder")?;
    if dir.file_name().is_some_and(|name| name == "release") {
        Ok(dir.to_owned())
    } else {
        Ok(dir.with_file_name("release"))
    }
}

/// `cargo build --release` of the three servers, with this run's cargo and
/// target folder.
fn build_servers() -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let mut command = Command::new(cargo);
    command
        .args(["build", "--release", "--manifest-path"])
        .arg(manifest);
    for server in SERVERS.iter().chain(&STREAM_SERVERS) {
        command.args(["--bin", server.bin]);
    }
    let status = command.status().context("could not run cargo")?;
    if !status.success() {
        bail!("building the servers failed ({status})");
    }
    Ok(())
}

/// A scenario's bodies and wrk scripts, made once.
#[derive(Debug)]
struct Prepared {
    /// Main request: script and bodies (for [`Load::Pipelined`], the file
    /// holding the line, and the line).
    script: PathBuf,
    bodies: Vec<Vec<u8>>,
    /// The background load of [`Load::Contended`].
    background: Option<(PathBuf, Vec<Vec<u8>>)>,
}

impl Prepared {
    /// The body of the jobs that send one request at a time (the pipelined
    /// line, the paced probe, the idle connections' first request): the
    /// first, which [`prepare`] makes sure there is.
    fn body(&self) -> &[u8] {
        &self.bodies[0]
    }
}

fn prepare(scenarios: &[Scenario], work: &Path) -> anyhow::Result<Vec<Prepared>> {
    scenarios
        .iter()
        .map(|scenario| {
            let (request, background) = match &scenario.load {
                Load::Pipelined { line, .. } => {
                    let body = line();
                    let script = work.join(format!("{}.line", scenario.key));
                    std::fs::write(&script, &body)?;
                    return Ok(Prepared {
                        script,
                        bodies: vec![body],
                        background: None,
                    });
                }
                Load::Throughput(request) | Load::IdleConnections { request, .. } => {
                    (request, None)
                }
                Load::Contended {
                    probe, background, ..
                } => (probe, Some(background)),
            };
            let bodies = request.body.all();
            if bodies.is_empty() {
                bail!("scenario {} has no body", scenario.key);
            }
            let script = wrk::write_script(work, scenario.key, request, &bodies)?;
            let background = background
                .map(|request| {
                    let bodies = request.body.all();
                    let name = format!("{}-background", scenario.key);
                    wrk::write_script(work, &name, request, &bodies).map(|script| (script, bodies))
                })
                .transpose()?;
            Ok(Prepared {
                script,
                bodies,
                background,
            })
        })
        .collect()
}

/// The hard limit on open files, which both sides raise their soft limit to.
fn hard_nofile_limit() -> anyhow::Result<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits")?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .context("no open-file limit in /proc/self/limits")?;
    let hard = line.split_whitespace().nth(4).context("odd limits line")?;
    Ok(if hard == "unlimited" {
        1 << 20
    } else {
        hard.parse()?
    })
}

/// `getconf CLK_TCK` (no libc call: the crate forbids `unsafe`).
fn clock_ticks() -> anyhow::Result<u64> {
    let output = Command::new("getconf").arg("CLK_TCK").output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim()
        .parse()
        .with_context(|| format!("getconf CLK_TCK said {text:?}"))
}

/// `/proc/loadavg`'s three load averages.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".into())
}

/// A server's use of the machine so far, or between two readings.
#[derive(Clone, Copy, Debug)]
struct Usage {
    cpu_ticks: u64,
    minor_faults: u64,
}

impl std::ops::Sub for Usage {
    type Output = Usage;

    fn sub(self, before: Usage) -> Usage {
        Usage {
            cpu_ticks: self.cpu_ticks.saturating_sub(before.cpu_ticks),
            minor_faults: self.minor_faults.saturating_sub(before.minor_faults),
        }
    }
}

/// What every run needs.
#[derive(Debug)]
struct Bench<'a> {
    options: &'a Options,
    bin_dir: &'a Path,
    work: &'a Path,
    nofile: u64,
    /// Clock ticks per second, the unit of `/proc/PID/stat`'s CPU times.
    clock_ticks: u64,
}

impl Bench<'_> {
    /// CPU time and page faults per request, of `used` over `requests`.
    fn per_request(&self, metrics: &mut Metrics, used: Usage, requests: u64) {
        if requests > 0 {
            let micros = used.cpu_ticks as f64 * 1e6 / self.clock_ticks as f64;
            metrics.insert(scenarios::CPU_PER_REQ, micros / requests as f64);
            metrics.insert(
                scenarios::FAULTS_PER_REQ,
                used.minor_faults as f64 / requests as f64,
            );
        }
    }

    /// One scenario against one fresh server.
    fn run(
        &self,
        scenario: &Scenario,
        prepared: &Prepared,
        kind: &'static ServerKind,
    ) -> anyhow::Result<Metrics> {
        let server = RunningServer::start(self, kind)?;
        let options = self.options;
        match &scenario.load {
            Load::Throughput(request) => {
                server.check(request, &prepared.bodies)?;
                let run = |seconds| {
                    wrk::run(
                        &prepared.script,
                        server.addr,
                        request.path,
                        options.connections,
                        seconds,
                    )
                };
                run(options.warmup)?;
                let before = server.usage()?;
                let outcome = run(options.duration)?;
                let used = server.usage()? - before;
                let mut metrics = wrk_metrics(&outcome);
                self.per_request(&mut metrics, used, outcome.requests);
                Ok(metrics)
            }
            Load::Pipelined {
                connections, depth, ..
            } => {
                server.check_line(prepared.body())?;
                let run = |seconds| {
                    self.pipeline(server.addr, *connections, *depth, seconds, &prepared.script)
                };
                run(options.warmup)?;
                let before = server.usage()?;
                let outcome = run(options.duration)?;
                let used = server.usage()? - before;
                let mut metrics = Metrics::new();
                metrics.insert(scenarios::REQ_S, outcome.req_per_s());
                self.per_request(&mut metrics, used, outcome.replies);
                Ok(metrics)
            }
            Load::Contended {
                probe,
                background,
                background_connections,
                paced_background,
            } => {
                let (background_script, background_bodies) = prepared
                    .background
                    .as_ref()
                    .context("background not prepared")?;
                server.check(probe, &prepared.bodies)?;
                server.check(background, background_bodies)?;
                let probe_run = |seconds| {
                    wrk::run(
                        &prepared.script,
                        server.addr,
                        probe.path,
                        options.connections,
                        seconds,
                    )
                };
                let paced_request = http::request_bytes(probe, server.addr, prepared.body());
                let paced_run =
                    |seconds| paced::probe(self.work, server.addr, &paced_request, seconds);
                probe_run(options.warmup)?;
                let idle = probe_run(options.duration)?;
                let paced_idle = paced_run(options.duration)?;
                // The background runs through both probes' warm-up and runs.
                let background_run = wrk::spawn(
                    background_script,
                    server.addr,
                    background.path,
                    *background_connections,
                    options.warmup + 2 * options.duration + 1,
                )?;
                let background_run = KillOnDrop(Some(background_run));
                probe_run(options.warmup)?;
                let mut metrics = wrk_metrics(&probe_run(options.duration)?);
                let paced = paced_run(options.duration)?;
                let closed_loop = wrk::finish(background_run.take())?;
                metrics.insert(scenarios::BACKGROUND_REQ_S, closed_loop.req_per_s());
                metrics.insert(scenarios::IDLE_P99, idle.p99_us);
                metrics.insert(scenarios::P99_OVER_IDLE, idle_ratio(&metrics, idle.p99_us));
                metrics.insert(scenarios::PACED_IDLE_P99, paced_idle.p99_us);
                metrics.insert(scenarios::PACED_P99, paced.p99_us);
                metrics.insert(
                    scenarios::PACED_P99_OVER_IDLE,
                    paced.p99_us / paced_idle.p99_us,
                );
                if let Some(rate) = paced_background {
                    // The same probe again, under the same work for every
                    // server: the background paced too.
                    let request =
                        http::request_bytes(background, server.addr, &background_bodies[0]);
                    let paced_load = paced::spawn_background(
                        self.work,
                        server.addr,
                        &request,
                        *rate,
                        *background_connections,
                        options.warmup + options.duration + 1,
                    )?;
                    std::thread::sleep(Duration::from_secs(options.warmup));
                    let loaded = paced_run(options.duration)?;
                    let paced_load = paced_load.finish()?;
                    metrics.insert(scenarios::FIXED_PACED_P99, loaded.p99_us);
                    metrics.insert(
                        scenarios::FIXED_PACED_P99_OVER_IDLE,
                        loaded.p99_us / paced_idle.p99_us,
                    );
                    metrics.insert(scenarios::FIXED_BACKGROUND_P50, paced_load.p50_us);
                }
                Ok(metrics)
            }
            Load::IdleConnections { count, request } => {
                if self.nofile < *count as u64 + 100 {
                    bail!(
                        "the open-file hard limit ({}) is too low for {count} connections",
                        self.nofile
                    );
                }
                server.check(request, &prepared.bodies)?;
                std::thread::sleep(Duration::from_millis(300));
                let rss_before = server.rss_kib()?;
                let fds_before = server.open_fds()?;
                let held = Holder::start(self, server.addr, request, prepared.body(), *count)?;
                // Let the server finish its bookkeeping for the last ones.
                std::thread::sleep(Duration::from_millis(1000));
                let rss_after = server.rss_kib()?;
                let fds_after = server.open_fds()?;
                drop(held);
                let opened = fds_after.saturating_sub(fds_before);
                if opened < *count * 99 / 100 {
                    bail!("only {opened} of {count} connections were open in the server");
                }
                let mut metrics = Metrics::new();
                metrics.insert(
                    scenarios::KIB_PER_CONN,
                    (rss_after as f64 - rss_before as f64) / *count as f64,
                );
                metrics.insert(scenarios::RSS_BEFORE, rss_before as f64);
                metrics.insert(scenarios::RSS_AFTER, rss_after as f64);
                metrics.insert(scenarios::CONNECTIONS, *count as f64);
                metrics.insert(scenarios::FDS_OPENED, opened as f64);
                Ok(metrics)
            }
        }
    }
}

impl Bench<'_> {
    /// One run of the pipelined-lines generator on core 0.
    fn pipeline(
        &self,
        addr: SocketAddr,
        connections: usize,
        depth: usize,
        seconds: u64,
        line_file: &Path,
    ) -> anyhow::Result<lines::Outcome> {
        let line = helper(
            Command::new("taskset"),
            "__pipeline",
            "the pipeline generator",
            &[
                addr.to_string(),
                connections.to_string(),
                depth.to_string(),
                seconds.to_string(),
                line_file.display().to_string(),
            ],
        )?;
        lines::parse(&line)
    }
}

/// Runs this binary's helper `subcommand` (`__pipeline`, `__paced`) with
/// `args` on core 0 to its end, and returns what follows `LOADBENCH ` in
/// its output. `taskset` is `taskset`, or a command that runs it; `what`
/// names the helper in errors.
pub(crate) fn helper(
    taskset: Command,
    subcommand: &str,
    what: &str,
    args: &[String],
) -> anyhow::Result<String> {
    let output = helper_command(taskset, subcommand, args)?
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("could not run {what}"))?;
    helper_result(&output, what)
}

/// The command line of [`helper`]: `taskset -c 0 <this binary> subcommand
/// args...`, for a helper that runs in the background too.
pub(crate) fn helper_command(
    mut taskset: Command,
    subcommand: &str,
    args: &[String],
) -> anyhow::Result<Command> {
    taskset
        .args(["-c", "0"])
        .arg(std::env::current_exe()?)
        .arg(subcommand)
        .args(args);
    Ok(taskset)
}

/// What follows `LOADBENCH ` in a finished helper's output.
pub(crate) fn helper_result(output: &std::process::Output, what: &str) -> anyhow::Result<String> {
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!("{what} failed ({}): {text}", output.status);
    }
    text.lines()
        .find_map(|line| line.strip_prefix("LOADBENCH "))
        .map(str::to_owned)
        .with_context(|| format!("{what} printed no result: {text}"))
}

/// The loaded p99 in `metrics` over `idle_p99`.
fn idle_ratio(metrics: &Metrics, idle_p99: f64) -> f64 {
    metrics.get(scenarios::P99).copied().unwrap_or(f64::NAN) / idle_p99
}

fn wrk_metrics(outcome: &wrk::Outcome) -> Metrics {
    let mut metrics = Metrics::new();
    metrics.insert(scenarios::REQ_S, outcome.req_per_s());
    metrics.insert(scenarios::P50, outcome.p50_us);
    metrics.insert(scenarios::P99, outcome.p99_us);
    metrics.insert("errors", outcome.errors() as f64);
    metrics
}

/// A child process killed (by its id) if still running when dropped.
#[derive(Debug)]
pub(crate) struct KillOnDrop(pub(crate) Option<Child>);

impl KillOnDrop {
    pub(crate) fn take(mut self) -> Child {
        self.0.take().expect("taken once")
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A benchmark server on core 1, killed when dropped.
#[derive(Debug)]
struct RunningServer {
    _child: KillOnDrop,
    pid: u32,
    addr: SocketAddr,
    kind: &'static ServerKind,
}

impl RunningServer {
    fn start(bench: &Bench<'_>, kind: &'static ServerKind) -> anyhow::Result<Self> {
        let addr = free_port()?;
        let tcp_addr = free_port()?;
        let mut command = Command::new("prlimit");
        command
            .arg(format!("--nofile={0}:{0}", bench.nofile))
            .args(["taskset", "-c", "1"])
            .arg(
                kind.path
                    .map_or_else(|| bench.bin_dir.join(kind.bin), PathBuf::from),
            )
            .arg("--addr")
            .arg(addr.to_string())
            .arg("--threads")
            .arg(bench.options.threads.to_string());
        if kind.port == Port::TcpBeside {
            command.arg("--tcp-addr").arg(tcp_addr.to_string());
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("could not start {}", kind.bin))?;
        let stdout = child.stdout.take().context("no stdout")?;
        // prlimit and taskset exec the server: the child's id is the server's.
        let pid = child.id();
        let child = KillOnDrop(Some(child));
        let (expected, load_addr) = match kind.port {
            Port::Http => (
                vec![format!("{} listening on http://{addr}/", kind.bin)],
                addr,
            ),
            Port::TcpBeside => (
                vec![
                    format!("{} listening on http://{addr}/", kind.bin),
                    format!("{} listening on tcp://{tcp_addr}", kind.bin),
                ],
                tcp_addr,
            ),
            Port::TcpOnly => (
                vec![format!("{} listening on tcp://{addr}", kind.bin)],
                addr,
            ),
        };
        let printed = first_lines(stdout, expected.len(), Duration::from_secs(10))
            .with_context(|| format!("{} did not start", kind.bin))?;
        for (line, expected) in printed.iter().zip(&expected) {
            if line.trim_end() != expected {
                bail!("{} printed {line:?}, expected {expected:?}", kind.bin);
            }
        }
        Ok(RunningServer {
            _child: child,
            pid,
            addr: load_addr,
            kind,
        })
    }

    /// One request per body, each answered as a JSON-RPC server must (bare
    /// hyper: 200).
    fn check(&self, request: &Request, bodies: &[Vec<u8>]) -> anyhow::Result<()> {
        for (index, body) in bodies.iter().enumerate() {
            self.check_one(request, body).with_context(|| {
                format!(
                    "body {} of {} ({} bytes)",
                    index + 1,
                    bodies.len(),
                    body.len()
                )
            })?;
        }
        Ok(())
    }

    fn check_one(&self, request: &Request, body: &[u8]) -> anyhow::Result<()> {
        let (status, answer) =
            http::exchange(self.addr, &http::request_bytes(request, self.addr, body))?;
        if self.kind.answers {
            match request.wire {
                Wire::Json => http::check_answer(status, &answer, request.results),
                Wire::Gzip => {
                    let mut plain = Vec::new();
                    flate2::read::GzDecoder::new(&answer[..])
                        .read_to_end(&mut plain)
                        .context("the answer is not gzip")?;
                    http::check_answer(status, &plain, request.results)
                }
                Wire::Jsonp(expected) if status == 200 && answer == expected.as_bytes() => Ok(()),
                Wire::Jsonp(expected) => bail!(
                    "HTTP {status}: {:?}, expected {expected:?}",
                    String::from_utf8_lossy(&answer[..answer.len().min(200)])
                ),
            }
        } else if status == 200 {
            Ok(())
        } else {
            bail!("HTTP {status}")
        }
    }

    /// One newline-delimited request, answered as the server must: a
    /// JSON-RPC result, or (bare LinesCodec) the line itself.
    fn check_line(&self, line: &[u8]) -> anyhow::Result<()> {
        let reply = lines::exchange(self.addr, line)?;
        if self.kind.answers {
            http::check_answer(200, &reply, 1)
        } else if reply == line {
            Ok(())
        } else {
            bail!(
                "the echo server answered {:?}",
                String::from_utf8_lossy(&reply)
            )
        }
    }

    /// CPU time and minor page faults so far (all threads), from
    /// `/proc/PID/stat`.
    fn usage(&self) -> anyhow::Result<Usage> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))?;
        // The name (field 2) may hold spaces, so count from the `)` that
        // ends it, after which field 3 comes.
        let rest = stat.rsplit_once(')').context("odd /proc/PID/stat")?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |number: usize| -> anyhow::Result<u64> {
            let text = fields.get(number - 3).context("short /proc/PID/stat")?;
            Ok(text.parse()?)
        };
        Ok(Usage {
            // minflt; utime + stime, in clock ticks.
            minor_faults: field(10)?,
            cpu_ticks: field(14)? + field(15)?,
        })
    }

    /// Resident memory, from `/proc/PID/status`.
    fn rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        let line = status
            .lines()
            .find(|line| line.starts_with("VmRSS:"))
            .context("no VmRSS")?;
        Ok(line
            .split_whitespace()
            .nth(1)
            .context("odd VmRSS line")?
            .parse()?)
    }

    fn open_fds(&self) -> anyhow::Result<usize> {
        Ok(std::fs::read_dir(format!("/proc/{}/fd", self.pid))?.count())
    }
}

/// The helper process holding idle connections (`loadbench __hold`), on
/// core 0; closing its stdin ends it.
#[derive(Debug)]
struct Holder(KillOnDrop);

impl Holder {
    fn start(
        bench: &Bench<'_>,
        addr: SocketAddr,
        request: &Request,
        body: &[u8],
        count: usize,
    ) -> anyhow::Result<Self> {
        let body_file = bench.work.join("hold.body");
        std::fs::write(&body_file, body)?;
        let mut child = Command::new("prlimit")
            .arg(format!("--nofile={0}:{0}", bench.nofile))
            .args(["taskset", "-c", "0"])
            .arg(std::env::current_exe()?)
            .arg("__hold")
            .arg(addr.to_string())
            .arg(request.path)
            .arg(count.to_string())
            .arg(&body_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("could not start the connection holder")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let holder = Holder(KillOnDrop(Some(child)));
        let line = first_line(stdout, Duration::from_secs(120))
            .context("the connection holder did not report")?;
        let mut words = line.split_whitespace();
        let (Some("ready"), Some(ok), Some(failed)) = (words.next(), words.next(), words.next())
        else {
            bail!("the connection holder said {line:?}");
        };
        if failed != "0" || ok != count.to_string() {
            bail!("the connection holder opened {ok} of {count} connections: {line}");
        }
        Ok(holder)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 .0 {
            // Closing stdin lets it close its connections and exit.
            drop(child.stdin.take());
            for _ in 0..50 {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// The first line `stdout` prints, within `timeout`; the rest is drained
/// on a thread so the child never blocks on a full pipe.
fn first_line(
    stdout: impl std::io::Read + Send + 'static,
    timeout: Duration,
) -> anyhow::Result<String> {
    let mut lines = first_lines(stdout, 1, timeout)?;
    Ok(lines.remove(0))
}

/// The first `n` lines `stdout` prints, within `timeout` in all; the rest
/// is drained on a thread so the child never blocks on a full pipe.
fn first_lines(
    stdout: impl std::io::Read + Send + 'static,
    n: usize,
    timeout: Duration,
) -> anyhow::Result<Vec<String>> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        for _ in 0..n {
            if sender.send(lines.next()).is_err() {
                return;
            }
        }
        for _ in lines {}
    });
    let deadline = std::time::Instant::now() + timeout;
    let mut printed = Vec::with_capacity(n);
    while printed.len() < n {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match receiver.recv_timeout(left) {
            Ok(Some(Ok(line))) => printed.push(line),
            Ok(Some(Err(err))) => return Err(err.into()),
            Ok(None) => bail!("exited after printing {printed:?}"),
            Err(_) => bail!("printed {printed:?} within {timeout:?}, expected {n} lines"),
        }
    }
    Ok(printed)
}

/// A port on 127.0.0.1 nothing listens on right now.
fn free_port() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_baseline_runs_next_to_rpckit_and_listens_as_it_does() {
        assert!(set_baseline(Path::new("/no/such/bench_server")).is_err());
        set_baseline(&std::env::current_exe().unwrap()).unwrap();
        for scenario in scenarios::all() {
            let servers = servers_for(&scenario);
            let names: Vec<&str> = servers.iter().map(|server| server.name).collect();
            assert_eq!(names[0], "rpckit", "{}", scenario.key);
            assert_eq!(names[1], "baseline", "{}", scenario.key);
            assert_eq!(names.iter().filter(|name| **name == "baseline").count(), 1);
            // Listening where rpckit's listens: HTTP, or a TCP port beside it.
            assert!(servers[1].port == servers[0].port, "{}", scenario.key);
            assert!(servers[1].path.is_some());
        }
    }
}
