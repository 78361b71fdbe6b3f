//! BLAKE3 of many short messages at once, one message per SIMD lane.
//!
//! Verification hashes two short messages for every record: the record with
//! its tag, and the salt with the payload. The blake3 crate spreads one
//! *long* input across SIMD lanes, but a message of at most 1 KiB is a
//! single BLAKE3 chunk whose blocks must be compressed one after another, so
//! there it runs on one lane. Here sixteen messages (eight with AVX2) are
//! compressed side by side, one per lane, which is several times faster.
//!
//! Only the hash of a single chunk is computed here. Longer messages, and
//! machines without AVX2, go to the blake3 crate, and the tests compare
//! every lane kernel with it on every message length up to a chunk.

// Loops run over lane numbers on purpose: each is one vector instruction.
#![allow(clippy::needless_range_loop)]

use super::digest::Digest;

/// A message to hash: `prefix || body`, held in two pieces so that neither
/// has to be copied next to the other first.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    pub prefix: &'a [u8],
    pub body: &'a [u8],
}

impl Message<'_> {
    fn len(&self) -> usize {
        self.prefix.len() + self.body.len()
    }
    /// The hash of this one message, by the blake3 crate.
    pub fn hash(&self) -> Digest {
        let mut h = blake3::Hasher::new();
        h.update(self.prefix);
        h.update(self.body);
        Digest(*h.finalize().as_bytes())
    }
    /// Block `b` (64 bytes, zero-padded) and how many of its bytes are the
    /// message's.
    fn block(&self, b: usize, out: &mut [u8; BLOCK_LEN]) -> u32 {
        *out = [0; BLOCK_LEN];
        let start = b * BLOCK_LEN;
        let end = (start + BLOCK_LEN).min(self.len());
        let split = self.prefix.len();
        let mut w = 0;
        if start < split {
            let part = &self.prefix[start..end.min(split)];
            out[..part.len()].copy_from_slice(part);
            w = part.len();
        }
        if end > split {
            let part = &self.body[start.max(split) - split..end - split];
            out[w..w + part.len()].copy_from_slice(part);
        }
        (end - start) as u32
    }
    /// Blocks BLAKE3 compresses for this message (an empty one still has one).
    fn blocks(&self) -> usize {
        self.len().div_ceil(BLOCK_LEN).max(1)
    }
}

const BLOCK_LEN: usize = 64;
const CHUNK_LEN: usize = 1024;
const IV: [u32; 8] = [
    0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
];
/// How the message words are reordered between rounds.
const PERMUTATION: [usize; 16] = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
// Block flags (domain separation inside BLAKE3).
const CHUNK_START: u32 = 1;
const CHUNK_END: u32 = 2;
const ROOT: u32 = 8;

/// The BLAKE3 hash of each message, in order.
pub fn hash_many(messages: &[Message<'_>]) -> Vec<Digest> {
    let mut out = vec![Digest::ZERO; messages.len()];
    let lanes = Lanes::detect();
    // Messages of equal length in the same group waste no lanes: sort by
    // block count, and give longer-than-a-chunk ones to the blake3 crate.
    let mut order: Vec<usize> = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        if m.len() <= CHUNK_LEN && lanes != Lanes::None {
            order.push(i);
        } else {
            out[i] = m.hash();
        }
    }
    order.sort_unstable_by_key(|&i| messages[i].blocks());
    for group in order.chunks(lanes.width()) {
        let mut picked = [Message {
            prefix: &[],
            body: &[],
        }; 16];
        for (p, &i) in picked.iter_mut().zip(group) {
            *p = messages[i];
        }
        let mut digests = [Digest::ZERO; 16];
        lanes.hash_group(&picked[..group.len()], &mut digests);
        for (&i, d) in group.iter().zip(digests) {
            out[i] = d;
        }
    }
    out
}

/// Which lane kernel this machine can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lanes {
    Sixteen,
    Eight,
    None,
}

