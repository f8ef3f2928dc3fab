//! A value of any kind of the serde data model, built from fuzz input: for
//! comparing rpckit's JSON writer with `serde_json::to_vec` (`write_json`).

use serde::ser::{
    SerializeMap, SerializeSeq, SerializeStruct, SerializeStructVariant, SerializeTuple,
    SerializeTupleStruct, SerializeTupleVariant,
};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

/// Field, variant and struct names (serde wants `&'static str`): escapes,
/// non-ASCII, and serde_json's private `RawValue` and `Number` tokens.
const NAMES: &[&str] = &[
    "a",
    "id",
    "",
    "quote\"d",
    "back\\slash",
    "tab\tnew\nline",
    "\u{1}\u{1f}",
    "é€😀",
    "a name longer than one word of eight bytes",
    "$serde_json::private::RawValue",
    "$serde_json::private::Number",
];

/// Reads the fuzz input as a series of choices; zeros once it runs out.
pub struct Source<'a>(&'a [u8]);

impl<'a> Source<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Source(data)
    }

    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&byte, rest)) => {
                self.0 = rest;
                byte
            }
            None => 0,
        }
    }

    fn u64(&mut self) -> u64 {
        (0..8).fold(0, |word, _| word << 8 | u64::from(self.byte()))
    }

    fn below(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n
    }

    fn name(&mut self) -> &'static str {
        NAMES[self.below(NAMES.len())]
    }

    /// Up to 63 bytes of the input as text (invalid UTF-8 replaced).
    fn text(&mut self) -> String {
        let len = self.below(64).min(self.0.len());
        let (text, rest) = self.0.split_at(len);
        self.0 = rest;
        String::from_utf8_lossy(text).into_owned()
    }
}

/// One value, serialised through the matching `Serializer` method.
#[derive(Debug)]
pub enum Any {
    Bool(bool),
    I64(i64),
    I128(i128),
    U8(u8),
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
    /// The announced length (which may be wrong), then the elements.
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
    /// A value nested at most `depth` deep.
    pub fn read(source: &mut Source<'_>, depth: usize) -> Any {
        let kinds = if depth == 0 { 17 } else { 27 };
        let items = |source: &mut Source<'_>| source.below(5);
        let many = |source: &mut Source<'_>| -> Vec<Any> {
            (0..items(source))
                .map(|_| Any::read(source, depth - 1))
                .collect()
        };
        match source.below(kinds) {
            0 => Any::Bool(source.byte() & 1 == 1),
            1 => Any::I64(source.u64() as i64),
            2 => Any::I128(
                (i128::from(source.u64()) << 64 | i128::from(source.u64())) >> source.below(128),
            ),
            3 => Any::U8(source.byte()),
            4 => Any::U64(source.u64()),
            5 => Any::U128(u128::from(source.u64()) << source.below(64)),
            6 => Any::F32(f32::from_bits(source.u64() as u32)),
            7 => Any::F64(f64::from_bits(source.u64())),
            8 => Any::Char(char::from_u32(source.u64() as u32 % 0x11_0000).unwrap_or('\u{fffd}')),
            9 | 10 => Any::Str(source.text()),
            11 => Any::Display(source.text()),
            12 => Any::Bytes(source.text().into_bytes()),
            13 => match source.below(4) {
                0 => Any::None,
                1 => Any::Unit,
                2 => Any::UnitStruct,
                _ => Any::UnitVariant(source.name()),
            },
            14 => {
                let text = source.text();
                match RawValue::from_string(text) {
                    Ok(raw) => Any::Raw(raw),
                    Err(_) => Any::Unit,
                }
            }
            15 | 16 => Any::Str(source.name().to_owned()),
            17 => Any::Some(Box::new(Any::read(source, depth - 1))),
            18 => Any::NewtypeStruct(Box::new(Any::read(source, depth - 1))),
            19 => Any::NewtypeVariant(source.name(), Box::new(Any::read(source, depth - 1))),
            20 => {
                let len = source.below(4);
                let elements = many(source);
                Any::Seq(
                    (len < 3).then_some(if len == 0 { elements.len() } else { len - 1 }),
                    elements,
                )
            }
            21 => Any::Tuple(many(source)),
            22 => Any::TupleStruct(many(source)),
            23 => Any::TupleVariant(source.name(), many(source)),
            24 => {
                let len = source.below(4);
                let entries: Vec<(Any, Any)> = (0..items(source))
                    .map(|_| (Any::read(source, depth - 1), Any::read(source, depth - 1)))
                    .collect();
                Any::Map(
                    (len < 3).then_some(if len == 0 { entries.len() } else { len - 1 }),
                    entries,
                )
            }
            25 => Any::Struct(source.name(), Any::fields(source, depth - 1)),
            _ => Any::StructVariant(source.name(), Any::fields(source, depth - 1)),
        }
    }

    fn fields(source: &mut Source<'_>, depth: usize) -> Vec<(&'static str, Any)> {
        (0..source.below(5))
            .map(|_| (source.name(), Any::read(source, depth)))
            .collect()
    }
}

impl Serialize for Any {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        const NAME: &str = "Any";
        match self {
            Any::Bool(v) => s.serialize_bool(*v),
            Any::I64(v) => s.serialize_i64(*v),
            Any::I128(v) => s.serialize_i128(*v),
            Any::U8(v) => s.serialize_u8(*v),
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
