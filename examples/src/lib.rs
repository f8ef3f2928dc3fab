//! What the example servers share: command-line handling, logging set-up,
//! and the methods of the JSON-RPC 2.0 specification's examples.

pub mod echo;
pub mod spec;

use std::net::SocketAddr;

/// The address every example listens on unless given `--addr HOST:PORT`.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7001";

/// Reads `--addr HOST:PORT` (or `--addr=HOST:PORT`) from the command line.
pub fn addr_from_args() -> anyhow::Result<SocketAddr> {
    let value = flag_value("--addr").unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    value
        .parse()
        .map_err(|err| anyhow::anyhow!("--addr {value}: {err} (expected HOST:PORT)"))
}

/// The value of `--name VALUE` or `--name=VALUE`, if given.
pub fn flag_value(name: &str) -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == name {
            return args.next();
        }
        if let Some(value) = arg
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('='))
        {
            return Some(value.to_owned());
        }
    }
    None
}

/// Whether the switch `--name` is on the command line.
pub fn has_flag(name: &str) -> bool {
    std::env::args().skip(1).any(|arg| arg == name)
}

/// Installs a `tracing` subscriber controlled by `RUST_LOG` (default `info`),
/// writing to stderr so that stdout carries only what scripts read.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