impl Lanes {
    fn detect() -> Lanes {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Lanes::Sixteen;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Lanes::Eight;
            }
        }
        Lanes::None
    }
    fn width(self) -> usize {
        match self {
            Lanes::Sixteen => 16,
            Lanes::Eight => 8,
            Lanes::None => 1,
        }
    }
    /// Hashes up to [`width`](Self::width) messages of at most one chunk.
    fn hash_group(self, group: &[Message<'_>], out: &mut [Digest]) {
        match self {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `detect` found the CPU feature each kernel is built for.
            Lanes::Sixteen => unsafe { x86::hash_group_avx512(group, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            Lanes::Eight => unsafe { x86::hash_group_avx2(group, out) },
            _ => {
                for (o, m) in out.iter_mut().zip(group) {
                    *o = m.hash();
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Digest, Message, hash_group};

    #[target_feature(enable = "avx512f")]
    pub(super) fn hash_group_avx512(group: &[Message<'_>], out: &mut [Digest]) {
        hash_group::<16>(group, out)
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn hash_group_avx2(group: &[Message<'_>], out: &mut [Digest]) {
        hash_group::<8>(group, out)
    }
}

/// One 32-bit word for each lane. Written as plain loops over lanes, which
/// the compiler turns into one vector instruction each inside a function
/// built for AVX2 or AVX-512.
type Word<const L: usize> = [u32; L];

/// Hashes up to `L` messages of at most one chunk, message `i` in lane `i`.
#[inline(always)]
fn hash_group<const L: usize>(group: &[Message<'_>], out: &mut [Digest]) {
    debug_assert!(group.len() <= L && group.iter().all(|m| m.len() <= CHUNK_LEN));
    let mut cv: [Word<L>; 8] = std::array::from_fn(|i| [IV[i]; L]);
    let mut blocks = [0usize; L];
    for (b, m) in blocks.iter_mut().zip(group) {
        *b = m.blocks();
    }
    let most = blocks.iter().copied().max().unwrap_or(0);
    let mut bytes = [0u8; BLOCK_LEN];
    for b in 0..most {
        let mut words = [[0u32; L]; 16];
        let mut block_len = [0u32; L];
        let mut flags = [0u32; L];
        let mut active = [false; L];
        for (lane, m) in group.iter().enumerate() {
            if b >= blocks[lane] {
                continue; // this lane's message has ended
            }
            active[lane] = true;
            // Most blocks lie wholly in the body: read them where they are.
            let start = b * BLOCK_LEN;
            let whole = start >= m.prefix.len() && start + BLOCK_LEN <= m.len();
            let block: &[u8] = if whole {
                block_len[lane] = BLOCK_LEN as u32;
                let at = start - m.prefix.len();
                &m.body[at..at + BLOCK_LEN]
            } else {
                block_len[lane] = m.block(b, &mut bytes);
                &bytes
            };
            flags[lane] = if b == 0 { CHUNK_START } else { 0 }
                | if b + 1 == blocks[lane] {
                    CHUNK_END | ROOT
                } else {
                    0
                };
            for (j, w) in words.iter_mut().enumerate() {
                w[lane] = u32::from_le_bytes(block[4 * j..4 * j + 4].try_into().expect("4 bytes"));
            }
        }
        compress(&mut cv, words, &block_len, &flags, &active);
    }
    for (lane, o) in out.iter_mut().take(group.len()).enumerate() {
        for (i, word) in cv.iter().enumerate() {
            o.0[4 * i..4 * i + 4].copy_from_slice(&word[lane].to_le_bytes());
        }
    }
}

/// The BLAKE3 compression function on every lane, with a chunk counter of
/// 0; lanes not `active` keep their chaining value.
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
    use super::*;

    /// The bytes 0, 1, ..., 250, 0, 1, ... of the official test vectors.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    fn check(messages: &[Message<'_>]) {
        let got = hash_many(messages);
        for (m, d) in messages.iter().zip(&got) {
            assert_eq!(*d, m.hash(), "{} + {} bytes", m.prefix.len(), m.body.len());
        }
    }

    /// Every kernel this machine can run, on every length up to a chunk and
    /// past it, split between prefix and body in different places.
    #[test]
    fn every_kernel_agrees_with_the_blake3_crate() {
        let data = pattern(CHUNK_LEN + 200);
        let messages: Vec<Message<'_>> = (0..=CHUNK_LEN + 130)
            .map(|len| {
                let split = (len * 7 / 13).min(len);
                Message {
                    prefix: &data[..split],
                    body: &data[split + 3..len + 3],
                }
            })
            .collect();
        let mut kernels = vec![Lanes::None];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                kernels.push(Lanes::Sixteen);
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                kernels.push(Lanes::Eight);
            }
        }
        for lanes in kernels {
            for group in messages.chunks(lanes.width()) {
                // Mixed lengths within a group: lanes finish at different blocks.
                let group: Vec<Message<'_>> = group
                    .iter()
                    .copied()
                    .filter(|m| m.len() <= CHUNK_LEN)
                    .collect();
                let mut out = vec![Digest::ZERO; group.len()];
                lanes.hash_group(&group, &mut out);
                for (m, d) in group.iter().zip(&out) {
                    assert_eq!(*d, m.hash(), "{lanes:?}, {} bytes", m.len());
                }
            }
        }
        check(&messages);
    }

    #[test]
    fn groups_of_every_size_and_order() {
        let data = pattern(3000);
        for n in [0, 1, 7, 8, 9, 15, 16, 17, 33, 100] {
            let messages: Vec<Message<'_>> = (0..n)
                .map(|i| {
                    let len = (i * 389) % 1400;
                    Message {
                        prefix: b"jointly/record/v1\0",
                        body: &data[i..i + len],
                    }
                })
                .collect();
            check(&messages);
        }
    }

    /// Published vectors (see tests/data/blake3/ORIGIN.md).
    #[test]
    fn official_vectors() {
        let vectors: Vec<(usize, &str)> = include_str!("../../tests/data/blake3/vectors.txt")
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
        for (d, (len, hex)) in hash_many(&messages).iter().zip(vectors) {
            assert_eq!(d.to_hex(), hex, "{len} bytes");
        }
    }
}
