//! Just enough HTTP/1.1 client for the benchmark's side jobs: the one
//! request that checks a server answers a scenario's body correctly before
//! the load starts, and the helper process that holds idle connections.
//! The load itself is wrk's.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::scenarios::Request;

/// The bytes of `request` with `body`, to `addr`.
pub(crate) fn request_bytes(request: &Request, addr: SocketAddr, body: &[u8]) -> Vec<u8> {
    raw_request(request.method, request.path, request.headers, addr, body)
}

fn raw_request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    addr: SocketAddr,
    body: &[u8],
) -> Vec<u8> {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A response head: status, head length, declared body length.
pub(crate) struct Head {
    pub(crate) status: u16,
    pub(crate) len: usize,
    pub(crate) content_length: usize,
}

/// Parses the head once `buf` holds all of it.
pub(crate) fn parse_head(buf: &[u8]) -> anyhow::Result<Option<Head>> {
    let Some(end) = buf.windows(4).position(|window| window == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..end]).context("response head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .context("no status line")?;
    let mut content_length = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.trim().parse().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                bail!("chunked responses are not supported here");
            }
        }
    }
    Ok(Some(Head {
        status,
        len: end + 4,
        content_length: content_length.context("response without Content-Length")?,
    }))
}

/// Sends one request on a new connection and returns status and body.
pub(crate) fn exchange(addr: SocketAddr, request: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(request)?;
    let mut buf = Vec::new();
    let mut chunk = vec![0; 64 * 1024];
    loop {
        if let Some(head) = parse_head(&buf)? {
            if buf.len() >= head.len + head.content_length {
                let body = buf[head.len..head.len + head.content_length].to_vec();
                return Ok((head.status, body));
            }
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            bail!("connection closed mid-response");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Checks a JSON-RPC answer: `results` results and no error.
pub(crate) fn check_answer(status: u16, body: &[u8], results: usize) -> anyhow::Result<()> {
    if status != 200 {
        bail!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        );
    }
    let value: serde_json::Value = serde_json::from_slice(body).context("answer is not JSON")?;
    let entries = match &value {
        serde_json::Value::Array(entries) => entries.iter().collect(),
        other => vec![other],
    };
    let ok = entries
        .iter()
        .filter(|entry| entry.get("result").is_some())
        .count();
    if ok != results || entries.len() != results {
        let text = value.to_string();
        bail!(
            "expected {results} results, got {ok} of {} answers: {}",
            entries.len(),
            &text[..text.len().min(300)]
        );
    }
    Ok(())
}

/// Reads one keep-alive response; returns its status.
async fn read_response(stream: &mut tokio::net::TcpStream) -> anyhow::Result<u16> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0; 4096];
    loop {
        if let Some(head) = parse_head(&buf)? {
            if buf.len() >= head.len + head.content_length {
                return Ok(head.status);
            }
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("connection closed mid-response");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// `loadbench __hold ADDR PATH COUNT BODY_FILE`: opens COUNT connections to
/// ADDR, makes one POST on each (so the server has really accepted and
/// served it), prints `ready OK FAILED [FIRST_ERROR]`, then holds them idle
/// until its stdin closes.
pub(crate) fn hold(args: &[String]) -> anyhow::Result<()> {
    let [addr, path, count, body_file] = args else {
        bail!("usage: loadbench __hold ADDR PATH COUNT BODY_FILE");
    };
    let addr: SocketAddr = addr.parse()?;
    let count: usize = count.parse()?;
    let body = std::fs::read(body_file)?;
    let request = Arc::new(raw_request("POST", path, &[], addr, &body));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        // Opening them a few hundred at a time stays within the listen backlog.
        let permits = Arc::new(tokio::sync::Semaphore::new(256));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..count {
            let permits = Arc::clone(&permits);
            let request = Arc::clone(&request);
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await?;
                let mut stream = tokio::net::TcpStream::connect(addr).await?;
                stream.write_all(&request).await?;
                let status = read_response(&mut stream).await?;
                if status != 200 {
                    bail!("HTTP {status}");
                }
                anyhow::Ok(stream)
            });
        }
        let mut held = Vec::with_capacity(count);
        let mut failed = 0;
        let mut first_error = String::new();
        while let Some(joined) = tasks.join_next().await {
            match joined
                .map_err(anyhow::Error::from)
                .and_then(|result| result)
            {
                Ok(stream) => held.push(stream),
                Err(err) => {
                    failed += 1;
                    if first_error.is_empty() {
                        first_error = err.to_string();
                    }
                }
            }
        }
        println!("ready {} {failed} {first_error}", held.len());
        let mut stdin = tokio::io::stdin();
        let mut buf = [0; 64];
        while stdin.read(&mut buf).await? > 0 {}
        drop(held);
        anyhow::Ok(())
    })
}
