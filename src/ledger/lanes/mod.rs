//! Hashing many short messages at once, one message per SIMD lane.
//!
//! Verification hashes three short messages for every record: the record
//! with its tag (BLAKE3, the chain), the salt with the payload (BLAKE3, the
//! commitment), and the Merkle leaf (SHA-256). Hash libraries spread one
//! *long* input across SIMD lanes, or (SHA-NI) run one message's blocks one
//! after another; a message of a few hundred bytes gets one lane. Here up
//! to sixteen messages (eight with AVX2) are compressed side by side, one
//! per lane, which is several times faster on this kind of input.
//!
//! Messages are grouped by length, so that lanes finish together. Messages
//! longer than a kernel takes, and machines without AVX2, go to the blake3
//! and sha2 crates; the tests compare every kernel with those crates on
//! every message length, and with published vectors.

// Loops run over lane numbers on purpose: each is one vector instruction.
#![allow(clippy::needless_range_loop)]

mod blake3;
mod sha256;

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

    /// The BLAKE3 hash of this one message, by the blake3 crate.
    pub fn blake3(&self) -> Digest {
        blake3::Blake3::one(self)
    }

    /// The SHA-256 hash of this one message, by the sha2 crate.
    pub fn sha256(&self) -> Digest {
        sha256::Sha256::one(self)
    }

    /// Bytes `[64 b, 64 b + 64)` of the message, zero-padded, laid out in
    /// `scratch`; and how many of them are the message's.
    fn block<'s>(&self, b: usize, scratch: &'s mut Scratch) -> (&'s mut [u8; BLOCK_LEN], usize) {
        let start = b * BLOCK_LEN;
        let end = (start + BLOCK_LEN).min(self.len()).max(start);
        let (split, body) = (self.prefix.len(), self.body);
        // Copies of a fixed 64 bytes are a few vector moves; copies of a
        // length known only at run time are calls, and this runs for the
        // first and last blocks of every message. `at` is where in
        // `scratch` the block starts.
        let at = if end == start {
            // Past the message (SHA-256's padding can need a block more).
            scratch[BLOCK_LEN..].fill(0);
            BLOCK_LEN
        } else if b == 0 && split < BLOCK_LEN && body.len() >= BLOCK_LEN {
            // The prefix, then the body's first bytes.
            scratch[split..split + BLOCK_LEN].copy_from_slice(&body[..BLOCK_LEN]);
            scratch[..split].copy_from_slice(self.prefix);
            0
        } else if start >= split && end - split >= BLOCK_LEN {
            // The body's last bytes, then zeros: the 64 bytes that end
            // where the message ends, placed so that the zeros follow.
            let tail = end - split;
            scratch[..BLOCK_LEN].copy_from_slice(&body[tail - BLOCK_LEN..tail]);
            scratch[BLOCK_LEN..].fill(0);
            BLOCK_LEN - (end - start)
        } else {
            let out = &mut scratch[..BLOCK_LEN];
            out.fill(0);
            let mut w = 0;
            if start < split {
                let part = &self.prefix[start..end.min(split)];
                out[..part.len()].copy_from_slice(part);
                w = part.len();
            }
            if end > split && end > start {
                let part = &body[start.max(split) - split..end - split];
                out[w..w + part.len()].copy_from_slice(part);
            }
            0
        };
        let block = (&mut scratch[at..at + BLOCK_LEN])
            .try_into()
            .expect("64 bytes");
        (block, end - start)
    }
}

/// Room to lay out one block: see [`Message::block`].
type Scratch = [u8; 2 * BLOCK_LEN];

