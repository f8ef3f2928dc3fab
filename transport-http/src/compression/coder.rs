//! async-compression's readers, run synchronously over bytes in memory.
//!
//! Bodies here are already whole in memory, so compressing one is CPU work,
//! not IO: async-compression's `bufread` encoders and decoders over an
//! in-memory reader never wait. Polling them with a no-op waker turns them
//! into plain functions that can run inline for a small body or on a
//! background thread for a large one, and that can stop after a budget of output
//! and be resumed elsewhere: the state lives in the reader, not in a future.

use std::fmt;
use std::io::{self, Cursor};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use async_compression::tokio::bufread as codecs;
use async_compression::Level as CodecLevel;
use bytes::Bytes;
use rpckit_codec::FRAME_PADDING;
use tokio::io::{AsyncRead, ReadBuf};

use super::{Algorithm, Level};

/// The most output produced per read, and the smallest growth step.
const CHUNK: usize = 32 * 1024;

/// The largest zstd window a decoder accepts: 8 MiB, as RFC 9659 requires
/// of the `zstd` content coding. A frame that asks for more is refused
/// before its window is allocated.
const ZSTD_WINDOW_LOG_MAX: u32 = 23;

/// An encoder or decoder reading from bytes in memory, with its output so
/// far.
pub(crate) struct Coder {
    reader: Reader,
    output: Vec<u8>,
    /// The most output accepted; one byte more is an overflow.
    limit: usize,
}

type Input = Cursor<Bytes>;

/// The reader, typed where its input must be inspected afterwards.
enum Reader {
    Encoder(Pin<Box<dyn AsyncRead + Send>>),
    Gzip(Pin<Box<codecs::GzipDecoder<Input>>>),
    Zlib(Pin<Box<codecs::ZlibDecoder<Input>>>),
    Brotli(Pin<Box<codecs::BrotliDecoder<Input>>>),
    Zstd(Pin<Box<codecs::ZstdDecoder<Input>>>),
}

impl Reader {
    fn read_now(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Reader::Encoder(reader) => read_now(reader.as_mut(), buf),
            Reader::Gzip(reader) => read_now(reader.as_mut(), buf),
            Reader::Zlib(reader) => read_now(reader.as_mut(), buf),
            Reader::Brotli(reader) => read_now(reader.as_mut(), buf),
            Reader::Zstd(reader) => read_now(reader.as_mut(), buf),
        }
    }

    /// Whether a decoder that has finished left input unread.
    fn input_left(&self) -> bool {
        let input = match self {
            Reader::Encoder(_) => return false,
            Reader::Gzip(reader) => reader.get_ref(),
            Reader::Zlib(reader) => reader.get_ref(),
            Reader::Brotli(reader) => reader.get_ref(),
            Reader::Zstd(reader) => reader.get_ref(),
        };
        usize::try_from(input.position()).is_ok_and(|read| read < input.get_ref().len())
    }
}

/// Where a [`Coder`] stopped.
#[derive(Debug)]
pub(crate) enum Step {
    /// The stream ended; the output is complete.
    Done,
    /// The budget ran out first; call [`Coder::run`] again to go on.
    Paused,
}

/// Why a [`Coder`] failed.
#[derive(Debug)]
pub(crate) enum CoderError {
    /// The output grew past the limit.
    TooLarge,
    /// The input is not a valid stream of its algorithm.
    Invalid(io::Error),
}

impl Coder {
    /// Compresses `input`; the output may not grow past `limit` bytes.
    pub(crate) fn encoder(algorithm: Algorithm, level: Level, input: Bytes, limit: usize) -> Coder {
        let input = Cursor::new(input);
        let quality = level.for_algorithm(algorithm);
        let reader: Pin<Box<dyn AsyncRead + Send>> = match algorithm {
            Algorithm::Gzip => Box::pin(codecs::GzipEncoder::with_quality(input, quality)),
            Algorithm::Deflate => Box::pin(codecs::ZlibEncoder::with_quality(input, quality)),
            Algorithm::Brotli => Box::pin(codecs::BrotliEncoder::with_quality(input, quality)),
            Algorithm::Zstd => Box::pin(codecs::ZstdEncoder::with_quality(input, quality)),
        };
        Coder::new(Reader::Encoder(reader), limit, 0)
    }

    /// Decompresses `input`; the output may not grow past `limit` bytes.
    ///
    /// gzip and zstd accept several members (frames) one after the other,
    /// as their formats allow; anything after the last one is an error.
    pub(crate) fn decoder(algorithm: Algorithm, input: Bytes, limit: usize) -> Coder {
        let hint = input.len().saturating_mul(4);
        let input = Cursor::new(input);
        let reader = match algorithm {
            Algorithm::Gzip => {
                let mut decoder = codecs::GzipDecoder::new(input);
                decoder.multiple_members(true);
                Reader::Gzip(Box::pin(decoder))
            }
            Algorithm::Deflate => Reader::Zlib(Box::pin(codecs::ZlibDecoder::new(input))),
            Algorithm::Brotli => Reader::Brotli(Box::pin(codecs::BrotliDecoder::new(input))),
            Algorithm::Zstd => {
                let params = [async_compression::zstd::DParameter::window_log_max(
                    ZSTD_WINDOW_LOG_MAX,
                )];
                let mut decoder = codecs::ZstdDecoder::with_params(input, &params);
                decoder.multiple_members(true);
                Reader::Zstd(Box::pin(decoder))
            }
        };
        Coder::new(reader, limit, hint)
    }

