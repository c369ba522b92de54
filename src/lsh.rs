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
    docs.par_iter()
        .map(|&d| doc_band_key(signatures, num_perm, set, band, d, base))
        .collect_into_vec(out);
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

/// [`bucket_pairs`] for a band whose pairs `keep` filters by reading both documents'
/// signatures: each pair waits in a short queue while its signatures are prefetched, so the
/// filter rarely waits for memory (the pairs of a containment band are mostly unrelated
/// documents, scattered over the signature array). Keeps the same pairs in the same order.
fn bucket_pairs_prefetched(
    keys: &[(u64, u32)],
    pairs: &mut Vec<Pair>,
    keep: &(dyn Fn(u32, u32) -> bool + Sync),
    signatures: &[u32],
    num_perm: usize,
) -> u64 {
    const AHEAD: usize = 16;
    let mut queue = std::collections::VecDeque::with_capacity(AHEAD + 1);
    let given = for_each_bucket_pair(keys, |a, b| {
        prefetch_signature(signatures, num_perm, a);
        prefetch_signature(signatures, num_perm, b);
        queue.push_back((a, b));
        if queue.len() > AHEAD {
            let (x, y) = queue.pop_front().expect("queue is not empty");
            if keep(x, y) {
                pairs.push((x, y));
            }
        }
    });
    for (x, y) in queue {
        if keep(x, y) {
            pairs.push((x, y));
        }
    }
    given
}

/// Ask the CPU to start loading document `d`'s signature (a hint; no effect on results).
#[inline]
fn prefetch_signature(signatures: &[u32], num_perm: usize, d: u32) {
    #[cfg(target_arch = "x86_64")]
    {
        let sig = &signatures[d as usize * num_perm..][..num_perm];
        // 16 values per 64-byte line.
        for line in sig.chunks(16) {
            // SAFETY: `_mm_prefetch` only hints the cache; the pointer is into a live slice.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    line.as_ptr().cast::<i8>(),
                )
            };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (signatures, num_perm, d);
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
/// unique: the pairs that share a band key, those of a containment banding only when `keep`
/// accepts them (the MinHash estimate's plausibility, applied as pairs come out of the buckets
/// so that the collisions of common phrases, which grow with the corpus, are never stored).
pub fn candidates(
    signatures: &[u32],
    num_perm: usize,
    sets: &[BandSet],
    members: &[u32],
    keep: &(dyn Fn(u32, u32) -> bool + Sync),
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<Candidates> {
    let bands: Vec<(BandSet, usize)> = sets
        .iter()
        .flat_map(|&set| (0..set.banding.bands).map(move |band| (set, band)))
        .collect();
    progress.begin(Stage::Candidates, bands.len() as u64);
    // Bands are keyed and sorted one per thread, as many in one parallel group as fit the
    // budget together: sorting one band's keys in parallel leaves threads idle at every join
    // on corpora up to millions of documents. Beyond that, one band at a time, each sorted in
    // parallel (memory stays one band's keys).
    let at_once = (KEYS_IN_FLIGHT / members.len().max(1)).max(1);
    let out = candidates_by(
        signatures, num_perm, &bands, members, keep, at_once, cancel, progress,
    )?;
    progress.end();
    Ok(out)
}

/// Sort one band's `(key, document)` list as the standard sort of the pairs would: by key, then
/// document. With the documents in ascending order (`ascending`), a long list takes the radix
/// sort by key, which is stable and so keeps them in that order within a key.
fn sort_keys(keys: &mut Vec<(u64, u32)>, scratch: &mut Vec<(u64, u32)>, ascending: bool) {
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
    keep: &(dyn Fn(u32, u32) -> bool + Sync),
    at_once: usize,
    cancel: &AtomicBool,
    progress: &dyn Progress,
) -> Result<Candidates> {
    let mut out = Candidates::default();
    let ascending = members.is_sorted();
    // A containment band's pairs are filtered (their signatures prefetched ahead), the others
    // all kept.
    let emit = |keys: &[(u64, u32)], pairs: &mut Vec<Pair>, set: BandSet| {
        if set.containment {
            bucket_pairs_prefetched(keys, pairs, keep, signatures, num_perm)
        } else {
            bucket_pairs(keys, pairs)
        }
    };
    for group in bands.chunks(at_once) {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
        if group.len() == 1 {
            let (set, band) = group[0];
            let mut keys = Vec::with_capacity(members.len());
            band_keys(signatures, num_perm, set, band, members, 0, &mut keys);
            keys.par_sort_unstable();
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
                        keys.extend(
                            members
                                .iter()
                                .map(|&d| doc_band_key(signatures, num_perm, set, band, d, 0)),
                        );
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
            &|_, _| true,
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
        candidates_by(sigs, k, bands, members, &|_, _| true, 1, &no, &NoProgress)
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
        let by = |at_once| {
            candidates_by(&sigs, k, &bands, &members, &odd, at_once, &no, &NoProgress).unwrap()
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
            &|_, _| true,
            &NoProgress,
            &AtomicBool::new(false),
        )
        .unwrap()
        .pairs;
        assert!(p.len() < 2 * n as usize, "{} pairs", p.len());
        assert!(p.contains(&(0, 999)) && p.contains(&(500, 501)));
    }
}
