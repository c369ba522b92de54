//! Stage 6a: verifying candidate pairs, and scoring cluster members against their representative.
//!
//! LSH only proposes pairs. With `--verify exact` (the default) every candidate whose MinHash
//! estimate is not hopeless is checked on the real shingle sets: the documents involved are
//! re-normalised and re-shingled (only they, in memory-bounded batches), and the exact Jaccard
//! `|A∩B| / |A∪B|` and containment `|A∩B| / min(|A|,|B|)` are computed by merging sorted sets.
//! So an LSH false positive can never merge two clusters. The sets built are kept for the run up
//! to a budget (`SetCache`): the cluster stage scores members against centres verification has
//! just read, and `tune` verifies mostly the same pairs once per setting.

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use crate::config::Verify;
use crate::error::{Error, Result};
use crate::input::Corpus;
use crate::lsh::Pair;
use crate::progress::{Progress, Stage};
use crate::sketch::{SketchParams, Sketcher, Source};

/// A candidate whose MinHash estimate is this far below the threshold is rejected without exact
/// verification (over 4 standard deviations of the estimate at 128 bins).
pub const ESTIMATE_MARGIN: f64 = 0.2;

/// Pairs verified per batch.
const BATCH_PAIRS: usize = 50_000;
/// Stored text bytes of the distinct documents in one batch (bounds the shingle-set memory).
const BATCH_TEXT_BYTES: u64 = 256 << 20;
/// Bytes of shingle sets kept between calls ([`SetCache`]).
const CACHE_BYTES: usize = 128 << 20;

/// The smaller document must have at least this many distinct shingles for containment to
/// count: a two-line note is "contained" in many long articles without being a copy of any.
pub const MIN_CONTAINMENT_SHINGLES: u32 = 30;

/// Similarity of two documents `a` and `b`, in both directions.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Score {
    /// `|A∩B| / |A∪B|`.
    pub jaccard: f64,
    /// `|A∩B| / |A|`: how much of `a` is inside `b`.
    pub a_in_b: f64,
    /// `|A∩B| / |B|`: how much of `b` is inside `a`.
    pub b_in_a: f64,
    /// Distinct shingles of `a`.
    pub size_a: u32,
    /// Distinct shingles of `b`.
    pub size_b: u32,
    /// `a`'s numbers are in `b` (at most a quarter missing, see [`numbers_covered`]).
    pub a_numbers_in_b: bool,
    /// `b`'s numbers are in `a`.
    pub b_numbers_in_a: bool,
    /// The two texts state the same facts (see [`numbers_agree`]).
    pub numbers_agree: bool,
}

impl Score {
    /// Identical documents.
    pub const IDENTICAL: Score = Score {
        jaccard: 1.0,
        a_in_b: 1.0,
        b_in_a: 1.0,
        size_a: u32::MAX,
        size_b: u32::MAX,
        a_numbers_in_b: true,
        b_numbers_in_a: true,
        numbers_agree: true,
    };

    /// No overlap at all (also: a pair that could not be scored).
    pub const NONE: Score = Score {
        jaccard: 0.0,
        a_in_b: 0.0,
        b_in_a: 0.0,
        size_a: 0,
        size_b: 0,
        a_numbers_in_b: true,
        b_numbers_in_a: true,
        numbers_agree: true,
    };

    /// Containment of the smaller in the larger: `|A∩B| / min(|A|,|B|)`.
    pub fn containment(&self) -> f64 {
        self.a_in_b.max(self.b_in_a)
    }

    /// Distinct shingles of the smaller document.
    pub fn min_size(&self) -> u32 {
        self.size_a.min(self.size_b)
    }

    /// The same score seen from `b`.
    pub fn swapped(self) -> Score {
        Score {
            jaccard: self.jaccard,
            a_in_b: self.b_in_a,
            b_in_a: self.a_in_b,
            size_a: self.size_b,
            size_b: self.size_a,
            a_numbers_in_b: self.b_numbers_in_a,
            b_numbers_in_a: self.a_numbers_in_b,
            numbers_agree: self.numbers_agree,
        }
    }

    /// Whether `a` covers `b`: `b` is redundant once `a` is kept. `b`'s numbers are in `a`,
    /// and Jaccard is at or above the threshold, or (with containment on) `b` is inside `a` at
    /// or above the containment threshold with `b` big enough for containment to count.
    pub fn a_covers_b(&self, criterion: &Criterion) -> bool {
        self.b_numbers_in_a
            && (self.jaccard >= criterion.jaccard
                || criterion
                    .containment
                    .is_some_and(|c| self.b_in_a >= c && self.size_b >= MIN_CONTAINMENT_SHINGLES))
    }
}

/// Why two documents match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// The cluster's kept representative itself.
    Representative,
    /// Identical after normalisation.
    Exact,
    /// Jaccard at or above the threshold.
    Jaccard,
    /// The smaller is contained in the larger at or above the containment threshold.
    Containment,
    /// Matches the cluster's centre, not the kept representative itself.
    ViaCentre,
}

pub use crate::config::Criterion;

impl Criterion {
    /// Whether a pair with this score is a duplicate, and why.
    pub fn matches(&self, s: &Score) -> Option<MatchKind> {
        if !s.numbers_agree {
            return None;
        }
        if s.jaccard >= self.jaccard {
            return Some(MatchKind::Jaccard);
        }
        match self.containment {
            Some(c) if s.containment() >= c && s.min_size() >= MIN_CONTAINMENT_SHINGLES => {
                Some(MatchKind::Containment)
            }
            _ => None,
        }
    }

    /// The score this criterion reads for a pair: its Jaccard, or its containment where that
    /// counts (containment on, and the smaller document at least
    /// [`MIN_CONTAINMENT_SHINGLES`]), whichever is higher. Numbers are left aside. A pair matches
    /// on its shingles when this reaches the threshold it came from.
    pub fn best_score(&self, s: &Score) -> f64 {
        match self.containment {
            Some(_) if s.min_size() >= MIN_CONTAINMENT_SHINGLES => s.jaccard.max(s.containment()),
            _ => s.jaccard,
        }
    }

    /// Whether a pair with these MinHash estimates is worth verifying exactly.
    ///
    /// The sizes of an estimate are the shingles each document emitted, repeats included, so
    /// never fewer than its distinct shingles, the sizes of the exact score: a pair whose smaller
    /// document emitted fewer than [`MIN_CONTAINMENT_SHINGLES`] can never match by containment,
    /// only by Jaccard, and its containment estimate does not make it worth verifying. (Short
    /// documents are most of the containment banding's near misses at scale: a 20-shingle
    /// article shares a phrase with ever more others as a corpus grows.)
    pub(crate) fn plausible(&self, est: &Score) -> bool {
        est.jaccard >= self.jaccard - ESTIMATE_MARGIN
            || self.containment.is_some_and(|c| {
                est.containment() >= c - ESTIMATE_MARGIN
                    && est.min_size() >= MIN_CONTAINMENT_SHINGLES
            })
    }
}

