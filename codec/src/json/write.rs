//! The JSON writer of both JSON codecs: a serde [`Serializer`] appending to
//! a `Vec<u8>`, which writes exactly the bytes `serde_json::to_vec` writes.
//!
//! Why not serde_json's own: results are mostly strings, and serde_json
//! escapes a string one byte at a time (a table lookup per byte) and writes
//! each quote, comma and colon through `io::Write` on its own. Echoing a
//! 128 KiB catalogue spent 1.4 of its 8.2 million instructions in
//! serde_json's `serialize_str`. Here a string is scanned eight bytes at a
//! time for the bytes JSON must escape (`"`, `\`, below 0x20) with plain
//! integer arithmetic (SWAR, no `unsafe`), and each run between escapes is
//! copied with one `extend_from_slice`; a struct field's `,"key":` is written
//! in one reservation.
//!
//! Everything else is serde_json's behaviour, mirrored decision by
//! decision, so that switching writers changes no reply: numbers go
//! through serde_json's own [`CompactFormatter`] (itoa, and whichever float
//! printer this serde_json uses), NaN and infinities are `null`, map keys
//! follow serde_json's key rules (numbers and bools quoted, floats only
//! finite, anything else "key must be a string"), a sequence announced
//! empty is closed at once, and a `RawValue` (or, with serde_json's
//! `arbitrary_precision`, a `Number`) is written as its text. Error texts
//! are serde_json's. The tests compare with `serde_json::to_vec` over
//! generated values of every serde kind, and the `write_json` fuzz target
//! does so over arbitrary ones.
//!
//! The one difference: a `Display` impl that fails inside `collect_str`
//! is an error here, where serde_json panics.

use std::fmt::{self, Display};
use std::sync::OnceLock;

use serde::ser::{self, Impossible, Serialize, Serializer};
use serde_json::ser::{CompactFormatter, Formatter};

use crate::ValueError;

/// Appends `value` as JSON to `out`. On an error, `out` holds what was
/// written before it (as with `serde_json::to_writer`).
pub(crate) fn write_value<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), ValueError> {
    value.serialize(Writer(out)).map_err(ValueError::new)
}

/// A serialisation error; its text is serde_json's for the same failure.
#[derive(Debug)]
pub(crate) struct Error(Box<str>);

impl Error {
    fn text(text: &str) -> Self {
        Error(text.into())
    }

    /// Writing to a `Vec` does not fail; `CompactFormatter` returns
    /// `io::Result` for other writers.
    fn io(err: std::io::Error) -> Self {
        Error(err.to_string().into())
    }
}

impl Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error(msg.to_string().into())
    }
}

fn key_must_be_a_string() -> Error {
    Error::text("key must be a string")
}

/// The struct name (and only field) by which serde_json's `RawValue`
/// serialises: its text is written as it is. serde_json's `raw_value`
/// feature is always on here (the codec's decode uses `RawValue`).
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// The same for `serde_json::Number` when serde_json's
/// `arbitrary_precision` feature is on; see [`arbitrary_precision`].
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Whether the serde_json in this build has `arbitrary_precision` (another
/// crate of the build may turn it on): then, and only then, a struct named
/// [`NUMBER_TOKEN`] is a number's text. Asked of serde_json itself once.
fn arbitrary_precision() -> bool {
    struct Probe;

    impl Serialize for Probe {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            use ser::SerializeStruct;
            let mut number = serializer.serialize_struct(NUMBER_TOKEN, 1)?;
            number.serialize_field(NUMBER_TOKEN, "1")?;
            number.end()
        }
    }

    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| serde_json::to_vec(&Probe).is_ok_and(|text| text == b"1"))
}

// ---------------------------------------------------------------------------
// Strings

/// `0x0101...01 * byte`: `byte` in every byte of a word.
const fn splat(byte: u8) -> u64 {
    0x0101_0101_0101_0101 * byte as u64
}

/// The high bit of each byte of `word` that is zero, exactly: no carry
/// crosses a byte, so bytes can be masked or shifted off afterwards.
#[inline]
fn zero_bytes(word: u64) -> u64 {
    const LOW7: u64 = splat(0x7f);
    !(((word & LOW7) + LOW7) | word | LOW7)
}

/// The high bit of each byte of `word` (eight bytes of text, little-endian)
/// that JSON must escape: `"`, `\` and the controls below 0x20. Bytes of
/// multi-byte UTF-8 (0x80 and up) never match.
#[inline]
fn escapes(word: u64) -> u64 {
    zero_bytes(word ^ splat(b'"'))
        | zero_bytes(word ^ splat(b'\\'))
        | zero_bytes(word & splat(0xe0))
}

#[inline]
fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// Eight bytes from the start of `bytes` (which has at least eight).
#[inline]
fn word_at(bytes: &[u8]) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(word)
}

