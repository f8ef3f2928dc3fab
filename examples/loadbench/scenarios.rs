//! The scenario table and the targets of issues 3, 4 and 5. A new scenario
//! is one more entry of [`all`]; a new kind of load is one more [`Load`]
//! variant and its arm in `main.rs`.

use std::fmt::Write as _;

use crate::shared;

/// Throughput metrics, as wrk reports them.
pub(crate) const REQ_S: &str = "req_per_s";
pub(crate) const P50: &str = "p50_us";
pub(crate) const P99: &str = "p99_us";
/// Server CPU time (user + system) per request during the measured run:
/// unlike req/s, barely moved by other processes competing for the core.
pub(crate) const CPU_PER_REQ: &str = "cpu_us_per_req";
/// The server's minor page faults per request during the measured run: a
/// steady server faults none. An allocator that hands memory back to the
/// kernel and takes it again every request shows here long before req/s
/// can tell it from noise (a change that did so cost 10-25% and read
/// 0.99x in an A/B run).
pub(crate) const FAULTS_PER_REQ: &str = "faults_per_req";
/// Memory metrics of the idle-connection scenarios.
pub(crate) const KIB_PER_CONN: &str = "kib_per_conn";
pub(crate) const RSS_BEFORE: &str = "rss_before_kib";
pub(crate) const RSS_AFTER: &str = "rss_after_kib";
pub(crate) const CONNECTIONS: &str = "connections";
pub(crate) const FDS_OPENED: &str = "fds_opened";
/// Requests per second of the background load in [`Load::Contended`].
pub(crate) const BACKGROUND_REQ_S: &str = "background_req_per_s";
/// [`Load::Contended`]'s probe alone, on the same server just before the
/// background load starts: its p99, and the loaded p99 over it.
pub(crate) const IDLE_P99: &str = "idle_p99_us";
pub(crate) const P99_OVER_IDLE: &str = "p99_over_idle_p99";
/// The same with the open-loop probe (`loadbench __paced`, see
/// `paced.rs`): the server is not saturated, so a p99 is its answer time
/// rather than a queue's.
pub(crate) const PACED_IDLE_P99: &str = "paced_idle_p99_us";
pub(crate) const PACED_P99: &str = "paced_p99_us";
pub(crate) const PACED_P99_OVER_IDLE: &str = "paced_p99_over_idle_p99";
/// The paced probe's p99 under a paced background (`paced_background` of
/// [`Load::Contended`]), over its idle p99, and the background's own p50.
pub(crate) const FIXED_PACED_P99: &str = "paced_p99_fixed_background_us";
pub(crate) const FIXED_PACED_P99_OVER_IDLE: &str = "paced_p99_fixed_background_over_idle_p99";
pub(crate) const FIXED_BACKGROUND_P50: &str = "fixed_background_p50_us";

/// One HTTP request the load generator repeats.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) method: &'static str,
    pub(crate) path: &'static str,
    /// Besides `Content-Type: application/json`.
    pub(crate) headers: &'static [(&'static str, &'static str)],
    pub(crate) body: Body,
    /// How many JSON-RPC results a JSON-RPC server must answer (checked once
    /// per run before the load starts, for every body; bare hyper's fixed
    /// body is not).
    pub(crate) results: usize,
    /// How the answer arrives, for that check.
    pub(crate) wire: Wire,
}

/// What a [`Request`] sends.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Body {
    /// The same body every request.
    One(fn() -> Vec<u8>),
    /// These bodies in turn, one per request, for the scenarios that need
    /// a server's heap to have served several sizes: wrk cycles through
    /// them, and the check before the load sends each. What sends a single
    /// request (the idle connections' first request, the paced probe,
    /// `loadbench __body`) sends the first.
    Cycle(fn() -> Vec<Vec<u8>>),
}

impl Body {
    /// Every body, in the order they are sent.
    pub(crate) fn all(self) -> Vec<Vec<u8>> {
        match self {
            Body::One(body) => vec![body()],
            Body::Cycle(bodies) => bodies(),
        }
    }
}