/// MinHash estimates of Jaccard and containment, given the two documents' shingle counts.
pub(crate) fn estimate_score(a: &[u32], b: &[u32], size_a: u32, size_b: u32) -> Score {
    debug_assert_eq!(a.len(), b.len());
    score_of_count(crate::minhash::equal_count(a, b), a.len(), size_a, size_b)
}

/// The MinHash estimates of two documents whose signatures of `len` values agree in `equal`
/// (what [`estimate_score`] computes from the signatures). Every estimate grows with `equal`.
pub(crate) fn score_of_count(equal: usize, len: usize, size_a: u32, size_b: u32) -> Score {
    let j = if len == 0 {
        0.0
    } else {
        equal as f64 / len as f64
    };
    let (sa, sb) = (size_a.max(1) as f64, size_b.max(1) as f64);
    let inter = j * (sa + sb) / (1.0 + j);
    Score {
        jaccard: j,
        a_in_b: (inter / sa).min(1.0),
        b_in_a: (inter / sb).min(1.0),
        size_a,
        size_b,
        // Signatures carry no numbers: an estimate never rejects for them.
        a_numbers_in_b: true,
        b_numbers_in_a: true,
        numbers_agree: true,
    }
}

/// A verified pair.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Edge {
    pub a: u32,
    pub b: u32,
    pub score: Score,
}

/// Counts from verification, for the summary.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct VerifyStats {
    /// Pairs that shared a key of the containment banding, counted once per band they share
    /// one in.
    #[serde(default)]
    pub containment_collisions: u64,
    /// Of those, the ones whose MinHash estimate ruled them out as they came out of the
    /// buckets (never stored; counted the same way).
    #[serde(default)]
    pub containment_implausible: u64,
    /// Distinct pairs to verify.
    pub candidate_pairs: u64,
    pub rejected_by_estimate: u64,
    pub verified_exactly: u64,
    pub accepted: u64,
    /// The pairs verified exactly, by the score the criterion reads ([`Criterion::best_score`])
    /// in tenths: entry `i` counts scores in `[i/10, (i+1)/10)`, the last one `[0.9, 1]`. How
    /// far below the thresholds the rejected candidates were: near misses (just below) are what
    /// any generator with recall at the threshold proposes, pairs far below are chance
    /// collisions. All zero with `--verify estimate`.
    #[serde(default)]
    pub verified_by_score: [u64; 10],
}

impl VerifyStats {
    /// Count `score` (a [`Criterion::best_score`]) in [`VerifyStats::verified_by_score`].
    pub fn count_score(&mut self, score: f64) {
        let tenth = (score * 10.0).floor().clamp(0.0, 9.0) as usize;
        self.verified_by_score[tenth] += 1;
    }
}

impl std::ops::AddAssign for VerifyStats {
    fn add_assign(&mut self, o: VerifyStats) {
        self.containment_collisions += o.containment_collisions;
        self.containment_implausible += o.containment_implausible;
        self.candidate_pairs += o.candidate_pairs;
        self.rejected_by_estimate += o.rejected_by_estimate;
        self.verified_exactly += o.verified_exactly;
        self.accepted += o.accepted;
        for (mine, theirs) in self.verified_by_score.iter_mut().zip(o.verified_by_score) {
            *mine += theirs;
        }
    }
}

/// Size of the intersection of two sorted, deduplicated slices.
pub fn intersection_len(a: &[u64], b: &[u64]) -> usize {
    // Branch-free merge step (see `score_docs_in`).
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        n += usize::from(x == y);
        i += usize::from(x <= y);
        j += usize::from(y <= x);
    }
    n
}

/// Exact Jaccard and containment of two sorted, deduplicated shingle sets (numbers not
/// compared: both flags set).
pub fn score_sets(a: &[u64], b: &[u64]) -> Score {
    score_counts(a.len(), b.len(), intersection_len(a, b))
}

/// [`score_sets`] from the sets' sizes and how many elements they share.
fn score_counts(len_a: usize, len_b: usize, inter: usize) -> Score {
    let (size_a, size_b) = (len_a as u32, len_b as u32);
    if len_a == 0 || len_b == 0 {
        return Score {
            size_a,
            size_b,
            ..Score::NONE
        };
    }
    let inter = inter as f64;
    let union = (len_a + len_b) as f64 - inter;
    Score {
        jaccard: inter / union,
        a_in_b: inter / size_a as f64,
        b_in_a: inter / size_b as f64,
        size_a,
        size_b,
        a_numbers_in_b: true,
        b_numbers_in_a: true,
        numbers_agree: true,
    }
}

/// What exact verification compares of one document: its shingles (sorted, deduplicated
/// hashes, from the lines that are not boilerplate; word shingles as a sliding polynomial of
/// their token hashes, values that name the same shingles as the sketch's hashes and are only
/// compared with one another), where they sit in the text, and its numbers (sorted,
/// deduplicated hashes).
#[derive(Clone, Debug, Default)]
pub struct DocSets {
    pub shingles: Vec<u64>,
    /// The document's shingles in text order, each as its index in `shingles`.
    pub order: Vec<u32>,
    /// Tokens (characters for character shingles) per shingle.
    pub span: u32,
    pub numbers: Vec<u64>,
}

impl DocSets {
    /// Bytes the sets take on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.shingles.len() * 8 + self.order.len() * 4 + self.numbers.len() * 8
    }
}

/// Share of a document's tokens that lie inside at least one shingle it shares with the other
/// (`shared[i]`: the document's `i`-th distinct shingle is shared; `order`, `span` as in
/// [`DocSets`]). A shared passage counts whole, and a word changed inside it costs that word
/// only, where shingle containment loses every shingle through it (a 10 % word edit leaves
/// about 59 % of word 5-grams, but about 80 % of the words inside shared 5-grams). A passage
/// the other text lacks still counts in full against it: a shared paragraph is as much of a
/// text as before.
pub fn token_coverage(order: &[u32], shared: &[bool], span: usize) -> f64 {
    if order.is_empty() {
        return 0.0;
    }
    let tokens = order.len() + span - 1;
    let (mut covered, mut reach) = (0usize, 0usize);
    for (j, &r) in order.iter().enumerate() {
        // Without a branch on `shared`: `reach <= j + span - 1` always, so both terms are
        // non-negative.
        let s = usize::from(shared[r as usize]);
        covered += s * (j + span - j.max(reach));
        reach += s * (j + span - reach);
    }
    covered as f64 / tokens as f64
}

/// Scratch space for [`score_docs_in`]: which distinct shingles of each side are shared.
#[derive(Default)]
pub struct ScoreScratch {
    shared_a: Vec<bool>,
    shared_b: Vec<bool>,
}

