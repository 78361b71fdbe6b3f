//! The BLAKE3 lane kernel: the hash of a single chunk (at most 1 KiB), the
//! compression function run on sixteen lanes at once.
//!
//! A message of one chunk is compressed block after block with the chunk
//! counter 0; the first block is flagged `CHUNK_START`, the last
//! `CHUNK_END | ROOT`, and the hash is the chaining value after the last.

use super::{BLOCK_LEN, Digest, Kernel, Laid, Message};

pub(super) struct Blake3;

const CHUNK_LEN: usize = 1024;
const IV: [u32; 8] = [
    0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
];
/// How the message words are reordered from one round to the next.
const PERMUTATION: [usize; 16] = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
// Block flags (BLAKE3's own domain separation).
const CHUNK_START: u32 = 1;
const CHUNK_END: u32 = 2;
const ROOT: u32 = 8;

/// Which message word each round uses where: the permutation applied
/// `round` times. Worked out at compile time, so rounds index words by
/// constants instead of moving them.
const SCHEDULE: [[usize; 16]; 7] = {
    let mut s = [[0; 16]; 7];
    let mut i = 0;
    while i < 16 {
        s[0][i] = i;
        i += 1;
    }
    let mut round = 1;
    while round < 7 {
        let mut i = 0;
        while i < 16 {
            s[round][i] = s[round - 1][PERMUTATION[i]];
            i += 1;
        }
        round += 1;
    }
    s
};

impl Kernel for Blake3 {
    const MAX_LEN: usize = CHUNK_LEN;

    fn one(m: &Message<'_>) -> Digest {
        let mut h = ::blake3::Hasher::new();
        h.update(m.prefix);
        h.update(m.body);
        Digest(*h.finalize().as_bytes())
    }

    fn pad(len: usize, arena: &mut Vec<u8>) {
        // Zeros to a whole block; an empty message is one empty block.
        let blocks = len.div_ceil(BLOCK_LEN).max(1);
        arena.resize(arena.len() + blocks * BLOCK_LEN - len, 0);
    }