    fn new(reader: Reader, limit: usize, hint: usize) -> Coder {
        Coder {
            reader,
            output: Vec::with_capacity(hint.clamp(CHUNK, CHUNK.max(limit))),
            limit,
        }
    }

    /// Runs until the stream ends or more than `budget` bytes of output
    /// have been produced (a stream of exactly `budget` bytes is done in
    /// one run). Never allocates more than `limit + 1` bytes of
    /// output (plus the codec's own fixed-size state).
    pub(crate) fn run(&mut self, budget: usize) -> Result<Step, CoderError> {
        let stop_at = self.output.len().saturating_add(budget);
        loop {
            if self.output.len() > stop_at {
                return Ok(Step::Paused);
            }
            let filled = self.output.len();
            // Room for one byte past the limit, to tell "exactly at the
            // limit" from "over it". Grown geometrically, never past that.
            let ceiling = self.limit.saturating_add(1);
            let room = CHUNK.min(ceiling - filled);
            if self.output.capacity() - filled < room {
                let grow = filled.max(room).min(ceiling - filled);
                self.output.reserve_exact(grow);
            }
            self.output.resize(filled + room, 0);
            let read = match self.reader.read_now(&mut self.output[filled..]) {
                Ok(read) => read,
                Err(err) => {
                    self.output.truncate(filled);
                    return Err(CoderError::Invalid(err));
                }
            };
            self.output.truncate(filled + read);
            if self.output.len() > self.limit {
                return Err(CoderError::TooLarge);
            }
            if read == 0 {
                if self.reader.input_left() {
                    return Err(CoderError::Invalid(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "data after the end of the compressed stream",
                    )));
                }
                return Ok(Step::Done);
            }
        }
    }

    /// The output; complete once [`Coder::run`] returned [`Step::Done`].
    ///
    /// A decompressed body keeps [`FRAME_PADDING`] spare after it, so that
    /// the SIMD-JSON codec parses it where it lies, the output being its
    /// buffer's only handle. The last read leaves at least a read's room
    /// (up to [`CHUNK`]) spare anyway; only a body that ends within
    /// `FRAME_PADDING` of the limit needs more.
    pub(crate) fn into_output(mut self) -> Bytes {
        let spare = self.output.capacity() - self.output.len();
        if !matches!(self.reader, Reader::Encoder(_)) && spare < FRAME_PADDING {
            self.output.reserve_exact(FRAME_PADDING);
        }
        Bytes::from(self.output)
    }
}

/// Polls once with a waker that does nothing: the reader's input is in
/// memory, so it is always ready.
fn read_now<R: AsyncRead + ?Sized>(reader: Pin<&mut R>, buf: &mut [u8]) -> io::Result<usize> {
    let mut cx = Context::from_waker(Waker::noop());
    let mut buf = ReadBuf::new(buf);
    match reader.poll_read(&mut cx, &mut buf) {
        Poll::Ready(Ok(())) => Ok(buf.filled().len()),
        Poll::Ready(Err(err)) => Err(err),
        Poll::Pending => Err(io::Error::other("an in-memory codec asked to wait")),
    }
}

impl fmt::Debug for Coder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Coder")
            .field("output", &self.output.len())
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl Level {
    /// The quality to give async-compression for `algorithm`.
    ///
    /// async-compression's own default for brotli is quality 11, which
    /// takes about a second per megabyte: fine for static files, far too
    /// slow for answers made per request. Ours is 4, close to gzip's default
    /// in speed and better in size. zstd's best is capped at 19, the highest
    /// level whose window fits the 8 MiB RFC 9659 allows.
    fn for_algorithm(self, algorithm: Algorithm) -> CodecLevel {
        let (default, best) = match algorithm {
            Algorithm::Gzip | Algorithm::Deflate => (6, 9),
            Algorithm::Brotli => (4, 11),
            Algorithm::Zstd => (3, 19),
        };
        let lowest = match algorithm {
            Algorithm::Zstd => 1,
            _ => 0,
        };
        let quality = match self {
            Level::Fastest => return CodecLevel::Fastest,
            Level::Default => default,
            Level::Best => best,
            Level::Precise(quality) => i32::try_from(quality).unwrap_or(best).clamp(lowest, best),
        };
        CodecLevel::Precise(quality)
    }
}
