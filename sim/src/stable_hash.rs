//! A hash that is the same on every target, for trace fingerprints: every integer is
//! folded in as one 64-bit word (`usize` widened, signed ones sign-extended) and bytes
//! eight at a time, little-endian, so 32-bit wasm and 64-bit native runs of a seed hash
//! alike. The trace is hashed on every event, so it works a word at a time (FxHash's
//! rotate-xor-multiply, with a final avalanche) rather than a byte at a time. For
//! fingerprints only: not for hash tables facing adversarial keys.

use core::hash::{Hash, Hasher};

const MULTIPLIER: u64 = 0x517c_c1b7_2722_0a95;

pub struct StableHasher(u64);

impl Default for StableHasher {
    fn default() -> Self {
        StableHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl StableHasher {
    pub fn hash_of(value: &impl Hash) -> u64 {
        let mut hasher = StableHasher::default();
        value.hash(&mut hasher);
        hasher.finish()
    }

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(MULTIPLIER);
    }
}

impl Hasher for StableHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // Byte by byte, little-endian: a copy of a variable-length tail is a call to
            // `memcpy`, dearer than the few bytes (message kinds are short strings).
            let mut word = 0u64;
            for (i, &b) in rest.iter().enumerate() {
                word |= u64::from(b) << (8 * i);
            }
            // The tail's length goes in its top byte, so "a" and "a\0" differ.
            word |= u64::from((rest.len() as u8) << 4) << 56;
            self.add(word);
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(n.into());
    }
    fn write_u16(&mut self, n: u16) {
        self.add(n.into());
    }
    fn write_u32(&mut self, n: u32) {
        self.add(n.into());
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn write_u128(&mut self, n: u128) {
        self.add(n as u64);
        self.add((n >> 64) as u64);
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    fn write_i8(&mut self, n: i8) {
        self.add(n as i64 as u64);
    }
    fn write_i16(&mut self, n: i16) {
        self.add(n as i64 as u64);
    }
    fn write_i32(&mut self, n: i32) {
        self.add(n as i64 as u64);
    }
    fn write_i64(&mut self, n: i64) {
        self.add(n as u64);
    }
    fn write_i128(&mut self, n: i128) {
        self.write_u128(n as u128);
    }
    fn write_isize(&mut self, n: isize) {
        self.add(n as i64 as u64);
    }

    /// The state, avalanched (MurmurHash3's finalizer), so every input bit reaches every
    /// output bit.
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_do_not_depend_on_the_target() {
        let mut a = StableHasher::default();
        a.write_usize(7);
        let mut b = StableHasher::default();
        b.write_u64(7);
        assert_eq!(a.finish(), b.finish());
        let mut c = StableHasher::default();
        c.write_isize(-1);
        let mut d = StableHasher::default();
        d.write_i64(-1);
        assert_eq!(c.finish(), d.finish());
    }

    #[test]
    fn small_differences_change_the_hash() {
        let hash = |f: &dyn Fn(&mut StableHasher)| {
            let mut h = StableHasher::default();
            f(&mut h);
            h.finish()
        };
        assert_ne!(
            StableHasher::hash_of(&(1u32, "a")),
            StableHasher::hash_of(&(1u32, "b"))
        );
        assert_ne!(hash(&|h| h.write(b"a")), hash(&|h| h.write(b"a\0")));
        assert_ne!(
            hash(&|h| h.write(b"abcdefgh")),
            hash(&|h| h.write(b"abcdefg"))
        );
        // The top bit of one word and of the next do not cancel out.
        let top = 1u64 << 63;
        assert_ne!(
            hash(&|h| {
                h.write_u64(top);
                h.write_u64(top);
            }),
            hash(&|h| {
                h.write_u64(0);
                h.write_u64(0);
            })
        );
        // Order matters.
        assert_ne!(
            StableHasher::hash_of(&(1u64, 2u64)),
            StableHasher::hash_of(&(2u64, 1u64))
        );
    }
}