/// The exact score of two documents (see [`score_docs_in`]).
pub fn score_docs(a: &DocSets, b: &DocSets) -> Score {
    score_docs_in(a, b, &mut ScoreScratch::default())
}

/// Token coverage reads higher than shingle containment for the same text (a changed word
/// costs one token of coverage but up to `n` shingles): containment counts a text's coverage
/// less this margin. At 8 % of words changed at random, word 5-gram containment is about 0.66
/// and coverage about 0.87; at 15 %, 0.44 and 0.70. Measured: heavily edited copies in the
/// syndication benchmark found 0.68 → 0.89 (Arabic) and 0.83 → 0.88 (English) with precision
/// unchanged at 1.000; a margin of 0.1 finds more (0.97 / 0.94) but clusters twice as many new
/// real-news pairs, more of them template siblings.
pub const COVERAGE_MARGIN: f64 = 0.2;

/// The exact score of two documents: Jaccard of the shingle sets; containment in each direction
/// as the larger of the shared share of its shingles and the share of its tokens inside shared
/// shingles less [`COVERAGE_MARGIN`] ([`token_coverage`]); and their numbers.
pub fn score_docs_in(a: &DocSets, b: &DocSets, scratch: &mut ScoreScratch) -> Score {
    let (fa, fb) = (&mut scratch.shared_a, &mut scratch.shared_b);
    fa.clear();
    fa.resize(a.shingles.len(), false);
    fb.clear();
    fb.resize(b.shingles.len(), false);
    // One merge marks the shared shingles and counts them, without branches on the values
    // (which way a merge step goes is a coin toss the branch predictor loses).
    let (sa, sb) = (&a.shingles[..], &b.shingles[..]);
    let (mut i, mut j, mut inter) = (0, 0, 0usize);
    while i < sa.len() && j < sb.len() {
        let (x, y) = (sa[i], sb[j]);
        let equal = x == y;
        fa[i] |= equal;
        fb[j] |= equal;
        inter += usize::from(equal);
        i += usize::from(x <= y);
        j += usize::from(y <= x);
    }
    let base = score_counts(a.shingles.len(), b.shingles.len(), inter);
    // Coverage less the margin can only win below 1 - margin.
    let inside = |shingles: f64, d: &DocSets, shared: &[bool]| {
        if shingles >= 1.0 - COVERAGE_MARGIN {
            shingles
        } else {
            shingles.max(token_coverage(&d.order, shared, d.span as usize) - COVERAGE_MARGIN)
        }
    };
    let numbers = Numbers::of(a, b);
    Score {
        a_in_b: inside(base.a_in_b, a, fa),
        b_in_a: inside(base.b_in_a, b, fb),
        a_numbers_in_b: numbers.a_covered(),
        b_numbers_in_a: numbers.b_covered(),
        numbers_agree: numbers.agree(),
        ..base
    }
}

/// The numbers of two documents and how many they share (one merge for every rule on them).
struct Numbers {
    a: usize,
    b: usize,
    shared: usize,
    shingles_a: usize,
    shingles_b: usize,
}

impl Numbers {
    fn of(a: &DocSets, b: &DocSets) -> Self {
        Numbers {
            a: a.numbers.len(),
            b: b.numbers.len(),
            shared: intersection_len(&a.numbers, &b.numbers),
            shingles_a: a.shingles.len(),
            shingles_b: b.shingles.len(),
        }
    }

    /// [`numbers_covered`]`(b, a)`.
    fn a_covered(&self) -> bool {
        (self.a - self.shared) * 4 <= self.a
    }

    /// [`numbers_covered`]`(a, b)`.
    fn b_covered(&self) -> bool {
        (self.b - self.shared) * 4 <= self.b
    }

    /// [`numbers_agree`].
    fn agree(&self) -> bool {
        let fits = |n: usize, shingles: usize| {
            let missing = n - self.shared;
            missing * 4 <= n || missing * SHINGLES_PER_MISSING_NUMBER < shingles
        };
        fits(self.a, self.shingles_a) || fits(self.b, self.shingles_b)
    }
}

/// The documents' sets built by earlier [`Verifier::exact_scores`] calls of a run, kept up to
/// [`CACHE_BYTES`]: the cluster stage scores members against centres that verification has
/// just read, round after round, and `tune` verifies the same candidates once per setting.
/// Valid for one corpus, one set of sketch parameters and one boilerplate exclusion (one
/// [`crate::pipeline::Context`]).
///
/// Within a call the cache only fills (a pass over more sets than the budget keeps the first
/// ones, not a churn of the last); a later call makes room by evicting the sets that went
/// unused longest, so the cluster stage's rounds, each scoring what is left of a component
/// against a new centre, find the sets the round before built.
#[derive(Default)]
pub(crate) struct SetCache {
    /// Sorted by document.
    sets: Vec<Cached>,
    bytes: usize,
    /// The current call's number.
    call: u64,
    /// One flag per document of the corpus: in the batch being built. Kept between calls and
    /// cleared entry by entry, not allocated per call: the cluster stage makes thousands of
    /// calls, most for a handful of pairs.
    in_batch: Vec<bool>,
}

/// One document's sets in the [`SetCache`].
struct Cached {
    doc: u32,
    sets: DocSets,
    /// The call that last used them.
    used: u64,
}

impl SetCache {
    fn position(&self, d: u32) -> Option<usize> {
        self.sets.binary_search_by_key(&d, |e| e.doc).ok()
    }

    fn get(&self, d: u32) -> Option<&DocSets> {
        Some(&self.sets[self.position(d)?].sets)
    }

    /// Start a call on a corpus of `docs` documents.
    fn begin_call(&mut self, docs: usize) {
        self.call += 1;
        if self.in_batch.len() != docs {
            self.in_batch = vec![false; docs];
        }
    }

    /// Whether the cache holds `d`'s sets, marking them used by this call.
    fn touch(&mut self, d: u32) -> bool {
        let call = self.call;
        self.position(d).map(|i| self.sets[i].used = call).is_some()
    }

    /// Keep the sets of `docs` while the budget lasts.
    fn keep(&mut self, docs: &[u32], sets: Vec<DocSets>) {
        self.keep_within(docs, sets, CACHE_BYTES)
    }

    /// (`docs` are not in the cache: only documents it lacked are built.)
    fn keep_within(&mut self, docs: &[u32], sets: Vec<DocSets>, budget: usize) {
        let incoming: usize = sets.iter().map(DocSets::heap_bytes).sum();
        if self.bytes + incoming > budget {
            self.evict_to((budget / 4 * 3).saturating_sub(incoming));
        }
        let before = self.sets.len();
        for (&doc, sets) in docs.iter().zip(sets) {
            let size = sets.heap_bytes();
            if self.bytes + size > budget {
                continue;
            }
            self.bytes += size;
            let used = self.call;
            self.sets.push(Cached { doc, sets, used });
        }
        if self.sets.len() > before {
            // Two sorted runs (documents are unique): the stable sort finds them and merges.
            self.sets.sort_by_key(|e| e.doc);
        }
    }

