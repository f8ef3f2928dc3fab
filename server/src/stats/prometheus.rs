//! The Prometheus text exposition format (0.0.4), and a service serving it.

use std::convert::Infallible;
use std::fmt::{self, Write};
use std::future::{ready, Ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{header, HeaderValue, Method, Request, Response, StatusCode};

use super::histogram::Counts;
use super::snapshot::stage_counts;
use super::{Stage, Stats};

/// The `Content-Type` of the exposition.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The upper bounds of the exported histogram buckets, in seconds. The
/// histograms are finer; a sample is counted under the first bound its
/// fine bucket fits below (see `Counts::count_up_to`).
const BOUNDS: [f64; 19] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Serves [`Stats`] in the Prometheus text format to `GET` (and `HEAD`)
/// requests of any path; other methods get `405`. Mount it at the path
/// of your choice with the HTTP server's
/// [`service`](rpckit_http::ServerBuilder::service), or in an axum app.
///
/// Metrics, labelled `path` (the route the router is served at) and
/// `method` (the method's first name) or `stage`:
///
/// | metric | type |
/// |---|---|
/// | `rpckit_calls_total`, `rpckit_call_errors_total`, `rpckit_calls_cancelled_total` | counter |
/// | `rpckit_calls_in_flight` | gauge |
/// | `rpckit_call_duration_seconds` | histogram |
/// | `rpckit_stage_duration_seconds` (`stage` = decode, wait, handler, encode, compress) | histogram |
/// | `rpckit_connections_accepted_total` | counter |
/// | `rpckit_connections_open`, `rpckit_connections_per_second`, `rpckit_connections_peak_per_second` | gauge |
///
/// ```no_run
/// use rpckit::Router;
///
/// # async fn run() -> std::io::Result<()> {
/// let api = Router::new().sync_method("ping", || "pong");
/// let stats = api.stats_handle().unwrap();
/// rpckit::http::Server::builder()
///     .route("/api", api)
///     .service("/metrics", stats.prometheus_service())
///     .bind("127.0.0.1:7001")
///     .await?
///     .serve()
///     .await
/// # }
/// ```
#[derive(Clone)]
pub struct PrometheusService {
    stats: Arc<[Stats]>,
}

impl PrometheusService {
    /// Serves every one of `stats` (the routers of several paths) in one
    /// exposition. Each is labelled with its [path](Stats::path); a path
    /// that comes twice gets `~2`, `~3`… appended, so that no two series
    /// have the same labels.
    pub fn new(stats: impl IntoIterator<Item = Stats>) -> Self {
        PrometheusService {
            stats: stats.into_iter().collect(),
        }
    }

    fn answer(&self, method: &Method) -> Response<String> {
        if method != Method::GET && method != Method::HEAD {
            let mut response = Response::new("only GET and HEAD are served here\n".to_owned());
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        let body = if method == Method::HEAD {
            String::new()
        } else {
            render(&self.stats)
        };
        let mut response = Response::new(body);
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        response
    }
}

impl<B> tower::Service<Request<B>> for PrometheusService {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        ready(Ok(self.answer(request.method())))
    }
}

impl fmt::Debug for PrometheusService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusService")
            .field("stats", &self.stats.len())
            .finish()
    }
}

/// One router's numbers, read once for the whole exposition.
struct Read {
    path: String,
    methods: Vec<(String, super::method::MethodCounts)>,
    stages: [Counts; 5],
    connections: super::connections::ConnectionCounts,
}

/// The exposition of `stats`.
pub(crate) fn render(stats: &[Stats]) -> String {
    let mut paths: Vec<String> = Vec::with_capacity(stats.len());
    for stats in stats {
        // Two series with the same labels would make the exposition
        // invalid: a path seen already (two unmounted routers, say) gets
        // a `~2`, `~3`… of its own.
        let path = stats.path();
        let mut label = path.clone();
        let mut n = 1;
        while paths.contains(&label) {
            n += 1;
            label = format!("{path}~{n}");
        }
        paths.push(label);
    }
    let reads: Vec<Read> = stats
        .iter()
        .zip(paths)
        .map(|(stats, path)| Read {
            path: escape(&path),
            methods: stats
                .methods()
                .into_iter()
                .map(|(names, method)| (escape(&names[0]), method.read()))
                .collect(),
            stages: stage_counts(stats),
            connections: stats.inner.connections.read(),
        })
        .collect();
    let mut out = String::with_capacity(4096);
    // Writing to a String cannot fail.
    let _ = write_all(&mut out, &reads);
    out
}

