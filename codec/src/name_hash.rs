//! The hasher of rpckit's tables of names: the router's methods, the HTTP
//! server's routes. Each is looked up once per call or request.
//!
//! Why not the standard `RandomState` (SipHash-1-3): it costs about 150
//! instructions for a short name, a tenth of what the router spends on a
//! call. SipHash's keys defend a map whose *keys* an attacker chooses; these
//! tables' keys are the names (and paths) the server registered, and a
//! client's name is only looked up, never inserted. A lookup probes the
//! entries the name's hash lands on, all of them registered names, so a
//! chosen name cannot make it slower than a collision among the server's
//! own names.
//! That leaves the speed of the hash, and a word at a time multiply-rotate
//! (the one rustc uses, "FxHash") is enough for a table of names.

use std::hash::{BuildHasherDefault, Hasher};

/// The `BuildHasher` of a table of registered names.
pub type NameHash = BuildHasherDefault<NameHasher>;

/// FxHash: per word, rotate, xor, multiply.
#[derive(Clone, Copy, Debug, Default)]
pub struct NameHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl NameHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for NameHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    #[inline]
    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::NameHash;

    #[test]
    fn names_that_share_a_prefix_or_differ_in_length_stay_apart() {
        let names = [
            "",
            "a",
            "a\0",
            "echo",
            "echo2",
            "counter.inc",
            "counter.incr",
            "a_name_of_seventeen",
        ];
        let mut table: HashMap<&str, usize, NameHash> = HashMap::default();
        for (index, name) in names.iter().enumerate() {
            table.insert(name, index);
        }
        for (index, name) in names.iter().enumerate() {
            assert_eq!(table.get(name), Some(&index), "{name:?}");
        }
        assert_eq!(table.get("ech"), None);
    }
}
