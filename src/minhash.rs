//! Stage 3: MinHash signatures by one-permutation hashing with optimal densification.
//!
//! Classic MinHash applies `K` hash functions to every shingle (`K` operations per shingle). One
//! permutation hashing (Li, Owen & Zhang 2012) hashes each shingle once: the high 32 bits pick one
//! of `K` bins, the low 32 bits are the value, and each bin keeps its minimum — one multiply and
//! one compare per shingle whatever `K`. Bins that no shingle reached are filled by *optimal
//! densification* (Shrivastava 2017): empty bin `i` copies the value of the first non-empty bin on
//! its own seeded probe sequence, which keeps `P[sig_a[i] = sig_b[i]] = J(a, b)` for every bin.
//!
//! Signatures are `K` × `u32` rows in one flat array (`Sketches::signatures`), `u32::MAX` in
//! every bin for a document with no shingles.

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Marks an empty bin while a signature is being built. Real values are clamped below it.
pub const EMPTY: u32 = u32::MAX;

/// Probe steps per bin kept in a table by [`OphSketch::with_seed`]; later ones are hashed.
const PROBE_TABLE: usize = 32;

/// Per-document OPH state, reused across documents.
#[derive(Debug, Clone)]
pub struct OphSketch {
    bins: Vec<u32>,
    /// `probes[i * PROBE_TABLE + a]`: the bin empty bin `i` looks at on attempt `a`, for
    /// `probe_seed` (the same values the hash gives; computed once instead of per document).
    probes: Vec<u16>,
    probe_seed: Option<u64>,
}

/// What a signature's bins held besides their minimum, for one document: per bin the
/// smallest value above the minimum ([`EMPTY`]: none) and how many shingles gave the minimum
/// (saturating). With them a bin's minimum is known after some shingles are taken out, unless
/// every copy of the minimum and a copy of the runner-up went (see
/// `Sketcher::resketch_stored`).
#[derive(Debug, Clone, Default)]
pub(crate) struct RunnersUp {
    pub second: Vec<u32>,
    pub count: Vec<u8>,
}

impl RunnersUp {
    /// Cleared for a signature of `k` bins.
    pub(crate) fn reset(&mut self, k: usize) {
        self.second.clear();
        self.second.resize(k, EMPTY);
        self.count.clear();
        self.count.resize(k, 0);
    }
}

/// The bin (of `k`) a shingle hash falls in and the value it offers there.
#[inline(always)]
pub(crate) fn slot(h: u64, k: usize) -> (usize, u32) {
    // bin < k because (h >> 32) < 2^32.
    let bin = (((h >> 32) * k as u64) >> 32) as usize;
    (bin, (h as u32).min(EMPTY - 1))
}

/// Bin looked at by empty bin `i` on probe `attempt`.
#[inline]
fn probe(i: usize, attempt: u64, seed: u64, k: usize) -> usize {
    let key = ((i as u64) << 32) | attempt;
    let h = xxh3_64_with_seed(&key.to_le_bytes(), seed);
    (((h >> 32) * k as u64) >> 32) as usize
}

impl OphSketch {
    pub fn new(num_perm: usize) -> Self {
        OphSketch {
            bins: vec![EMPTY; num_perm],
            probes: Vec::new(),
            probe_seed: None,
        }
    }

    /// Like [`OphSketch::new`], with the densification probes for `seed` precomputed.
    pub fn with_seed(num_perm: usize, seed: u64) -> Self {
        let mut s = Self::new(num_perm);
        if num_perm <= u16::MAX as usize + 1 {
            s.probes = (0..num_perm)
                .flat_map(|i| {
                    (0..PROBE_TABLE as u64).map(move |a| probe(i, a, seed, num_perm) as u16)
                })
                .collect();
            s.probe_seed = Some(seed);
        }
        s
    }

    #[inline]
    pub fn reset(&mut self) {
        self.bins.fill(EMPTY);
    }

    /// Add one shingle hash.
    #[inline(always)]
    pub fn update(&mut self, h: u64) {
        let (bin, val) = slot(h, self.bins.len());
        let slot = &mut self.bins[bin];
        *slot = (*slot).min(val);
    }

