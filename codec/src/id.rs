//! The request id, kept exactly as the client sent it.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

/// A JSON-RPC request id.
///
/// The specification allows a string, a number or `null`. The id is echoed
/// back unchanged, so its kind is preserved: `1` stays `1`, `"1"` stays `"1"`
/// and `1.5` stays a float. Arrays, objects and booleans are not ids; a
/// request carrying one is an invalid request.
///
/// ```
/// use rpckit_codec::Id;
///
/// assert_eq!(Id::from(7), Id::Int(7));
/// assert_eq!(Id::from("abc").to_string(), "\"abc\"");
/// assert_eq!(Id::Null.to_string(), "null");
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Id {
    /// `null`: legal, though the specification discourages it.
    Null,
    /// An integer that fits in `i64`.
    Int(i64),
    /// An integer above `i64::MAX`.
    Uint(u64),
    /// A number with a fraction or an exponent.
    Float(f64),
    /// A string.
    Str(Box<str>),
}

impl Id {
    /// Whether this is the `null` id.
    pub fn is_null(&self) -> bool {
        matches!(self, Id::Null)
    }
}

impl From<i64> for Id {
    fn from(n: i64) -> Self {
        Id::Int(n)
    }
}

impl From<i32> for Id {
    fn from(n: i32) -> Self {
        Id::Int(n.into())
    }
}

impl From<u64> for Id {
    fn from(n: u64) -> Self {
        i64::try_from(n).map_or(Id::Uint(n), Id::Int)
    }
}

impl From<&str> for Id {
    fn from(s: &str) -> Self {
        Id::Str(s.into())
    }
}

impl From<String> for Id {
    fn from(s: String) -> Self {
        Id::Str(s.into_boxed_str())
    }
}

/// Displays the id as JSON.
impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Null => f.write_str("null"),
            Id::Int(n) => write!(f, "{n}"),
            Id::Uint(n) => write!(f, "{n}"),
            Id::Float(x) => f.write_str(&serde_json::to_string(x).map_err(|_| fmt::Error)?),
            Id::Str(s) => f.write_str(&serde_json::to_string(s).map_err(|_| fmt::Error)?),
        }
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Id::Null => serializer.serialize_unit(),
            Id::Int(n) => serializer.serialize_i64(*n),
            Id::Uint(n) => serializer.serialize_u64(*n),
            Id::Float(x) => serializer.serialize_f64(*x),
            Id::Str(s) => serializer.serialize_str(s),
        }
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(IdVisitor)
    }
}

struct IdVisitor;

impl<'de> Visitor<'de> for IdVisitor {
    type Value = Id;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, a number or null")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Id, E> {
        Ok(Id::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Id, E> {
        Ok(Id::Null)
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Id, E> {
        Ok(Id::Int(n))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Id, E> {
        Ok(Id::from(n))
    }

    fn visit_i128<E: de::Error>(self, n: i128) -> Result<Id, E> {
        if let Ok(n) = i64::try_from(n) {
            Ok(Id::Int(n))
        } else if let Ok(n) = u64::try_from(n) {
            Ok(Id::Uint(n))
        } else {
            Err(E::custom("id out of range"))
        }
    }

    fn visit_u128<E: de::Error>(self, n: u128) -> Result<Id, E> {
        u64::try_from(n)
            .map(Id::from)
            .map_err(|_| E::custom("id out of range"))
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> Result<Id, E> {
        if x.is_finite() {
            Ok(Id::Float(x))
        } else {
            Err(E::custom("id is not a finite number"))
        }
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Id, E> {
        Ok(Id::from(s))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Id, E> {
        Ok(Id::from(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_ids_round_trip_with_their_kind() {
        for text in [
            "1",
            "\"1\"",
            "null",
            "-5",
            "18446744073709551615",
            "1.5",
            "\"\"",
        ] {
            let id: Id = serde_json::from_str(text).unwrap();
            assert_eq!(serde_json::to_string(&id).unwrap(), text);
            assert_eq!(id.to_string(), text);
        }
    }

    #[test]
    fn structured_ids_are_rejected() {
        for text in ["[]", "{}", "true", "[1]"] {
            assert!(serde_json::from_str::<Id>(text).is_err(), "{text}");
        }
    }
}