    /// Evict sets that earlier calls used, longest unused first (then by document), until at
    /// most `target` bytes are held or only this call's sets are left. Making room for three
    /// quarters of the budget, not just for the new sets, makes an eviction now and then rather
    /// than one per batch.
    fn evict_to(&mut self, target: usize) {
        let mut old: Vec<(u64, u32)> = (self.sets.iter())
            .filter(|e| e.used < self.call)
            .map(|e| (e.used, e.doc))
            .collect();
        old.sort_unstable();
        let mut bytes = self.bytes;
        let cut = old
            .iter()
            .take_while(|&&(_, d)| {
                let evict = bytes > target;
                if evict {
                    bytes -= self.get(d).map_or(0, DocSets::heap_bytes);
                }
                evict
            })
            .count();
        if cut == 0 {
            return;
        }
        // The last call evicted: everything used before it goes, and from it the documents
        // up to the last one taken.
        let (last_call, last_doc) = old[cut - 1];
        self.sets
            .retain(|e| e.used > last_call || (e.used == last_call && e.doc > last_doc));
        self.bytes = bytes;
    }
}

/// What verification needs to rebuild shingle sets: the corpus, the sketch parameters, the
/// cancel flag, and the sets already built in this run.
pub(crate) struct Verifier<'a> {
    pub corpus: &'a Corpus,
    pub params: SketchParams,
    /// Line hashes left out of shingling (sorted; boilerplate).
    pub exclude: &'a [u64],
    /// The bitset most lines are told apart from `exclude` by ([`crate::sketch::LineFilter`]);
    /// built from `exclude` itself (a filter of another list would keep lines it should not).
    pub exclude_filter: crate::sketch::LineFilter,
    pub cancel: &'a AtomicBool,
    pub cache: &'a std::sync::Mutex<SetCache>,
    /// Pass 1's token hashes of the corpus ([`crate::tokens`]), read instead of normalising a
    /// text again where they are there.
    pub tokens: Option<std::sync::Arc<crate::tokens::TokenStore>>,
}

impl Verifier<'_> {
    /// Exact scores of `pairs`, in order. Shingle sets are rebuilt per batch, except those the
    /// run's [`SetCache`] holds.
    pub fn exact_scores(&self, pairs: &[Pair], progress: &dyn Progress) -> Result<Vec<Score>> {
        let (corpus, params, cancel) = (self.corpus, self.params, self.cancel);
        let tokens = self.tokens.as_deref();
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.begin_call(corpus.docs.len());
        let mut out = Vec::with_capacity(pairs.len());
        // Which documents the current batch already holds (reset after each batch).
        let mut in_batch = std::mem::take(&mut cache.in_batch);
        let mut start = 0;
        while start < pairs.len() {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Interrupted);
            }
            // Grow the batch until it has enough pairs or enough text.
            let mut docs: Vec<u32> = Vec::new();
            let mut bytes = 0u64;
            let mut end = start;
            while end < pairs.len() && end - start < BATCH_PAIRS && bytes < BATCH_TEXT_BYTES {
                for d in [pairs[end].0, pairs[end].1] {
                    if !cache.touch(d) && !std::mem::replace(&mut in_batch[d as usize], true) {
                        docs.push(d);
                        bytes += corpus.text_len(&corpus.docs[d as usize]);
                    }
                }
                end += 1;
            }
            docs.sort_unstable();
            for &d in &docs {
                in_batch[d as usize] = false;
            }
            let sets: Vec<DocSets> = docs
                .par_iter()
                .map_init(
                    || (Sketcher::new(params), DocSets::default(), Vec::new()),
                    |(sk, scratch, record), &d| {
                        let mut buf = std::mem::take(&mut sk.text_buf);
                        let src = match tokens.and_then(|s| s.get(d as usize, record)) {
                            Some(stored) => Source::Stored(stored),
                            None => Source::Text(corpus.text(&corpus.docs[d as usize], &mut buf)),
                        };
                        // Built in reused buffers, then exact-size allocations: no chain of
                        // reallocations per document (which contend in the allocator).
                        let exclude =
                            crate::sketch::Exclude::with_filter(self.exclude, &self.exclude_filter);
                        sk.doc_sets_from(src, exclude, scratch);
                        sk.text_buf = buf;
                        DocSets {
                            shingles: scratch.shingles.to_vec(),
                            order: scratch.order.to_vec(),
                            span: scratch.span,
                            numbers: scratch.numbers.to_vec(),
                        }
                    },
                )
                .collect();
            let cached = &*cache;
            let set_of = |d: u32| {
                cached
                    .get(d)
                    .unwrap_or_else(|| &sets[docs.binary_search(&d).expect("doc in batch")])
            };
            let scored: Vec<Score> = pairs[start..end]
                .par_iter()
                .map_init(ScoreScratch::default, |scratch, &(a, b)| {
                    score_docs_in(set_of(a), set_of(b), scratch)
                })
                .collect();
            out.extend(scored);
            cache.keep(&docs, sets);
            progress.advance((end - start) as u64);
            start = end;
        }
        cache.in_batch = in_batch;
        Ok(out)
    }

    /// Verify candidate pairs; returns the accepted edges (those `criterion` matches).
    /// `estimate(a, b)` gives the MinHash estimate of a pair (e.g. [`crate::Sketches::estimate`]).
    pub fn verify_candidates(
        &self,
        pairs: &[Pair],
        estimate: &(dyn Fn(u32, u32) -> Score + Sync),
        criterion: &Criterion,
        mode: Verify,
        progress: &dyn Progress,
    ) -> Result<(Vec<Edge>, VerifyStats)> {
        let mut stats = VerifyStats {
            candidate_pairs: pairs.len() as u64,
            ..Default::default()
        };
        progress.begin(Stage::Verify, pairs.len() as u64);
        let estimates: Vec<Score> = pairs.par_iter().map(|&(a, b)| estimate(a, b)).collect();
        let edges = match mode {
            Verify::Estimate => {
                progress.advance(pairs.len() as u64);
                pairs
                    .iter()
                    .zip(&estimates)
                    .filter(|(_, e)| criterion.matches(e).is_some())
                    .map(|(&(a, b), &score)| Edge { a, b, score })
                    .collect()
            }
            Verify::Exact => {
                let keep: Vec<Pair> = pairs
                    .iter()
                    .zip(&estimates)
                    .filter(|(_, e)| criterion.plausible(e))
                    .map(|(&p, _)| p)
                    .collect();
                stats.rejected_by_estimate = (pairs.len() - keep.len()) as u64;
                progress.advance(stats.rejected_by_estimate);
                stats.verified_exactly = keep.len() as u64;
                let scores = self.exact_scores(&keep, progress)?;
                for s in &scores {
                    stats.count_score(criterion.best_score(s));
                }
                keep.into_iter()
                    .zip(scores)
                    .filter(|(_, s)| criterion.matches(s).is_some())
                    .map(|((a, b), score)| Edge { a, b, score })
                    .collect::<Vec<Edge>>()
            }
        };
        stats.accepted = edges.len() as u64;
        progress.end();
        Ok((edges, stats))
    }
}