/// The BLAKE3 hash of each message, in order.
pub fn blake3_many(messages: &[Message<'_>]) -> Vec<Digest> {
    many::<blake3::Blake3>(messages)
}

/// The SHA-256 hash of each message, in order.
pub fn sha256_many(messages: &[Message<'_>]) -> Vec<Digest> {
    many::<sha256::Sha256>(messages)
}

/// Both hash functions use 64-byte blocks of sixteen 32-bit words.
const BLOCK_LEN: usize = 64;

/// One 32-bit word for each lane. Written as plain loops over lanes, which
/// the compiler turns into one vector instruction each inside a function
/// built for AVX2 or AVX-512.
type Word<const L: usize> = [u32; L];

/// A hash function with a lane kernel.
trait Kernel {
    /// Longest message the kernel takes, in bytes.
    const MAX_LEN: usize;
    /// Message words are read big-endian (SHA-256) or little-endian (BLAKE3).
    const BIG_ENDIAN: bool;
    /// Whether eight (AVX2) lanes beat the hash function's own crate.
    const EIGHT_LANES: bool;
    /// The hash of one message, by the hash function's own crate.
    fn one(m: &Message<'_>) -> Digest;
    /// Blocks the kernel compresses for a message of `len` bytes.
    fn blocks(len: usize) -> usize;
    /// Block `b` as compressed, for a block that does not lie wholly in the
    /// message body, laid out in `scratch`; and how many of its bytes are
    /// the message's.
    fn padded_block<'s>(
        m: &Message<'_>,
        b: usize,
        scratch: &'s mut Scratch,
    ) -> (&'s [u8; BLOCK_LEN], u32);
    /// Hashes up to `L` messages of at most `MAX_LEN`, message `i` in lane `i`.
    fn group<const L: usize>(group: &[Message<'_>], out: &mut [Digest]);
}

fn many<K: Kernel>(messages: &[Message<'_>]) -> Vec<Digest> {
    let mut out = vec![Digest::ZERO; messages.len()];
    let lanes = match Lanes::detect() {
        Lanes::Eight if !K::EIGHT_LANES => Lanes::None,
        lanes => lanes,
    };
    // Messages of equal length in the same group waste no lanes: sort by
    // block count, and give longer ones to the hash function's crate.
    let mut order: Vec<usize> = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        if m.len() <= K::MAX_LEN && lanes != Lanes::None {
            order.push(i);
        } else {
            out[i] = K::one(m);
        }
    }
    order.sort_unstable_by_key(|&i| K::blocks(messages[i].len()));
    for group in order.chunks(lanes.width()) {
        let mut picked = [Message {
            prefix: &[],
            body: &[],
        }; 16];
        for (p, &i) in picked.iter_mut().zip(group) {
            *p = messages[i];
        }
        let mut digests = [Digest::ZERO; 16];
        lanes.hash_group::<K>(&picked[..group.len()], &mut digests);
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

    /// Hashes up to [`width`](Self::width) messages the kernel takes.
    fn hash_group<K: Kernel>(self, group: &[Message<'_>], out: &mut [Digest]) {
        debug_assert!(group.len() <= self.width() && group.iter().all(|m| m.len() <= K::MAX_LEN));
        match self {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `detect` found the CPU feature each kernel is built for.
            Lanes::Sixteen => unsafe { x86::group_avx512::<K>(group, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            Lanes::Eight => unsafe { x86::group_avx2::<K>(group, out) },
            _ => {
                for (o, m) in out.iter_mut().zip(group) {
                    *o = K::one(m);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Digest, Kernel, Message};

    #[target_feature(enable = "avx512f")]
    pub(super) fn group_avx512<K: Kernel>(group: &[Message<'_>], out: &mut [Digest]) {
        K::group::<16>(group, out)
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn group_avx2<K: Kernel>(group: &[Message<'_>], out: &mut [Digest]) {
        K::group::<8>(group, out)
    }
}

/// Loads block `b` of each lane's message into `words` (lane `i` of word
/// `j` is word `j` of message `i`'s block). Returns which lanes have a block
/// `b` (given each message's block count) and how many message bytes each
/// block holds. Lanes without one keep whatever words they had.
#[inline(always)]
fn load_block<K: Kernel, const L: usize>(
    group: &[Message<'_>],
    b: usize,
    blocks: &[usize; L],
    words: &mut [Word<L>; 16],
) -> ([bool; L], Word<L>) {
    let mut active = [false; L];
    let mut used = [0u32; L];
    let mut scratch = [0u8; 2 * BLOCK_LEN];
    for (lane, m) in group.iter().enumerate() {
        if b >= blocks[lane] {
            continue;
        }
        active[lane] = true;
        // Most blocks lie wholly in the body: read them where they are.
        let start = b * BLOCK_LEN;
        let block: &[u8] = if start >= m.prefix.len() && start + BLOCK_LEN <= m.len() {
            used[lane] = BLOCK_LEN as u32;
            let at = start - m.prefix.len();
            &m.body[at..at + BLOCK_LEN]
        } else {
            let (block, n) = K::padded_block(m, b, &mut scratch);
            used[lane] = n;
            block
        };
        for (j, w) in words.iter_mut().enumerate() {
            let four = block[4 * j..4 * j + 4].try_into().expect("4 bytes");
            w[lane] = if K::BIG_ENDIAN {
                u32::from_be_bytes(four)
            } else {
                u32::from_le_bytes(four)
            };
        }
    }
    (active, used)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes 0, 1, ..., 250, 0, 1, ... of the BLAKE3 test vectors.
    pub(super) fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    fn kernels() -> Vec<Lanes> {
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
        kernels
    }

    /// Every kernel this machine can run against the hash function's own
    /// crate, on every length up to what the kernel takes and past it,
    /// split between prefix and body in different places, with lanes of
    /// different lengths in one group.
    fn check_kernel<K: Kernel>() {
        let data = pattern(K::MAX_LEN + 200);
        let messages: Vec<Message<'_>> = (0..=K::MAX_LEN + 130)
            .map(|len| {
                let split = len * 7 / 13;
                Message {
                    prefix: &data[..split],
                    body: &data[split + 3..len + 3],
                }
            })
            .collect();
        for lanes in kernels() {
            for group in messages.chunks(lanes.width()) {
                let group: Vec<Message<'_>> = group
                    .iter()
                    .copied()
                    .filter(|m| m.len() <= K::MAX_LEN)
                    .collect();
                let mut out = vec![Digest::ZERO; group.len()];
                lanes.hash_group::<K>(&group, &mut out);
                for (m, d) in group.iter().zip(&out) {
                    assert_eq!(*d, K::one(m), "{lanes:?}, {} bytes", m.len());
                }
            }
        }
        for (m, d) in messages.iter().zip(many::<K>(&messages)) {
            assert_eq!(d, K::one(m), "{} bytes", m.len());
        }
        // Groups of every size, in no particular order of length.
        for n in [0, 1, 7, 8, 9, 15, 16, 17, 33, 100] {
            let messages: Vec<Message<'_>> = (0..n)
                .map(|i| Message {
                    prefix: b"jointly/record/v1\0",
                    body: &data[i..i + (i * 389) % (K::MAX_LEN + 100)],
                })
                .collect();
            for (m, d) in messages.iter().zip(many::<K>(&messages)) {
                assert_eq!(d, K::one(m), "{} bytes", m.len());
            }
        }
    }

    #[test]
    fn blake3_kernels_agree_with_the_blake3_crate() {
        check_kernel::<blake3::Blake3>();
    }

    #[test]
    fn sha256_kernels_agree_with_the_sha2_crate() {
        check_kernel::<sha256::Sha256>();
    }
}
