//! The SHA-256 lane kernel (FIPS 180-4), the compression function run on
//! every lane at once. Used with sixteen lanes only: measured on this
//! project's machine, eight AVX2 lanes are slower than one message at a
//! time with the SHA extensions, which the sha2 crate uses.

use super::{BLOCK_LEN, Digest, Kernel, Message, Scratch, Word, load_block};
use sha2::Digest as _;

pub(super) struct Sha256;

/// The round constants: the first 32 bits of the fractional parts of the
/// cube roots of the first 64 primes (FIPS 180-4, 4.2.2).
const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];
/// The initial hash value: the first 32 bits of the fractional parts of the
/// square roots of the first 8 primes (FIPS 180-4, 5.3.3).
const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

impl Kernel for Sha256 {
    /// Longer messages gain nothing from lanes over the SHA extensions.
    const MAX_LEN: usize = 1024;
    const BIG_ENDIAN: bool = true;
    const EIGHT_LANES: bool = false;

    fn one(m: &Message<'_>) -> Digest {
        let mut h = sha2::Sha256::new();
        h.update(m.prefix);
        h.update(m.body);
        Digest(h.finalize().into())
    }

    fn blocks(len: usize) -> usize {
        // The message, the byte 0x80, and its length in bits as 8 bytes.
        (len + 9).div_ceil(BLOCK_LEN)
    }

    fn padded_block<'s>(
        m: &Message<'_>,
        b: usize,
        scratch: &'s mut Scratch,
    ) -> (&'s [u8; BLOCK_LEN], u32) {
        let (block, used) = m.block(b, scratch);
        let (len, start) = (m.len(), b * BLOCK_LEN);
        if (start..start + BLOCK_LEN).contains(&len) {
            block[len - start] = 0x80;
        }
        if b + 1 == Self::blocks(len) {
            block[BLOCK_LEN - 8..].copy_from_slice(&(len as u64 * 8).to_be_bytes());
        }
        (block, used as u32)
    }

    #[inline(always)]
    fn group<const L: usize>(group: &[Message<'_>], out: &mut [Digest]) {
        let mut h: [Word<L>; 8] = std::array::from_fn(|i| [H0[i]; L]);
        let mut blocks = [0usize; L];
        for (n, m) in blocks.iter_mut().zip(group) {
            *n = Self::blocks(m.len());
        }
        let most = blocks.iter().copied().max().unwrap_or(0);
        let mut words = [[0u32; L]; 16];
        for b in 0..most {
            let (active, _) = load_block::<Self, L>(group, b, &blocks, &mut words);
            compress(&mut h, &words, &active);
        }
        for (lane, o) in out.iter_mut().take(group.len()).enumerate() {
            for (i, word) in h.iter().enumerate() {
                o.0[4 * i..4 * i + 4].copy_from_slice(&word[lane].to_be_bytes());
            }
        }
    }
}

/// Calls `$f(j)` for `j` in `0..16`, written out so that every index the
/// rounds use is a constant and the working variables stay in registers.
macro_rules! sixteen {
    ($f:expr) => {
        $f(0);
        $f(1);
        $f(2);
        $f(3);
        $f(4);
        $f(5);
        $f(6);
        $f(7);
        $f(8);
        $f(9);
        $f(10);
        $f(11);
        $f(12);
        $f(13);
        $f(14);
        $f(15);
    };
}

/// One block on every lane; lanes not `active` keep their state.
#[inline(always)]
fn compress<const L: usize>(h: &mut [Word<L>; 8], block: &[Word<L>; 16], active: &[bool; L]) {
    // The schedule is kept as a ring of sixteen words, the working
    // variables a..h as a ring of eight: a round renames them rather than
    // moving them.
    let mut w = *block;
    let mut s = *h;
    for quarter in 0..4 {
        if quarter > 0 {
            sixteen!(|j: usize| {
                let (w15, w7, w2) = (w[(j + 1) % 16], w[(j + 9) % 16], w[(j + 14) % 16]);
                for l in 0..L {
                    let s0 = w15[l].rotate_right(7) ^ w15[l].rotate_right(18) ^ (w15[l] >> 3);
                    let s1 = w2[l].rotate_right(17) ^ w2[l].rotate_right(19) ^ (w2[l] >> 10);
                    w[j][l] = w[j][l]
                        .wrapping_add(s0)
                        .wrapping_add(w7[l])
                        .wrapping_add(s1);
                }
            });
        }
        sixteen!(|j: usize| {
            let t = quarter * 16 + j;
            // Where working variable n (a = 0) is in this round.
            let at = |n: usize| (n + 8 - j % 8) % 8;
            let [a, b, c, d, e, f, g, hh] = std::array::from_fn(|n| s[at(n)]);
            let mut t1 = [0u32; L];
            let mut t2 = [0u32; L];
            for l in 0..L {
                let sigma1 = e[l].rotate_right(6) ^ e[l].rotate_right(11) ^ e[l].rotate_right(25);
                let choose = (e[l] & f[l]) ^ (!e[l] & g[l]);
                t1[l] = hh[l]
                    .wrapping_add(sigma1)
                    .wrapping_add(choose)
                    .wrapping_add(K[t])
                    .wrapping_add(w[j][l]);
                let sigma0 = a[l].rotate_right(2) ^ a[l].rotate_right(13) ^ a[l].rotate_right(22);
                let majority = (a[l] & b[l]) ^ (a[l] & c[l]) ^ (b[l] & c[l]);
                t2[l] = sigma0.wrapping_add(majority);
            }
            s[at(3)] = std::array::from_fn(|l| d[l].wrapping_add(t1[l]));
            s[at(7)] = std::array::from_fn(|l| t1[l].wrapping_add(t2[l]));
        });
    }
    for i in 0..8 {
        for lane in 0..L {
            if active[lane] {
                h[i][lane] = h[i][lane].wrapping_add(s[i][lane]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::sha256_many;
    use super::*;

    /// Published vectors (see tests/data/sha256/ORIGIN.md).
    #[test]
    fn known_answers() {
        let cases: Vec<(&str, &str)> = include_str!("../../../tests/data/sha256/vectors.txt")
            .lines()
            .map(|l| l.split_once(' ').expect("digest and message"))
            .collect();
        assert_eq!(cases.len(), 3);
        let messages: Vec<Message<'_>> = cases
            .iter()
            .map(|(_, m)| Message {
                prefix: &[],
                body: m.as_bytes(),
            })
            .collect();
        for (d, (hex, m)) in sha256_many(&messages).iter().zip(cases) {
            assert_eq!(d.to_hex(), hex, "{m:?}");
        }
    }
}
