//! A serde deserializer over a query's pairs.
//!
//! The params are a map of names to strings. A value fills whatever the
//! handler's type asks for: a string as is, a number or a `bool` parsed from
//! the text (`"true"`/`"false"`), an `Option` as `Some`, a unit enum variant
//! by name. A type that asks for "anything" (`serde_json::Value`) gets the
//! string. This is what `serde_urlencoded` does, written out here so that
//! the rules are ours to document and test.

use std::borrow::Cow;

use serde::de::value::{CowStrDeserializer, Error};
use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, Unexpected, Visitor};

use super::{raw_pairs, RawPair};

/// The whole query: a map. Its pairs are decoded as they are read, with
/// nothing collected first.
#[derive(Clone, Copy, Debug)]
pub struct QueryDeserializer<'a> {
    query: &'a str,
}

impl<'a> QueryDeserializer<'a> {
    /// Over the undecoded `query` (`a=1&b=x+y`).
    pub fn new(query: &'a str) -> Self {
        QueryDeserializer { query }
    }
}

impl<'de> Deserializer<'de> for QueryDeserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_map(PairsAccess {
            pairs: raw_pairs(self.query),
            value: None,
        })
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
        Err(positional())
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, Error> {
        Err(positional())
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        _: V,
    ) -> Result<V::Value, Error> {
        Err(positional())
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct map struct enum identifier ignored_any
    }
}

fn positional() -> Error {
    Error::custom("JSONP params are named (`name=value`), but this method takes positional params")
}

struct PairsAccess<'a, I> {
    pairs: I,
    value: Option<Cow<'a, str>>,
}

impl<'de, I> MapAccess<'de> for PairsAccess<'de, I>
where
    I: Iterator<Item = RawPair<'de>>,
{
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(pair) = self.pairs.next() else {
            return Ok(None);
        };
        let (key, value) = pair.decode().map_err(Error::custom)?;
        self.value = Some(value);
        seed.deserialize(CowStrDeserializer::new(key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self
            .value
            .take()
            .ok_or_else(|| Error::custom("a value was asked for before its key"))?;
        seed.deserialize(Value(value))
    }
}

/// One value: text that becomes what the handler's type asks for.
struct Value<'a>(Cow<'a, str>);

impl Value<'_> {
    fn unexpected(&self) -> Unexpected<'_> {
        Unexpected::Str(&self.0)
    }
}

/// Parses the text with `FromStr` and hands the number to the visitor.
macro_rules! parsed {
    ($($method:ident => $visit:ident,)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.0.parse() {
                Ok(number) => visitor.$visit(number),
                Err(_) => Err(Error::invalid_value(self.unexpected(), &visitor)),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for Value<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Cow::Borrowed(text) => visitor.visit_borrowed_str(text),
            Cow::Owned(text) => visitor.visit_string(text),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &*self.0 {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            _ => Err(Error::invalid_value(self.unexpected(), &visitor)),
        }
    }

    parsed! {
        deserialize_i8 => visit_i8,
        deserialize_i16 => visit_i16,
        deserialize_i32 => visit_i32,
        deserialize_i64 => visit_i64,
        deserialize_i128 => visit_i128,
        deserialize_u8 => visit_u8,
        deserialize_u16 => visit_u16,
        deserialize_u32 => visit_u32,
        deserialize_u64 => visit_u64,
        deserialize_u128 => visit_u128,
        deserialize_f32 => visit_f32,
        deserialize_f64 => visit_f64,
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let mut chars = self.0.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => visitor.visit_char(c),
            _ => Err(Error::invalid_value(self.unexpected(), &visitor)),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Cow::Borrowed(text) => visitor.visit_borrowed_bytes(text.as_bytes()),
            Cow::Owned(text) => visitor.visit_byte_buf(text.into_bytes()),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(visitor)
    }

    /// A value that is there is `Some`; a param that is absent is `None`
    /// through the field's default.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    /// A unit variant, by name.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_enum(CowStrDeserializer::new(self.0))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        str string identifier seq tuple tuple_struct map struct
    }
}

#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;
    use serde::Deserialize;

    use super::*;

    fn from_query<T: DeserializeOwned>(query: &str) -> Result<T, Error> {
        T::deserialize(QueryDeserializer::new(query))
    }

    #[derive(Debug, Deserialize, PartialEq)]
    enum Mode {
        Fast,
        Slow,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Typed {
        text: String,
        small: u8,
        signed: i64,
        big: u128,
        ratio: f64,
        flag: bool,
        maybe: Option<u32>,
        #[serde(default)]
        absent: Option<u32>,
        letter: char,
        mode: Mode,
        #[serde(default)]
        unit: (),
    }

    #[test]
    fn values_coerce_to_the_fields_types() {
        let typed: Typed = from_query(
            "text=a+b%21&small=255&signed=-7&big=340282366920938463463374607431768211455\
             &ratio=1.5e3&flag=true&maybe=3&letter=%C3%A9&mode=Slow",
        )
        .unwrap();
        assert_eq!(
            typed,
            Typed {
                text: "a b!".into(),
                small: 255,
                signed: -7,
                big: u128::MAX,
                ratio: 1500.0,
                flag: true,
                maybe: Some(3),
                absent: None,
                letter: 'é',
                mode: Mode::Slow,
                unit: (),
            }
        );
    }

    #[test]
    fn bad_values_name_what_was_expected() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct N {
            n: u8,
        }
        let err = from_query::<N>("n=256").unwrap_err().to_string();
        assert!(err.contains("\"256\"") && err.contains("u8"), "{err}");
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct B {
            b: bool,
        }
        assert!(from_query::<B>("b=1").is_err());
        assert!(from_query::<B>("b=TRUE").is_err());
        assert!(from_query::<Mode>("x=1").is_err());
    }

    #[test]
    fn anything_gets_strings_and_maps_work() {
        let value: serde_json::Value = from_query("a=1&b=true&c=").unwrap();
        assert_eq!(value, serde_json::json!({"a": "1", "b": "true", "c": ""}));
        let map: std::collections::BTreeMap<String, i32> = from_query("x=1&y=-2").unwrap();
        assert_eq!(
            map.into_iter().collect::<Vec<_>>(),
            [("x".into(), 1), ("y".into(), -2)]
        );
    }

    #[test]
    fn positional_types_and_duplicates_are_errors() {
        let err = from_query::<(String,)>("a=1").unwrap_err().to_string();
        assert!(err.contains("positional"), "{err}");
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct A {
            a: String,
        }
        let err = from_query::<A>("a=1&a=2").unwrap_err().to_string();
        assert!(err.contains("duplicate"), "{err}");
    }

    #[test]
    fn newtypes_and_options_wrap() {
        #[derive(Debug, Deserialize, PartialEq)]
        struct Id(u32);
        #[derive(Debug, Deserialize, PartialEq)]
        struct P {
            id: Id,
        }
        assert_eq!(from_query::<P>("id=4").unwrap(), P { id: Id(4) });
        let wrapped: Option<P> = from_query("id=5").unwrap();
        assert_eq!(wrapped, Some(P { id: Id(5) }));
    }
}