/// The form of a scenario's answer.
#[derive(Debug)]
pub(crate) enum Wire {
    /// JSON-RPC as JSON.
    Json,
    /// JSON-RPC as gzipped JSON (`Content-Encoding: gzip`).
    Gzip,
    /// A JSONP answer, exactly this text.
    Jsonp(&'static str),
}

/// What a scenario does to a server.
#[derive(Debug)]
pub(crate) enum Load {
    /// wrk repeats `request` for the run's duration: req/s, p50, p99.
    Throughput(Request),
    /// `count` keep-alive connections, each served `request` once, then held
    /// idle: resident memory per connection.
    IdleConnections { count: usize, request: Request },
    /// wrk repeats `probe` alone, then again while `background_connections`
    /// more connections keep sending `background`, on the same server
    /// process: the probe's req/s, p50, p99 under the load, its p99 alone,
    /// and the one over the other. Measured back to back in one process,
    /// not against another scenario's run: this box's p99 moves between
    /// server starts (0.6 to 3.7 ms for the same idle server), and a ratio
    /// of two starts measured that as much as the load. Then the same with
    /// the paced probe (`paced.rs`, 4,000 requests a second), alone and
    /// loaded: wrk saturates the server, so its p99 is mostly the queue's,
    /// idle or not; the paced p99 is how long an answer took.
    ///
    /// wrk's background is closed-loop, so a server that answers it faster
    /// gets more of it to do, and its probe's p99 can rise because it got
    /// faster. With `paced_background`, the paced probe runs once more
    /// under the background sent that many times a second (over the same
    /// connections, by `loadbench __paced`): the same work for every
    /// server and every build.
    Contended {
        probe: Request,
        background: Request,
        background_connections: u32,
        paced_background: Option<u32>,
    },
    /// `connections` TCP connections each keep `depth` newline-delimited
    /// copies of `line` outstanding (`lines.rs` generates the load): req/s
    /// and CPU per request, against the stream servers.
    Pipelined {
        line: fn() -> Vec<u8>,
        connections: usize,
        depth: usize,
    },
}

impl Load {
    /// The metric the ratios between servers compare, and whether more is better.
    pub(crate) fn primary(&self) -> (&'static str, bool) {
        match self {
            Load::Throughput(_) | Load::Pipelined { .. } => (REQ_S, true),
            Load::IdleConnections { .. } => (KIB_PER_CONN, false),
            Load::Contended { .. } => (P99, false),
        }
    }
}

/// One row group of the report.
#[derive(Debug)]
pub(crate) struct Scenario {
    /// Stable name: `--scenarios` and the JSON report use it.
    pub(crate) key: &'static str,
    pub(crate) title: &'static str,
    pub(crate) load: Load,
    pub(crate) targets: &'static [Target],
    /// The servers it runs on ([`EVERY_SERVER`] or [`RPCKIT_ONLY`]).
    pub(crate) servers: &'static [&'static str],
    /// Printed under the title: what the scenario compares, when it is not
    /// the obvious.
    pub(crate) note: &'static str,
}

impl Scenario {
    pub(crate) fn runs_on(&self, server: &str) -> bool {
        self.servers.contains(&server)
    }

    /// The other scenarios its numbers are compared with.
    pub(crate) fn depends_on(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        for target in self.targets {
            if let Check::VsScenario { scenario, .. } = target.check {
                keys.push(scenario);
            }
        }
        keys
    }
}

/// Every server of the comparison.
pub(crate) const EVERY_SERVER: &[&str] = &["rpckit", "jsonrpsee", "hyper"];
/// For what only rpckit does (JSONP, response compression).
pub(crate) const RPCKIT_ONLY: &[&str] = &["rpckit"];

/// A goal for rpckit, printed PASS or MISS next to its scenario.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) text: &'static str,
    pub(crate) check: Check,
}

