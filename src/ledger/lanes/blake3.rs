//! The BLAKE3 lane kernel: the hash of a single chunk (at most 1 KiB), the
//! compression function run on every lane at once.
//!
//! A message of one chunk is compressed block after block with the chunk
//! counter 0; the first block is flagged `CHUNK_START`, the last
//! `CHUNK_END | ROOT`, and the hash is the chaining value after the last.

use super::{BLOCK_LEN, Digest, Kernel, Message, Scratch, Word, load_block};

pub(super) struct Blake3;

const CHUNK_LEN: usize = 1024;
const IV: [u32; 8] = [
    0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
];
/// How the message words are reordered between rounds.
const PERMUTATION: [usize; 16] = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
// Block flags (BLAKE3's own domain separation).
const CHUNK_START: u32 = 1;
const CHUNK_END: u32 = 2;
const ROOT: u32 = 8;

impl Kernel for Blake3 {
    const MAX_LEN: usize = CHUNK_LEN;
    const BIG_ENDIAN: bool = false;
    const EIGHT_LANES: bool = true;

    fn one(m: &Message<'_>) -> Digest {
        let mut h = ::blake3::Hasher::new();
        h.update(m.prefix);
        h.update(m.body);
        Digest(*h.finalize().as_bytes())
    }

    fn blocks(len: usize) -> usize {
        // An empty message still has one (empty) block.
        len.div_ceil(BLOCK_LEN).max(1)
    }

    fn padded_block<'s>(
        m: &Message<'_>,
        b: usize,
        scratch: &'s mut Scratch,
    ) -> (&'s [u8; BLOCK_LEN], u32) {
        let (block, used) = m.block(b, scratch);
        (block, used as u32)
    }

    #[inline(always)]
    fn group<const L: usize>(group: &[Message<'_>], out: &mut [Digest]) {
        let mut cv: [Word<L>; 8] = std::array::from_fn(|i| [IV[i]; L]);
        let mut blocks = [0usize; L];
        for (n, m) in blocks.iter_mut().zip(group) {
            *n = Self::blocks(m.len());
        }
        let most = blocks.iter().copied().max().unwrap_or(0);
        let mut words = [[0u32; L]; 16];
        for b in 0..most {
            let (active, block_len) = load_block::<Self, L>(group, b, &blocks, &mut words);
            let flags: Word<L> = std::array::from_fn(|lane| {
                let first = if b == 0 { CHUNK_START } else { 0 };
                let last = if b + 1 == blocks[lane] {
                    CHUNK_END | ROOT
                } else {
                    0
                };
                first | last
            });
            compress(&mut cv, words, &block_len, &flags, &active);
        }
        for (lane, o) in out.iter_mut().take(group.len()).enumerate() {
            for (i, word) in cv.iter().enumerate() {
                o.0[4 * i..4 * i + 4].copy_from_slice(&word[lane].to_le_bytes());
            }
        }
    }
}

/// The compression function on every lane, with a chunk counter of 0;
/// lanes not `active` keep their chaining value.
#[inline(always)]
fn compress<const L: usize>(
    cv: &mut [Word<L>; 8],
    mut m: [Word<L>; 16],
    block_len: &Word<L>,
    flags: &Word<L>,
    active: &[bool; L],
) {
    let mut s: [Word<L>; 16] = [[0; L]; 16];
    s[..8].copy_from_slice(cv);
    for i in 0..4 {
        s[8 + i] = [IV[i]; L];
    }
    s[14] = *block_len;
    s[15] = *flags;
    for round in 0..7 {
        g(&mut s, [0, 4, 8, 12], &m[0], &m[1]);
        g(&mut s, [1, 5, 9, 13], &m[2], &m[3]);
        g(&mut s, [2, 6, 10, 14], &m[4], &m[5]);
        g(&mut s, [3, 7, 11, 15], &m[6], &m[7]);
        g(&mut s, [0, 5, 10, 15], &m[8], &m[9]);
        g(&mut s, [1, 6, 11, 12], &m[10], &m[11]);
        g(&mut s, [2, 7, 8, 13], &m[12], &m[13]);
        g(&mut s, [3, 4, 9, 14], &m[14], &m[15]);
        if round < 6 {
            m = std::array::from_fn(|i| m[PERMUTATION[i]]);
        }
    }
    for i in 0..8 {
        for lane in 0..L {
            if active[lane] {
                cv[i][lane] = s[i][lane] ^ s[i + 8][lane];
            }
        }
    }
}

/// The quarter-round G on state words `a, b, c, d` with message words `x, y`.
#[inline(always)]
fn g<const L: usize>(s: &mut [Word<L>; 16], abcd: [usize; 4], x: &Word<L>, y: &Word<L>) {
    half_g(s, abcd, x, 16, 12);
    half_g(s, abcd, y, 8, 7);
}

/// One half of G: mixes in one message word, rotating by `r1` then `r2`.
#[inline(always)]
fn half_g<const L: usize>(
    s: &mut [Word<L>; 16],
    [a, b, c, d]: [usize; 4],
    x: &Word<L>,
    r1: u32,
    r2: u32,
) {
    for l in 0..L {
        s[a][l] = s[a][l].wrapping_add(s[b][l]).wrapping_add(x[l]);
    }
    for l in 0..L {
        s[d][l] = (s[d][l] ^ s[a][l]).rotate_right(r1);
    }
    for l in 0..L {
        s[c][l] = s[c][l].wrapping_add(s[d][l]);
    }
    for l in 0..L {
        s[b][l] = (s[b][l] ^ s[c][l]).rotate_right(r2);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{blake3_many, tests::pattern};
    use super::*;

    /// Published vectors (see tests/data/blake3/ORIGIN.md).
    #[test]
    fn official_vectors() {
        let vectors: Vec<(usize, &str)> = include_str!("../../../tests/data/blake3/vectors.txt")
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