/// A per-method counter: metric name, help text, how to read it.
type MethodCounter = (
    &'static str,
    &'static str,
    fn(&super::method::MethodCounts) -> u64,
);

/// A connection metric: name, help text, type, how to read it.
type ConnectionMetric = (
    &'static str,
    &'static str,
    &'static str,
    fn(&super::connections::ConnectionCounts) -> u64,
);

fn write_all(out: &mut String, reads: &[Read]) -> fmt::Result {
    let counters: [MethodCounter; 3] = [
        ("rpckit_calls_total", "Calls made, per method.", |m| m.calls),
        (
            "rpckit_call_errors_total",
            "Calls answered with an error (panics and timeouts included).",
            |m| m.errors,
        ),
        (
            "rpckit_calls_cancelled_total",
            "Calls dropped before they answered.",
            |m| m.cancelled,
        ),
    ];
    for (name, help, value) in counters {
        family(out, name, help, "counter")?;
        for read in reads {
            for (method, counts) in &read.methods {
                let path = &read.path;
                writeln!(
                    out,
                    "{name}{{path=\"{path}\",method=\"{method}\"}} {}",
                    value(counts)
                )?;
            }
        }
    }
    family(out, "rpckit_calls_in_flight", "Calls running now.", "gauge")?;
    for read in reads {
        for (method, counts) in &read.methods {
            let path = &read.path;
            writeln!(
                out,
                "rpckit_calls_in_flight{{path=\"{path}\",method=\"{method}\"}} {}",
                counts.in_flight
            )?;
        }
    }
    family(
        out,
        "rpckit_call_duration_seconds",
        "How long answered calls took, per method.",
        "histogram",
    )?;
    for read in reads {
        for (method, counts) in &read.methods {
            let labels = format!("path=\"{}\",method=\"{method}\"", read.path);
            histogram(
                out,
                "rpckit_call_duration_seconds",
                &labels,
                &counts.latency,
            )?;
        }
    }
    family(
        out,
        "rpckit_stage_duration_seconds",
        "Time spent per stage of a request.",
        "histogram",
    )?;
    for read in reads {
        for stage in Stage::ALL {
            let labels = format!("path=\"{}\",stage=\"{stage}\"", read.path);
            let counts = &read.stages[stage.index()];
            histogram(out, "rpckit_stage_duration_seconds", &labels, counts)?;
        }
    }
    let connections: [ConnectionMetric; 4] = [
        (
            "rpckit_connections_accepted_total",
            "Connections accepted.",
            "counter",
            |c| c.accepted,
        ),
        (
            "rpckit_connections_open",
            "Connections open now.",
            "gauge",
            |c| c.open,
        ),
        (
            "rpckit_connections_per_second",
            "Connections accepted in the last whole second.",
            "gauge",
            |c| c.last_second,
        ),
        (
            "rpckit_connections_peak_per_second",
            "Connections accepted in the busiest second so far.",
            "gauge",
            |c| c.peak_per_second,
        ),
    ];
    for (name, help, kind, value) in connections {
        family(out, name, help, kind)?;
        for read in reads {
            writeln!(
                out,
                "{name}{{path=\"{}\"}} {}",
                read.path,
                value(&read.connections)
            )?;
        }
    }
    Ok(())
}

fn family(out: &mut String, name: &str, help: &str, kind: &str) -> fmt::Result {
    writeln!(out, "# HELP {name} {help}")?;
    writeln!(out, "# TYPE {name} {kind}")
}

fn histogram(out: &mut String, name: &str, labels: &str, counts: &Counts) -> fmt::Result {
    for bound in BOUNDS {
        let le_ns = (bound * 1e9).round() as u64;
        writeln!(
            out,
            "{name}_bucket{{{labels},le=\"{bound}\"}} {}",
            counts.count_up_to(le_ns)
        )?;
    }
    writeln!(
        out,
        "{name}_bucket{{{labels},le=\"+Inf\"}} {}",
        counts.count
    )?;
    writeln!(out, "{name}_sum{{{labels}}} {}", counts.sum_ns as f64 / 1e9)?;
    writeln!(out, "{name}_count{{{labels}}} {}", counts.count)
}

/// A label value as the format wants it: `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape("x\ny"), "x\\ny");
    }

    #[test]
    fn bounds_are_printed_as_prometheus_reads_them() {
        assert_eq!(format!("{}", BOUNDS[0]), "0.00001");
        assert_eq!(format!("{}", BOUNDS[15]), "1");
    }
}
