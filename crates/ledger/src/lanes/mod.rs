//! Hashing many short messages at once, one message per SIMD lane.
//!
//! Verification hashes three short messages for every record: the record
//! with its tag (BLAKE3, the chain), the salt with the payload (BLAKE3, the
//! commitment), and the Merkle leaf (SHA-256). Hash libraries spread one
//! *long* input across SIMD lanes, or (SHA-NI) run one message's blocks one
//! after another, so a message of a few hundred bytes runs on one lane.
//! Here sixteen messages are compressed side by side, one per AVX-512 lane,
//! which is several times faster on this kind of input.
//!
//! The messages are laid out one after another in an arena, each padded to
//! whole 64-byte blocks as its hash function pads it, sorted by length so
//! that the lanes of a group finish together. Each block step then loads
//! sixteen blocks and transposes them so that vector `j` holds word `j` of
//! every lane's block.
//!
//! Messages longer than a kernel takes, and machines without AVX-512, go to
//! the blake3 and sha2 crates; the tests compare every kernel with those
//! crates on every message length, and with published vectors.

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
}

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
/// Messages compressed side by side: one per 32-bit lane of a 512-bit vector.
const LANES: usize = 16;

/// A hash function with a sixteen-lane kernel.
trait Kernel {
    /// Longest message the kernel takes, in bytes.
    const MAX_LEN: usize;
    /// The hash of one message, by the hash function's own crate.
    fn one(m: &Message<'_>) -> Digest;
    /// Appends the padding that makes a message of `len` bytes whole
    /// blocks, as the hash function defines it.
    fn pad(len: usize, arena: &mut Vec<u8>);
    /// Hashes up to sixteen messages laid out in `arena`, message `i` in
    /// lane `i`.
    #[cfg(target_arch = "x86_64")]
    fn group(arena: &[u8], group: &[Laid], out: &mut [Digest]);
}

/// Where a message was laid out in the arena.
#[derive(Clone, Copy, Debug, Default)]
struct Laid {
    /// Offset of its first block.
    at: usize,
    /// Its length, before padding.
    len: usize,
    /// Its whole blocks, after padding.
    blocks: usize,
}

impl Laid {
    /// Offset of block `b`; past the last block, the last block again (the
    /// lane is then inactive and its result unused).
    fn block(&self, b: usize) -> usize {
        self.at + BLOCK_LEN * b.min(self.blocks - 1)
    }
}

fn many<K: Kernel>(messages: &[Message<'_>]) -> Vec<Digest> {
    let mut out = vec![Digest::ZERO; messages.len()];
    if !sixteen_lanes() {
        for (o, m) in out.iter_mut().zip(messages) {
            *o = K::one(m);
        }
        return out;
    }
    // Longer ones to the crate; the rest in order of length, so that the
    // lanes of a group have the same number of blocks where possible.
    let mut order: Vec<usize> = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        if m.len() <= K::MAX_LEN {
            order.push(i);
        } else {
            out[i] = K::one(m);
        }
    }
    order.sort_unstable_by_key(|&i| messages[i].len());
    // The arena is kept for the thread's next call: a fresh one each time
    // costs page faults, as much as the copying into it.
    thread_local! {
        static ARENA: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    ARENA.with_borrow_mut(|arena| {
        arena.clear();
        lay_out_and_hash::<K>(messages, &order, arena, &mut out);
    });
    out
}

/// Lays out the messages `order` picks in `arena`, and hashes them sixteen
/// at a time into `out`.
fn lay_out_and_hash<K: Kernel>(
    messages: &[Message<'_>],
    order: &[usize],
    arena: &mut Vec<u8>,
    out: &mut [Digest],
) {
    let laid: Vec<Laid> = order
        .iter()
        .map(|&i| {
            let m = &messages[i];
            let at = arena.len();
            arena.extend_from_slice(m.prefix);
            arena.extend_from_slice(m.body);
            K::pad(m.len(), arena);
            Laid {
                at,
                len: m.len(),
                blocks: (arena.len() - at) / BLOCK_LEN,
            }
        })
        .collect();
    for (indices, group) in order.chunks(LANES).zip(laid.chunks(LANES)) {
        let mut digests = [Digest::ZERO; LANES];
        hash_group::<K>(arena, group, &mut digests);
        for (&i, d) in indices.iter().zip(digests) {
            out[i] = d;
        }
    }
}

/// Whether this machine has the vector instructions the kernels use.
fn sixteen_lanes() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

fn hash_group<K: Kernel>(arena: &[u8], group: &[Laid], out: &mut [Digest]) {
    debug_assert!(group.len() <= LANES && sixteen_lanes());
    #[cfg(target_arch = "x86_64")]
    K::group(arena, group, out);
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (arena, group, out);
        unreachable!("`sixteen_lanes` is false on this architecture")
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! What both kernels share: loading sixteen blocks as sixteen vectors
    //! of word `j`, and reading results back out of the lanes.

    use super::{BLOCK_LEN, LANES, Laid};
    use std::arch::x86_64::*;

    /// Block `b` of each message in `group` (lanes past the group's end
    /// repeat its first message), transposed: vector `j` holds word `j` of
    /// every lane's block, little-endian.
    #[target_feature(enable = "avx512f")]
    pub(super) fn words(arena: &[u8], group: &[Laid], b: usize) -> [__m512i; 16] {
        let rows: [__m512i; LANES] = std::array::from_fn(|lane| {
            let at = group.get(lane).unwrap_or(&group[0]).block(b);
            let block: &[u8; BLOCK_LEN] = arena[at..at + BLOCK_LEN].try_into().expect("a block");
            // SAFETY: `block` is 64 readable bytes; the load is unaligned.
            unsafe { _mm512_loadu_si512(block.as_ptr().cast()) }
        });
        transpose(rows)
    }

    /// Rows of sixteen words to columns: `out[j]` lane `i` is `rows[i]`
    /// word `j`. Pairs of words, then of pairs, then 128-bit quarters.
    #[target_feature(enable = "avx512f")]
    fn transpose(v: [__m512i; 16]) -> [__m512i; 16] {
        let mut t = v;
        for i in 0..8 {
            t[2 * i] = _mm512_unpacklo_epi32(v[2 * i], v[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_epi32(v[2 * i], v[2 * i + 1]);
        }
        // u[4i + r], quarter k: word 4k + r of rows 4i..4i + 4.
        let mut u = t;
        for i in 0..4 {
            u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
            u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
            u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
            u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
        }
        let mut out = u;
        for r in 0..4 {
            let (a, b, c, d) = (u[r], u[4 + r], u[8 + r], u[12 + r]);
            let low_ab = _mm512_shuffle_i32x4::<0b01_00_01_00>(a, b);
            let high_ab = _mm512_shuffle_i32x4::<0b11_10_11_10>(a, b);
            let low_cd = _mm512_shuffle_i32x4::<0b01_00_01_00>(c, d);
            let high_cd = _mm512_shuffle_i32x4::<0b11_10_11_10>(c, d);
            out[r] = _mm512_shuffle_i32x4::<0b10_00_10_00>(low_ab, low_cd);
            out[4 + r] = _mm512_shuffle_i32x4::<0b11_01_11_01>(low_ab, low_cd);
            out[8 + r] = _mm512_shuffle_i32x4::<0b10_00_10_00>(high_ab, high_cd);
            out[12 + r] = _mm512_shuffle_i32x4::<0b11_01_11_01>(high_ab, high_cd);
        }
        out
    }

    /// Each lane's eight words, from eight vectors of one word each.
    #[target_feature(enable = "avx512f")]
    pub(super) fn lanes_of(state: &[__m512i; 8]) -> [[u32; 8]; LANES] {
        let mut words = [[0u32; LANES]; 8];
        for (w, v) in words.iter_mut().zip(state) {
            // SAFETY: `w` is 64 writable bytes; the store is unaligned.
            unsafe { _mm512_storeu_si512(w.as_mut_ptr().cast(), *v) };
        }
        std::array::from_fn(|lane| std::array::from_fn(|i| words[i][lane]))
    }

    /// Sixteen words as a vector, lane `i` holding `w[i]`.
    #[target_feature(enable = "avx512f")]
    pub(super) fn vector(w: [u32; LANES]) -> __m512i {
        // SAFETY: `w` is 64 readable bytes; the load is unaligned.
        unsafe { _mm512_loadu_si512(w.as_ptr().cast()) }
    }

    /// The lanes that hold a message with a block `b`.
    pub(super) fn active(group: &[Laid], b: usize) -> __mmask16 {
        group
            .iter()
            .enumerate()
            .filter(|(_, m)| b < m.blocks)
            .fold(0, |mask, (lane, _)| mask | 1 << lane)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes 0, 1, ..., 250, 0, 1, ... of the BLAKE3 test vectors.
    pub(super) fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    /// The kernel against the hash function's own crate, on every length
    /// up to what the kernel takes and past it, split between prefix and
    /// body in different places, in groups of every size with lanes of
    /// different lengths.
    fn check_kernel<K: Kernel>() {
        let data = pattern(K::MAX_LEN + 200);
        let every_length: Vec<Message<'_>> = (0..=K::MAX_LEN + 130)
            .map(|len| {
                let split = len * 7 / 13;
                Message {
                    prefix: &data[..split],
                    body: &data[split + 3..len + 3],
                }
            })
            .collect();
        for (m, d) in every_length.iter().zip(many::<K>(&every_length)) {
            assert_eq!(d, K::one(m), "{} bytes", m.len());
        }
        for n in [0, 1, 7, 15, 16, 17, 33, 100] {
            let mixed: Vec<Message<'_>> = (0..n)
                .map(|i| Message {
                    prefix: b"jointly/record/v1\0",
                    body: &data[i..i + (i * 389) % (K::MAX_LEN + 100)],
                })
                .collect();
            for (m, d) in mixed.iter().zip(many::<K>(&mixed)) {
                assert_eq!(d, K::one(m), "{} bytes of {n}", m.len());
            }
        }
    }

    #[test]
    fn the_blake3_kernel_agrees_with_the_blake3_crate() {
        check_kernel::<blake3::Blake3>();
    }

    #[test]
    fn the_sha256_kernel_agrees_with_the_sha2_crate() {
        check_kernel::<sha256::Sha256>();
    }
}
