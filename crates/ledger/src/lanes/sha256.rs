//! The SHA-256 lane kernel (FIPS 180-4), the compression function run on
//! sixteen lanes at once.

use super::{BLOCK_LEN, Digest, Kernel, Laid, Message};
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
    /// Longer messages gain little from lanes over the SHA extensions.
    const MAX_LEN: usize = 1024;

    fn one(m: &Message<'_>) -> Digest {
        let mut h = sha2::Sha256::new();
        h.update(m.prefix);
        h.update(m.body);
        Digest(h.finalize().into())
    }

    fn pad(len: usize, arena: &mut Vec<u8>) {
        // The byte 0x80, zeros, and the length in bits as 8 bytes, to a
        // whole block.
        let blocks = (len + 9).div_ceil(BLOCK_LEN);
        arena.push(0x80);
        arena.resize(arena.len() + blocks * BLOCK_LEN - len - 9, 0);
        arena.extend_from_slice(&(len as u64 * 8).to_be_bytes());
    }

    #[cfg(target_arch = "x86_64")]
    fn group(arena: &[u8], group: &[Laid], out: &mut [Digest]) {
        // SAFETY: `many` runs kernels only where AVX-512F and BW were found.
        unsafe { x86::group(arena, group, out) }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::super::x86::{active, lanes_of, words};
    use super::super::{Digest, Laid};
    use super::{H0, K};
    use std::arch::x86_64::*;

    /// `a ^ b ^ c`, `a ? b : c` and the majority of `a, b, c`, as truth
    /// tables for one three-input logic instruction.
    const XOR3: i32 = 0x96;
    const CHOOSE: i32 = 0xca;
    const MAJORITY: i32 = 0xe8;

    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn group(arena: &[u8], group: &[Laid], out: &mut [Digest]) {
        let mut h: [__m512i; 8] = std::array::from_fn(|i| _mm512_set1_epi32(H0[i] as i32));
        // Message words are big-endian: reverse the bytes of each.
        let big_endian = _mm512_set_epi8(
            12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11, 4,
            5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14,
            15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3,
        );
        let most = group.iter().map(|m| m.blocks).max().unwrap_or(0);
        for b in 0..most {
            let mut w = words(arena, group, b);
            for v in &mut w {
                *v = _mm512_shuffle_epi8(*v, big_endian);
            }
            compress(&mut h, w, active(group, b));
        }
        for (o, lane) in out.iter_mut().zip(lanes_of(&h)).take(group.len()) {
            for (i, word) in lane.iter().enumerate() {
                o.0[4 * i..4 * i + 4].copy_from_slice(&word.to_be_bytes());
            }
        }
    }

    /// Calls `$f(j)` for `j` in `0..16`, written out so that every index
    /// the rounds use is a constant and the variables stay in registers.
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
    #[target_feature(enable = "avx512f")]
    fn compress(h: &mut [__m512i; 8], mut w: [__m512i; 16], active: __mmask16) {
        let xor3 = |a, b, c| _mm512_ternarylogic_epi32::<XOR3>(a, b, c);
        // The schedule is a ring of sixteen words, the working variables
        // a..h a ring of eight: a round renames them rather than moving them.
        let mut s = *h;
        for quarter in 0..4 {
            if quarter > 0 {
                sixteen!(|j: usize| {
                    let (w15, w7, w2) = (w[(j + 1) % 16], w[(j + 9) % 16], w[(j + 14) % 16]);
                    let s0 = xor3(
                        _mm512_ror_epi32::<7>(w15),
                        _mm512_ror_epi32::<18>(w15),
                        _mm512_srli_epi32::<3>(w15),
                    );
                    let s1 = xor3(
                        _mm512_ror_epi32::<17>(w2),
                        _mm512_ror_epi32::<19>(w2),
                        _mm512_srli_epi32::<10>(w2),
                    );
                    w[j] = _mm512_add_epi32(_mm512_add_epi32(w[j], s0), _mm512_add_epi32(w7, s1));
                });
            }
            sixteen!(|j: usize| {
                // Where working variable n (a = 0) is in this round.
                let at = |n: usize| (n + 8 - j % 8) % 8;
                let [a, b, c, d, e, f, g, hh] = std::array::from_fn(|n| s[at(n)]);
                let sigma1 = xor3(
                    _mm512_ror_epi32::<6>(e),
                    _mm512_ror_epi32::<11>(e),
                    _mm512_ror_epi32::<25>(e),
                );
                let choose = _mm512_ternarylogic_epi32::<CHOOSE>(e, f, g);
                let constant = _mm512_set1_epi32(K[quarter * 16 + j] as i32);
                let t1 = _mm512_add_epi32(
                    _mm512_add_epi32(hh, sigma1),
                    _mm512_add_epi32(choose, _mm512_add_epi32(constant, w[j])),
                );
                let sigma0 = xor3(
                    _mm512_ror_epi32::<2>(a),
                    _mm512_ror_epi32::<13>(a),
                    _mm512_ror_epi32::<22>(a),
                );
                let majority = _mm512_ternarylogic_epi32::<MAJORITY>(a, b, c);
                s[at(3)] = _mm512_add_epi32(d, t1);
                s[at(7)] = _mm512_add_epi32(t1, _mm512_add_epi32(sigma0, majority));
            });
        }
        for i in 0..8 {
            h[i] = _mm512_mask_add_epi32(h[i], active, h[i], s[i]);
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
        let cases: Vec<(&str, &str)> = include_str!("../../../../tests/data/sha256/vectors.txt")
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
