//! What the load benchmark's servers and its orchestrator share: the typed
//! 128 KiB payload, its deterministic generator, the `--threads` flag and
//! the runtime it builds. Each bin includes this file with `#[path]` and uses
//! part of it, hence the `dead_code` allowance.
#![allow(dead_code)]

use serde::{Deserialize, Serialize};

/// The params of `echo_struct` and its result: a product catalogue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Catalog {
    pub(crate) items: Vec<Item>,
}

/// One catalogue entry: a few short strings and numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Item {
    pub(crate) id: u32,
    pub(crate) sku: String,
    pub(crate) name: String,
    pub(crate) category: String,
    pub(crate) description: String,
    pub(crate) price: f64,
    pub(crate) quantity: u32,
    pub(crate) in_stock: bool,
    pub(crate) rating: f64,
    pub(crate) tags: Vec<String>,
}

/// The named form of `echo_struct`'s params: `{"data": {"items": [...]}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct EchoStruct {
    pub(crate) data: Catalog,
}

const WORDS: &[&str] = &[
    "alpha", "bravo", "cobalt", "delta", "ember", "fjord", "garnet", "harbor", "indigo", "juniper",
    "kestrel", "lumen", "marble", "nectar", "onyx", "pepper", "quartz", "russet", "sierra",
    "tundra",
];
const CATEGORIES: &[&str] = &[
    "tools", "garden", "kitchen", "toys", "books", "audio", "sports",
];

/// A catalogue whose JSON is as close to `target_bytes` as whole items
/// allow without going over. The same every run: values come from a fixed
/// xorshift sequence.
pub(crate) fn catalog(target_bytes: usize) -> Catalog {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut catalog = Catalog { items: Vec::new() };
    // `{"items":[` + `]}`, then each item and its comma.
    let mut size = 12;
    loop {
        let id = catalog.items.len() as u32 + 1;
        let mut word = || WORDS[(next() % WORDS.len() as u64) as usize];
        let name = format!("{} {}", word(), word());
        let description = format!("{} {} {} {}", word(), word(), word(), word());
        let tags = vec![word().to_owned(), word().to_owned()];
        let item = Item {
            id,
            sku: format!("SKU-{id:06}"),
            name,
            category: CATEGORIES[(next() % CATEGORIES.len() as u64) as usize].to_owned(),
            description,
            price: (next() % 100_000) as f64 / 100.0,
            quantity: (next() % 1_000) as u32,
            in_stock: next() % 4 != 0,
            rating: (next() % 50) as f64 / 10.0,
            tags,
        };
        let item_size = serde_json::to_vec(&item).map_or(0, |bytes| bytes.len()) + 1;
        if size + item_size > target_bytes {
            return catalog;
        }
        size += item_size;
        catalog.items.push(item);
    }
}

/// `--threads N`: tokio worker threads, default 1.
pub(crate) fn threads_from_args() -> anyhow::Result<usize> {
    match rpckit_examples::flag_value("--threads") {
        None => Ok(1),
        Some(value) => match value.parse() {
            Ok(threads) if threads > 0 => Ok(threads),
            _ => anyhow::bail!("--threads {value}: expected a positive integer"),
        },
    }
}

/// A multi-threaded tokio runtime with `threads` workers: every server of
/// the benchmark runs on the same kind of runtime.
pub(crate) fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
}

/// The stream servers' loop (`bench_lines`, `bench_json_lines`): on
/// `--addr`, with `--threads` workers, prints `NAME listening on
/// tcp://ADDR`, then answers every line of every connection with
/// `reply(line)`, through tokio-util's `LinesCodec` (8 MiB lines,
/// `TCP_NODELAY`). One line after the other per connection; `forward`
/// flushes when the read side has nothing ready.
pub(crate) fn serve_lines(name: &str, reply: fn(String) -> String) -> anyhow::Result<()> {
    use futures_util::StreamExt;
    use tokio_util::codec::{FramedRead, FramedWrite, LinesCodec};

    let addr = rpckit_examples::addr_from_args()?;
    let threads = threads_from_args()?;
    runtime(threads)?.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        println!("{name} listening on tcp://{}", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            tokio::spawn(async move {
                let (reader, writer) = stream.into_split();
                let codec = LinesCodec::new_with_max_length(8 * 1024 * 1024);
                let lines = FramedRead::new(reader, codec.clone());
                let sink = FramedWrite::new(writer, codec);
                let replies = lines.map(|line| line.map(reply));
                let _ = replies.forward(sink).await;
            });
        }
    })
}