/// The index of the first byte of `bytes` that JSON must escape.
#[inline]
fn find_escape(bytes: &[u8]) -> Option<usize> {
    let len = bytes.len();
    if len < 8 {
        return bytes.iter().position(|&byte| needs_escape(byte));
    }
    let mut at = 0;
    while at + 8 <= len {
        let found = escapes(word_at(&bytes[at..]));
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    if at == len {
        return None;
    }
    // The last (1 to 7) bytes: the word that ends with them, without the
    // bytes before `at`, which were clean.
    let skip = at + 8 - len;
    let found = escapes(word_at(&bytes[len - 8..])) >> (skip * 8);
    (found != 0).then(|| at + (found.trailing_zeros() / 8) as usize)
}

/// Whether a string of at most 16 bytes needs no escape, in one or two
/// word checks and no loop: the common case of keys and short values.
/// Longer strings answer `false` and take [`write_str_contents`].
#[inline(always)]
fn short_and_clean(bytes: &[u8]) -> bool {
    let len = bytes.len();
    let word = if len >= 8 {
        if len > 16 {
            return false;
        }
        // Two words that overlap (or meet) cover the string.
        return escapes(word_at(bytes)) | escapes(word_at(&bytes[len - 8..])) == 0;
    } else if len >= 4 {
        let half = |at: usize| {
            let mut half = [0; 4];
            half.copy_from_slice(&bytes[at..at + 4]);
            u64::from(u32::from_le_bytes(half))
        };
        half(0) | half(len - 4) << 32
    } else if len > 0 {
        // The first, middle and last bytes cover 1 to 3; the other five
        // bytes of the word are `a`, which needs no escape.
        splat(b'a') << 24
            | u64::from(bytes[0])
            | u64::from(bytes[len / 2]) << 8
            | u64::from(bytes[len - 1]) << 16
    } else {
        return true;
    };
    escapes(word) == 0
}

/// Appends `text` as a JSON string, quotes included.
#[inline]
fn write_str(out: &mut Vec<u8>, text: &str) {
    out.reserve(text.len() + 2);
    out.push(b'"');
    write_str_contents(out, text);
    out.push(b'"');
}

/// Appends `text` escaped as serde_json escapes it: the two-character
/// escapes where JSON has one, `\u00xx` (lower-case hex) for the other
/// controls, everything else (`/`, DEL, non-ASCII) as it is.
#[inline(always)]
fn write_str_contents(out: &mut Vec<u8>, text: &str) {
    if short_and_clean(text.as_bytes()) {
        out.extend_from_slice(text.as_bytes());
    } else {
        write_escaped(out, text);
    }
}

/// [`write_str_contents`] for long strings and strings with escapes.
#[inline(never)]
fn write_escaped(out: &mut Vec<u8>, text: &str) {
    let mut rest = text.as_bytes();
    while let Some(at) = find_escape(rest) {
        out.extend_from_slice(&rest[..at]);
        write_escape(out, rest[at]);
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
}

#[cold]
fn write_escape(out: &mut Vec<u8>, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match byte {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x09 => b't',
        0x0a => b'n',
        0x0c => b'f',
        0x0d => b'r',
        _ => {
            let (high, low) = (HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0xf)]);
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', high, low]);
            return;
        }
    };
    out.extend_from_slice(&[b'\\', short]);
}

/// `collect_str`'s sink: each piece of the `Display` output is escaped as
/// it comes, so nothing is collected into a `String` first.
struct Escaping<'a>(&'a mut Vec<u8>);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, piece: &str) -> fmt::Result {
        write_str_contents(self.0, piece);
        Ok(())
    }
}

fn collect_str<T: Display + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), Error> {
    use fmt::Write;
    out.push(b'"');
    write!(Escaping(&mut *out), "{value}")
        .map_err(|_| Error::text("a Display implementation returned an error"))?;
    out.push(b'"');
    Ok(())
}

// ---------------------------------------------------------------------------
// Values

/// The serializer: a value into the `Vec`.
struct Writer<'a>(&'a mut Vec<u8>);

/// Where a sequence or map is: announced empty (and closed already), before
/// its first element, or after one.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Empty,
    First,
    Rest,
}

/// An array or object being written, or the text of a `RawValue` or
/// `Number` (`number` tells which, for serde_json's error text).
enum Compound<'a> {
    Map { out: &'a mut Vec<u8>, state: State },
    Raw { out: &'a mut Vec<u8>, number: bool },
}

/// `{"variant":`, the opening of an externally tagged enum variant.
fn open_variant(out: &mut Vec<u8>, variant: &str) {
    out.push(b'{');
    write_str(out, variant);
    out.push(b':');
}

fn open_seq(out: &mut Vec<u8>, len: Option<usize>) -> Compound<'_> {
    out.push(b'[');
    let state = if len == Some(0) {
        out.push(b']');
        State::Empty
    } else {
        State::First
    };
    Compound::Map { out, state }
}

fn open_map(out: &mut Vec<u8>, len: Option<usize>) -> Compound<'_> {
    out.push(b'{');
    let state = if len == Some(0) {
        out.push(b'}');
        State::Empty
    } else {
        State::First
    };
    Compound::Map { out, state }
}

