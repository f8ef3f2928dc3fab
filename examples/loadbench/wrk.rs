//! Driving wrk: a Lua script per request (method, headers, bodies read from
//! files) whose `done` hook prints the numbers as one JSON line.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::scenarios::Request;

/// Writes the bodies and the script for `request` into `dir`, named
/// `name`. One body is `wrk.body`, the request wrk builds once and
/// repeats; several are sent in turn by a `request()` hook, each request
/// formatted once in `init()` (as wrk's scripting guide advises: formatting
/// one per call would cost the load generator a copy of up to 1 MiB per
/// request).
pub(crate) fn write_script(
    dir: &Path,
    name: &str,
    request: &Request,
    bodies: &[Vec<u8>],
) -> anyhow::Result<PathBuf> {
    let mut paths = Vec::with_capacity(bodies.len());
    for (index, body) in bodies.iter().enumerate() {
        let path = dir.join(format!("{name}-{index}.body"));
        std::fs::write(&path, body)?;
        paths.push(format!("{:?}", path.display().to_string()));
    }
    let mut script = format!(
        "local bodies = {{}}\n\
         for i, path in ipairs({{{}}}) do\n\
         \x20 local file = assert(io.open(path, \"rb\"))\n\
         \x20 bodies[i] = file:read(\"*a\")\n\
         \x20 file:close()\n\
         end\n\
         wrk.method = {:?}\n\
         wrk.headers[\"Content-Type\"] = \"application/json\"\n",
        paths.join(", "),
        request.method,
    );
    for (header, value) in request.headers {
        let _ = writeln!(script, "wrk.headers[{header:?}] = {value:?}");
    }
    if bodies.len() == 1 {
        script.push_str("wrk.body = bodies[1]\n");
    } else {
        script.push_str(
            r#"
local requests = {}
local sent = 0

function init(args)
  for i, body in ipairs(bodies) do
    requests[i] = wrk.format(nil, nil, nil, body)
  end
end

function request()
  sent = sent % #requests + 1
  return requests[sent]
end
"#,
        );
    }
    script.push_str(
        r#"
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'LOADBENCH {"requests":%d,"duration_us":%d,"p50_us":%.1f,"p99_us":%.1f,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
"#,
    );
    let path = dir.join(format!("{name}.lua"));
    std::fs::write(&path, script)?;
    Ok(path)
}

/// Starts wrk on core 0: one thread, `connections` connections, `seconds` long.
pub(crate) fn spawn(
    script: &Path,
    addr: SocketAddr,
    path: &str,
    connections: u32,
    seconds: u64,
) -> anyhow::Result<Child> {
    Command::new("taskset")
        .args(["-c", "0", "wrk", "-t1", "--latency", "--timeout", "10s"])
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .arg("-s")
        .arg(script)
        .arg(format!("http://{addr}{path}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("could not start wrk")
}

/// What one wrk run measured.
#[derive(Debug, Deserialize)]
pub(crate) struct Outcome {
    pub(crate) requests: u64,
    pub(crate) duration_us: u64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
    pub(crate) connect: u64,
    pub(crate) read: u64,
    pub(crate) write: u64,
    /// Responses with a status other than 2xx/3xx.
    pub(crate) status: u64,
    pub(crate) timeout: u64,
}

impl Outcome {
    pub(crate) fn req_per_s(&self) -> f64 {
        self.requests as f64 / (self.duration_us as f64 / 1e6)
    }

    /// Socket errors, bad statuses and timeouts together.
    pub(crate) fn errors(&self) -> u64 {
        self.connect + self.read + self.write + self.status + self.timeout
    }
}

/// Waits for wrk and reads its `LOADBENCH` line.
pub(crate) fn finish(child: Child) -> anyhow::Result<Outcome> {
    let output = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed ({}): {}{}",
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("LOADBENCH "))
        .with_context(|| format!("no LOADBENCH line in wrk's output: {stdout}"))?;
    Ok(serde_json::from_str(line)?)
}

/// Runs wrk to the end.
pub(crate) fn run(
    script: &Path,
    addr: SocketAddr,
    path: &str,
    connections: u32,
    seconds: u64,
) -> anyhow::Result<Outcome> {
    finish(spawn(script, addr, path, connections, seconds)?)
}