    /// [`OphSketch::update`], keeping per bin the runner-up value and how often the minimum
    /// came (saturating) in `r` too.
    #[inline(always)]
    pub(crate) fn update_tracking(&mut self, h: u64, r: &mut RunnersUp) {
        let (bin, val) = slot(h, self.bins.len());
        let min = &mut self.bins[bin];
        if val < *min {
            r.second[bin] = *min;
            *min = val;
            r.count[bin] = 1;
        } else if val == *min {
            r.count[bin] = r.count[bin].saturating_add(1);
        } else if val < r.second[bin] {
            r.second[bin] = val;
        }
    }

    /// Whether every bin holds a shingle's value: the signature [`OphSketch::finish_into`]
    /// writes is then the bins themselves, nothing densified.
    pub fn all_filled(&self) -> bool {
        !self.bins.contains(&EMPTY)
    }

    /// Write the densified signature into `out` (`out.len() == num_perm`).
    pub fn finish_into(&self, seed: u64, out: &mut [u32]) {
        let k = self.bins.len();
        debug_assert_eq!(out.len(), k);
        out.copy_from_slice(&self.bins);
        let filled = self.bins.iter().filter(|&&v| v != EMPTY).count();
        if filled == 0 || filled == k {
            return;
        }
        let table = if self.probe_seed == Some(seed) {
            &self.probes[..]
        } else {
            &[]
        };
        if k <= MAX_FAST && !table.is_empty() {
            return self.densify_by_rounds(seed, table, out);
        }
        for (i, slot) in out.iter_mut().enumerate() {
            if self.bins[i] != EMPTY {
                continue;
            }
            let row = table
                .get(i * PROBE_TABLE..(i + 1) * PROBE_TABLE)
                .unwrap_or(&[]);
            let mut attempt = row.len() as u64;
            if let Some(&j) = row.iter().find(|&&j| self.bins[j as usize] != EMPTY) {
                *slot = self.bins[j as usize];
                continue;
            }
            loop {
                let j = probe(i, attempt, seed, k);
                if self.bins[j] != EMPTY {
                    *slot = self.bins[j];
                    break;
                }
                attempt += 1;
            }
        }
    }
}

/// Largest signature [`OphSketch::densify_by_rounds`] takes (its pending list is on the stack,
/// zeroed per document: kept small).
const MAX_FAST: usize = 256;

impl OphSketch {
    /// [`OphSketch::finish_into`]'s densification by rounds: round `a` looks at probe `a` of
    /// every empty bin still pending and keeps those that missed, without a branch per probe.
    /// Each bin still takes the value of the first filled bin on its own probe sequence, so the
    /// signature is the one the bin-by-bin loop gives; only the order of the work differs (the
    /// bin-by-bin loop mispredicts the end of every bin's search, a cost per empty bin).
    fn densify_by_rounds(&self, seed: u64, table: &[u16], out: &mut [u32]) {
        let k = self.bins.len();
        let mut pending = [0u16; MAX_FAST];
        let mut n = 0;
        for (i, &v) in self.bins.iter().enumerate() {
            pending[n] = i as u16;
            n += usize::from(v == EMPTY);
        }
        for a in 0..PROBE_TABLE {
            let mut still = 0;
            for x in 0..n {
                let i = pending[x] as usize;
                let v = self.bins[table[i * PROBE_TABLE + a] as usize];
                let hit = v != EMPTY;
                out[i] = if hit { v } else { EMPTY };
                pending[still] = i as u16;
                still += usize::from(!hit);
            }
            n = still;
            if n == 0 {
                return;
            }
        }
        // Past the table (rare: a text with a handful of shingles): hash the further probes.
        for &i in &pending[..n] {
            let i = i as usize;
            let mut attempt = PROBE_TABLE as u64;
            loop {
                let j = probe(i, attempt, seed, k);
                if self.bins[j] != EMPTY {
                    out[i] = self.bins[j];
                    break;
                }
                attempt += 1;
            }
        }
    }
}

/// The fraction of equal bins: an unbiased estimate of the Jaccard similarity.
pub fn estimate_jaccard(a: &[u32], b: &[u32]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    if a.is_empty() {
        return 0.0;
    }
    equal_count(a, b) as f64 / a.len() as f64
}

