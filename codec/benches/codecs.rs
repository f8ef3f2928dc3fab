//! Codec benchmarks: `cargo bench -p rpckit-codec --all-features`.
//!
//! For JSON, SIMD-JSON, CBOR and MessagePack, three workloads:
//!
//! - `single`: `{"jsonrpc":"2.0","method":"echo","params":["hello"],"id":1}`;
//! - `batch100`: a batch of 100 such calls (ids 1..=100);
//! - `128KiB`: one `echo_struct` call whose params are `[catalog]`, 128 KiB
//!   of JSON (655 items of short strings, integers, floats and bools,
//!   generated deterministically; the load benchmark's payload).
//!
//! Groups, one row per codec, so results read as a table:
//!
//! - `decode/<workload>/<codec>`: `Codec::decode` + `parse_params` into the
//!   handler's type, what a handler's params cost;
//! - `decode-only/<workload>/<codec>`: `Codec::decode` alone (params raw);
//! - `encode/<workload>/<codec>`: `encode_value` of each result +
//!   `encode_reply`. The `json` and `simd-json` rows write with the codecs'
//!   own JSON writer (codec/src/json/write.rs), the `serde_json` row with
//!   serde_json: `encode/128KiB` compares the two on the catalogue.
//!
//! Baselines in the same groups: `serde_json` (one `from_slice` into a
//! request struct with typed params; one `to_vec` of a response struct) and
//! `jsonrpsee-style` (a request with `&RawValue` params, then `from_str` of
//! the params; `to_raw_value` of the result, then the response around it).
//!
//! Throughput is the frame's size in its own format: CBOR and MessagePack
//! frames are smaller than the JSON ones, so compare times, not MiB/s.

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rpckit_codec::{
    encode_value, parse_params, CborCodec, Codec, DecodeLimits, Id, JsonCodec, Message,
    MsgPackCodec, Reply, Response, SimdJsonCodec,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The params of `echo_struct` and its result: a product catalogue. The
/// same type and generator as the load benchmark's (`examples/bench/shared.rs`),
/// so both measure the same bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Catalog {
    items: Vec<Item>,
}

/// One catalogue entry: a few short strings and numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Item {
    id: u32,
    sku: String,
    name: String,
    category: String,
    description: String,
    price: f64,
    quantity: u32,
    in_stock: bool,
    rating: f64,
    tags: Vec<String>,
}

/// `echo_struct`'s params as its handler reads them (positional `[catalog]`).
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // read by the handler, which the bench does not run
struct EchoStruct {
    data: Catalog,
}

/// `echo`'s params as its handler reads them (positional `["hello"]`).
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Echo {
    data: String,
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
fn catalog(target_bytes: usize) -> Catalog {
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

/// A request as the serde_json baseline reads and the frames are written.
#[derive(Serialize, Deserialize)]
struct Request<M, P> {
    jsonrpc: M,
    method: M,
    params: P,
    id: u64,
}

/// A request with params left raw, as jsonrpsee reads one.
#[derive(Deserialize)]
#[allow(dead_code)] // parsed as a server would; dispatch is not measured
struct RawRequest<'a> {
    #[serde(borrow)]
    jsonrpc: &'a str,
    #[serde(borrow)]
    method: &'a str,
    #[serde(borrow)]
    params: Option<&'a RawValue>,
    id: u64,
}

/// A success response, as the serde_json baseline writes one.
#[derive(Serialize)]
struct Success<'a, R: ?Sized> {
    jsonrpc: &'static str,
    result: &'a R,
    id: u64,
}

fn success<'a, R: ?Sized>(&(id, result): &(u64, &'a R)) -> Success<'a, R> {
    Success {
        jsonrpc: "2.0",
        result,
        id,
    }
}

fn request<P>(params: P, id: u64) -> Request<&'static str, P> {
    Request {
        jsonrpc: "2.0",
        method: "echo",
        params,
        id,
    }
}