impl<'a> Serializer for Writer<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    #[inline]
    fn serialize_bool(self, value: bool) -> Result<(), Error> {
        self.0
            .extend_from_slice(if value { b"true" } else { b"false" });
        Ok(())
    }

    #[inline]
    fn serialize_i8(self, value: i8) -> Result<(), Error> {
        CompactFormatter.write_i8(self.0, value).map_err(Error::io)
    }

    #[inline]
    fn serialize_i16(self, value: i16) -> Result<(), Error> {
        CompactFormatter.write_i16(self.0, value).map_err(Error::io)
    }

    #[inline]
    fn serialize_i32(self, value: i32) -> Result<(), Error> {
        CompactFormatter.write_i32(self.0, value).map_err(Error::io)
    }

    #[inline]
    fn serialize_i64(self, value: i64) -> Result<(), Error> {
        CompactFormatter.write_i64(self.0, value).map_err(Error::io)
    }

    fn serialize_i128(self, value: i128) -> Result<(), Error> {
        CompactFormatter
            .write_i128(self.0, value)
            .map_err(Error::io)
    }

    #[inline]
    fn serialize_u8(self, value: u8) -> Result<(), Error> {
        CompactFormatter.write_u8(self.0, value).map_err(Error::io)
    }

    #[inline]
    fn serialize_u16(self, value: u16) -> Result<(), Error> {
        CompactFormatter.write_u16(self.0, value).map_err(Error::io)
    }

    #[inline]
    fn serialize_u32(self, value: u32) -> Result<(), Error> {
        CompactFormatter.write_u32(self.0, value).map_err(Error::io)
    }

    #[inline]
    fn serialize_u64(self, value: u64) -> Result<(), Error> {
        CompactFormatter.write_u64(self.0, value).map_err(Error::io)
    }

    fn serialize_u128(self, value: u128) -> Result<(), Error> {
        CompactFormatter
            .write_u128(self.0, value)
            .map_err(Error::io)
    }

    #[inline]
    fn serialize_f32(self, value: f32) -> Result<(), Error> {
        if !value.is_finite() {
            return self.serialize_unit();
        }
        CompactFormatter.write_f32(self.0, value).map_err(Error::io)
    }

    #[inline]
    fn serialize_f64(self, value: f64) -> Result<(), Error> {
        if !value.is_finite() {
            return self.serialize_unit();
        }
        CompactFormatter.write_f64(self.0, value).map_err(Error::io)
    }

    #[inline]
    fn serialize_char(self, value: char) -> Result<(), Error> {
        write_str(self.0, value.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    #[inline]
    fn serialize_str(self, value: &str) -> Result<(), Error> {
        write_str(self.0, value);
        Ok(())
    }

    fn serialize_bytes(self, value: &[u8]) -> Result<(), Error> {
        let out = self.0;
        out.push(b'[');
        for (index, byte) in value.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            CompactFormatter.write_u8(out, *byte).map_err(Error::io)?;
        }
        out.push(b']');
        Ok(())
    }

    #[inline]
    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }

    #[inline]
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    #[inline]
    fn serialize_unit(self) -> Result<(), Error> {
        self.0.extend_from_slice(b"null");
        Ok(())
    }

    #[inline]
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }

    #[inline]
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }

    #[inline]
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        open_variant(self.0, variant);
        value.serialize(Writer(&mut *self.0))?;
        self.0.push(b'}');
        Ok(())
    }

    #[inline]
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a>, Error> {
        Ok(open_seq(self.0, len))
    }

    #[inline]
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>, Error> {
        Ok(open_seq(self.0, Some(len)))
    }

    #[inline]
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, Error> {
        Ok(open_seq(self.0, Some(len)))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, Error> {
        open_variant(self.0, variant);
        Ok(open_seq(self.0, Some(len)))
    }

    #[inline]
    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'a>, Error> {
        Ok(open_map(self.0, len))
    }

    #[inline]
    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Compound<'a>, Error> {
        if name.starts_with('$') {
            if name == RAW_VALUE_TOKEN {
                return Ok(Compound::Raw {
                    out: self.0,
                    number: false,
                });
            }
            if name == NUMBER_TOKEN && arbitrary_precision() {
                return Ok(Compound::Raw {
                    out: self.0,
                    number: true,
                });
            }
        }
        Ok(open_map(self.0, Some(len)))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, Error> {
        open_variant(self.0, variant);
        Ok(open_map(self.0, Some(len)))
    }

    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result<(), Error> {
        collect_str(self.0, value)
    }
}

impl Compound<'_> {
    /// The comma before an element or key (serde_json writes one before
    /// anything but the first, also after an announced-empty opening).
    #[inline]
    fn next(&mut self) -> Result<&mut Vec<u8>, Error> {
        match self {
            Compound::Map { out, state } => {
                if *state != State::First {
                    out.push(b',');
                }
                *state = State::Rest;
                Ok(out)
            }
            // serde_json's Compound::RawValue is only ever a struct.
            Compound::Raw { .. } => Err(Error::text("expected value")),
        }
    }

    /// The closing bracket, unless the opening closed it already.
    #[inline]
    fn close(self, bracket: u8) -> Result<(), Error> {
        match self {
            Compound::Map { out, state } => {
                if state != State::Empty {
                    out.push(bracket);
                }
            }
            Compound::Raw { .. } => {}
        }
        Ok(())
    }

    /// Closes a variant's array or object, then the `{"variant":` around it.
    fn close_variant(self, bracket: u8) -> Result<(), Error> {
        match self {
            Compound::Map { out, state } => {
                if state != State::Empty {
                    out.push(bracket);
                }
                out.push(b'}');
            }
            Compound::Raw { .. } => {}
        }
        Ok(())
    }

    #[inline]
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let out = self.next()?;
        value.serialize(Writer(out))
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    #[inline]
    fn end(self) -> Result<(), Error> {
        self.close(b']')
    }
}

impl ser::SerializeTuple for Compound<'_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    #[inline]
    fn end(self) -> Result<(), Error> {
        self.close(b']')
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    #[inline]
    fn end(self) -> Result<(), Error> {
        self.close(b']')
    }
}

