//! Medians, ratios, targets: the table and the JSON report.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::scenarios::{self, Check, Load, Scenario, Target};
use crate::{servers_for, Metrics, Options};

/// Every run's metrics (or its failure), by scenario and server.
#[derive(Debug, Default)]
pub(crate) struct Results {
    runs: BTreeMap<(&'static str, &'static str), Vec<Result<Metrics, String>>>,
}

impl Results {
    pub(crate) fn record(
        &mut self,
        scenario: &'static str,
        server: &'static str,
        outcome: anyhow::Result<Metrics>,
    ) {
        self.runs
            .entry((scenario, server))
            .or_default()
            .push(outcome.map_err(|err| format!("{err:#}")));
    }

    fn runs(&self, scenario: &str, server: &str) -> &[Result<Metrics, String>] {
        self.runs
            .iter()
            .find(|((s, v), _)| *s == scenario && *v == server)
            .map_or(&[], |(_, runs)| runs.as_slice())
    }

    /// The median of `metric` over the successful rounds.
    fn median(&self, scenario: &str, server: &str, metric: &str) -> Option<f64> {
        let mut values: Vec<f64> = self
            .runs(scenario, server)
            .iter()
            .filter_map(|run| run.as_ref().ok()?.get(metric).copied())
            .collect();
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let middle = values.len() / 2;
        Some(if values.len() % 2 == 1 {
            values[middle]
        } else {
            (values[middle - 1] + values[middle]) / 2.0
        })
    }

    fn ratio(&self, scenario: &str, metric: &str, vs: &str) -> Option<f64> {
        Some(self.median(scenario, "rpckit", metric)? / self.median(scenario, vs, metric)?)
    }

    /// rpckit's `metric` over `vs`'s in each round both finished. The two
    /// ran in the same round, a run or two apart, so a round's ratio is
    /// mostly free of the drift between rounds (on a shared box the speed
    /// of the same binary moves by a fifth from one run to the next), and
    /// the ratios' spread shows how far a ratio of medians can be trusted.
    fn round_ratios(&self, scenario: &str, metric: &str, vs: &str) -> Vec<f64> {
        let value = |run: &Result<Metrics, String>| run.as_ref().ok()?.get(metric).copied();
        self.runs(scenario, "rpckit")
            .iter()
            .zip(self.runs(scenario, vs))
            .filter_map(|(ours, theirs)| Some(value(ours)? / value(theirs)?))
            .collect()
    }
}

/// One line of progress for a finished run.
pub(crate) fn brief(load: &Load, metrics: &Metrics) -> String {
    let get = |metric| metrics.get(metric).copied().unwrap_or(f64::NAN);
    let mut line = match load {
        Load::IdleConnections { .. } => format!(
            "{:.1} KiB/conn (RSS {:.1} -> {:.1} MiB, {} fds)",
            get(scenarios::KIB_PER_CONN),
            get(scenarios::RSS_BEFORE) / 1024.0,
            get(scenarios::RSS_AFTER) / 1024.0,
            get(scenarios::FDS_OPENED)
        ),
        Load::Pipelined { .. } => format!("{} req/s", thousands(get(scenarios::REQ_S))),
        Load::Throughput(_) | Load::Contended { .. } => format!(
            "{} req/s  p50 {} ms  p99 {} ms",
            thousands(get(scenarios::REQ_S)),
            millis(get(scenarios::P50)),
            millis(get(scenarios::P99))
        ),
    };
    if let Some(cpu) = metrics.get(scenarios::CPU_PER_REQ) {
        let _ = write!(line, "  CPU {cpu:.2} us/req");
    }
    if let Some(faults) = metrics.get(scenarios::FAULTS_PER_REQ) {
        let _ = write!(line, "  {faults:.2} faults/req");
    }
    if let Some(idle) = metrics.get(scenarios::IDLE_P99) {
        let _ = write!(line, "  (alone: p99 {} ms)", millis(*idle));
    }
    if let (Some(idle), Some(loaded)) = (
        metrics.get(scenarios::PACED_IDLE_P99),
        metrics.get(scenarios::PACED_P99),
    ) {
        let _ = write!(
            line,
            "  (paced p99 {} ms, alone {} ms)",
            millis(*loaded),
            millis(*idle)
        );
    }
    if let Some(background) = metrics.get(scenarios::BACKGROUND_REQ_S) {
        let _ = write!(line, "  (background {background:.1} req/s)");
    }
    if let Some(fixed) = metrics.get(scenarios::FIXED_PACED_P99) {
        let _ = write!(
            line,
            "  (paced p99 {} ms under the paced background)",
            millis(*fixed)
        );
    }
    if let Some(errors) = metrics.get("errors").filter(|errors| **errors > 0.0) {
        let _ = write!(line, "  WARNING: {errors} wrk errors");
    }
    line
}

