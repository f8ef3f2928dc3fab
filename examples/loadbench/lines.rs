//! The load generator of the stream scenario, pipelined newline-delimited
//! requests, which wrk cannot make: `loadbench __pipeline`, run on core 0
//! as its own process, and the one-line check before the load starts.
//!
//! Each connection keeps `depth` requests outstanding: it writes `depth`
//! lines, then for every reply line it reads writes one more, batched per
//! read. Replies are counted by their `\n`; neither server writes a raw
//! newline inside a reply.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What one run measured.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) replies: u64,
    pub(crate) seconds: f64,
}

impl Outcome {
    pub(crate) fn req_per_s(&self) -> f64 {
        self.replies as f64 / self.seconds
    }
}

/// Sends `line` once on a new connection; the reply line.
pub(crate) fn exchange(addr: SocketAddr, line: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(line)?;
    stream.write_all(b"\n")?;
    let mut reply = Vec::new();
    BufReader::new(stream).read_until(b'\n', &mut reply)?;
    if reply.pop() != Some(b'\n') {
        bail!("the connection closed before a whole reply line");
    }
    Ok(reply)
}

/// `loadbench __pipeline ADDR CONNECTIONS DEPTH SECONDS LINE_FILE`: prints
/// `LOADBENCH REPLIES SECONDS`.
pub(crate) fn pipeline(args: &[String]) -> anyhow::Result<()> {
    let [addr, connections, depth, seconds, line_file] = args else {
        bail!("usage: loadbench __pipeline ADDR CONNECTIONS DEPTH SECONDS LINE_FILE");
    };
    let addr: SocketAddr = addr.parse()?;
    let connections: usize = connections.parse()?;
    let depth: usize = depth.parse()?;
    let duration = Duration::from_secs(seconds.parse()?);
    let mut line = std::fs::read(line_file)?;
    line.push(b'\n');
    let line: Arc<[u8]> = line.into();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(async move {
        let replies = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = tokio::task::JoinSet::new();
        let mut streams = Vec::with_capacity(connections);
        for _ in 0..connections {
            let stream = tokio::net::TcpStream::connect(addr)
                .await
                .context("connect")?;
            stream.set_nodelay(true)?;
            streams.push(stream);
        }
        let started = Instant::now();
        for stream in streams {
            let (replies, stop, line) = (replies.clone(), stop.clone(), line.clone());
            tasks.spawn(drive(stream, line, depth, replies, stop));
        }
        tokio::time::sleep(duration).await;
        let counted = replies.load(Ordering::Relaxed);
        let seconds = started.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        tasks.abort_all();
        anyhow::Ok(Outcome {
            replies: counted,
            seconds,
        })
    })?;
    println!("LOADBENCH {} {}", outcome.replies, outcome.seconds);
    Ok(())
}

/// Keeps `depth` requests in flight on one connection until `stop`.
async fn drive(
    mut stream: tokio::net::TcpStream,
    line: Arc<[u8]>,
    depth: usize,
    replies: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let burst: Vec<u8> = line.repeat(depth);
    stream.write_all(&burst).await?;
    let mut buf = vec![0u8; 256 * 1024];
    while !stop.load(Ordering::Relaxed) {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        let done = buf[..n].iter().filter(|&&b| b == b'\n').count();
        replies.fetch_add(done as u64, Ordering::Relaxed);
        if done > 0 {
            stream.write_all(&burst[..done * line.len()]).await?;
        }
    }
    Ok(())
}

/// Parses the generator's result, `REPLIES SECONDS` (after `LOADBENCH`).
pub(crate) fn parse(result: &str) -> anyhow::Result<Outcome> {
    let mut words = result.split_whitespace();
    let (Some(replies), Some(seconds), None) = (words.next(), words.next(), words.next()) else {
        bail!("the pipeline generator said {result:?}");
    };
    Ok(Outcome {
        replies: replies.parse()?,
        seconds: seconds.parse()?,
    })
}