impl ser::SerializeTupleVariant for Compound<'_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.close_variant(b']')
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        let out = self.next()?;
        key.serialize(KeyWriter(out))
    }

    #[inline]
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        match self {
            Compound::Map { out, .. } => {
                out.push(b':');
                value.serialize(Writer(out))
            }
            Compound::Raw { .. } => Err(Error::text("expected value")),
        }
    }

    #[inline]
    fn end(self) -> Result<(), Error> {
        self.close(b'}')
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        match self {
            Compound::Map { out, state } => {
                // `,"key":` in one reservation.
                out.reserve(key.len() + 4);
                if *state != State::First {
                    out.push(b',');
                }
                *state = State::Rest;
                out.push(b'"');
                write_str_contents(out, key);
                out.extend_from_slice(b"\":");
                value.serialize(Writer(out))
            }
            // serde_json's errors: the wrong member, then the wrong value.
            Compound::Raw { out, number: false } => {
                if key != RAW_VALUE_TOKEN {
                    return Err(Error::text("expected value"));
                }
                value.serialize(RawWriter {
                    out,
                    wrong: "expected RawValue",
                })
            }
            Compound::Raw { out, number: true } => {
                if key != NUMBER_TOKEN {
                    return Err(Error::text("invalid number"));
                }
                value.serialize(RawWriter {
                    out,
                    wrong: "invalid number",
                })
            }
        }
    }

    #[inline]
    fn end(self) -> Result<(), Error> {
        self.close(b'}')
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = Error;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        ser::SerializeStruct::serialize_field(self, key, value)
    }

    fn end(self) -> Result<(), Error> {
        self.close_variant(b'}')
    }
}

// ---------------------------------------------------------------------------
// Map keys

/// A map key: strings as they are; numbers, bools and finite floats as
/// quoted text; anything else is an error, as in serde_json.
struct KeyWriter<'a>(&'a mut Vec<u8>);

impl KeyWriter<'_> {
    /// `"`, the text the formatter writes, `"`.
    #[inline]
    fn quoted(self, write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> Result<(), Error> {
        self.0.push(b'"');
        write(self.0).map_err(Error::io)?;
        self.0.push(b'"');
        Ok(())
    }
}

impl Serializer for KeyWriter<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Impossible<(), Error>;
    type SerializeTuple = Impossible<(), Error>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Impossible<(), Error>;
    type SerializeStruct = Impossible<(), Error>;
    type SerializeStructVariant = Impossible<(), Error>;

    #[inline]
    fn serialize_str(self, value: &str) -> Result<(), Error> {
        write_str(self.0, value);
        Ok(())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_bool(self, value: bool) -> Result<(), Error> {
        self.quoted(|out| CompactFormatter.write_bool(out, value))
    }

    fn serialize_i8(self, value: i8) -> Result<(), Error> {
        self.quoted(|out| CompactFormatter.write_i8(out, value))
    }

    fn serialize_i16(self, value: i16) -> Result<(), Error> {
        self.quoted(|out| CompactFormatter.write_i16(out, value))
    }

    fn serialize_i32(self, value: i32) -> Result<(), Error> {
        self.quoted(|out| CompactFormatter.write_i32(out, value))
    }

    fn serialize_i64(self, value: i64) -> Result<(), Error> {
        self.quoted(|out| CompactFormatter.write_i64(out, value))
    }

    fn serialize_i128(self, value: i128) -> Result<(), Error> {
        self.quoted(|out| CompactFormatter.write_i128(out, value))
    }

    fn serialize_u8(self, value: u8) -> Result<(), Error> {
        self.quoted(|out| CompactFormatter.write_u8(out, value))
    }

    fn serialize_u16(self, value: u16) -> Result<(), Error> {
        self.quoted(|out| CompactFormatter.write_u16(out, value))
    }

    fn serialize_u32(self, value: u32) -> Result<(), Error> {
        self.quoted(|out| CompactFormatter.write_u32(out, value))
    }

    fn serialize_u64(self, value: u64) -> Result<(), Error> {
        self.quoted(|out| CompactFormatter.write_u64(out, value))
    }

    fn serialize_u128(self, value: u128) -> Result<(), Error> {
        self.quoted(|out| CompactFormatter.write_u128(out, value))
    }

    fn serialize_f32(self, value: f32) -> Result<(), Error> {
        if !value.is_finite() {
            return Err(Error::text("float key must be finite (got NaN or +/-inf)"));
        }
        self.quoted(|out| CompactFormatter.write_f32(out, value))
    }

    fn serialize_f64(self, value: f64) -> Result<(), Error> {
        if !value.is_finite() {
            return Err(Error::text("float key must be finite (got NaN or +/-inf)"));
        }
        self.quoted(|out| CompactFormatter.write_f64(out, value))
    }

    fn serialize_char(self, value: char) -> Result<(), Error> {
        self.serialize_str(value.encode_utf8(&mut [0; 4]))
    }

    fn serialize_bytes(self, _value: &[u8]) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_unit(self) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_none(self) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        Err(key_must_be_a_string())
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(key_must_be_a_string())
    }

    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result<(), Error> {
        collect_str(self.0, value)
    }
}

// ---------------------------------------------------------------------------
// RawValue and Number text

/// The inside of a `RawValue` (or `Number`): a string, written as it is.
/// Anything else is serde_json's error (`wrong`).
struct RawWriter<'a> {
    out: &'a mut Vec<u8>,
    wrong: &'static str,
}

impl RawWriter<'_> {
    fn wrong(&self) -> Error {
        Error::text(self.wrong)
    }
}

