//! Stage 5: locality-sensitive hashing, banding signatures into candidate pairs.
//!
//! The signature is cut into `bands` bands of `rows` values; two documents become a candidate
//! pair when all rows of at least one band agree, which happens with probability
//! `1 - (1 - s^rows)^bands` for Jaccard similarity `s` (the S-curve). Band keys are hashed to
//! 64 bits and grouped by **sorting** `(key, doc)` pairs — no shared hash map, no locks, and the
//! result is the same for any number of threads. A bucket of `m` documents emits all pairs when
//! small; a large bucket emits a star from its first member plus the chain of neighbours
//! (`2m` pairs instead of `m²/2`), which keeps a bucket of thousands of near-copies cheap while
//! still connecting every member that really is similar.

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::config::BandSet;
#[cfg(test)]
use crate::config::Banding;
use crate::error::{Error, Result};
use crate::progress::{Progress, Stage};

/// How many bands [`candidates`] runs as one parallel group: as many as fit this many band keys
/// (threads hold one band's keys each at a time; the group's pairs are kept until it ends).
const KEYS_IN_FLIGHT: usize = 1 << 21;

/// Buckets up to this size emit every pair.
pub const ALL_PAIRS_MAX_BUCKET: usize = 16;

/// A candidate pair `(a, b)` of document indices with `a < b`.
pub type Pair = (u32, u32);

pub(crate) fn band_key(values: &[u32], seed: u64, band: usize) -> u64 {
    let seed = seed ^ (band as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    // The hash of the values' little-endian bytes, without copying them on little-endian targets.
    #[cfg(target_endian = "little")]
    {
        // SAFETY: `u32` has no padding and any byte is a valid `u8`; the slice covers exactly
        // the values' memory, which on a little-endian target is their little-endian encoding.
        let bytes =
            unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), values.len() * 4) };
        xxh3_64_with_seed(bytes, seed)
    }
    #[cfg(not(target_endian = "little"))]
    {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        xxh3_64_with_seed(&bytes, seed)
    }
}

/// The unsorted `(band key, base + d)` list of band `band` of `set` for the documents `docs`
/// (indices into `signatures`, `num_perm` values each). Scan and staged mode both key bands here.
pub(crate) fn band_keys(
    signatures: &[u32],
    num_perm: usize,
    set: BandSet,
    band: usize,
    docs: &[u32],
    base: u32,
    out: &mut Vec<(u64, u32)>,
) {
    out.clear();
    out.resize(docs.len(), (0, 0));
    out.par_chunks_mut(1 << 14)
        .zip(docs.par_chunks(1 << 14))
        .for_each(|(out, docs)| {
            band_keys_here(signatures, num_perm, (set, band), docs, base, out);
        });
}

/// Band `band`'s `(key, base + d)` of the documents `docs` into `out` (as long), on this thread:
/// each document's band is prefetched a few documents ahead (a band's values lie a signature
/// apart: one cache line per document, the stride too long for the hardware to follow).
fn band_keys_here(
    signatures: &[u32],
    num_perm: usize,
    (set, band): (BandSet, usize),
    docs: &[u32],
    base: u32,
    out: &mut [(u64, u32)],
) {
    const AHEAD: usize = 16;
    let (rows, offset) = (set.banding.rows, band * set.banding.rows);
    for (i, (&d, slot)) in docs.iter().zip(out).enumerate() {
        if let Some(&next) = docs.get(i + AHEAD) {
            prefetch(&signatures[next as usize * num_perm + offset..][..rows]);
        }
        *slot = doc_band_key(signatures, num_perm, set, band, d, base);
    }
}

#[inline]
fn doc_band_key(
    signatures: &[u32],
    num_perm: usize,
    set: BandSet,
    band: usize,
    d: u32,
    base: u32,
) -> (u64, u32) {
    let rows = set.banding.rows;
    let sig = &signatures[d as usize * num_perm..][..num_perm];
    (
        band_key(&sig[band * rows..][..rows], set.seed, band),
        base + d,
    )
}

