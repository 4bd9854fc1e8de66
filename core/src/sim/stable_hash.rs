//! A hash that is the same on every target: FNV-1a fed through `Hash`, with every
//! integer written little-endian at a fixed width (`usize` as 8 bytes), so 32-bit wasm
//! and 64-bit native runs of the same seed hash alike. Much cheaper than hashing a
//! formatted form, and it keeps `Debug` formatting out of the hot path.

use core::hash::{Hash, Hasher};

#[derive(Default)]
pub struct StableHasher(fnv::FnvHasher);

impl StableHasher {
    pub fn hash_of(value: &impl Hash) -> u64 {
        let mut hasher = StableHasher::default();
        value.hash(&mut hasher);
        hasher.finish()
    }
}

macro_rules! fixed_width {
    ($($method:ident: $ty:ty as $as:ty),* $(,)?) => {
        $(fn $method(&mut self, n: $ty) {
            self.0.write(&(n as $as).to_le_bytes());
        })*
    };
}

impl Hasher for StableHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.write(bytes);
    }

    fixed_width! {
        write_u8: u8 as u8, write_u16: u16 as u16, write_u32: u32 as u32,
        write_u64: u64 as u64, write_u128: u128 as u128, write_usize: usize as u64,
        write_i8: i8 as i8, write_i16: i16 as i16, write_i32: i32 as i32,
        write_i64: i64 as i64, write_i128: i128 as i128, write_isize: isize as i64,
    }

    fn finish(&self) -> u64 {
        self.0.finish()
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
        assert_ne!(
            StableHasher::hash_of(&(1u32, "a")),
            StableHasher::hash_of(&(1u32, "b"))
        );
    }
}
