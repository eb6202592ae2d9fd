//! The CRC32 (IEEE, as in zlib and nginx's `ngx_crc32`) that places points and keys on the ring.
//!
//! Keys and the per-server prefix go through `crc32fast`. The 1.6 million 4-byte steps of a large
//! ring's point chains use [`PointChain`]: a slicing-by-4 step with its own 4 KiB of tables, which
//! avoids `crc32fast`'s per-call dispatch on inputs this short. Both compute the same CRC; the tests
//! check it.

/// The CRC32 of `key`: where a key lands on the ring. Identical to nginx's `ngx_crc32_long` and to
/// zlib's `crc32`.
///
/// ```
/// assert_eq!(lb_ketama::hash(b"123456789"), 0xcbf4_3926);
/// ```
#[inline]
pub fn hash(key: &[u8]) -> u32 {
    crc32fast::hash(key)
}

/// Reflected IEEE polynomial.
const POLY: u32 = 0xedb8_8320;

/// `TABLES[0]` is the classic byte table; `TABLES[n][i]` advances `TABLES[n - 1][i]` by one more zero
/// byte, so one lookup per byte of a 4-byte word folds the whole word at once.
const TABLES: [[u32; 256]; 4] = make_tables();

const fn make_tables() -> [[u32; 256]; 4] {
    let mut t = [[0u32; 256]; 4];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut n = 1;
    while n < 4 {
        let mut i = 0;
        while i < 256 {
            let prev = t[n - 1][i];
            t[n][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        n += 1;
    }
    t
}

/// The CRC register after folding in the 4 little-endian bytes of `x`, starting from a zero register.
///
/// This map is linear over GF(2): `fold(a ^ b) == fold(a) ^ fold(b)`. [`PointChain`] relies on it.
#[inline(always)]
fn fold(x: u32) -> u32 {
    TABLES[3][(x & 0xff) as usize]
        ^ TABLES[2][((x >> 8) & 0xff) as usize]
        ^ TABLES[1][((x >> 16) & 0xff) as usize]
        ^ TABLES[0][(x >> 24) as usize]
}

/// The hashes of one server's points: nginx computes point `j` as
/// `crc32(HOST "\0" PORT prev)` where `prev` is point `j - 1`'s hash as 4 little-endian bytes (0 for
/// the first point).
///
/// With `base = crc32(HOST "\0" PORT)`, that is `!fold(!base ^ prev)`, which by linearity is
/// `constant ^ fold(prev)` with `constant = !fold(!base)`: one table step per point.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PointChain {
    constant: u32,
    prev: u32,
}

impl PointChain {
    /// The chain of a server whose `HOST "\0" PORT` prefix has CRC32 `base`.
    #[inline]
    pub(crate) fn new(base: u32) -> Self {
        Self {
            constant: !fold(!base),
            prev: 0,
        }
    }

    /// The next point's hash.
    #[inline(always)]
    pub(crate) fn step(&mut self) -> u32 {
        self.prev = self.constant ^ fold(self.prev);
        self.prev
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chain as nginx writes it: a fresh CRC over the prefix and the previous hash, per point.
    fn nginx_chain(prefix: &[u8], n: usize) -> Vec<u32> {
        let mut out = Vec::with_capacity(n);
        let mut prev = 0u32;
        for _ in 0..n {
            let mut h = crc32fast::Hasher::new();
            h.update(prefix);
            h.update(&prev.to_le_bytes());
            prev = h.finalize();
            out.push(prev);
        }
        out
    }

    #[test]
    fn table_matches_the_standard_crc32() {
        // The check value of CRC-32/ISO-HDLC and the first entries of zlib's table.
        assert_eq!(TABLES[0][1], 0x7707_3096);
        assert_eq!(TABLES[0][255], 0x2d02_ef8d);
        assert_eq!(hash(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn fold_is_linear() {
        for (a, b) in [
            (1u32, 2u32),
            (0xdead_beef, 0x1234_5678),
            (u32::MAX, 0x8000_0001),
        ] {
            assert_eq!(fold(a ^ b), fold(a) ^ fold(b));
        }
        assert_eq!(fold(0), 0);
    }

    #[test]
    fn point_chain_matches_a_crc_per_point() {
        for prefix in [
            &b"127.0.0.1\x008080"[..],
            b"[::1]\x00443",
            b"/tmp/a.sock\x00",
            b"\x00",
        ] {
            let mut chain = PointChain::new(crc32fast::hash(prefix));
            let fast: Vec<u32> = (0..500).map(|_| chain.step()).collect();
            assert_eq!(fast, nginx_chain(prefix, 500), "prefix {prefix:?}");
        }
    }
}