/// Everything the report shows.
#[derive(Debug)]
pub(crate) struct Summary<'a> {
    pub(crate) options: &'a Options,
    pub(crate) scenarios: &'a [Scenario],
    pub(crate) results: &'a Results,
    pub(crate) load_before: &'a str,
    pub(crate) load_after: &'a str,
    pub(crate) catalog_items: usize,
}

/// The columns of a scenario's rows: (header, metric, formatter).
type Column = (&'static str, &'static str, fn(f64) -> String);

fn columns(load: &Load) -> &'static [Column] {
    match load {
        Load::Throughput(_) => &[
            ("req/s", scenarios::REQ_S, thousands),
            ("p50 ms", scenarios::P50, millis),
            ("p99 ms", scenarios::P99, millis),
            ("CPU us/req", scenarios::CPU_PER_REQ, two_decimals),
            ("faults/req", scenarios::FAULTS_PER_REQ, two_decimals),
        ],
        Load::Contended { .. } => &[
            ("req/s", scenarios::REQ_S, thousands),
            ("p50 ms", scenarios::P50, millis),
            ("idle p99 ms", scenarios::IDLE_P99, millis),
            ("p99 ms", scenarios::P99, millis),
            ("p99/idle p99", scenarios::P99_OVER_IDLE, two_decimals_times),
            ("paced idle p99", scenarios::PACED_IDLE_P99, millis),
            ("paced p99", scenarios::PACED_P99, millis),
            (
                "paced/idle",
                scenarios::PACED_P99_OVER_IDLE,
                two_decimals_times,
            ),
            ("bg req/s", scenarios::BACKGROUND_REQ_S, one_decimal),
            ("fixed p99", scenarios::FIXED_PACED_P99, millis),
            (
                "fixed/idle",
                scenarios::FIXED_PACED_P99_OVER_IDLE,
                two_decimals_times,
            ),
            ("fixed bg p50", scenarios::FIXED_BACKGROUND_P50, millis),
        ],
        Load::Pipelined { .. } => &[
            ("req/s", scenarios::REQ_S, thousands),
            ("CPU us/req", scenarios::CPU_PER_REQ, two_decimals),
            ("faults/req", scenarios::FAULTS_PER_REQ, two_decimals),
        ],
        Load::IdleConnections { .. } => &[
            ("KiB/conn", scenarios::KIB_PER_CONN, one_decimal),
            ("RSS before MiB", scenarios::RSS_BEFORE, mebibytes),
            ("RSS after MiB", scenarios::RSS_AFTER, mebibytes),
        ],
    }
}