#[derive(Debug)]
pub(crate) enum Check {
    /// rpckit's `metric` ≥ `factor` × server `vs`'s.
    AtLeast {
        metric: &'static str,
        vs: &'static str,
        factor: f64,
    },
    /// rpckit's `metric` ≤ `factor` × server `vs`'s.
    AtMost {
        metric: &'static str,
        vs: &'static str,
        factor: f64,
    },
    /// rpckit's `metric` ≤ `limit`.
    NotAbove { metric: &'static str, limit: f64 },
    /// rpckit's `metric` against `factor` × its own `metric` in another
    /// `scenario`: at least (`at_least`) or at most.
    VsScenario {
        metric: &'static str,
        scenario: &'static str,
        at_least: bool,
        factor: f64,
    },
}

const SMALL: Request = Request {
    method: "POST",
    path: "/",
    headers: &[],
    body: Body::One(small_echo),
    results: 1,
    wire: Wire::Json,
};

/// Every scenario, in the order they run within a round.
pub(crate) fn all() -> Vec<Scenario> {
    vec![
        Scenario {
            key: "small_echo",
            servers: EVERY_SERVER,
            note: "",
            title: "small echo",
            load: Load::Throughput(SMALL),
            targets: &[
                Target {
                    text: "req/s >= 1.15x jsonrpsee",
                    check: Check::AtLeast {
                        metric: REQ_S,
                        vs: "jsonrpsee",
                        factor: 1.15,
                    },
                },
                Target {
                    text: "req/s >= 0.95x hyper",
                    check: Check::AtLeast {
                        metric: REQ_S,
                        vs: "hyper",
                        factor: 0.95,
                    },
                },
            ],
        },
        Scenario {
            key: "batch_100",
            servers: EVERY_SERVER,
            note: "",
            title: "batch of 100 echo",
            load: Load::Throughput(Request {
                body: Body::One(batch_100),
                results: 100,
                ..SMALL
            }),
            targets: &[Target {
                text: "req/s >= 1.5x jsonrpsee",
                check: Check::AtLeast {
                    metric: REQ_S,
                    vs: "jsonrpsee",
                    factor: 1.5,
                },
            }],
        },
        Scenario {
            key: "struct_128k_json",
            servers: EVERY_SERVER,
            note: "",
            title: "128 KiB echo_struct, JSON",
            load: Load::Throughput(Request {
                body: Body::One(echo_struct_128k),
                ..SMALL
            }),
            targets: &[],
        },
        Scenario {
            key: "struct_128k_simd",
            servers: EVERY_SERVER,
            note: "",
            title: "128 KiB echo_struct, SIMD-JSON (/simd)",
            load: Load::Throughput(Request {
                path: "/simd",
                body: Body::One(echo_struct_128k),
                ..SMALL
            }),
            targets: &[Target {
                text: "req/s >= 2x jsonrpsee",
                check: Check::AtLeast {
                    metric: REQ_S,
                    vs: "jsonrpsee",
                    factor: 2.0,
                },
            }],
        },
        Scenario {
            key: "struct_mixed_simd",
            servers: EVERY_SERVER,
            note: "every request a different size (16 KiB to 1 MiB in turn), as a long-running \
                   server sees them: faults/req shows an allocator that hands heap back to the \
                   kernel and faults it in again (glibc's trim), which a fresh server echoing \
                   one size never does",
            title: "echo_struct of 16 KiB to 1 MiB, mixed, SIMD-JSON (/simd)",
            load: Load::Throughput(Request {
                path: "/simd",
                body: Body::Cycle(echo_struct_mixed),
                ..SMALL
            }),
            targets: &[],
        },
        Scenario {
            key: "idle_1k",
            servers: EVERY_SERVER,
            note: "",
            title: "1,000 idle keep-alive connections",
            load: Load::IdleConnections {
                count: 1_000,
                request: SMALL,
            },
            targets: &[IDLE_MEMORY],
        },
        Scenario {
            key: "idle_10k",
            servers: EVERY_SERVER,
            note: "",
            title: "10,000 idle keep-alive connections",
            load: Load::IdleConnections {
                count: 10_000,
                request: SMALL,
            },
            targets: &[IDLE_MEMORY],
        },
        Scenario {
            key: "small_under_4m",
            servers: EVERY_SERVER,
            note: "the fixed columns: the paced probe again while the 2 connections send 4 MiB echoes paced, 30 a second: the same work for every server (wrk's closed loop gives a faster server more)",
            title: "small echo while 2 conns send 4 MiB echo",
            load: Load::Contended {
                probe: SMALL,
                background: Request {
                    body: Body::One(echo_4m),
                    ..SMALL
                },
                background_connections: 2,
                paced_background: Some(FIXED_4M_RATE),
            },
            targets: &[P99_UNDER_LOAD, PACED_P99_UNDER_LOAD],
        },
        Scenario {
            key: "jsonp_get",
            title: "small echo as JSONP GET",
            servers: RPCKIT_ONLY,
            note: "rpckit only (jsonrpsee and bare hyper have no JSONP): \
                   GET /api/echo?data=hello&jsonp=cb against the same call POSTed (small_echo)",
            load: Load::Throughput(Request {
                method: "GET",
                path: "/api/echo?data=hello&jsonp=cb",
                body: Body::One(no_body),
                wire: Wire::Jsonp(r#"/**/cb("hello");"#),
                ..SMALL
            }),
            targets: &[
                Target {
                    text: "req/s >= 0.9x POST (small echo)",
                    check: Check::VsScenario {
                        metric: REQ_S,
                        scenario: "small_echo",
                        at_least: true,
                        factor: 0.9,
                    },
                },
                Target {
                    text: "CPU/req <= 1.1x POST (small echo)",
                    check: Check::VsScenario {
                        metric: CPU_PER_REQ,
                        scenario: "small_echo",
                        at_least: false,
                        factor: 1.1,
                    },
                },
            ],
        },
        Scenario {
            key: "small_under_gzip",
            title: "small echo while 4 conns fetch 2 MB gzipped",
            servers: RPCKIT_ONLY,
            note: "rpckit only (jsonrpsee and bare hyper do not compress): small echo's p99 \
                   while 4 connections loop on `big` (2.1 MB, gzip) against small echo alone",
            load: Load::Contended {
                probe: SMALL,
                background: Request {
                    headers: &[("Accept-Encoding", "gzip")],
                    body: Body::One(big),
                    wire: Wire::Gzip,
                    ..SMALL
                },
                background_connections: 4,
                paced_background: None,
            },
            targets: &[P99_UNDER_LOAD, PACED_P99_UNDER_LOAD],
        },
        Scenario {
            key: "pipelined_lines",
            title: "pipelined newline echo over TCP, 8 conns x 64 deep",
            servers: &["rpckit", "lines", "json_lines"],
            note: "newline-delimited JSON over TCP: rpckit-tcp against a bare tokio-util LinesCodec echo (the framing limit) and the same with serde_json parsing each call and writing its reply (json_lines: the floor of any JSON-RPC server over lines)",
            load: Load::Pipelined {
                line: small_echo,
                connections: 8,
                depth: 64,
            },
            targets: &[Target {
                text: "req/s >= 0.7x raw LinesCodec echo",
                check: Check::AtLeast {
                    metric: REQ_S,
                    vs: "lines",
                    factor: 0.7,
                },
            }],
        },
    ]
}

/// `small_under_4m`'s paced background: 4 MiB echoes a second, which every
/// server of the comparison keeps up with (closed-loop on one core:
/// jsonrpsee 55-65, rpckit 60-67, bare hyper, which only reads them, 570).
const FIXED_4M_RATE: u32 = 30;

const P99_UNDER_LOAD: Target = Target {
    text: "p99 <= 2x its idle p99",
    check: Check::NotAbove {
        metric: P99_OVER_IDLE,
        limit: 2.0,
    },
};

const PACED_P99_UNDER_LOAD: Target = Target {
    text: "paced p99 <= 2x its idle paced p99",
    check: Check::NotAbove {
        metric: PACED_P99_OVER_IDLE,
        limit: 2.0,
    },
};

const IDLE_MEMORY: Target = Target {
    text: "KiB/conn <= jsonrpsee",
    check: Check::AtMost {
        metric: KIB_PER_CONN,
        vs: "jsonrpsee",
        factor: 1.0,
    },
};

fn small_echo() -> Vec<u8> {
    br#"{"jsonrpc":"2.0","method":"echo","params":["hello"],"id":1}"#.to_vec()
}

fn batch_100() -> Vec<u8> {
    let mut body = String::from("[");
    for id in 1..=100 {
        if id > 1 {
            body.push(',');
        }
        let _ = write!(
            body,
            r#"{{"jsonrpc":"2.0","method":"echo","params":["hello"],"id":{id}}}"#
        );
    }
    body.push(']');
    body.into_bytes()
}

/// `echo_struct` with ~128 KiB of params (whole items, at most 128 KiB).
fn echo_struct_128k() -> Vec<u8> {
    echo_struct(128 * 1024)
}

/// `echo_struct` with catalogues of 16 KiB, 64 KiB, 128 KiB, 256 KiB,
/// 512 KiB and 1 MiB, smallest first.
fn echo_struct_mixed() -> Vec<Vec<u8>> {
    [16, 64, 128, 256, 512, 1024]
        .into_iter()
        .map(|kib| echo_struct(kib * 1024))
        .collect()
}

/// `echo_struct` of a catalogue of at most `bytes` of JSON.
fn echo_struct(bytes: usize) -> Vec<u8> {
    let catalog = shared::catalog(bytes);
    let params = serde_json::to_string(&catalog).unwrap_or_default();
    format!(r#"{{"jsonrpc":"2.0","method":"echo_struct","params":[{params}],"id":1}}"#).into_bytes()
}

/// A `GET` has none.
fn no_body() -> Vec<u8> {
    Vec::new()
}

/// `big`: 2.1 MB of text, compressed when the client accepts it.
fn big() -> Vec<u8> {
    br#"{"jsonrpc":"2.0","method":"big","id":1}"#.to_vec()
}

/// `echo` of a 4 MiB string.
fn echo_4m() -> Vec<u8> {
    let text: String = (0..4 * 1024 * 1024)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    format!(r#"{{"jsonrpc":"2.0","method":"echo","params":["{text}"],"id":1}}"#).into_bytes()
}

/// How many items the 128 KiB catalogue holds, for the report.
pub(crate) fn catalog_items() -> usize {
    shared::catalog(128 * 1024).items.len()
}