/// How many positions of `a` and `b` hold equal values (the count every MinHash estimate is
/// taken from).
#[inline]
pub(crate) fn equal_count<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    a.iter().zip(b).filter(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use xxhash_rust::xxh3::xxh3_64;

    fn signature(items: impl IntoIterator<Item = u64>, k: usize, seed: u64) -> Vec<u32> {
        let mut s = OphSketch::new(k);
        for x in items {
            s.update(xxh3_64_with_seed(&x.to_le_bytes(), seed));
        }
        let mut out = vec![0; k];
        s.finish_into(seed, &mut out);
        out
    }

    /// (The table path densifies by rounds, the hashing path bin by bin: the same signatures.)
    #[test]
    fn precomputed_probes_give_the_same_signatures_as_hashing() {
        for n in [0u64, 1, 2, 3, 7, 20, 90, 400, 3000] {
            for k in [16, 128, 256, 1024, 2048] {
                let mut a = OphSketch::new(k);
                let mut b = OphSketch::with_seed(k, 11);
                for x in 0..n {
                    let h = xxh3_64_with_seed(&x.to_le_bytes(), 11);
                    a.update(h);
                    b.update(h);
                }
                let (mut sa, mut sb) = (vec![0; k], vec![0; k]);
                a.finish_into(11, &mut sa);
                b.finish_into(11, &mut sb);
                assert_eq!(sa, sb, "n={n} k={k}");
                // Another seed falls back to hashing.
                b.finish_into(12, &mut sb);
                a.finish_into(12, &mut sa);
                assert_eq!(sa, sb);
            }
        }
    }

    #[test]
    fn identical_sets_give_identical_signatures() {
        let a = signature(0..500, 128, 1);
        let b = signature((0..500).rev(), 128, 1);
        assert_eq!(a, b);
        assert_eq!(estimate_jaccard(&a, &b), 1.0);
    }

    #[test]
    fn repeated_shingles_do_not_change_the_signature() {
        let a = signature(0..100, 64, 3);
        let b = signature((0..100).chain(0..100).chain(40..60), 64, 3);
        assert_eq!(a, b);
    }

    #[test]
    fn disjoint_sets_estimate_near_zero() {
        let a = signature(0..1000, 128, 5);
        let b = signature(1000..2000, 128, 5);
        assert!(estimate_jaccard(&a, &b) < 0.05);
    }

    #[test]
    fn small_sets_are_densified_with_no_empty_bins() {
        let a = signature(0..3, 128, 9);
        assert!(a.iter().all(|&v| v != EMPTY));
        let empty = signature(std::iter::empty(), 16, 9);
        assert!(empty.iter().all(|&v| v == EMPTY));
    }

    /// Exact Jaccard of two ranges-based sets with a chosen overlap, vs the estimate, averaged
    /// over many seeds: the estimator is unbiased and its error is within the binomial bound.
    #[test]
    fn estimate_is_within_tolerance_of_exact_jaccard_across_sizes() {
        let k = 128;
        for &(size, overlap) in &[(10usize, 5usize), (40, 30), (300, 150), (2000, 1800)] {
            let exact = overlap as f64 / (2 * size - overlap) as f64;
            let mut total_err = 0.0;
            let trials: u64 = 40;
            for seed in 0..trials {
                let salt = xxh3_64(&seed.to_le_bytes());
                let a = signature((0..size as u64).map(|x| x ^ salt), k, seed);
                let b = signature(
                    ((size - overlap) as u64..(2 * size - overlap) as u64).map(|x| x ^ salt),
                    k,
                    seed,
                );
                let est = estimate_jaccard(&a, &b);
                // 4.5 standard deviations of a binomial estimate with k trials.
                let sd = (exact * (1.0 - exact) / k as f64).sqrt();
                assert!(
                    (est - exact).abs() <= 4.5 * sd + 0.02,
                    "size {size} overlap {overlap}: est {est} exact {exact}"
                );
                total_err += est - exact;
            }
            let bias = total_err / trials as f64;
            assert!(bias.abs() < 0.03, "size {size}: mean bias {bias}");
        }
    }

    proptest! {
        #[test]
        fn estimate_tracks_exact_jaccard(
            a in proptest::collection::hash_set(0u64..3000, 20..400),
            b in proptest::collection::hash_set(0u64..3000, 20..400),
        ) {
            let inter = a.intersection(&b).count() as f64;
            let union = a.union(&b).count() as f64;
            let exact = inter / union;
            let k = 256;
            let est = estimate_jaccard(&signature(a.iter().copied(), k, 11), &signature(b.iter().copied(), k, 11));
            let sd = (exact * (1.0 - exact) / k as f64).sqrt();
            prop_assert!((est - exact).abs() <= 5.0 * sd + 0.03, "est {} exact {}", est, exact);
        }
    }
}