/// The methods of [`RawWriter`] that all fail alike.
macro_rules! wrong {
    ($($method:ident($($arg:ty),*);)*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<(), Error> {
            Err(self.wrong())
        })*
    };
}

impl Serializer for RawWriter<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Impossible<(), Error>;
    type SerializeTuple = Impossible<(), Error>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Impossible<(), Error>;
    type SerializeStruct = Impossible<(), Error>;
    type SerializeStructVariant = Impossible<(), Error>;

    fn serialize_str(self, value: &str) -> Result<(), Error> {
        self.out.extend_from_slice(value.as_bytes());
        Ok(())
    }

    wrong! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_i128(i128);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_u128(u128);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_bytes(&[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<(), Error> {
        Err(self.wrong())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _value: &T,
    ) -> Result<(), Error> {
        Err(self.wrong())
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), Error> {
        Err(self.wrong())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(self.wrong())
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(self.wrong())
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(self.wrong())
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(self.wrong())
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(self.wrong())
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        Err(self.wrong())
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(self.wrong())
    }

    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result<(), Error> {
        self.serialize_str(&value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::ser::{
        SerializeMap, SerializeSeq, SerializeStruct, SerializeStructVariant, SerializeTuple,
        SerializeTupleStruct, SerializeTupleVariant,
    };
    use serde::Serialize;
    use serde_json::value::RawValue;

    use super::*;

    /// Ours and serde_json's agree on `value`: the same bytes, or errors
    /// with the same text.
    #[track_caller]
    fn check<T: Serialize + ?Sized + fmt::Debug>(value: &T) {
        let mut ours = b"prefix".to_vec();
        let got = write_value(value, &mut ours);
        match (got, serde_json::to_vec(value)) {
            (Ok(()), Ok(theirs)) => assert_eq!(
                String::from_utf8_lossy(&ours[6..]),
                String::from_utf8_lossy(&theirs),
                "{value:?}"
            ),
            (Err(ours), Err(theirs)) => {
                assert_eq!(ours.message(), theirs.to_string(), "{value:?}")
            }
            (ours, theirs) => panic!("{value:?}: ours {ours:?}, serde_json {theirs:?}"),
        }
    }

    /// xorshift64: deterministic, so a failure is reproducible.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<T: Copy>(&mut self, from: &[T]) -> T {
            from[self.below(from.len())]
        }
    }

    /// Characters of every class the escaping tells apart: plain ASCII,
    /// the bytes with short escapes, the other controls, the ASCII JSON
    /// leaves alone (`/`, DEL), and two-, three- and four-byte UTF-8
    /// (U+2028 and U+2029 too, which JSON does not escape either).
    const CHARS: &[char] = &[
        'a',
        'Z',
        '0',
        ' ',
        '~',
        '"',
        '\\',
        '/',
        '\u{7f}',
        '\u{0}',
        '\u{1}',
        '\u{8}',
        '\t',
        '\n',
        '\u{b}',
        '\u{c}',
        '\r',
        '\u{1f}',
        'é',
        '\u{80}',
        '\u{7ff}',
        '€',
        '\u{800}',
        '\u{2028}',
        '\u{2029}',
        '\u{fffd}',
        '\u{ffff}',
        '\u{10000}',
        '😀',
        '\u{10ffff}',
    ];

    fn string(rng: &mut Rng) -> String {
        let len = match rng.below(10) {
            0 => rng.below(300),
            _ => rng.below(24),
        };
        // Mostly letters, so that escapes land at every offset of a word.
        (0..len)
            .map(|_| match rng.below(4) {
                0 => rng.pick(CHARS),
                _ => char::from(b'a' + rng.below(26) as u8),
            })
            .collect()
    }

    const F64S: &[f64] = &[
        0.0,
        -0.0,
        1.0,
        -1.5,
        0.1,
        1.0 / 3.0,
        1e15,
        1e16,
        1e17,
        1e21,
        1e22,
        1e-5,
        1e-7,
        123_456_789.125,
        f64::MIN_POSITIVE,
        5e-324,
        f64::MAX,
        f64::MIN,
        f64::EPSILON,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];

    fn f64_value(rng: &mut Rng) -> f64 {
        match rng.below(3) {
            0 => rng.pick(F64S),
            1 => f64::from_bits(rng.next()),
            _ => (rng.next() % 100_000) as f64 / 100.0,
        }
    }

    /// Names of struct fields and variants (`&'static str` in serde),
    /// escapes and serde_json's private tokens among them.
    const NAMES: &[&str] = &[
        "a",
        "id",
        "in_stock",
        "",
        "quote\"d",
        "back\\slash",
        "tab\tnew\nline",
        "\u{1}",
        "é",
        "a name longer than one word of eight bytes",
        RAW_VALUE_TOKEN,
        NUMBER_TOKEN,
    ];

    /// A value of any kind of the serde data model, serialised through the
    /// matching `Serializer` method.
    #[derive(Debug)]
    enum Any {
        Bool(bool),
        I8(i8),
        I16(i16),
        I32(i32),
        I64(i64),
        I128(i128),
        U8(u8),
        U16(u16),
        U32(u32),
        U64(u64),
        U128(u128),
        F32(f32),
        F64(f64),
        Char(char),
        Str(String),
        Bytes(Vec<u8>),
        None,
        Some(Box<Any>),
        Unit,
        UnitStruct,
        UnitVariant(&'static str),
        NewtypeStruct(Box<Any>),
        NewtypeVariant(&'static str, Box<Any>),
        /// The announced length (`None`, the true one, or a wrong one), then
        /// the elements.
        Seq(Option<usize>, Vec<Any>),
        Tuple(Vec<Any>),
        TupleStruct(Vec<Any>),
        TupleVariant(&'static str, Vec<Any>),
        Map(Option<usize>, Vec<(Any, Any)>),
        Struct(&'static str, Vec<(&'static str, Any)>),
        StructVariant(&'static str, Vec<(&'static str, Any)>),
        /// Through `collect_str`.
        Display(String),
        Raw(Box<RawValue>),
    }

    impl Any {
        fn generate(rng: &mut Rng, depth: usize) -> Any {
            let kinds = if depth == 0 { 18 } else { 28 };
            let items = |rng: &mut Rng| rng.below(5);
            match rng.below(kinds) {
                0 => Any::Bool(rng.next() & 1 == 1),
                1 => Any::I8(rng.next() as i8),
                2 => Any::I16(rng.next() as i16),
                3 => Any::I32(rng.next() as i32),
                4 => Any::I64(match rng.below(3) {
                    0 => rng.pick(&[i64::MIN, i64::MAX, 0, -1]),
                    _ => rng.next() as i64 >> rng.below(64),
                }),
                5 => Any::I128(
                    (i128::from(rng.next()) << 64 | i128::from(rng.next())) >> rng.below(128),
                ),
                6 => Any::U8(rng.next() as u8),
                7 => Any::U16(rng.next() as u16),
                8 => Any::U32(rng.next() as u32),
                9 => Any::U64(rng.next() >> rng.below(64)),
                10 => Any::U128(
                    (u128::from(rng.next()) << 64 | u128::from(rng.next())) >> rng.below(128),
                ),
                11 => Any::F32(match rng.below(2) {
                    0 => rng.pick(F64S) as f32,
                    _ => f32::from_bits(rng.next() as u32),
                }),
                12 => Any::F64(f64_value(rng)),
                13 => Any::Char(match rng.below(2) {
                    0 => rng.pick(CHARS),
                    _ => char::from_u32(rng.next() as u32 % 0x11_0000).unwrap_or('x'),
                }),
                14 | 15 => Any::Str(string(rng)),
                16 => Any::Display(string(rng)),
                17 => match rng.below(6) {
                    0 => Any::Bytes((0..rng.below(12)).map(|_| rng.next() as u8).collect()),
                    1 => Any::None,
                    2 => Any::Unit,
                    3 => Any::UnitStruct,
                    4 => Any::UnitVariant(rng.pick(NAMES)),
                    _ => {
                        let text = rng.pick(&["1", "[1, 2]", r#"{"a" : "\u0041"}"#, "null"]);
                        Any::Raw(RawValue::from_string(text.into()).expect("valid JSON"))
                    }
                },
                18 => Any::Some(Box::new(Any::generate(rng, depth - 1))),
                19 => Any::NewtypeStruct(Box::new(Any::generate(rng, depth - 1))),
                20 => Any::NewtypeVariant(rng.pick(NAMES), Box::new(Any::generate(rng, depth - 1))),
                21 => {
                    let elements: Vec<Any> = (0..items(rng))
                        .map(|_| Any::generate(rng, depth - 1))
                        .collect();
                    let len = match rng.below(4) {
                        0 => None,
                        1 => Some(rng.below(3)),
                        _ => Some(elements.len()),
                    };
                    Any::Seq(len, elements)
                }
                22 => Any::Tuple(
                    (0..items(rng))
                        .map(|_| Any::generate(rng, depth - 1))
                        .collect(),
                ),
                23 => Any::TupleStruct(
                    (0..items(rng))
                        .map(|_| Any::generate(rng, depth - 1))
                        .collect(),
                ),
                24 => Any::TupleVariant(
                    rng.pick(NAMES),
                    (0..items(rng))
                        .map(|_| Any::generate(rng, depth - 1))
                        .collect(),
                ),
                25 => {
                    let entries: Vec<(Any, Any)> = (0..items(rng))
                        .map(|_| (Any::key(rng, depth - 1), Any::generate(rng, depth - 1)))
                        .collect();
                    let len = match rng.below(4) {
                        0 => None,
                        1 => Some(rng.below(3)),
                        _ => Some(entries.len()),
                    };
                    Any::Map(len, entries)
                }
                26 => Any::Struct(rng.pick(NAMES), Any::fields(rng, depth - 1)),
                _ => Any::StructVariant(rng.pick(NAMES), Any::fields(rng, depth - 1)),
            }
        }

        /// Mostly keys serde_json takes, sometimes one it refuses.
        fn key(rng: &mut Rng, depth: usize) -> Any {
            match rng.below(12) {
                0..=3 => Any::Str(string(rng)),
                4 => Any::I64(rng.next() as i64),
                5 => Any::U128(u128::from(rng.next()) << rng.below(64)),
                6 => Any::Bool(rng.next() & 1 == 1),
                7 => Any::F64(f64_value(rng)),
                8 => Any::Char(rng.pick(CHARS)),
                9 => Any::UnitVariant(rng.pick(NAMES)),
                10 => Any::NewtypeStruct(Box::new(Any::Some(Box::new(Any::U8(rng.next() as u8))))),
                _ => Any::generate(rng, depth),
            }
        }

        fn fields(rng: &mut Rng, depth: usize) -> Vec<(&'static str, Any)> {
            (0..rng.below(5))
                .map(|_| {
                    let value = match rng.below(4) {
                        // the inside of a RawValue or Number, if the name is a token
                        0 => Any::Str(rng.pick(&["1", "[1, 2]", "-0.5e3", "x"]).to_owned()),
                        _ => Any::generate(rng, depth),
                    };
                    (rng.pick(NAMES), value)
                })
                .collect()
        }
    }

    impl Serialize for Any {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            const NAME: &str = "Any";
            match self {
                Any::Bool(v) => s.serialize_bool(*v),
                Any::I8(v) => s.serialize_i8(*v),
                Any::I16(v) => s.serialize_i16(*v),
                Any::I32(v) => s.serialize_i32(*v),
                Any::I64(v) => s.serialize_i64(*v),
                Any::I128(v) => s.serialize_i128(*v),
                Any::U8(v) => s.serialize_u8(*v),
                Any::U16(v) => s.serialize_u16(*v),
                Any::U32(v) => s.serialize_u32(*v),
                Any::U64(v) => s.serialize_u64(*v),
                Any::U128(v) => s.serialize_u128(*v),
                Any::F32(v) => s.serialize_f32(*v),
                Any::F64(v) => s.serialize_f64(*v),
                Any::Char(v) => s.serialize_char(*v),
                Any::Str(v) => s.serialize_str(v),
                Any::Bytes(v) => s.serialize_bytes(v),
                Any::None => s.serialize_none(),
                Any::Some(v) => s.serialize_some(v),
                Any::Unit => s.serialize_unit(),
                Any::UnitStruct => s.serialize_unit_struct(NAME),
                Any::UnitVariant(variant) => s.serialize_unit_variant(NAME, 1, variant),
                Any::NewtypeStruct(v) => s.serialize_newtype_struct(NAME, v),
                Any::NewtypeVariant(variant, v) => s.serialize_newtype_variant(NAME, 2, variant, v),
                Any::Seq(len, elements) => {
                    let mut seq = s.serialize_seq(*len)?;
                    for element in elements {
                        seq.serialize_element(element)?;
                    }
                    seq.end()
                }
                Any::Tuple(elements) => {
                    let mut tuple = s.serialize_tuple(elements.len())?;
                    for element in elements {
                        tuple.serialize_element(element)?;
                    }
                    tuple.end()
                }
                Any::TupleStruct(elements) => {
                    let mut tuple = s.serialize_tuple_struct(NAME, elements.len())?;
                    for element in elements {
                        tuple.serialize_field(element)?;
                    }
                    tuple.end()
                }
                Any::TupleVariant(variant, elements) => {
                    let mut tuple = s.serialize_tuple_variant(NAME, 3, variant, elements.len())?;
                    for element in elements {
                        tuple.serialize_field(element)?;
                    }
                    tuple.end()
                }
                Any::Map(len, entries) => {
                    let mut map = s.serialize_map(*len)?;
                    for (index, (key, value)) in entries.iter().enumerate() {
                        // both ways of writing an entry
                        if index % 2 == 0 {
                            map.serialize_entry(key, value)?;
                        } else {
                            map.serialize_key(key)?;
                            map.serialize_value(value)?;
                        }
                    }
                    map.end()
                }
                Any::Struct(name, fields) => {
                    let mut object = s.serialize_struct(name, fields.len())?;
                    for (key, value) in fields {
                        object.serialize_field(key, value)?;
                    }
                    object.end()
                }
                Any::StructVariant(variant, fields) => {
                    let mut object = s.serialize_struct_variant(NAME, 4, variant, fields.len())?;
                    for (key, value) in fields {
                        object.serialize_field(key, value)?;
                    }
                    object.end()
                }
                Any::Display(text) => s.collect_str(text),
                Any::Raw(raw) => raw.serialize(s),
            }
        }
    }

    #[test]
    fn writes_what_serde_json_writes_for_generated_values() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let (mut oks, mut errors) = (0, 0);
        for round in 0..20_000 {
            let value = Any::generate(&mut rng, round % 5);
            check(&value);
            match serde_json::to_vec(&value) {
                Ok(_) => oks += 1,
                Err(_) => errors += 1,
            }
        }
        // Both outcomes are exercised, not just one.
        assert!(oks > 10_000 && errors > 50, "{oks} ok, {errors} errors");
    }

    #[test]
    fn every_ascii_byte_at_every_offset_of_a_string() {
        for len in 1..=33 {
            for at in 0..len {
                for byte in 0..0x80u8 {
                    let mut text = vec![b'a'; len];
                    text[at] = byte;
                    let text = String::from_utf8(text).unwrap();
                    check(text.as_str());
                    // and two escapes in a row, the second at the next offset
                    if at + 1 < len {
                        check(&format!("{}\"{}", &text[..at + 1], &text[at + 2..]));
                    }
                }
            }
        }
    }

    #[test]
    fn every_char_class_in_strings_and_keys() {
        let chars = (0..0x3000)
            .chain((0xd7f0..0xd800).chain(0xe000..0xe010))
            .chain((0xfff0..=0x10_ffff).step_by(997))
            .chain([0x10_ffff])
            .filter_map(char::from_u32);
        for c in chars {
            for pad in [0, 3, 7, 8, 13] {
                let text = format!("{}{c}{}", "x".repeat(pad), "y".repeat(pad / 2));
                check(&c);
                check(text.as_str());
                check(&BTreeMap::from([(text.clone(), c)]));
            }
        }
    }

    #[test]
    fn escape_scan_is_exact_in_every_byte_of_a_word() {
        let mut rng = Rng(7);
        for byte in 0..=255u8 {
            for at in 0..8 {
                for _ in 0..20 {
                    // any other bytes around it, escapable ones too
                    let mut word = rng.next().to_le_bytes();
                    word[at] = byte;
                    let found = escapes(u64::from_le_bytes(word));
                    for (index, &other) in word.iter().enumerate() {
                        assert_eq!(
                            found >> (index * 8) & 0xff,
                            if needs_escape(other) { 0x80 } else { 0 },
                            "{word:02x?} at {index}"
                        );
                    }
                }
            }
        }
    }

    #[derive(Debug, Serialize)]
    struct Item {
        id: u32,
        sku: String,
        price: f64,
        in_stock: bool,
        rating: Option<f32>,
        tags: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        #[serde(flatten)]
        extra: BTreeMap<String, i64>,
        shape: Shape,
    }

    #[derive(Debug, Serialize)]
    enum Shape {
        Dot,
        Circle(f64),
        Rect { w: u8, h: u8 },
        Pair(i8, i8),
    }

    #[derive(Debug, Serialize)]
    #[serde(tag = "kind", content = "body")]
    enum Tagged {
        Text(String),
        Empty,
    }

    #[test]
    fn writes_what_serde_json_writes_for_derived_and_library_types() {
        let shapes = [
            Shape::Dot,
            Shape::Circle(2.5),
            Shape::Rect { w: 1, h: 2 },
            Shape::Pair(-1, 1),
        ];
        let items: Vec<Item> = shapes
            .into_iter()
            .enumerate()
            .map(|(index, shape)| Item {
                id: index as u32,
                sku: format!("SKU-{index:06}\u{1}\"/"),
                price: index as f64 / 3.0,
                in_stock: index % 2 == 0,
                rating: (index > 1).then_some(f32::NAN),
                tags: vec!["tab\there".into(); index],
                note: (index == 2).then(|| "é€😀".into()),
                extra: BTreeMap::from([(format!("x{index}"), -(index as i64))]),
                shape,
            })
            .collect();
        check(&items);
        check(&[Tagged::Text("\n".into()), Tagged::Empty]);
        check(&serde_json::json!({"a": [1, -2, 3.5, null, true, {"b\u{0}": "c\\"}], "": {}}));
        check(&HashMap::from([(1u8, "one"), (2, "two")]));
        check(&BTreeMap::from([((1, 2), 3)])); // a key that is not one
        check(&BTreeMap::from([(Some(true), ())]));
        check(&BTreeMap::from([(f64::NAN.to_bits(), f32::INFINITY)]));
        let raw = RawValue::from_string(r#"{"kept" : [1, 2]}"#.into()).unwrap();
        check(&[&raw, &raw]);
        check(&(
            crate::Id::Str("a\"b".into()),
            crate::Id::Int(-3),
            crate::Id::Null,
        ));
        check(&crate::ErrorObject::invalid_params("bad \"x\"\n"));
        check(&[0u8, 255].as_slice());
        check(&serde_bytes_like(&[1, 2, 3]));
        check(&'\u{2028}');
        check(&String::new());
        check(&Vec::<()>::new());
        check(&std::net::Ipv4Addr::LOCALHOST); // collect_str
    }

    /// A value that serialises as bytes (serde_json writes an array).
    fn serde_bytes_like(bytes: &[u8]) -> impl Serialize + fmt::Debug + '_ {
        #[derive(Debug)]
        struct Bytes<'a>(&'a [u8]);
        impl Serialize for Bytes<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(self.0)
            }
        }
        Bytes(bytes)
    }

    #[test]
    fn errors_leave_the_output_serde_json_left() {
        let mut out = Vec::new();
        let err = write_value(&BTreeMap::from([(vec![1], 2)]), &mut out).unwrap_err();
        assert_eq!(err.message(), "key must be a string");
        assert_eq!(out, b"{");
        let mut out = Vec::new();
        let err = write_value(&BTreeMap::from([(f64::NAN.to_bits(), 1)]), &mut out);
        assert!(err.is_ok(), "an integer key is fine");
        assert_eq!(out, format!("{{\"{}\":1}}", f64::NAN.to_bits()).as_bytes());
    }

    #[test]
    fn a_failing_display_is_an_error_not_a_panic() {
        struct Fails;
        impl Display for Fails {
            fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
                Err(fmt::Error)
            }
        }
        struct Collect;
        impl Serialize for Collect {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&Fails)
            }
        }
        let err = write_value(&Collect, &mut Vec::new()).unwrap_err();
        assert_eq!(err.message(), "a Display implementation returned an error");
    }

    #[test]
    fn number_token_is_a_map_without_arbitrary_precision() {
        // This build's serde_json has no `arbitrary_precision`, so a struct
        // of that name is an ordinary one there, and here.
        assert!(!arbitrary_precision());
        let value = Any::Struct(NUMBER_TOKEN, vec![(NUMBER_TOKEN, Any::Str("1".into()))]);
        check(&value);
        let mut out = Vec::new();
        write_value(&value, &mut out).unwrap();
        assert_eq!(out, br#"{"$serde_json::private::Number":"1"}"#);
    }
}