impl Summary<'_> {
    /// The text table.
    pub(crate) fn table(&self) -> String {
        let options = self.options;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Medians over {} rounds; {} s runs after {} s warm-up; server on core 1 with {} tokio worker thread(s), \
             wrk -t1 -c{} on core 0; 128 KiB payload = {} items.",
            options.rounds,
            options.duration,
            options.warmup,
            options.threads,
            options.connections,
            self.catalog_items
        );
        let _ = writeln!(
            out,
            "Load average before: {}; after: {}.",
            self.load_before, self.load_after
        );
        for scenario in self.scenarios {
            out.push('\n');
            let columns = columns(&scenario.load);
            let _ = writeln!(out, "{} [{}]", scenario.title, scenario.key);
            if !scenario.note.is_empty() {
                let _ = writeln!(out, "  {}", scenario.note);
            }
            let _ = write!(out, "  {:<12}", "server");
            for (header, _, _) in columns {
                let _ = write!(out, "{header:>15}");
            }
            out.push('\n');
            let servers = servers_for(scenario);
            for server in &servers {
                let _ = write!(out, "  {:<12}", server.name);
                for (_, metric, format) in columns {
                    let value = self.results.median(scenario.key, server.name, metric);
                    let _ = write!(out, "{:>15}", value.map_or("n/a".into(), format));
                }
                let failures = self
                    .results
                    .runs(scenario.key, server.name)
                    .iter()
                    .filter(|run| run.is_err())
                    .count();
                if failures > 0 {
                    let _ = write!(out, "   ({failures} failed runs)");
                }
                out.push('\n');
            }
            let (metric, _) = scenario.load.primary();
            for metric in [metric, scenarios::CPU_PER_REQ] {
                let ratios: Vec<(&str, Option<f64>)> = servers
                    .iter()
                    .skip(1)
                    .map(|other| {
                        (
                            other.name,
                            self.results.ratio(scenario.key, metric, other.name),
                        )
                    })
                    .collect();
                if ratios.iter().any(|(_, ratio)| ratio.is_some()) {
                    let _ = write!(out, "  ratios ({metric}):");
                    for (name, ratio) in ratios {
                        let _ = write!(out, " rpckit/{name} {}", times(ratio));
                        let rounds = self.results.round_ratios(scenario.key, metric, name);
                        if let Some(range) = spread(&rounds) {
                            let _ = write!(out, " (rounds {range})");
                        }
                        out.push_str("  ");
                    }
                    out.truncate(out.trim_end().len());
                    out.push('\n');
                }
            }
            for target in scenario.targets {
                let (value, verdict) = match self.evaluate(scenario, target) {
                    Some((value, true)) => (Some(value), "PASS"),
                    Some((value, false)) => (Some(value), "MISS"),
                    None => (None, "n/a"),
                };
                let _ = writeln!(
                    out,
                    "  target {:<36} {:>7}  {verdict}",
                    target.text,
                    times(value)
                );
            }
        }
        out
    }

    /// `{"rpckit/OTHER": ratio}` for every other server of the scenario.
    fn ratios_json(&self, scenario: &Scenario, metric: &str) -> Value {
        self.by_other_server(scenario, |other| {
            json!(self.results.ratio(scenario.key, metric, other))
        })
    }

    /// `{"rpckit/OTHER": [ratio of each round]}`.
    fn round_ratios_json(&self, scenario: &Scenario, metric: &str) -> Value {
        self.by_other_server(scenario, |other| {
            json!(self.results.round_ratios(scenario.key, metric, other))
        })
    }

    fn by_other_server(&self, scenario: &Scenario, value: impl Fn(&str) -> Value) -> Value {
        let entries: serde_json::Map<String, Value> = servers_for(scenario)
            .iter()
            .skip(1)
            .map(|other| (format!("rpckit/{}", other.name), value(other.name)))
            .collect();
        Value::Object(entries)
    }

    /// The compared value and whether rpckit meets the target.
    fn evaluate(&self, scenario: &Scenario, target: &Target) -> Option<(f64, bool)> {
        match target.check {
            Check::AtLeast { metric, vs, factor } => {
                let ratio = self.results.ratio(scenario.key, metric, vs)?;
                Some((ratio, ratio >= factor))
            }
            Check::AtMost { metric, vs, factor } => {
                let ratio = self.results.ratio(scenario.key, metric, vs)?;
                Some((ratio, ratio <= factor))
            }
            Check::NotAbove { metric, limit } => {
                let value = self.results.median(scenario.key, "rpckit", metric)?;
                Some((value, value <= limit))
            }
            Check::VsScenario {
                metric,
                scenario: other,
                at_least,
                factor,
            } => {
                let ratio = self.results.median(scenario.key, "rpckit", metric)?
                    / self.results.median(other, "rpckit", metric)?;
                Some((
                    ratio,
                    if at_least {
                        ratio >= factor
                    } else {
                        ratio <= factor
                    },
                ))
            }
        }
    }

    /// The same as JSON, with every round's numbers.
    pub(crate) fn json(&self) -> Value {
        let options = self.options;
        let scenarios: Vec<Value> = self
            .scenarios
            .iter()
            .map(|scenario| {
                let servers: serde_json::Map<String, Value> = servers_for(scenario)
                    .iter()
                    .map(|server| {
                        let runs = self.results.runs(scenario.key, server.name);
                        let mut median = serde_json::Map::new();
                        for metric in runs.iter().flatten().flat_map(|m| m.keys()) {
                            if let Some(value) =
                                self.results.median(scenario.key, server.name, metric)
                            {
                                median.insert((*metric).to_owned(), json!(value));
                            }
                        }
                        let rounds: Vec<Value> = runs
                            .iter()
                            .map(|run| match run {
                                Ok(metrics) => json!(metrics),
                                Err(err) => json!({ "error": err }),
                            })
                            .collect();
                        let entry = json!({ "median": median, "rounds": rounds });
                        (server.name.to_owned(), entry)
                    })
                    .collect();
                let (metric, higher_is_better) = scenario.load.primary();
                let targets: Vec<Value> = scenario
                    .targets
                    .iter()
                    .map(|target| {
                        let evaluated = self.evaluate(scenario, target);
                        json!({
                            "target": target.text,
                            "value": evaluated.map(|(value, _)| value),
                            "pass": evaluated.map(|(_, pass)| pass),
                        })
                    })
                    .collect();
                json!({
                    "key": scenario.key,
                    "title": scenario.title,
                    "note": scenario.note,
                    "primary_metric": metric,
                    "higher_is_better": higher_is_better,
                    "servers": servers,
                    "ratios": self.ratios_json(scenario, metric),
                    "round_ratios": self.round_ratios_json(scenario, metric),
                    "cpu_per_req_ratios": self.ratios_json(scenario, scenarios::CPU_PER_REQ),
                    "targets": targets,
                })
            })
            .collect();
        json!({
            "settings": {
                "rounds": options.rounds,
                "duration_s": options.duration,
                "warmup_s": options.warmup,
                "wrk_connections": options.connections,
                "server_threads": options.threads,
                "server_core": 1,
                "load_core": 0,
                "catalog_items": self.catalog_items,
                "baseline": options.baseline.as_ref().map(|path| path.display().to_string()),
            },
            "unix_time": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_secs()),
            "load_average_before": self.load_before,
            "load_average_after": self.load_after,
            "scenarios": scenarios,
        })
    }
}