/// The numbers of `text` into `out` (sorted, unique hashes); see [`push_numbers`].
pub fn numbers_of(text: &str, out: &mut Vec<u64>) {
    out.clear();
    push_numbers(text, out);
    out.sort_unstable();
    out.dedup();
}

/// Appends the hashes of the numbers in `text` to `out` (unsorted): every run of digits that is
/// a word of its own (no letter or digit of another script right before or after it), with
/// Arabic-Indic, Persian and full-width digits read as ASCII ones (as the normaliser folds
/// them). Digit groups joined by one decimal or thousands separator (`.` `,` `٫` `٬`) are one
/// number, whichever separator is used: `1,518,700`, `2.65` and `٢٫٦٥` are one number each, so
/// `2.65` and `2.40` differ. A scan of the bytes that decodes characters only around digits: a
/// number is a number whatever the case or diacritics of the words around it.
pub fn push_numbers(text: &str, out: &mut Vec<u64>) {
    /// The ASCII digit at byte `i` and its width in bytes.
    fn digit_at(b: &[u8], i: usize) -> Option<(u8, usize)> {
        match *b.get(i)? {
            d @ b'0'..=b'9' => Some((d, 1)),
            0xD9 => match b.get(i + 1) {
                Some(&x @ 0xA0..=0xA9) => Some((b'0' + x - 0xA0, 2)), // U+0660..U+0669
                _ => None,
            },
            0xDB => match b.get(i + 1) {
                Some(&x @ 0xB0..=0xB9) => Some((b'0' + x - 0xB0, 2)), // U+06F0..U+06F9
                _ => None,
            },
            0xEF => match (b.get(i + 1), b.get(i + 2)) {
                (Some(0xBC), Some(&x @ 0x90..=0x99)) => Some((b'0' + x - 0x90, 3)), // U+FF10..
                _ => None,
            },
            _ => None,
        }
    }
    /// The width of a decimal or thousands separator at byte `i`, if there is one.
    fn separator_at(b: &[u8], i: usize) -> Option<usize> {
        match (b.get(i)?, b.get(i + 1)) {
            (b'.' | b',', _) => Some(1),
            (0xD9, Some(0xAB | 0xAC)) => Some(2), // U+066B, U+066C
            _ => None,
        }
    }
    /// Bytes that may start a digit (ASCII digits and the lead bytes of the others): every
    /// other byte is skipped with one lookup.
    const STARTS: [bool; 256] = {
        let mut t = [false; 256];
        let mut d = b'0';
        while d <= b'9' {
            t[d as usize] = true;
            d += 1;
        }
        t[0xD9] = true;
        t[0xDB] = true;
        t[0xEF] = true;
        t
    };
    let b = text.as_bytes();
    let mut run = [0u8; 48];
    let mut i = 0;
    while i < b.len() {
        i = digits::next_candidate(b, i);
        if i == b.len() {
            break;
        }
        if !STARTS[b[i] as usize] || digit_at(b, i).is_none() {
            i += 1;
            continue;
        }
        let start = i;
        let mut len = 0;
        loop {
            while let Some((d, w)) = digit_at(b, i) {
                if len < run.len() {
                    run[len] = d;
                }
                len += 1;
                i += w;
            }
            match separator_at(b, i) {
                Some(w) if digit_at(b, i + w).is_some() => {
                    if len < run.len() {
                        run[len] = b'.';
                    }
                    len += 1;
                    i += w;
                }
                _ => break,
            }
        }
        let alnum = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
        if len <= run.len()
            && !alnum(text[..start].chars().next_back())
            && !alnum(text[i..].chars().next())
        {
            out.push(xxhash_rust::xxh3::xxh3_64(&run[..len]));
        }
    }
}

/// Finding where digits may start, 16 bytes at a time.
mod digits {
    /// The first position at or after `i` where a digit may start (an ASCII digit, an
    /// Arabic-Indic or Persian digit's lead byte followed by a digit's second byte, or the
    /// lead byte of a fullwidth character), or `b.len()`. Every digit position is a candidate;
    /// the caller checks each candidate.
    #[inline]
    pub(super) fn next_candidate(b: &[u8], mut i: usize) -> usize {
        #[cfg(target_arch = "x86_64")]
        while i + 17 <= b.len() {
            // SAFETY: 17 bytes are readable at i; SSE2 is part of x86-64.
            let mask = unsafe { sse2::block(b.as_ptr().add(i)) };
            if mask != 0 {
                return i + mask.trailing_zeros() as usize;
            }
            i += 16;
        }
        while i < b.len() && !is_candidate(b, i) {
            i += 1;
        }
        i.min(b.len())
    }

    /// The scalar definition of a candidate.
    #[inline]
    pub(super) fn is_candidate(b: &[u8], i: usize) -> bool {
        let next = b.get(i + 1).copied().unwrap_or(0);
        match b[i] {
            b'0'..=b'9' | 0xEF => true,
            0xD9 => (0xA0..=0xA9).contains(&next),
            0xDB => (0xB0..=0xB9).contains(&next),
            _ => false,
        }
    }

    #[cfg(target_arch = "x86_64")]
    mod sse2 {
        use std::arch::x86_64::*;

        /// Bytes in `[lo, hi]` (unsigned), as a byte mask.
        #[inline]
        #[target_feature(enable = "sse2")]
        fn in_range(v: __m128i, lo: u8, hi: u8) -> __m128i {
            // v - lo <= hi - lo, unsigned.
            let d = _mm_sub_epi8(v, _mm_set1_epi8(lo as i8));
            _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8((hi - lo) as i8)), d)
        }

        /// Candidate bytes among the 16 at `p`, as a bit mask.
        ///
        /// # Safety
        /// 17 bytes must be readable at `p`.
        #[inline]
        #[target_feature(enable = "sse2")]
        fn eq(v: __m128i, b: u8) -> __m128i {
            _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8))
        }

        #[inline]
        #[target_feature(enable = "sse2")]
        pub(super) unsafe fn block(p: *const u8) -> u32 {
            // SAFETY: the caller guarantees 17 readable bytes (SSE2 is part of x86-64).
            let (v, next) = unsafe {
                (
                    _mm_loadu_si128(p as *const __m128i),
                    _mm_loadu_si128(p.add(1) as *const __m128i),
                )
            };
            let m = _mm_or_si128(
                _mm_or_si128(in_range(v, b'0', b'9'), eq(v, 0xEF)),
                _mm_or_si128(
                    _mm_and_si128(eq(v, 0xD9), in_range(next, 0xA0, 0xA9)),
                    _mm_and_si128(eq(v, 0xDB), in_range(next, 0xB0, 0xB9)),
                ),
            );
            _mm_movemask_epi8(m) as u32
        }
    }
}

