//! A serde deserializer over the bytes of one CBOR item: how params reach
//! the handler's type.
//!
//! It exists because ciborium's deserializer cannot be built outside
//! ciborium (there is only `from_reader`, which neither takes a
//! `DeserializeSeed` nor lets a caller wrap the deserializer), and because
//! it reads structs from maps only. This one reads a struct from an array
//! or a map at any depth, as serde_json does, so params arrive positional or
//! named; rejects arrays longer than the visitor wants, so an extra
//! positional param is an error; borrows strings from the frame; and reads
//! through the walker's [`Cbor`] heads, so it never reads out of bounds and
//! never allocates what a length header claims.

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Unexpected, Visitor};
use serde::Deserialize;

use super::Cbor;
use crate::walk::{self, Fault, Format, Head, Reader};

/// How deep params may nest here, well within the stack of any thread.
/// Frames from the codec have already passed the configured depth limit.
const MAX_DEPTH: usize = 256;

pub(crate) struct Deserializer<'de> {
    reader: Reader<'de>,
    /// Levels of nesting still allowed.
    depth: usize,
}

/// A CBOR deserialisation error, as text.
#[derive(Debug)]
pub(crate) struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

impl From<Fault> for Error {
    fn from(fault: Fault) -> Self {
        Error(format!("malformed CBOR: {fault}"))
    }
}

type Result<T> = std::result::Result<T, Error>;

impl<'de> Deserializer<'de> {
    pub(crate) fn new(bytes: &'de [u8]) -> Self {
        Deserializer {
            reader: Reader::new(bytes),
            depth: MAX_DEPTH,
        }
    }

    /// The head of the next item, tags skipped.
    fn head(&mut self) -> Result<Head<'de>> {
        loop {
            let at = self.reader.pos();
            match Cbor::head(&mut self.reader)? {
                Head::Tag(_) => {}
                Head::Break => return Err(Fault::new(at, "unexpected break").into()),
                head => return Ok(head),
            }
        }
    }

    /// The head of the next item without consuming it.
    fn peek(&self) -> Result<Head<'de>> {
        let mut ahead = Deserializer {
            reader: self.reader,
            depth: self.depth,
        };
        ahead.head()
    }

    /// Consumes a break if one is next.
    fn at_break(&mut self) -> Result<bool> {
        let mut ahead = self.reader;
        if Cbor::head(&mut ahead)? == Head::Break {
            self.reader = ahead;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// The chunks of an indefinite-length string, joined.
    fn chunks(&mut self, text: bool) -> Result<Vec<u8>> {
        let mut joined = Vec::new();
        loop {
            let at = self.reader.pos();
            match (Cbor::head(&mut self.reader)?, text) {
                (Head::Break, _) => return Ok(joined),
                (Head::Text(chunk), true) => joined.extend_from_slice(chunk.as_bytes()),
                (Head::Bytes(chunk), false) => joined.extend_from_slice(chunk),
                _ => {
                    return Err(
                        Fault::new(at, "a chunk must be a definite string of its kind").into(),
                    )
                }
            }
        }
    }

    fn text_chunks(&mut self) -> Result<String> {
        // Each chunk is checked UTF-8, so their concatenation is too.
        String::from_utf8(self.chunks(true)?).map_err(|_| Error("invalid UTF-8".into()))
    }

    /// Runs `f` one nesting level down.
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.depth == 0 {
            return Err(Error(format!("params nest deeper than {MAX_DEPTH}")));
        }
        self.depth -= 1;
        let result = f(self);
        self.depth += 1;
        result
    }

    fn visit<V: Visitor<'de>>(&mut self, head: Head<'de>, visitor: V) -> Result<V::Value> {
        match head {
            Head::Null | Head::Simple(23) => visitor.visit_unit(),
            Head::Bool(b) => visitor.visit_bool(b),
            Head::Uint(n) => visitor.visit_u64(n),
            Head::Neg(n) => match i64::try_from(n) {
                Ok(n) => visitor.visit_i64(-1 - n),
                Err(_) => visitor.visit_i128(-1 - i128::from(n)),
            },
            Head::Float(x) => visitor.visit_f64(x),
            Head::Text(text) => visitor.visit_borrowed_str(text),
            Head::TextChunks => visitor.visit_string(self.text_chunks()?),
            Head::Bytes(bytes) => visitor.visit_borrowed_bytes(bytes),
            Head::BytesChunks => visitor.visit_byte_buf(self.chunks(false)?),
            Head::Array(len) => self.nested(|de| {
                let mut seq = Access {
                    de,
                    left: len,
                    read: 0,
                };
                let value = visitor.visit_seq(&mut seq)?;
                seq.end("array")?;
                Ok(value)
            }),
            Head::Map(len) => self.nested(|de| {
                let mut map = Access {
                    de,
                    left: len,
                    read: 0,
                };
                let value = visitor.visit_map(&mut map)?;
                map.end("map")?;
                Ok(value)
            }),
            other => Err(de::Error::invalid_type(unexpected(&other), &visitor)),
        }
    }
}