/// Append the candidate pairs of one band's `(key, document)` list, sorted: every pair of a
/// small bucket, a star plus a chain through a big one (linear, not quadratic); returns how
/// many.
pub(crate) fn bucket_pairs(keys: &[(u64, u32)], pairs: &mut Vec<Pair>) -> u64 {
    for_each_bucket_pair(keys, |a, b| pairs.push((a, b)))
}

/// Every pair the buckets of a sorted `(key, document)` list give (see [`bucket_pairs`]), in
/// order, to `f`; returns how many.
fn for_each_bucket_pair(keys: &[(u64, u32)], mut f: impl FnMut(u32, u32)) -> u64 {
    let mut given = 0u64;
    let mut emit = |a: u32, b: u32| {
        given += 1;
        f(a, b);
    };
    for bucket in keys.chunk_by(|x, y| x.0 == y.0) {
        if bucket.len() <= ALL_PAIRS_MAX_BUCKET {
            for x in 0..bucket.len() {
                for y in x + 1..bucket.len() {
                    emit(bucket[x].1, bucket[y].1);
                }
            }
        } else {
            for y in 1..bucket.len() {
                emit(bucket[0].1, bucket[y].1);
                if y > 1 {
                    emit(bucket[y - 1].1, bucket[y].1);
                }
            }
        }
    }
    given
}

/// Which of a containment band's collisions are kept: `test(equal, size_a, size_b)` says whether
/// two documents with `sizes` (shingle counts) `size_a` and `size_b` whose signatures agree in
/// `equal` values could be duplicates. It must be monotone in `equal` (what a count passes,
/// every larger count passes), as a MinHash estimate's plausibility is.
#[derive(Clone, Copy)]
pub struct Plausibility<'a> {
    /// Every document's shingle count, by document index (empty: the test ignores sizes).
    pub sizes: &'a [u32],
    pub test: &'a (dyn Fn(u32, u32, u32) -> bool + Sync),
}

impl Plausibility<'_> {
    /// Keep every collision.
    pub const ALL: Plausibility<'static> = Plausibility {
        sizes: &[],
        test: &|_, _, _| true,
    };

    fn size(&self, d: u32) -> u32 {
        self.sizes.get(d as usize).copied().unwrap_or(0)
    }

    fn passes(&self, equal: u32, a: u32, b: u32) -> bool {
        (self.test)(equal, self.size(a), self.size(b))
    }
}

/// How a containment band's collisions are turned away as they leave the buckets (see
/// [`Plausibility`]). Each pair is first counted on one byte per value (the value's low byte):
/// a count that can only be too high, so a pair it turns away would be turned away on the full
/// values too, and it reads 2 cache lines a document instead of 8 (most collisions of a
/// containment band are unrelated documents, their signatures scattered over the whole array).
/// Only the pairs it lets through are counted again on the signatures. The pairs kept are
/// exactly those the full count passes.
struct CollisionFilter<'a> {
    signatures: &'a [u32],
    /// The low byte of every signature value, in the same layout.
    bytes: Vec<u8>,
    num_perm: usize,
    plausible: Plausibility<'a>,
}

impl<'a> CollisionFilter<'a> {
    fn new(signatures: &'a [u32], num_perm: usize, plausible: Plausibility<'a>) -> Self {
        // A size for every document, or none at all (a test that ignores sizes): a short list
        // would read as size 0 and turn pairs away.
        debug_assert!(
            plausible.sizes.is_empty() || plausible.sizes.len() * num_perm == signatures.len()
        );
        // On huge pages, like the signatures: the rows are read at random.
        let mut bytes: Vec<u8> = crate::sketch::huge_zeroed(signatures.len());
        bytes
            .par_chunks_mut(1 << 16)
            .zip(signatures.par_chunks(1 << 16))
            .for_each(|(out, values)| {
                for (b, &v) in out.iter_mut().zip(values) {
                    *b = v as u8;
                }
            });
        CollisionFilter {
            signatures,
            bytes,
            num_perm,
            plausible,
        }
    }