/// A workload: the request value (written in each format as its frame), the
/// typed params a handler reads, and the result it answers.
trait Workload {
    const NAME: &'static str;
    /// The handler's params type.
    type Params: DeserializeOwned;
    /// The handler's result type.
    type Result: Serialize + ?Sized;
    /// The frame, as a value any codec's serializer writes.
    fn frame_value(&self) -> impl Serialize;
    /// The results, one per call, with their ids.
    fn results(&self) -> Vec<(u64, &Self::Result)>;
}

struct Single;

impl Workload for Single {
    const NAME: &'static str = "single";
    type Params = Echo;
    type Result = str;

    fn frame_value(&self) -> impl Serialize {
        request(("hello",), 1)
    }

    fn results(&self) -> Vec<(u64, &str)> {
        vec![(1, "hello")]
    }
}

struct Batch100;

impl Workload for Batch100 {
    const NAME: &'static str = "batch100";
    type Params = Echo;
    type Result = str;

    fn frame_value(&self) -> impl Serialize {
        (1..=100)
            .map(|id| request(("hello",), id))
            .collect::<Vec<_>>()
    }

    fn results(&self) -> Vec<(u64, &str)> {
        (1..=100).map(|id| (id, "hello")).collect()
    }
}

struct Large(Catalog);

impl Workload for Large {
    const NAME: &'static str = "128KiB";
    type Params = EchoStruct;
    type Result = Catalog;

    fn frame_value(&self) -> impl Serialize {
        Request {
            jsonrpc: "2.0",
            method: "echo_struct",
            params: (&self.0,),
            id: 1,
        }
    }

    fn results(&self) -> Vec<(u64, &Catalog)> {
        vec![(1, &self.0)]
    }
}

/// The codecs under test, with the frame each one reads.
fn codecs<W: Workload>(workload: &W) -> Vec<(&'static str, Box<dyn Codec>, Bytes)> {
    let json = frame_in(&JsonCodec::default(), workload);
    vec![
        ("json", Box::new(JsonCodec::default()), json.clone()),
        ("simd-json", Box::new(SimdJsonCodec::default()), json),
        (
            "cbor",
            Box::new(CborCodec::default()),
            frame_in(&CborCodec::default(), workload),
        ),
        (
            "msgpack",
            Box::new(MsgPackCodec::default()),
            frame_in(&MsgPackCodec::default(), workload),
        ),
    ]
}

/// The workload's frame written in `codec`'s format: a request is a map with
/// str keys in every format, so the codec's own value encoder writes it.
fn frame_in<W: Workload>(codec: &dyn Codec, workload: &W) -> Bytes {
    encode_value(codec, &workload.frame_value())
        .expect("frames serialise")
        .0
}

/// What a server does with a frame before its handlers run: decode, then
/// read each call's params into the handler's type, handed to `handle`.
fn decode_and_parse<P: DeserializeOwned>(
    codec: &dyn Codec,
    frame: &Bytes,
    mut handle: impl FnMut(P),
) {
    let limits = DecodeLimits::default();
    let mut params = |entry: rpckit_codec::Entry| {
        let request = entry.expect("valid request");
        handle(parse_params::<P>(codec, request.params.as_ref()).expect("params fit"));
    };
    match codec.decode(frame.clone(), &limits) {
        Message::Single(entry) => params(entry),
        Message::Batch(entries) => entries.into_iter().for_each(params),
    }
}

/// What a server does with the results: encode each, then the reply.
fn encode<R: Serialize + ?Sized>(codec: &dyn Codec, results: &[(u64, &R)], batch: bool) -> Vec<u8> {
    let mut responses = results.iter().map(|&(id, result)| Response {
        id: Id::from(id),
        outcome: Ok(encode_value(codec, result).expect("results serialise")),
    });
    let reply = if batch {
        Reply::Batch(responses.collect())
    } else {
        Reply::Single(responses.next().expect("one result"))
    };
    let mut out = Vec::new();
    codec.encode_reply(&reply, &mut out);
    out
}