fn thousands(value: f64) -> String {
    if !value.is_finite() {
        return "n/a".into();
    }
    let digits = format!("{:.0}", value);
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn millis(micros: f64) -> String {
    format!("{:.3}", micros / 1000.0)
}

fn one_decimal(value: f64) -> String {
    format!("{value:.1}")
}

fn two_decimals(value: f64) -> String {
    format!("{value:.2}")
}

fn mebibytes(kib: f64) -> String {
    format!("{:.1}", kib / 1024.0)
}

fn two_decimals_times(value: f64) -> String {
    times(Some(value))
}

/// `min–max` of two or more per-round ratios.
fn spread(ratios: &[f64]) -> Option<String> {
    if ratios.len() < 2 {
        return None;
    }
    let min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let max = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some(format!("{min:.2}–{max:.2}"))
}

fn times(value: Option<f64>) -> String {
    value.map_or("n/a".into(), |value| format!("{value:.2}x"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::REQ_S;

    fn run(req_per_s: f64) -> anyhow::Result<Metrics> {
        Ok(Metrics::from([(REQ_S, req_per_s)]))
    }

    #[test]
    fn round_ratios_pair_the_runs_of_one_round_and_skip_failed_ones() {
        let mut results = Results::default();
        for (ours, theirs) in [(90.0, 100.0), (120.0, 100.0), (50.0, 0.0), (80.0, 80.0)] {
            results.record("small_echo", "rpckit", run(ours));
            let theirs = if theirs == 0.0 {
                Err(anyhow::anyhow!("wrk failed"))
            } else {
                run(theirs)
            };
            results.record("small_echo", "hyper", theirs);
        }
        let ratios = results.round_ratios("small_echo", REQ_S, "hyper");
        assert_eq!(ratios, [0.9, 1.2, 1.0]);
        assert_eq!(spread(&ratios).as_deref(), Some("0.90–1.20"));
        // The ratio of medians is not the median of the ratios.
        let median = results.ratio("small_echo", REQ_S, "hyper").unwrap();
        assert!((median - 85.0 / 100.0).abs() < 1e-9, "{median}");
    }

    #[test]
    fn one_round_has_no_spread() {
        assert_eq!(spread(&[0.93]), None);
    }
}