    #[cfg(target_arch = "x86_64")]
    fn group(arena: &[u8], group: &[Laid], out: &mut [Digest]) {
        // SAFETY: `many` runs kernels only where AVX-512F and BW were found.
        unsafe { x86::group(arena, group, out) }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::super::x86::{active, lanes_of, vector, words};
    use super::super::{BLOCK_LEN, Digest, LANES, Laid};
    use super::{CHUNK_END, CHUNK_START, IV, ROOT, SCHEDULE};
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn group(arena: &[u8], group: &[Laid], out: &mut [Digest]) {
        let mut cv: [__m512i; 8] = std::array::from_fn(|i| _mm512_set1_epi32(IV[i] as i32));
        let most = group.iter().map(|m| m.blocks).max().unwrap_or(0);
        for b in 0..most {
            let mut block_len = [0u32; LANES];
            let mut flags = [0u32; LANES];
            for (lane, m) in group.iter().enumerate() {
                block_len[lane] = m.len.saturating_sub(b * BLOCK_LEN).min(BLOCK_LEN) as u32;
                let first = if b == 0 { CHUNK_START } else { 0 };
                let last = if b + 1 == m.blocks {
                    CHUNK_END | ROOT
                } else {
                    0
                };
                flags[lane] = first | last;
            }
            let m = words(arena, group, b);
            compress(
                &mut cv,
                &m,
                vector(block_len),
                vector(flags),
                active(group, b),
            );
        }
        for (o, lane) in out.iter_mut().zip(lanes_of(&cv)).take(group.len()) {
            for (i, word) in lane.iter().enumerate() {
                o.0[4 * i..4 * i + 4].copy_from_slice(&word.to_le_bytes());
            }
        }
    }

    /// The compression function on every lane, with a chunk counter of 0;
    /// lanes not `active` keep their chaining value.
    #[target_feature(enable = "avx512f")]
    fn compress(
        cv: &mut [__m512i; 8],
        m: &[__m512i; 16],
        block_len: __m512i,
        flags: __m512i,
        active: __mmask16,
    ) {
        let mut s = [_mm512_setzero_si512(); 16];
        s[..8].copy_from_slice(cv);
        for i in 0..4 {
            s[8 + i] = _mm512_set1_epi32(IV[i] as i32);
        }
        s[14] = block_len;
        s[15] = flags;
        // Written out: with the round as a loop, its words are not constants.
        round!(&mut s, m, &SCHEDULE[0]);
        round!(&mut s, m, &SCHEDULE[1]);
        round!(&mut s, m, &SCHEDULE[2]);
        round!(&mut s, m, &SCHEDULE[3]);
        round!(&mut s, m, &SCHEDULE[4]);
        round!(&mut s, m, &SCHEDULE[5]);
        round!(&mut s, m, &SCHEDULE[6]);
        for i in 0..8 {
            cv[i] = _mm512_mask_xor_epi32(cv[i], active, s[i], s[i + 8]);
        }
    }

    /// One round: G on the columns, then on the diagonals. A macro, so that
    /// it is inlined with the word indices as constants.
    macro_rules! round {
        ($s:expr, $m:expr, $k:expr) => {{
            let k: &[usize; 16] = $k;
            g!($s, [0, 4, 8, 12], $m[k[0]], $m[k[1]]);
            g!($s, [1, 5, 9, 13], $m[k[2]], $m[k[3]]);
            g!($s, [2, 6, 10, 14], $m[k[4]], $m[k[5]]);
            g!($s, [3, 7, 11, 15], $m[k[6]], $m[k[7]]);
            g!($s, [0, 5, 10, 15], $m[k[8]], $m[k[9]]);
            g!($s, [1, 6, 11, 12], $m[k[10]], $m[k[11]]);
            g!($s, [2, 7, 8, 13], $m[k[12]], $m[k[13]]);
            g!($s, [3, 4, 9, 14], $m[k[14]], $m[k[15]]);
        }};
    }
    use round;

    /// The quarter-round G on state words `a, b, c, d` with message words
    /// `x, y`.
    macro_rules! g {
        ($s:expr, [$a:expr, $b:expr, $c:expr, $d:expr], $x:expr, $y:expr) => {{
            let s: &mut [__m512i; 16] = $s;
            s[$a] = _mm512_add_epi32(_mm512_add_epi32(s[$a], s[$b]), $x);
            s[$d] = _mm512_ror_epi32::<16>(_mm512_xor_si512(s[$d], s[$a]));
            s[$c] = _mm512_add_epi32(s[$c], s[$d]);
            s[$b] = _mm512_ror_epi32::<12>(_mm512_xor_si512(s[$b], s[$c]));
            s[$a] = _mm512_add_epi32(_mm512_add_epi32(s[$a], s[$b]), $y);
            s[$d] = _mm512_ror_epi32::<8>(_mm512_xor_si512(s[$d], s[$a]));
            s[$c] = _mm512_add_epi32(s[$c], s[$d]);
            s[$b] = _mm512_ror_epi32::<7>(_mm512_xor_si512(s[$b], s[$c]));
        }};
    }
    use g;
}

#[cfg(test)]
mod tests {
    use super::super::{blake3_many, tests::pattern};
    use super::*;

    /// Published vectors (see tests/data/blake3/ORIGIN.md).
    #[test]
    fn official_vectors() {
        let vectors: Vec<(usize, &str)> = include_str!("../../../../tests/data/blake3/vectors.txt")
            .lines()
            .map(|l| {
                let (len, hex) = l.split_once(' ').expect("length and hash");
                (len.parse().expect("length"), hex)
            })
            .collect();
        assert_eq!(vectors.len(), 5);
        let inputs: Vec<Vec<u8>> = vectors.iter().map(|(len, _)| pattern(*len)).collect();
        let messages: Vec<Message<'_>> = inputs
            .iter()
            .map(|i| Message {
                prefix: &[],
                body: i,
            })
            .collect();
        for (d, (len, hex)) in blake3_many(&messages).iter().zip(vectors) {
            assert_eq!(d.to_hex(), hex, "{len} bytes");
        }
    }
}
