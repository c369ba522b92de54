//! Stage 6a: verifying candidate pairs, and scoring cluster members against their representative.
//!
//! LSH only proposes pairs. With `--verify exact` (the default) every candidate whose MinHash
//! estimate is not hopeless is checked on the real shingle sets: the documents involved are
//! re-normalised and re-shingled (only they, in memory-bounded batches), and the exact Jaccard
//! `|A∩B| / |A∪B|` and containment `|A∩B| / min(|A|,|B|)` are computed by merging sorted sets.
//! So an LSH false positive can never merge two clusters.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use crate::config::Verify;
use crate::error::{Error, Result};
use crate::input::{Corpus, DocId};
use crate::lsh::Pair;
use crate::minhash::estimate_jaccard;
use crate::progress::{Progress, Stage};
use crate::sketch::{SketchParams, Sketcher, Sketches};

/// A candidate whose MinHash estimate is this far below the threshold is rejected without exact
/// verification (over 4 standard deviations of the estimate at 128 bins).
pub const ESTIMATE_MARGIN: f64 = 0.2;

/// Pairs verified per batch.
const BATCH_PAIRS: usize = 50_000;
/// Stored text bytes of the distinct documents in one batch (bounds the shingle-set memory).
const BATCH_TEXT_BYTES: u64 = 256 << 20;

/// Similarity of two documents.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Score {
    pub jaccard: f64,
    pub containment: f64,
}

/// A verified pair.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Edge {
    pub a: u32,
    pub b: u32,
    pub score: Score,
}

/// Counts from verification, for the summary.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct VerifyStats {
    pub candidate_pairs: u64,
    pub rejected_by_estimate: u64,
    pub verified_exactly: u64,
    pub accepted: u64,
}

/// Size of the intersection of two sorted, deduplicated slices.
pub fn intersection_len(a: &[u64], b: &[u64]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// Exact Jaccard and containment of two sorted, deduplicated shingle sets.
pub fn score_sets(a: &[u64], b: &[u64]) -> Score {
    if a.is_empty() || b.is_empty() {
        return Score {
            jaccard: 0.0,
            containment: 0.0,
        };
    }
    let inter = intersection_len(a, b) as f64;
    let union = (a.len() + b.len()) as f64 - inter;
    Score {
        jaccard: inter / union,
        containment: inter / a.len().min(b.len()) as f64,
    }
}

/// What verification needs to rebuild shingle sets: the corpus, the sketch parameters, and the
/// cancel flag.
pub struct Verifier<'a> {
    pub corpus: &'a Corpus,
    pub params: SketchParams,
    /// Line hashes left out of shingling (sorted; boilerplate).
    pub exclude: &'a [u64],
    pub cancel: &'a AtomicBool,
}

impl Verifier<'_> {
    /// Exact scores of `pairs`, in order. Shingle sets are rebuilt per batch.
    pub fn exact_scores(&self, pairs: &[Pair], progress: &dyn Progress) -> Result<Vec<Score>> {
        let (corpus, params, cancel) = (self.corpus, self.params, self.cancel);
        let mut out = Vec::with_capacity(pairs.len());
        let mut start = 0;
        while start < pairs.len() {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Interrupted);
            }
            // Grow the batch until it has enough pairs or enough text.
            let mut docs: Vec<u32> = Vec::new();
            let mut seen: HashMap<u32, ()> = HashMap::new();
            let mut bytes = 0u64;
            let mut end = start;
            while end < pairs.len() && end - start < BATCH_PAIRS && bytes < BATCH_TEXT_BYTES {
                for d in [pairs[end].0, pairs[end].1] {
                    if seen.insert(d, ()).is_none() {
                        docs.push(d);
                        bytes += corpus.text_len(&corpus.docs[d as usize]);
                    }
                }
                end += 1;
            }
            docs.sort_unstable();
            let sets: Vec<Vec<u64>> = docs
                .par_iter()
                .map_init(
                    || Sketcher::new(params),
                    |sk, &d| {
                        let mut buf = std::mem::take(&mut sk.text_buf);
                        let text = corpus.text(&corpus.docs[d as usize], &mut buf);
                        let mut set = Vec::new();
                        sk.shingle_set(text, self.exclude, &mut set);
                        sk.text_buf = buf;
                        set
                    },
                )
                .collect();
            let set_of = |d: u32| &sets[docs.binary_search(&d).expect("doc in batch")];
            let scored: Vec<Score> = pairs[start..end]
                .par_iter()
                .map(|&(a, b)| score_sets(set_of(a), set_of(b)))
                .collect();
            out.extend(scored);
            progress.advance((end - start) as u64);
            start = end;
        }
        Ok(out)
    }

    /// Verify candidate pairs; returns the accepted edges (Jaccard ≥ `threshold`).
    pub fn verify_candidates(
        &self,
        pairs: &[Pair],
        sketches: &Sketches,
        threshold: f64,
        mode: Verify,
        progress: &dyn Progress,
    ) -> Result<(Vec<Edge>, VerifyStats)> {
        let mut stats = VerifyStats {
            candidate_pairs: pairs.len() as u64,
            ..Default::default()
        };
        progress.begin(Stage::Verify, pairs.len() as u64);
        let estimates: Vec<f64> = pairs
            .par_iter()
            .map(|&(a, b)| {
                estimate_jaccard(sketches.signature(DocId(a)), sketches.signature(DocId(b)))
            })
            .collect();
        let edges = match mode {
            Verify::Estimate => {
                progress.advance(pairs.len() as u64);
                pairs
                    .iter()
                    .zip(&estimates)
                    .filter(|&(_, &e)| e >= threshold)
                    .map(|(&(a, b), &e)| Edge {
                        a,
                        b,
                        score: Score {
                            jaccard: e,
                            containment: e,
                        },
                    })
                    .collect()
            }
            Verify::Exact => {
                let keep: Vec<Pair> = pairs
                    .iter()
                    .zip(&estimates)
                    .filter(|&(_, &e)| e >= threshold - ESTIMATE_MARGIN)
                    .map(|(&p, _)| p)
                    .collect();
                stats.rejected_by_estimate = (pairs.len() - keep.len()) as u64;
                progress.advance(stats.rejected_by_estimate);
                stats.verified_exactly = keep.len() as u64;
                let scores = self.exact_scores(&keep, progress)?;
                keep.into_iter()
                    .zip(scores)
                    .filter(|(_, s)| s.jaccard >= threshold)
                    .map(|((a, b), score)| Edge { a, b, score })
                    .collect::<Vec<Edge>>()
            }
        };
        stats.accepted = edges.len() as u64;
        progress.end();
        Ok((edges, stats))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_sets_computes_jaccard_and_containment() {
        let a = [1, 2, 3, 4];
        let b = [3, 4, 5, 6, 7, 8];
        let s = score_sets(&a, &b);
        assert!((s.jaccard - 2.0 / 8.0).abs() < 1e-12);
        assert!((s.containment - 2.0 / 4.0).abs() < 1e-12);
        assert_eq!(score_sets(&a, &[]).jaccard, 0.0);
        assert_eq!(score_sets(&a, &a).jaccard, 1.0);
    }

    #[test]
    fn a_teaser_is_fully_contained_in_its_article() {
        let article: Vec<u64> = (0..100).collect();
        let teaser: Vec<u64> = (0..20).collect();
        let s = score_sets(&teaser, &article);
        assert_eq!(s.containment, 1.0);
        assert!((s.jaccard - 0.2).abs() < 1e-12);
    }
}