fn unexpected<'a>(head: &Head<'a>) -> Unexpected<'a> {
    match *head {
        Head::Null | Head::Simple(23) => Unexpected::Unit,
        Head::Bool(b) => Unexpected::Bool(b),
        Head::Uint(n) => Unexpected::Unsigned(n),
        Head::Neg(n) => match i64::try_from(n) {
            Ok(n) => Unexpected::Signed(-1 - n),
            Err(_) => Unexpected::Other("a negative integer"),
        },
        Head::Float(x) => Unexpected::Float(x),
        Head::Text(text) => Unexpected::Str(text),
        Head::TextChunks => Unexpected::Other("a text string"),
        Head::Bytes(bytes) => Unexpected::Bytes(bytes),
        Head::BytesChunks => Unexpected::Other("a byte string"),
        Head::Array(_) => Unexpected::Seq,
        Head::Map(_) => Unexpected::Map,
        Head::Simple(_) => Unexpected::Other("a CBOR simple value"),
        Head::Tag(_) | Head::Ext(..) | Head::Break => Unexpected::Other("a CBOR control item"),
    }
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let head = self.head()?;
        self.visit(head, visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek()? {
            Head::Null | Head::Simple(23) => {
                self.head()?;
                visitor.visit_none()
            }
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    /// An enum is a text string (a unit variant) or a map of one entry,
    /// variant to content, as serde_json and ciborium write them.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.head()? {
            Head::Text(text) => visitor.visit_enum(text.into_deserializer()),
            Head::TextChunks => visitor.visit_enum(self.text_chunks()?.into_deserializer()),
            Head::Map(len @ (Some(1) | None)) => self.nested(|de| {
                let value = visitor.visit_enum(Variant { de: &mut *de })?;
                if len.is_none() && !de.at_break()? {
                    return Err(Error("an enum map must have exactly one entry".into()));
                }
                Ok(value)
            }),
            other => Err(de::Error::invalid_type(
                unexpected(&other),
                &"a variant name or a map of one entry",
            )),
        }
    }

    /// Skipped without recursion.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let head = self.head()?;
        walk::skip::<Cbor>(&mut self.reader, head, 0, self.depth)?;
        visitor.visit_unit()
    }

    fn is_human_readable(&self) -> bool {
        // As ciborium, which writes our results: types with a compact form
        // (addresses, UUIDs, timestamps) use it.
        false
    }

    // A struct reads from a map (named) or an array (positional): `any`.
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier
    }
}

/// The items of an array, or the entries of a map.
struct Access<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    /// Items (or entries) still to come; `None`: indefinite length.
    left: Option<u64>,
    read: u64,
}

impl Access<'_, '_> {
    /// Whether another item (or entry) follows; a break ending an
    /// indefinite-length container is consumed.
    fn more(&mut self) -> Result<bool> {
        match self.left {
            Some(0) => Ok(false),
            Some(left) => {
                self.left = Some(left - 1);
                self.read += 1;
                Ok(true)
            }
            None if self.de.at_break()? => {
                self.left = Some(0);
                Ok(false)
            }
            None => {
                self.read += 1;
                Ok(true)
            }
        }
    }

    /// Fails if the visitor stopped before the end: an extra positional
    /// param is an error, as in the JSON codec.
    fn end(&mut self, what: &str) -> Result<()> {
        match self.left {
            Some(0) => Ok(()),
            None if self.de.at_break()? => Ok(()),
            Some(left) => Err(de::Error::invalid_length(
                usize::try_from(self.read.saturating_add(left)).unwrap_or(usize::MAX),
                &format!("fewer elements in the {what}").as_str(),
            )),
            None => Err(Error(format!("more elements in the {what} than expected"))),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        // Believed only as far as the bytes go: every item takes one.
        let left = usize::try_from(self.left?).unwrap_or(usize::MAX);
        Some(left.min(self.de.reader.remaining()))
    }
}

impl<'de> de::SeqAccess<'de> for Access<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.more()? {
            seed.deserialize(&mut *self.de).map(Some)
        } else {
            Ok(None)
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Access::size_hint(self)
    }
}

impl<'de> de::MapAccess<'de> for Access<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.more()? {
            seed.deserialize(&mut *self.de).map(Some)
        } else {
            Ok(None)
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(&mut *self.de)
    }

    fn size_hint(&self) -> Option<usize> {
        Access::size_hint(self)
    }
}

/// The one entry of an enum map.
struct Variant<'a, 'de> {
    de: &'a mut Deserializer<'de>,
}

impl<'de> de::EnumAccess<'de> for Variant<'_, 'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let variant = seed.deserialize(&mut *self.de)?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for Variant<'_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        <()>::deserialize(self.de)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(self.de)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_any(self.de, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_any(self.de, visitor)
    }
}
