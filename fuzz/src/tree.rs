//! A format-neutral value tree, for reading replies back with each format's
//! own library (serde_json, ciborium, rmp-serde) and comparing them with
//! what was encoded.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// Any item of JSON, CBOR or MessagePack, as serde presents it.
#[derive(Clone, Debug)]
pub enum Tree {
    Null,
    Bool(bool),
    /// Every integer kind, widened.
    Int(i128),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Array(Vec<Tree>),
    /// Entries in the order read, duplicates kept.
    Map(Vec<(Tree, Tree)>),
}

impl Tree {
    /// The tree of any serialisable value, as its serde data model shows it
    /// (serde_json's `Value` for a value read from params).
    pub fn of(value: &serde_json::Value) -> Tree {
        Tree::deserialize(value).expect("a serde_json::Value reads as a tree")
    }

    /// The value of the member `key` of a map with text keys.
    pub fn get(&self, key: &str) -> Option<&Tree> {
        match self {
            Tree::Map(entries) => entries.iter().find_map(|(k, v)| match k {
                Tree::Str(k) if k == key => Some(v),
                _ => None,
            }),
            _ => None,
        }
    }

    /// The text keys of a map, in order (`None` if any key is not text).
    pub fn keys(&self) -> Option<Vec<&str>> {
        match self {
            Tree::Map(entries) => entries
                .iter()
                .map(|(k, _)| match k {
                    Tree::Str(k) => Some(k.as_str()),
                    _ => None,
                })
                .collect(),
            _ => None,
        }
    }

    /// Whether two trees hold the same data. Floats must match exactly
    /// (`-0.0` and `0.0` apart, any NaN equal to any NaN), or with
    /// `float_ulps > 0` may differ by that many units in the last place: a
    /// float written by serde_json and read back by serde_json without its
    /// `float_roundtrip` feature may land one or two ulps off.
    pub fn same(&self, other: &Tree, float_ulps: u64) -> bool {
        self.same_by(other, &|a, b| floats_match(a, b, float_ulps))
    }

    /// Whether two trees hold the same data, floats compared by `floats`.
    pub fn same_by(&self, other: &Tree, floats: &dyn Fn(f64, f64) -> bool) -> bool {
        match (self, other) {
            (Tree::Null, Tree::Null) => true,
            (Tree::Bool(a), Tree::Bool(b)) => a == b,
            (Tree::Int(a), Tree::Int(b)) => a == b,
            (Tree::Float(a), Tree::Float(b)) => floats(*a, *b),
            (Tree::Str(a), Tree::Str(b)) => a == b,
            (Tree::Bytes(a), Tree::Bytes(b)) => a == b,
            (Tree::Array(a), Tree::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(a, b)| a.same_by(b, floats))
            }
            (Tree::Map(a), Tree::Map(b)) => {
                a.len() == b.len()
                    && a.iter().zip(b).all(|((ka, va), (kb, vb))| {
                        ka.same_by(kb, floats) && va.same_by(vb, floats)
                    })
            }
            _ => false,
        }
    }
}

/// Whether two floats are equal, bit for bit (NaNs aside), or within
/// `ulps` units in the last place.
pub fn floats_match(a: f64, b: f64, ulps: u64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.to_bits() == b.to_bits() {
        return true;
    }
    if ulps == 0 || a.is_sign_negative() != b.is_sign_negative() {
        // 0.0 and -0.0 are the one pair of opposite signs within reach.
        return ulps > 0 && a == 0.0 && b == 0.0;
    }
    a.to_bits().abs_diff(b.to_bits()) <= ulps
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TreeVisitor)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Tree, E> {
        Ok(Tree::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Tree, E> {
        Ok(Tree::Int(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Tree, E> {
        Ok(Tree::Int(v.into()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Tree, E> {
        Ok(Tree::Int(v))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Tree, E> {
        i128::try_from(v)
            .map(Tree::Int)
            .map_err(|_| E::custom("integer beyond i128"))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Tree, E> {
        Ok(Tree::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Tree, E> {
        Ok(Tree::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Tree, E> {
        Ok(Tree::Str(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Tree, E> {
        Ok(Tree::Bytes(v.to_vec()))
    }

    fn visit_none<E: de::Error>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Tree, D::Error> {
        Tree::deserialize(d)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Tree, D::Error> {
        Tree::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Tree::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Tree::Map(entries))
    }
}