fn bench_workload<W: Workload>(c: &mut Criterion, workload: &W, batch: bool) {
    let codecs = codecs(workload);
    let json = codecs[0].2.clone();
    let limits = DecodeLimits::default();

    // Check once that every codec reads the same params, outside the timing.
    for (name, codec, frame) in &codecs {
        let mut parsed = 0;
        decode_and_parse::<W::Params>(codec.as_ref(), frame, |_| parsed += 1);
        assert_eq!(parsed, if batch { 100 } else { 1 }, "{name}");
    }

    let mut group = c.benchmark_group(format!("decode/{}", W::NAME));
    group.throughput(Throughput::Bytes(json.len() as u64));
    group.bench_function("serde_json", |b| {
        if batch {
            b.iter(|| {
                serde_json::from_slice::<Vec<Request<&str, W::Params>>>(black_box(&json)).unwrap()
            })
        } else {
            b.iter(|| serde_json::from_slice::<Request<&str, W::Params>>(black_box(&json)).unwrap())
        }
    });
    group.bench_function("jsonrpsee-style", |b| {
        let params = |request: &RawRequest<'_>| {
            let raw = request.params.expect("params");
            serde_json::from_str::<W::Params>(raw.get()).unwrap()
        };
        if batch {
            b.iter(|| {
                let requests: Vec<RawRequest<'_>> =
                    serde_json::from_slice(black_box(&json)).unwrap();
                requests.iter().map(params).collect::<Vec<_>>()
            })
        } else {
            b.iter(|| params(&serde_json::from_slice(black_box(&json)).unwrap()))
        }
    });
    for (name, codec, frame) in &codecs {
        group.throughput(Throughput::Bytes(frame.len() as u64));
        group.bench_function(*name, |b| {
            b.iter(|| {
                decode_and_parse::<W::Params>(codec.as_ref(), black_box(frame), |params| {
                    black_box(params);
                })
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group(format!("decode-only/{}", W::NAME));
    group.throughput(Throughput::Bytes(json.len() as u64));
    group.bench_function("jsonrpsee-style", |b| {
        if batch {
            b.iter(|| {
                serde_json::from_slice::<Vec<RawRequest<'_>>>(black_box(&json)).unwrap();
            })
        } else {
            b.iter(|| {
                serde_json::from_slice::<RawRequest<'_>>(black_box(&json)).unwrap();
            })
        }
    });
    for (name, codec, frame) in &codecs {
        group.throughput(Throughput::Bytes(frame.len() as u64));
        group.bench_function(*name, |b| {
            b.iter(|| codec.decode(black_box(frame).clone(), &limits))
        });
    }
    group.finish();

    let results = workload.results();
    let reply_len = |codec: &dyn Codec| encode(codec, &results, batch).len() as u64;
    let mut group = c.benchmark_group(format!("encode/{}", W::NAME));
    group.throughput(Throughput::Bytes(reply_len(&JsonCodec::default())));
    group.bench_function("serde_json", |b| {
        if batch {
            b.iter(|| {
                let responses: Vec<_> = black_box(&results).iter().map(success).collect();
                serde_json::to_vec(&responses).unwrap()
            })
        } else {
            b.iter(|| serde_json::to_vec(&success(&black_box(&results)[0])).unwrap())
        }
    });
    group.bench_function("jsonrpsee-style", |b| {
        let success = |&(id, result): &(u64, &W::Result)| {
            let raw = serde_json::value::to_raw_value(result).unwrap();
            serde_json::to_vec(&Success {
                jsonrpc: "2.0",
                result: &*raw,
                id,
            })
            .unwrap()
        };
        if batch {
            // jsonrpsee writes each response as it completes and joins them.
            b.iter(|| {
                let mut out = vec![b'['];
                for (index, entry) in black_box(&results).iter().enumerate() {
                    if index > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(&success(entry));
                }
                out.push(b']');
                out
            })
        } else {
            b.iter(|| success(&black_box(&results)[0]))
        }
    });
    for (name, codec, _) in &codecs {
        group.throughput(Throughput::Bytes(reply_len(codec.as_ref())));
        group.bench_function(*name, |b| {
            b.iter(|| encode(codec.as_ref(), black_box(&results), batch))
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_workload(c, &Single, false);
    bench_workload(c, &Batch100, true);
    bench_workload(c, &Large(catalog(128 * 1024)), false);
}

criterion_group! {
    name = codec_benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = benches
}
criterion_main!(codec_benches);