    fn row(&self, d: u32) -> &[u8] {
        &self.bytes[d as usize * self.num_perm..][..self.num_perm]
    }

    fn signature(&self, d: u32) -> &[u32] {
        &self.signatures[d as usize * self.num_perm..][..self.num_perm]
    }

    /// Start loading what [`Self::bytes_pass`] reads of document `d`.
    fn prefetch_row(&self, d: u32) {
        prefetch(self.row(d));
        if let Some(size) = self.plausible.sizes.get(d as usize) {
            prefetch(std::slice::from_ref(size));
        }
    }

    /// Whether the byte count lets the pair through to the full count.
    fn bytes_pass(&self, a: u32, b: u32) -> bool {
        self.plausible
            .passes(equal_bytes(self.row(a), self.row(b)), a, b)
    }

    fn full_pass(&self, a: u32, b: u32) -> bool {
        self.plausible
            .passes(equal_count(self.signature(a), self.signature(b)), a, b)
    }
}

/// [`equal_count`] of two byte rows, 16 bytes at a time where SSE2 is (every x86-64).
#[inline]
fn equal_bytes(a: &[u8], b: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8};
        let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
        let tail = equal_count(ca.remainder(), cb.remainder());
        ca.zip(cb).fold(tail, |n, (x, y)| {
            // SAFETY: SSE2 is part of x86-64; each load reads the 16 bytes of a 16-byte chunk.
            let mask = unsafe {
                _mm_movemask_epi8(_mm_cmpeq_epi8(
                    _mm_loadu_si128(x.as_ptr().cast()),
                    _mm_loadu_si128(y.as_ptr().cast()),
                ))
            };
            n + mask.count_ones()
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    equal_count(a, b)
}

/// How many positions of `a` and `b` hold equal values.
#[inline]
fn equal_count<T: PartialEq>(a: &[T], b: &[T]) -> u32 {
    crate::minhash::equal_count(a, b) as u32
}

/// [`bucket_pairs`] for a containment band, its pairs filtered by `filter` in two queues: a pair
/// waits in the first while both documents' bytes are prefetched, and, if their count lets it
/// through, in the second while their signatures are, so the filter rarely waits for memory.
/// Keeps the pairs the full count passes (the order within a band may differ from the buckets';
/// the candidates are sorted in the end).
fn bucket_pairs_filtered(
    keys: &[(u64, u32)],
    pairs: &mut Vec<Pair>,
    filter: &CollisionFilter,
) -> u64 {
    const AHEAD: usize = 16;
    let mut bytes_queue = std::collections::VecDeque::with_capacity(AHEAD + 1);
    let mut full_queue = std::collections::VecDeque::with_capacity(AHEAD + 1);
    let mut to_full = |pairs: &mut Vec<Pair>, (a, b): Pair| {
        if !filter.bytes_pass(a, b) {
            return;
        }
        prefetch(filter.signature(a));
        prefetch(filter.signature(b));
        full_queue.push_back((a, b));
        if full_queue.len() > AHEAD {
            let (x, y) = full_queue.pop_front().expect("queue is not empty");
            if filter.full_pass(x, y) {
                pairs.push((x, y));
            }
        }
    };
    let given = for_each_bucket_pair(keys, |a, b| {
        filter.prefetch_row(a);
        filter.prefetch_row(b);
        bytes_queue.push_back((a, b));
        if bytes_queue.len() > AHEAD {
            let pair = bytes_queue.pop_front().expect("queue is not empty");
            to_full(pairs, pair);
        }
    });
    for pair in bytes_queue {
        to_full(pairs, pair);
    }
    for (x, y) in full_queue {
        if filter.full_pass(x, y) {
            pairs.push((x, y));
        }
    }
    given
}

/// Ask the CPU to start loading the cache lines of `data` (a hint; no effect on results).
#[inline]
fn prefetch<T>(data: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        let bytes = std::mem::size_of_val(data);
        let start = data.as_ptr().cast::<i8>();
        for offset in (0..bytes).step_by(64) {
            // SAFETY: `_mm_prefetch` only hints the cache; the pointer is into a live slice.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    start.add(offset),
                )
            };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

/// What the bandings proposed.
#[derive(Clone, Debug, Default)]
pub struct Candidates {
    /// The pairs to verify, sorted and unique.
    pub pairs: Vec<Pair>,
    /// Pairs that shared a key of the containment banding, counted once per band.
    pub containment_collisions: u64,
    /// Of those, the ones the filter turned away as they came out of the buckets (counted the
    /// same way).
    pub containment_implausible: u64,
}

impl Candidates {
    /// Count what one band of `set` gave: `given` pairs out of its buckets, `kept` kept.
    fn count(&mut self, set: BandSet, given: u64, kept: u64) {
        if set.containment {
            self.containment_collisions += given;
            self.containment_implausible += given - kept;
        }
    }
}

/// Candidate pairs among `members` (document indices) over every band of `sets`, sorted and
/// unique: the pairs that share a band key, those of a containment banding only when
/// `plausible` accepts the number of values their signatures share (the MinHash
/// estimate's plausibility, applied as pairs come out of the buckets so that the collisions of
/// common phrases, which grow with the corpus, are never stored).
pub fn candidates(
    signatures: &[u32],
    num_perm: usize,
    sets: &[BandSet],
    members: &[u32],
    plausible: Plausibility,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<Candidates> {
    let bands: Vec<(BandSet, usize)> = sets
        .iter()
        .flat_map(|&set| (0..set.banding.bands).map(move |band| (set, band)))
        .collect();
    progress.begin(Stage::Candidates, bands.len() as u64);
    // Bands are keyed, sorted and emitted one per thread, as many in one parallel group as fit
    // the budget together: sorting one band's keys in parallel leaves threads idle at every
    // join, and a band's emission (the containment bands' filter, most of the stage) runs on
    // one thread. Beyond the budget, still two bands at a time where there are two threads
    // (32 B per document more than one band's keys and sort space: the filter would otherwise
    // run on one thread of the machine from 2·10^6 documents on).
    let at_once = (KEYS_IN_FLIGHT / members.len().max(1))
        .max(rayon::current_num_threads().min(2))
        .max(1);
    let out = candidates_by(
        signatures, num_perm, &bands, members, plausible, at_once, cancel, progress,
    )?;
    progress.end();
    Ok(out)
}

/// Sort one band's `(key, document)` list as the standard sort of the pairs would: by key, then
/// document. With the documents in ascending order (`ascending`), a long list takes the radix
/// sort by key, which is stable and so keeps them in that order within a key.
fn sort_keys(keys: &mut [(u64, u32)], scratch: &mut Vec<(u64, u32)>, ascending: bool) {
    if ascending && keys.len() >= crate::sketch::RADIX_FROM {
        crate::sketch::radix_sort_by_hash(keys, scratch);
    } else {
        keys.sort_unstable();
    }
}

/// [`candidates`] over `bands`, `at_once` bands at a time.
#[allow(clippy::too_many_arguments)]
fn candidates_by(
    signatures: &[u32],
    num_perm: usize,
    bands: &[(BandSet, usize)],
    members: &[u32],
    plausible: Plausibility,
    at_once: usize,
    cancel: &AtomicBool,
    progress: &dyn Progress,
) -> Result<Candidates> {
    let mut out = Candidates::default();
    let ascending = members.is_sorted();
    // A containment band's pairs are filtered, the others all kept.
    let filter = bands
        .iter()
        .any(|(set, _)| set.containment)
        .then(|| CollisionFilter::new(signatures, num_perm, plausible));
    let emit = |keys: &[(u64, u32)], pairs: &mut Vec<Pair>, set: BandSet| match &filter {
        Some(filter) if set.containment => bucket_pairs_filtered(keys, pairs, filter),
        _ => bucket_pairs(keys, pairs),
    };
    for group in bands.chunks(at_once) {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
        if group.len() == 1 {
            let (set, band) = group[0];
            let mut keys = Vec::with_capacity(members.len());
            band_keys(signatures, num_perm, set, band, members, 0, &mut keys);
            if ascending && keys.len() >= crate::sketch::RADIX_FROM {
                // One thread: the radix sort beats the standard sort on two.
                sort_keys(&mut keys, &mut Vec::new(), ascending);
            } else {
                keys.par_sort_unstable();
            }
            let before = out.pairs.len() as u64;
            let given = emit(&keys, &mut out.pairs, set);
            out.count(set, given, out.pairs.len() as u64 - before);
        } else {
            let found: Vec<(BandSet, Vec<Pair>, u64)> = group
                .par_iter()
                .map_init(
                    || (Vec::new(), Vec::new()),
                    |(keys, scratch), &(set, band)| {
                        keys.clear();
                        keys.resize(members.len(), (0, 0));
                        band_keys_here(signatures, num_perm, (set, band), members, 0, keys);
                        sort_keys(keys, scratch, ascending);
                        let mut found = Vec::new();
                        let given = emit(keys, &mut found, set);
                        (set, found, given)
                    },
                )
                .collect();
            for (set, f, given) in found {
                out.count(set, given, f.len() as u64);
                out.pairs.extend_from_slice(&f);
            }
        }
        // Keep memory bounded: deduplicate as we go once the list grows.
        if out.pairs.len() > (1 << 24) {
            out.pairs.par_sort_unstable();
            out.pairs.dedup();
        }
        progress.advance(group.len() as u64);
    }
    out.pairs.par_sort_unstable();
    out.pairs.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;

    #[test]
    fn banding_fits_in_num_perm_and_puts_threshold_on_the_slope() {
        for &t in &[0.3, 0.5, 0.7, 0.9] {
            let b = Banding::optimal(t, 128);
            assert!(b.bands * b.rows <= 128);
            // Pairs well above the threshold are almost always candidates, well below rarely.
            assert!(
                b.candidate_probability((t + 0.15).min(1.0)) > 0.9,
                "t={t} {b:?}"
            );
            assert!(b.candidate_probability(t * 0.4) < 0.35, "t={t} {b:?}");
        }
    }

    #[test]
    fn higher_threshold_gives_more_rows_per_band() {
        let lo = Banding::optimal(0.3, 128);
        let hi = Banding::optimal(0.8, 128);
        assert!(hi.rows > lo.rows, "{lo:?} {hi:?}");
    }

    #[test]
    fn identical_signatures_pair_and_different_ones_do_not() {
        let k = 8;
        // docs 0 and 2 identical; doc 1 different everywhere.
        let sigs: Vec<u32> = [vec![1; 8], vec![2; 8], vec![1; 8]].concat();
        let b = BandSet {
            banding: Banding { bands: 4, rows: 2 },
            seed: 0,
            containment: false,
        };
        let p = candidates(
            &sigs,
            k,
            &[b],
            &[0, 1, 2],
            Plausibility::ALL,
            &NoProgress,
            &AtomicBool::new(false),
        )
        .unwrap()
        .pairs;
        assert_eq!(p, vec![(0, 2)]);
    }

    /// Every pair of `bands`, unfiltered.
    fn by_sets(sigs: &[u32], k: usize, bands: &[(BandSet, usize)], members: &[u32]) -> Vec<Pair> {
        let no = AtomicBool::new(false);
        candidates_by(
            sigs,
            k,
            bands,
            members,
            Plausibility::ALL,
            1,
            &no,
            &NoProgress,
        )
        .map(|c| c.pairs)
        .unwrap()
    }

    #[test]
    fn bands_one_at_a_time_or_several_at_once_give_the_same_pairs() {
        // 400 documents, 16 values each, from a small alphabet so that bands collide often.
        let (k, n) = (16usize, 400u32);
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let sigs: Vec<u32> = (0..k * n as usize)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 5) as u32
            })
            .collect();
        let sets = [
            BandSet {
                banding: Banding { bands: 8, rows: 2 },
                seed: 3,
                containment: false,
            },
            BandSet {
                banding: Banding { bands: 5, rows: 3 },
                seed: 9,
                containment: true,
            },
        ];
        let bands: Vec<(BandSet, usize)> = sets
            .iter()
            .flat_map(|&s| (0..s.banding.bands).map(move |b| (s, b)))
            .collect();
        let members: Vec<u32> = (0..n).collect();
        let no = AtomicBool::new(false);
        // Keep pairs whose sum is odd: about half.
        let odd = |a: u32, b: u32| (a + b) % 2 == 1;
        // (The sizes are the documents' indices, so the test sees which documents they are.)
        let keep = Plausibility {
            sizes: &members,
            test: &|_, a, b| odd(a, b),
        };
        let by = |at_once| {
            candidates_by(&sigs, k, &bands, &members, keep, at_once, &no, &NoProgress).unwrap()
        };
        let one = by(1);
        let counts = |c: &Candidates| (c.containment_collisions, c.containment_implausible);
        assert!(one.pairs.len() > 1000, "{} pairs", one.pairs.len());
        assert!(one.pairs.windows(2).all(|w| w[0] < w[1]));
        assert!(one.containment_implausible > 1000, "{:?}", counts(&one));
        for at_once in [2, 3, 13, 40] {
            let other = by(at_once);
            assert_eq!(other.pairs, one.pairs, "{at_once} bands at once");
            assert_eq!(counts(&other), counts(&one));
        }
        // The filter applies to the containment bands only: the pairs with an even sum that
        // are left came from the first set's bands, and are exactly that set's even pairs.
        let even =
            |p: &[Pair]| -> Vec<Pair> { p.iter().copied().filter(|&(a, b)| !odd(a, b)).collect() };
        let first = by_sets(&sigs, k, &bands[..8], &members);
        assert!(!even(&first).is_empty());
        assert_eq!(even(&one.pairs), even(&first));
        // Without a filter: every pair kept before, and more.
        let all = by_sets(&sigs, k, &bands, &members);
        assert!(one.pairs.iter().all(|p| all.binary_search(p).is_ok()));
        assert!(all.len() > one.pairs.len());
    }

    #[test]
    fn equal_bytes_counts_like_the_plain_loop() {
        let mut x = 0x1234_5678u64;
        for len in 0..80 {
            let mut row = || -> Vec<u8> {
                (0..len)
                    .map(|_| {
                        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        (x >> 62) as u8
                    })
                    .collect()
            };
            let (a, b) = (row(), row());
            assert_eq!(equal_bytes(&a, &b), equal_count(&a, &b), "{len} bytes");
            assert_eq!(equal_bytes(&a, &a), len as u32);
        }
    }

    #[test]
    fn collisions_are_kept_by_their_full_count_not_their_bytes() {
        // Values from {0, 1, 2} and {256, 257, 258}: low bytes agree where values may not, so
        // the byte count is often higher than the full count. 300 documents of 32 values.
        let (k, n) = (32usize, 300u32);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let sigs: Vec<u32> = (0..k * n as usize)
            .map(|_| {
                let r = next();
                (r % 3) as u32 + 256 * ((r >> 8) % 2) as u32
            })
            .collect();
        let containment = BandSet {
            banding: Banding { bands: 12, rows: 1 },
            seed: 5,
            containment: true,
        };
        let bands: Vec<(BandSet, usize)> = (0..12).map(|b| (containment, b)).collect();
        let members: Vec<u32> = (0..n).collect();
        let no = AtomicBool::new(false);
        let full = |a: u32, b: u32| {
            let (sa, sb) = (&sigs[a as usize * k..][..k], &sigs[b as usize * k..][..k]);
            equal_count(sa, sb)
        };
        let bytes_higher = (0..n - 1).filter(|&d| {
            let (ra, rb) = (
                &sigs[d as usize * k..][..k],
                &sigs[(d + 1) as usize * k..][..k],
            );
            let low = |r: &[u32]| r.iter().map(|&v| v as u8).collect::<Vec<u8>>();
            equal_count(&low(ra), &low(rb)) > equal_count(ra, rb)
        });
        assert!(bytes_higher.count() > 100);
        // Each band's pairs, filtered on the full values (the reference).
        let reference = |t: u32| {
            let (mut pairs, mut given) = (Vec::new(), 0);
            for &(set, band) in &bands {
                let mut keys: Vec<(u64, u32)> = members
                    .iter()
                    .map(|&d| doc_band_key(&sigs, k, set, band, d, 0))
                    .collect();
                keys.sort_unstable();
                given += for_each_bucket_pair(&keys, |a, b| {
                    if full(a, b) >= t {
                        pairs.push((a, b));
                    }
                });
            }
            pairs.sort_unstable();
            pairs.dedup();
            (pairs, given)
        };
        for t in [0, 6, 8, 10, 12, 33] {
            let plausible = Plausibility {
                sizes: &[],
                test: &|equal, _, _| equal >= t,
            };
            let got =
                candidates_by(&sigs, k, &bands, &members, plausible, 3, &no, &NoProgress).unwrap();
            let (pairs, given) = reference(t);
            assert_eq!(got.pairs, pairs, "threshold {t}");
            assert_eq!(got.containment_collisions, given);
            if (6..=10).contains(&t) {
                // Some kept, some turned away: the thresholds where the byte count matters.
                assert!(!pairs.is_empty() && got.containment_implausible > 0, "{t}");
            }
        }
    }

    #[test]
    fn band_keys_sort_by_key_then_document_on_both_paths() {
        // Long enough for the radix sort, with many equal keys (ties broken by document).
        let n = crate::sketch::RADIX_FROM as u32 + 1000;
        let keys: Vec<(u64, u32)> = (0..n)
            .map(|d| {
                (
                    (((d as u64 * 2_654_435_761) % 97) << 40) | (d as u64 % 3),
                    d,
                )
            })
            .collect();
        let mut expected = keys.clone();
        expected.sort_unstable();
        let mut scratch = Vec::new();
        let mut radix = keys.clone();
        sort_keys(&mut radix, &mut scratch, true);
        assert_eq!(radix, expected);
        // Documents not in ascending order: the standard sort.
        let mut shuffled = keys.clone();
        shuffled.reverse();
        sort_keys(&mut shuffled, &mut scratch, false);
        assert_eq!(shuffled, expected);
    }

    #[test]
    fn large_bucket_emits_linear_not_quadratic_pairs() {
        let k = 4;
        let n = 1000u32;
        let sigs = vec![7u32; k * n as usize];
        let members: Vec<u32> = (0..n).collect();
        let b = BandSet {
            banding: Banding { bands: 1, rows: 4 },
            seed: 0,
            containment: false,
        };
        let p = candidates(
            &sigs,
            k,
            &[b],
            &members,
            Plausibility::ALL,
            &NoProgress,
            &AtomicBool::new(false),
        )
        .unwrap()
        .pairs;
        assert!(p.len() < 2 * n as usize, "{} pairs", p.len());
        assert!(p.contains(&(0, 999)) && p.contains(&(500, 501)));
    }
}