/// Whether a document (`keep`, sorted number hashes) has another's (`member`) numbers: at most
/// a quarter of the member's distinct numbers are missing from it. Two texts from one template
/// (two companies' dividend notices, two weeks' shipment reports, two relief flights) differ
/// exactly in their numbers. A member without numbers is covered.
pub fn numbers_covered(keep: &[u64], member: &[u64]) -> bool {
    let missing = member.len() - intersection_len(keep, member);
    missing * 4 <= member.len()
}

/// A text differs from another in its facts when over a quarter of its numbers are not in the
/// other *and* those missing numbers are a noticeable part of the text: at least one per
/// [`SHINGLES_PER_MISSING_NUMBER`] shingles (40 tolerated two weeks' grain-shipment reports,
/// 90 shingles with two other figures; 60 loses heavily edited copies whose edits put a random
/// figure into the text). Two texts from one template differ mostly in
/// their numbers (a dividend notice of 11 words with two other dates); a copy carries a
/// timestamp or a year in its header, and two editions of a book number their pages
/// differently, which is little beside their text.
pub const SHINGLES_PER_MISSING_NUMBER: usize = 50;

/// Whether two documents state the same facts: for at least one of them, its numbers are in
/// the other, or the ones missing are few beside its text (see
/// [`SHINGLES_PER_MISSING_NUMBER`]). Pairs that disagree are never duplicates.
pub fn numbers_agree(a: &DocSets, b: &DocSets) -> bool {
    let fits = |x: &DocSets, y: &DocSets| {
        let missing = x.numbers.len() - intersection_len(&y.numbers, &x.numbers);
        missing * 4 <= x.numbers.len() || missing * SHINGLES_PER_MISSING_NUMBER < x.shingles.len()
    };
    fits(a, b) || fits(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn doc_sets(shingles: Vec<u64>, numbers: Vec<u64>) -> DocSets {
        let mut shingles = shingles;
        shingles.sort_unstable();
        shingles.dedup();
        let mut numbers = numbers;
        numbers.sort_unstable();
        numbers.dedup();
        DocSets {
            order: (0..shingles.len() as u32).collect(),
            shingles,
            span: 3,
            numbers,
        }
    }

    proptest! {
        /// The vector search for digits finds the first candidate the scalar rule finds, from
        /// every offset, on text full of Arabic letters (lead byte 0xD9 too) and digits.
        #[test]
        fn digit_candidates_vector_and_scalar_agree(
            s in "[a-z0-9 .,\u{0621}-\u{064A}\u{0660}-\u{066C}\u{06F0}-\u{06F9}\u{FF10}-\u{FF19}\u{00E9}]{0,80}"
        ) {
            let b = s.as_bytes();
            for i in 0..=b.len() {
                let scalar = (i..b.len()).find(|&j| digits::is_candidate(b, j)).unwrap_or(b.len());
                prop_assert_eq!(digits::next_candidate(b, i), scalar, "from {}", i);
            }
        }

        /// The one-merge score gives what the reference rules give separately.
        #[test]
        fn one_merge_score_matches_the_separate_rules(
            sa in proptest::collection::vec(0u64..60, 0..80),
            sb in proptest::collection::vec(0u64..60, 0..80),
            na in proptest::collection::vec(0u64..12, 0..10),
            nb in proptest::collection::vec(0u64..12, 0..10),
        ) {
            let (a, b) = (doc_sets(sa, na), doc_sets(sb, nb));
            let s = score_docs(&a, &b);
            let base = score_sets(&a.shingles, &b.shingles);
            prop_assert_eq!(s.jaccard, base.jaccard);
            prop_assert_eq!((s.size_a, s.size_b), (base.size_a, base.size_b));
            prop_assert!(s.a_in_b >= base.a_in_b && s.b_in_a >= base.b_in_a);
            prop_assert_eq!(s.a_numbers_in_b, numbers_covered(&b.numbers, &a.numbers));
            prop_assert_eq!(s.b_numbers_in_a, numbers_covered(&a.numbers, &b.numbers));
            prop_assert_eq!(s.numbers_agree, numbers_agree(&a, &b));
        }
    }

    /// Scores read from the run's cache are the scores built from the texts, and only what the
    /// budget allows is kept.
    #[test]
    fn cached_sets_give_the_scores_built_from_the_texts() {
        use crate::config::ScanConfig;
        use crate::pipeline::{self, Context};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docs.jsonl");
        let article = "the council approved the new budget for schools and roads on monday after \
                       a long debate about taxes and the cost of repairs in the old town";
        let texts = [
            article.to_string(),
            format!("{article} said the mayor 2024"),
            format!("breaking {article}"),
            "a different story about football results and the league table this week".into(),
        ];
        let lines: Vec<String> = texts
            .iter()
            .map(|t| serde_json::json!({ "text": t }).to_string())
            .collect();
        std::fs::write(&path, lines.join("\n")).unwrap();
        let cfg = ScanConfig::new(vec![path]).validate().unwrap();
        let cancel = AtomicBool::new(false);
        let cx = Context::new(&cfg, &crate::progress::NoProgress, &cancel);
        let corpus = pipeline::read(&cx).unwrap();
        let bp = crate::boilerplate::Boilerplate::default();
        let verifier = cx.verifier(&corpus, &bp);
        let pairs = [(0, 1), (0, 2), (1, 3)];
        let first = verifier
            .exact_scores(&pairs, &crate::progress::NoProgress)
            .unwrap();
        assert_eq!(verifier.cache.lock().unwrap().sets.len(), 4);
        let again = verifier
            .exact_scores(&[(1, 2), (0, 1)], &crate::progress::NoProgress)
            .unwrap();
        let mut sk = Sketcher::new(verifier.params);
        let sets: Vec<DocSets> = texts
            .iter()
            .map(|t| {
                let mut s = DocSets::default();
                sk.doc_sets(t, &[], &mut s);
                s
            })
            .collect();
        for (&(a, b), got) in pairs.iter().zip(&first) {
            assert_eq!(*got, score_docs(&sets[a as usize], &sets[b as usize]));
        }
        assert_eq!(again[0], score_docs(&sets[1], &sets[2]));
        assert_eq!(again[1], first[0]);
        assert!(first[0].jaccard > 0.7 && first[2].jaccard < 0.1);
        // The budget: the second set does not fit after the first.
        let mut small = SetCache::default();
        let budget = sets[0].heap_bytes() + 1;
        small.keep_within(&[0, 1], sets[..2].to_vec(), budget);
        assert_eq!((small.sets.len(), small.bytes), (1, sets[0].heap_bytes()));
    }

    /// A later call makes room by evicting what went unused longest; a call never evicts its
    /// own sets (a pass over more than the budget keeps its first sets, not its last).
    #[test]
    fn the_cache_evicts_the_sets_unused_longest_and_never_the_current_calls() {
        let set = |n: u64| DocSets {
            shingles: (0..n).collect(),
            order: (0..n as u32).collect(),
            span: 5,
            numbers: Vec::new(),
        };
        let size = set(10).heap_bytes();
        let budget = 3 * size;
        let mut cache = SetCache::default();
        cache.begin_call(8);
        cache.keep_within(&[0, 1, 2], vec![set(10), set(10), set(10)], budget);
        // Full within the call: a fourth set is not kept, and none of the three goes.
        cache.keep_within(&[3], vec![set(10)], budget);
        let docs = |c: &SetCache| c.sets.iter().map(|e| e.doc).collect::<Vec<_>>();
        assert_eq!(docs(&cache), [0, 1, 2]);
        // The next call uses 2, then 0, and brings two new sets: 1 went unused longest, then 2
        // and 0 were used in this call, so only 1 can go, and one new set fits.
        cache.begin_call(8);
        assert!(cache.touch(2) && cache.touch(0) && !cache.touch(5));
        cache.keep_within(&[5, 6], vec![set(10), set(10)], budget);
        assert_eq!(docs(&cache), [0, 2, 5]);
        assert_eq!(cache.bytes, budget);
        // A third call that touches nothing: the oldest go first (by call, then document)
        // until the new sets fit within three quarters of the budget.
        cache.begin_call(8);
        cache.keep_within(&[7], vec![set(10)], budget);
        assert_eq!(docs(&cache), [5, 7]);
        assert_eq!(cache.get(7).map(|s| s.shingles.len()), Some(10));
        assert!(cache.get(0).is_none());
    }

    #[test]
    fn score_sets_computes_jaccard_and_containment() {
        let a = [1, 2, 3, 4];
        let b = [3, 4, 5, 6, 7, 8];
        let s = score_sets(&a, &b);
        assert!((s.jaccard - 2.0 / 8.0).abs() < 1e-12);
        assert!((s.containment() - 2.0 / 4.0).abs() < 1e-12);
        assert!((s.a_in_b - 2.0 / 4.0).abs() < 1e-12);
        assert!((s.b_in_a - 2.0 / 6.0).abs() < 1e-12);
        assert_eq!(s.swapped().a_in_b, s.b_in_a);
        assert_eq!(score_sets(&a, &[]).jaccard, 0.0);
        assert_eq!(score_sets(&a, &a).jaccard, 1.0);
    }

    /// Jaccard at 0.5, containment at 0.8, and a teaser of 40 shingles 95 % inside an article of
    /// 190.
    fn criterion_and_teaser() -> (Criterion, Score) {
        let c = Criterion {
            jaccard: 0.5,
            containment: Some(0.8),
        };
        let teaser = Score {
            jaccard: 0.2,
            a_in_b: 0.95,
            b_in_a: 0.2,
            size_a: 40,
            size_b: 190,
            ..Score::IDENTICAL
        };
        (c, teaser)
    }

    #[test]
    fn criterion_accepts_containment_only_for_big_enough_documents() {
        let (c, teaser) = criterion_and_teaser();
        assert_eq!(c.matches(&teaser), Some(MatchKind::Containment));
        // The article covers its teaser; the teaser does not cover the article.
        assert!(teaser.swapped().a_covers_b(&c));
        assert!(!teaser.a_covers_b(&c));
        let tiny = Score {
            size_a: 5,
            ..teaser
        };
        assert_eq!(c.matches(&tiny), None);
        assert!(!tiny.swapped().a_covers_b(&c));
        let copy = Score {
            jaccard: 0.7,
            a_in_b: 0.8,
            b_in_a: 0.8,
            size_a: 5,
            size_b: 5,
            a_numbers_in_b: true,
            b_numbers_in_a: true,
            numbers_agree: true,
        };
        assert_eq!(c.matches(&copy), Some(MatchKind::Jaccard));
        let off = Criterion {
            containment: None,
            ..c
        };
        assert_eq!(off.matches(&teaser), None);
    }

    #[test]
    fn verified_pairs_are_counted_by_the_score_the_criterion_reads() {
        let (c, teaser) = criterion_and_teaser();
        // Containment counts for a big enough document, and only with containment on.
        assert_eq!(c.best_score(&teaser), 0.95);
        let off = Criterion {
            containment: None,
            ..c
        };
        assert_eq!(off.best_score(&teaser), 0.2);
        let tiny = Score {
            size_a: MIN_CONTAINMENT_SHINGLES - 1,
            ..teaser
        };
        assert_eq!(c.best_score(&tiny), 0.2);
        let mut stats = VerifyStats::default();
        for score in [0.0, 0.05, 0.1, 0.2, 0.599, 0.6, 0.95, 1.0] {
            stats.count_score(score);
        }
        assert_eq!(stats.verified_by_score, [2, 1, 1, 0, 0, 1, 1, 0, 0, 2]);
        // Stats of two parts add up tenth by tenth.
        let mut sum = stats;
        sum += stats;
        assert_eq!(sum.verified_by_score, [4, 2, 2, 0, 0, 2, 2, 0, 0, 4]);
    }

    #[test]
    fn an_estimate_is_plausible_by_containment_only_where_containment_can_count() {
        let c = Criterion {
            jaccard: 0.5,
            containment: Some(0.8),
        };
        let est = |jaccard: f64, size_a: u32, size_b: u32| Score {
            jaccard,
            a_in_b: 0.9,
            b_in_a: 0.2,
            size_a,
            size_b,
            ..Score::IDENTICAL
        };
        assert!(c.plausible(&est(0.2, MIN_CONTAINMENT_SHINGLES, 190)));
        // The smaller document emitted too few shingles to have enough distinct ones.
        assert!(!c.plausible(&est(0.2, MIN_CONTAINMENT_SHINGLES - 1, 190)));
        assert!(!c.plausible(&est(0.2, 190, MIN_CONTAINMENT_SHINGLES - 1)));
        // A short pair is still verified for Jaccard.
        assert!(c.plausible(&est(0.3, 5, 5)));
        assert!(!c.plausible(&est(0.29, 5, 5)));
        // Whatever the sizes, the containment estimate must come near the threshold.
        let far = Score {
            a_in_b: 0.59,
            ..est(0.2, 40, 190)
        };
        assert!(!c.plausible(&far));
    }

    #[test]
    fn containment_estimate_from_signatures_tracks_the_truth() {
        // A teaser of 60 shingles inside an article of 300: J = 0.2, C = 1.
        use crate::minhash::OphSketch;
        let sig = |items: std::ops::Range<u64>| {
            let mut o = OphSketch::new(256);
            for x in items {
                o.update(xxhash_rust::xxh3::xxh3_64(&x.to_le_bytes()));
            }
            let mut out = vec![0; 256];
            o.finish_into(3, &mut out);
            out
        };
        let s = estimate_score(&sig(0..60), &sig(0..300), 60, 300);
        assert!((s.jaccard - 0.2).abs() < 0.08, "{s:?}");
        assert!(s.containment() > 0.7, "{s:?}");
        assert!(s.a_in_b > 0.7 && s.b_in_a < 0.35, "{s:?}");
    }

    #[test]
    fn a_teaser_is_fully_contained_in_its_article() {
        let article: Vec<u64> = (0..100).collect();
        let teaser: Vec<u64> = (0..20).collect();
        let s = score_sets(&teaser, &article);
        assert_eq!(s.containment(), 1.0);
        assert_eq!((s.a_in_b, s.b_in_a), (1.0, 0.2));
        assert!((s.jaccard - 0.2).abs() < 1e-12);
    }

    #[test]
    fn a_member_is_covered_only_when_the_kept_document_has_its_numbers() {
        let h = |s: &[&str]| {
            let mut v: Vec<u64> = s
                .iter()
                .map(|x| xxhash_rust::xxh3::xxh3_64(x.as_bytes()))
                .collect();
            v.sort_unstable();
            v
        };
        // Two dividend notices from one template: 13 is not in the kept one.
        assert!(!numbers_covered(&h(&["25", "30", "16"]), &h(&["25", "13"])));
        // A reprint that dropped one of four figures, and one without numbers: covered.
        assert!(numbers_covered(
            &h(&["2015", "10", "3", "7"]),
            &h(&["2015", "10", "3"])
        ));
        // One of four may be missing, not one of three.
        assert!(numbers_covered(
            &h(&["1", "2", "3", "4"]),
            &h(&["1", "2", "3", "9"])
        ));
        assert!(!numbers_covered(&h(&["1", "2", "3"]), &h(&["1", "2", "9"])));
        assert!(numbers_covered(&h(&["5"]), &[]));
        assert!(!numbers_covered(&[], &h(&["5"])));
    }

    #[test]
    fn numbers_are_digit_only_words_with_arabic_digits_folded() {
        let mut a = Vec::new();
        numbers_of(
            "Pay April 30, record ١٦; PageV01P023 and 3rd, 2015-07",
            &mut a,
        );
        let mut b = Vec::new();
        numbers_of("2015 07 16 30", &mut b);
        assert_eq!(a, b);
        numbers_of("no numbers here, only words", &mut a);
        assert!(a.is_empty());
    }

    const DEFAULTS: Criterion = Criterion {
        jaccard: 0.5,
        containment: Some(0.6),
    };

    fn sets(shingles: usize, numbers: &[&str]) -> DocSets {
        let mut n: Vec<u64> = numbers
            .iter()
            .map(|x| xxhash_rust::xxh3::xxh3_64(x.as_bytes()))
            .collect();
        n.sort_unstable();
        DocSets {
            shingles: (0..shingles as u64).collect(),
            order: (0..shingles as u32).collect(),
            span: 5,
            numbers: n,
        }
    }

    #[test]
    fn token_coverage_counts_words_inside_shared_shingles() {
        // Ten 5-gram windows over 14 tokens; windows 0..=2 and 7..=9 shared (one changed word
        // at token 5 or 6 breaks the windows through it): tokens 0..=6 and 7..=13 covered.
        let shared: Vec<bool> = (0..10).map(|j| j <= 2 || j >= 7).collect();
        let order: Vec<u32> = (0..10).collect();
        assert_eq!(token_coverage(&order, &shared, 5), 14.0 / 14.0);
        // Only the first three windows: tokens 0..=6 of 14.
        let first: Vec<bool> = (0..10).map(|j| j <= 2).collect();
        assert_eq!(token_coverage(&order, &first, 5), 7.0 / 14.0);
        assert_eq!(token_coverage(&[], &[], 5), 0.0);
        // A copy with one word in ten changed: shingle containment ~0.5, coverage 0.9 (0.7
        // after the margin).
        let mut a = sets(0, &[]);
        a.span = 5;
        let n = 96u32; // 100 tokens
        a.shingles = (0..n as u64).collect();
        a.order = (0..n).collect();
        let mut b = a.clone();
        // Changing tokens 9, 19, …, 99 breaks every window through them.
        b.shingles
            .retain(|&j| !(0..10).any(|k| (j..j + 5).contains(&(10 * k + 9))));
        let s = score_docs(&a, &b);
        assert!(s.a_in_b > 0.65 && s.a_in_b < 0.75, "{s:?}");
        assert!(score_sets(&a.shingles, &b.shingles).a_in_b < 0.55);
    }

    #[test]
    fn template_twins_disagree_on_their_numbers_and_never_match() {
        // Two dividend notices of 11 shingles: other pay and record dates.
        let a = sets(11, &["25", "30", "16"]);
        let b = sets(11, &["25", "13"]);
        assert!(!numbers_agree(&a, &b));
        let s = score_docs(&a, &b);
        assert_eq!(s.jaccard, 1.0);
        assert_eq!(DEFAULTS.matches(&s), None);
        assert!(!s.a_covers_b(&DEFAULTS));
        // A long copy with a timestamp of its own in its header: two numbers beside 200
        // shingles of text are not other facts.
        let copy = sets(200, &["10", "42", "1987", "3.5"]);
        let original = sets(230, &["1987", "3.5"]);
        assert!(numbers_agree(&copy, &original));
        let s = score_docs(&copy, &original);
        assert_eq!(DEFAULTS.matches(&s), Some(MatchKind::Jaccard), "{s:?}");
        // Still, `clean` keeps the copy: the original lacks half of its numbers.
        assert!(!s.swapped().a_covers_b(&DEFAULTS));
        assert!(s.a_covers_b(&DEFAULTS));
        // One number of two missing is a tolerated slip in 60 shingles of text, not in 30.
        assert!(numbers_agree(
            &sets(60, &["10", "42", "1987"]),
            &sets(60, &["1987", "7"])
        ));
        assert!(!numbers_agree(
            &sets(30, &["10", "42", "1987"]),
            &sets(30, &["1987", "7"])
        ));
    }

    #[test]
    fn grouped_and_decimal_numbers_are_one_number_whatever_the_separator() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        numbers_of("1,518,700 tonnes at 2.65 dlrs", &mut a);
        numbers_of("١٬٥١٨٬٧٠٠ طن و ٢٫٦٥", &mut b);
        assert_eq!(a, b);
        assert_eq!(a.len(), 2);
        numbers_of("2.40 and 1.518.700", &mut b);
        assert_eq!(intersection_len(&a, &b), 1);
        // A full stop after a number is not a decimal point.
        numbers_of("in 2015. Then 7", &mut a);
        numbers_of("2015 7", &mut b);
        assert_eq!(a, b);
    }
}
