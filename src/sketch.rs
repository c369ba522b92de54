//! Stages 1–3 over the whole corpus: normalise → shingle → MinHash, one pass, in parallel.
//!
//! For every document this computes, into flat arrays indexed by [`DocId`]:
//! * the MinHash signature (`num_perm` × `u32`),
//! * a 128-bit xxh3 hash of the normalised token sequence (line breaks ignored, so a reflowed
//!   copy is an exact duplicate), used to group exact duplicates,
//! * the number of normalised tokens (0 = nothing to compare; such documents never cluster).
//!
//! Work is split into blocks of documents filled with `par_chunks_mut`, so the result does not
//! depend on the number of threads. Each thread keeps one [`Sketcher`] (normaliser, shingler,
//! MinHash state, text buffer) for all its documents: no allocation per document or shingle.

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use xxhash_rust::xxh3::Xxh3;

use crate::boilerplate::{self, DocLines, LineEntry};
use crate::config::ScanConfig;
use crate::error::{Error, Result};
use crate::input::{Corpus, DocId};
use crate::minhash::{EMPTY, OphSketch, RunnersUp};
use crate::normalize::{Normalizer, Profile};
use crate::per_thread::PerThread;
use crate::progress::{Progress, Stage};
use crate::shingle::{LineTokens, SetShingler, ShingleKind, Shingler, line_hash_of};
use crate::tokens::{self, TokenStore};

/// The parameters that determine a document's sketch.
#[derive(Clone, Copy, Debug)]
pub struct SketchParams {
    pub profile: Profile,
    pub shingle: ShingleKind,
    pub ngram: usize,
    pub num_perm: usize,
    pub seed: u64,
}

impl SketchParams {
    pub fn from_config(cfg: &ScanConfig) -> Self {
        SketchParams {
            profile: cfg.profile,
            shingle: cfg.shingle,
            ngram: cfg.ngram,
            num_perm: cfg.num_perm,
            seed: cfg.seed,
        }
    }
}

/// Per-document sketches in flat arrays.
pub struct Sketches {
    pub num_perm: usize,
    /// `num_perm` values per document, document `i` at `[i * num_perm, (i + 1) * num_perm)`.
    pub signatures: Vec<u32>,
    /// Hash of the normalised token sequence.
    pub exact: Vec<u128>,
    /// Number of normalised tokens.
    pub tokens: Vec<u32>,
    /// Number of shingles (with repeats; an upper bound of the distinct set's size).
    pub shingles: Vec<u32>,
}

/// What pass 1 leaves pass 2 to patch its signatures with instead of sketching them again
/// ([`Sketcher::resketch_stored`]); part of [`DocLines`].
#[derive(Debug, Default)]
pub(crate) struct Pass1Bins {
    /// Whether shingles filled every bin of document `d`'s pass-1 signature (nothing
    /// densified). Missing (shorter than the corpus) means no.
    pub(crate) full: Vec<bool>,
    /// The runners-up of the long documents whose bins pass 1 filled.
    pub(crate) runners_up: RunnersUpTable,
}

/// Text from which pass 1 keeps a document's runners-up ([`RunnersUp`], 640 bytes at 128
/// values): long documents, where sketching again costs most and a few left-out lines most
/// often take a bin's minimum with them. At most 2 % of the text they describe.
const RUNNERS_UP_BYTES: u64 = 32 << 10;

/// [`RunnersUp`] of some documents, in document order.
#[derive(Debug, Default)]
pub(crate) struct RunnersUpTable {
    docs: Vec<u32>,
    second: Vec<u32>,
    count: Vec<u8>,
}

impl RunnersUpTable {
    /// Add document `d` (after every document already in).
    fn push(&mut self, d: u32, r: &RunnersUp) {
        debug_assert!(self.docs.last().is_none_or(|&l| l < d));
        self.docs.push(d);
        self.second.extend_from_slice(&r.second);
        self.count.extend_from_slice(&r.count);
    }

    /// Add the documents of `other` (all after those already in).
    fn append(&mut self, other: &mut RunnersUpTable) {
        self.docs.append(&mut other.docs);
        self.second.append(&mut other.second);
        self.count.append(&mut other.count);
    }

    /// Document `d`'s runner-up values and minimum counts, `k` each.
    fn get(&self, d: u32, k: usize) -> Option<(&[u32], &[u8])> {
        let i = self.docs.binary_search(&d).ok()?;
        Some((
            &self.second[i * k..(i + 1) * k],
            &self.count[i * k..(i + 1) * k],
        ))
    }
}

impl Sketches {
    /// No documents yet.
    pub fn empty(num_perm: usize) -> Self {
        Sketches {
            num_perm,
            signatures: Vec::new(),
            exact: Vec::new(),
            tokens: Vec::new(),
            shingles: Vec::new(),
        }
    }

    pub fn signature(&self, d: DocId) -> &[u32] {
        let k = self.num_perm;
        &self.signatures[d.0 as usize * k..][..k]
    }
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// MinHash estimates of Jaccard and containment of two documents.
    pub fn estimate(&self, a: DocId, b: DocId) -> crate::verify::Score {
        crate::verify::estimate_score(
            self.signature(a),
            self.signature(b),
            self.shingles[a.0 as usize],
            self.shingles[b.0 as usize],
        )
    }
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

/// Random access to documents' signatures: in memory ([`Sketches`]) or mapped from a staged
/// run's shard files.
pub trait Signatures: Sync {
    fn num_perm(&self) -> usize;
    /// Copy document `d`'s signature into `out` (`num_perm` values).
    fn copy_signature(&self, d: u32, out: &mut [u32]);
}

impl Signatures for Sketches {
    fn num_perm(&self) -> usize {
        self.num_perm
    }
    fn copy_signature(&self, d: u32, out: &mut [u32]) {
        out.copy_from_slice(self.signature(DocId(d)));
    }
}

/// One thread's reusable state for sketching documents.
pub struct Sketcher {
    params: SketchParams,
    normalizer: Normalizer,
    shingler: Shingler,
    /// Word shingles of verification's sets ([`SetShingler`]).
    set_shingler: SetShingler,
    line: LineTokens,
    oph: OphSketch,
    exact: Xxh3,
    /// One document's line entries before they are merged.
    doc_lines: Vec<LineEntry>,
    /// Scratch space for sorting `doc_lines`.
    lines_scratch: Vec<LineEntry>,
    /// Buffer for unescaped JSON texts.
    pub text_buf: String,
    /// One document's shingles with their positions, sorted by hash, for
    /// [`Sketcher::doc_sets`].
    by_hash: Vec<(u64, u32)>,
    /// Scratch for [`sort_by_hash`].
    radix: Vec<(u64, u32)>,
    /// Numbers of the lines left out of one document.
    numbers: Vec<u64>,
    /// Pass 1 writes token-store records ([`crate::tokens`]) of its documents here.
    recording: bool,
    /// The current block's records, and where each document's ends.
    rec: Vec<u64>,
    rec_ends: Vec<usize>,
    /// Pass 2's patch ([`Sketcher::resketch_stored`]): every token of a document, the kept
    /// ones, and the token ranges of `all` left out.
    all: Vec<u64>,
    kept: Vec<u64>,
    cuts: Vec<(usize, usize)>,
    /// Whether shingles filled every bin of the last signature made (see
    /// [`Pass1Bins::full`]).
    full_bins: bool,
    /// Pass 1 keeps the document's runners-up in `runners` (long documents only).
    track: bool,
    runners: RunnersUp,
    /// Pass 2's patch: per bin, the removed shingles that held its minimum, and whether one held
    /// its runner-up.
    removed_min: Vec<u32>,
    removed_second: Vec<bool>,
}

/// Where the passes after pass 1 take a text's lines from.
#[derive(Clone, Copy)]
pub(crate) enum Source<'a> {
    /// Normalising the text.
    Text(&'a str),
    /// The text's token-store record ([`crate::tokens`]), which stands in for it.
    Stored(&'a [u64]),
}

/// One line as the passes after pass 1 see it, normalised now or read from a token-store record.
struct Line<'a> {
    hashes: &'a [u64],
    numbers: Numbers<'a>,
    /// The tokens joined by spaces (character shingles only).
    joined: &'a str,
}

/// A line's numbers: to read from its text, or read already.
enum Numbers<'a> {
    /// The line's text, when it may hold a number ([`LineTokens::digits`]).
    InText(Option<&'a str>),
    Hashes(&'a [u64]),
}

impl Line<'_> {
    /// Append the hashes of the line's numbers to `out` (see [`crate::verify::push_numbers`]).
    fn push_numbers(&self, out: &mut Vec<u64>) {
        match self.numbers {
            Numbers::InText(Some(raw)) => crate::verify::push_numbers(raw, out),
            Numbers::InText(None) => {}
            Numbers::Hashes(h) => out.extend_from_slice(h),
        }
    }
}

/// Marks where the numbers of left-out lines start in the exact hash.
const NUMBERS_SALT: u64 = 0x9e37_79b9_7f4a_7c15;

/// End a document's exact hash with the numbers of its left-out lines (`numbers`, sorted
/// here). Lines left out as boilerplate still carry facts: two dividend notices whose only
/// other lines are `Pay April 20` and `Pay April one` are not exact copies.
fn seal_numbers(exact: &mut Xxh3, numbers: &mut Vec<u64>) {
    if !numbers.is_empty() {
        numbers.sort_unstable();
        numbers.dedup();
        exact.update(&NUMBERS_SALT.to_le_bytes());
        for n in numbers.iter() {
            exact.update(&n.to_le_bytes());
        }
    }
}

/// Shingles a word shingler emits for `tokens` tokens: every window of `n`, or one shingle of
/// a text shorter than that (saturating, as the counts are kept).
fn shingle_count(tokens: usize, n: usize) -> u32 {
    let count = if tokens >= n {
        tokens - n + 1
    } else {
        usize::from(tokens > 0)
    };
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// What [`Sketcher::sketch`] learns about one text besides its signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DocSketch {
    pub exact: u128,
    /// Tokens shingled (lines excluded as boilerplate do not count).
    pub tokens: u32,
    /// Non-empty lines left out because their hash is in the exclusion set.
    pub excluded_lines: u32,
    /// Shingles emitted (with repeats).
    pub shingles: u32,
}

impl Sketcher {
    pub fn new(params: SketchParams) -> Self {
        Sketcher {
            params,
            normalizer: Normalizer::new(params.profile),
            shingler: Shingler::new(params.shingle, params.ngram, params.seed),
            set_shingler: SetShingler::new(params.ngram),
            line: LineTokens::new(params.seed, params.shingle == ShingleKind::Char),
            oph: OphSketch::with_seed(params.num_perm, params.seed),
            exact: Xxh3::with_seed(params.seed),
            doc_lines: Vec::new(),
            lines_scratch: Vec::new(),
            text_buf: String::new(),
            by_hash: Vec::new(),
            radix: Vec::new(),
            numbers: Vec::new(),
            recording: false,
            rec: Vec::new(),
            rec_ends: Vec::new(),
            all: Vec::new(),
            kept: Vec::new(),
            cuts: Vec::new(),
            full_bins: false,
            track: false,
            runners: RunnersUp::default(),
            removed_min: Vec::new(),
            removed_second: Vec::new(),
        }
    }

    /// Whether the token store can stand in for the text (it keeps token hashes only).
    fn stores_tokens(params: &SketchParams) -> bool {
        params.shingle == ShingleKind::Word
    }

    /// Start recording a block's documents for the token store.
    fn begin_block(&mut self, store: Option<&TokenStore>) {
        self.recording = store.is_some();
        self.rec.clear();
        self.rec_ends.clear();
    }

    /// The current document's record is complete.
    fn end_doc(&mut self) {
        if self.recording {
            self.rec_ends.push(self.rec.len());
        }
    }

    /// Hand the block's records (documents `first..`) to the store.
    fn end_block(&mut self, store: Option<&TokenStore>, first: usize) {
        if let Some(store) = store {
            store.put(first, &self.rec_ends, &self.rec);
        }
        self.recording = false;
    }

    /// Sketch one whole text (pass 1) and append its distinct lines to `entries` (see
    /// [`crate::boilerplate`]); returns the sketch and how many entries were added.
    pub(crate) fn sketch_with_lines(
        &mut self,
        text: &str,
        signature: &mut [u32],
        entries: &mut Vec<LineEntry>,
    ) -> (DocSketch, usize) {
        self.shingler.reset();
        self.oph.reset();
        self.exact.reset();
        self.doc_lines.clear();
        let track = self.track;
        if track {
            self.runners.reset(self.params.num_perm);
        }
        let width = boilerplate::text_width(text);
        let mut lines = crate::normalize::lines(text).peekable();
        let (mut prev, mut number, mut tokens, mut shingles) = ("", 0usize, 0u32, 0u32);
        while let Some(raw) = lines.next() {
            number += 1;
            let next = lines.peek().copied().unwrap_or("");
            let before = std::mem::replace(&mut prev, raw);
            self.line.clear();
            self.normalizer.run_line(raw, &mut self.line);
            if self.line.is_empty() {
                continue;
            }
            self.doc_lines.push(boilerplate::line_entry(
                &self.line, raw, before, next, number, width,
            ));
            if self.recording {
                tokens::push_line(&mut self.rec, &self.line, raw);
            }
            tokens = tokens.saturating_add(self.line.len() as u32);
            self.exact.update(&self.line.bytes());
            let (oph, runners) = (&mut self.oph, &mut self.runners);
            Self::feed_line_tokens(&mut self.shingler, &self.line, &mut |h| {
                shingles = shingles.saturating_add(1);
                if track {
                    oph.update_tracking(h, runners)
                } else {
                    oph.update(h)
                }
            });
        }
        let (oph, runners) = (&mut self.oph, &mut self.runners);
        self.shingler.finish(&mut |h| {
            shingles = shingles.saturating_add(1);
            if track {
                oph.update_tracking(h, runners)
            } else {
                oph.update(h)
            }
        });
        self.oph.finish_into(self.params.seed, signature);
        self.full_bins = self.oph.all_filled();
        let n = boilerplate::merge_doc_lines(&mut self.doc_lines, &mut self.lines_scratch, entries);
        let sketch = DocSketch {
            exact: self.exact.digest128(),
            tokens,
            excluded_lines: 0,
            shingles,
        };
        (sketch, n)
    }

    /// Every non-empty line of a text (lines end at `\n`) in order, normalised now or read from
    /// its token-store record; each is passed to `visit` with whether it is kept (its hash is not
    /// in `exclude`, sorted). A normalised line is appended to `rec` when that is given. Returns
    /// (tokens kept, lines excluded).
    #[allow(clippy::too_many_arguments)]
    fn for_each_line(
        normalizer: &mut Normalizer,
        line: &mut LineTokens,
        seed: u64,
        src: Source,
        exclude: Exclude,
        mut rec: Option<&mut Vec<u64>>,
        mut visit: impl FnMut(&Line, bool),
    ) -> (u32, u32) {
        let (mut tokens, mut excluded) = (0u32, 0u32);
        let mut one = |l: &Line, line_hash: &dyn Fn() -> u64| {
            if !exclude.is_empty() && exclude.contains(line_hash()) {
                excluded += 1;
                visit(l, false);
            } else {
                tokens = tokens.saturating_add(l.hashes.len() as u32);
                visit(l, true);
            }
        };
        match src {
            Source::Stored(record) => {
                for s in tokens::lines(record) {
                    let l = Line {
                        hashes: s.hashes,
                        numbers: Numbers::Hashes(s.numbers),
                        joined: "",
                    };
                    one(&l, &|| line_hash_of(s.hashes, seed));
                }
            }
            Source::Text(text) => {
                for raw in crate::normalize::lines(text) {
                    line.clear();
                    normalizer.run_line(raw, line);
                    if line.is_empty() {
                        continue;
                    }
                    if let Some(rec) = rec.as_deref_mut() {
                        tokens::push_line(rec, line, raw);
                    }
                    let l = Line {
                        hashes: &line.hashes,
                        numbers: Numbers::InText(line.digits.then_some(raw)),
                        joined: &line.text,
                    };
                    one(&l, &|| line.line_hash());
                }
            }
        }
        (tokens, excluded)
    }

    fn feed_shingles(shingler: &mut Shingler, line: &Line, emit: &mut impl FnMut(u64)) {
        match shingler.kind() {
            ShingleKind::Word => {
                for &h in line.hashes {
                    shingler.push_token_hash(h, emit);
                }
            }
            ShingleKind::Char => {
                for tok in line.joined.split(' ') {
                    shingler.push_token(tok, emit);
                }
            }
        }
    }

    /// Pass 1's feed of one line (word or character shingles).
    fn feed_line_tokens(shingler: &mut Shingler, line: &LineTokens, emit: &mut impl FnMut(u64)) {
        let l = Line {
            hashes: &line.hashes,
            numbers: Numbers::InText(None),
            joined: &line.text,
        };
        Self::feed_shingles(shingler, &l, emit);
    }

    /// Sketch one text, leaving out lines whose hash is in `exclude` (sorted; may be empty).
    /// The signature goes to `signature` (`num_perm` long).
    pub fn sketch(&mut self, text: &str, exclude: &[u64], signature: &mut [u32]) -> DocSketch {
        self.sketch_from(Source::Text(text), exclude.into(), signature)
    }

    /// [`Sketcher::sketch`] of the text `src` gives.
    pub(crate) fn sketch_from(
        &mut self,
        src: Source,
        exclude: Exclude,
        signature: &mut [u32],
    ) -> DocSketch {
        self.shingler.reset();
        self.oph.reset();
        self.exact.reset();
        let (shingler, oph, exact) = (&mut self.shingler, &mut self.oph, &mut self.exact);
        let mut shingles = 0u32;
        let numbers = &mut self.numbers;
        numbers.clear();
        let rec = self.recording.then_some(&mut self.rec);
        let (tokens, excluded_lines) = Self::for_each_line(
            &mut self.normalizer,
            &mut self.line,
            self.params.seed,
            src,
            exclude,
            rec,
            |l, kept| {
                if kept {
                    exact.update(&crate::shingle::hash_bytes(l.hashes));
                    Self::feed_shingles(shingler, l, &mut |h| {
                        shingles = shingles.saturating_add(1);
                        oph.update(h)
                    });
                } else {
                    l.push_numbers(numbers)
                }
            },
        );
        seal_numbers(exact, numbers);
        self.shingler.finish(&mut |h| {
            shingles = shingles.saturating_add(1);
            oph.update(h)
        });
        self.oph.finish_into(self.params.seed, signature);
        self.full_bins = self.oph.all_filled();
        DocSketch {
            exact: self.exact.digest128(),
            tokens,
            excluded_lines,
            shingles,
        }
    }

    /// Pass 2 of a document from its token-store record `record`, for a document whose pass-1
    /// signature `prev` was made from every line of the record with every bin filled by a
    /// shingle (and `runners`, its runners-up, where pass 1 kept them). The same signature and
    /// sketch as [`Sketcher::sketch_from`] gives, but shingles are hashed only where leaving
    /// lines out changes them: the removed ones (through a left-out line) and the new ones
    /// (across a gap the left-out lines leave). A bin keeps its minimum while a copy of it is
    /// left, else falls back to its runner-up if no copy of that was removed, and takes the
    /// smaller value of any new shingle. Where neither is known the kept tokens are sketched
    /// in full. A book that lost its page headers hashes a few thousand shingles instead of its
    /// hundred thousand.
    pub(crate) fn resketch_stored(
        &mut self,
        record: &[u64],
        exclude: Exclude,
        prev: &[u32],
        runners: Option<(&[u32], &[u8])>,
        signature: &mut [u32],
    ) -> DocSketch {
        debug_assert_eq!(self.shingler.kind(), ShingleKind::Word);
        self.exact.reset();
        let (all, kept, cuts) = (&mut self.all, &mut self.kept, &mut self.cuts);
        all.clear();
        kept.clear();
        cuts.clear();
        let (exact, numbers) = (&mut self.exact, &mut self.numbers);
        numbers.clear();
        let (tokens, excluded_lines) = Self::for_each_line(
            &mut self.normalizer,
            &mut self.line,
            self.params.seed,
            Source::Stored(record),
            exclude,
            None,
            |l, keep| {
                let at = all.len();
                all.extend_from_slice(l.hashes);
                if keep {
                    exact.update(&crate::shingle::hash_bytes(l.hashes));
                    kept.extend_from_slice(l.hashes);
                } else {
                    l.push_numbers(numbers);
                    match cuts.last_mut() {
                        Some(cut) if cut.1 == at => cut.1 = all.len(),
                        _ if all.len() > at => cuts.push((at, all.len())),
                        _ => {}
                    }
                }
            },
        );
        seal_numbers(exact, numbers);
        self.full_bins = true;
        if !self.patch(prev, runners, signature) {
            self.shingler.reset();
            self.oph.reset();
            let (shingler, oph) = (&mut self.shingler, &mut self.oph);
            for &h in self.kept.iter() {
                shingler.push_token_hash(h, &mut |h| oph.update(h));
            }
            shingler.finish(&mut |h| oph.update(h));
            oph.finish_into(self.params.seed, signature);
            self.full_bins = oph.all_filled();
        }
        DocSketch {
            exact: self.exact.digest128(),
            tokens,
            excluded_lines,
            shingles: shingle_count(self.kept.len(), self.params.ngram),
        }
    }

    /// [`Sketcher::resketch_stored`]'s patch of `prev` into `signature` from `all`, `kept` and
    /// `cuts`; false (`signature` left unspecified) where a bin's new minimum is unknown, or
    /// either text is shorter than one shingle.
    fn patch(
        &mut self,
        prev: &[u32],
        runners: Option<(&[u32], &[u8])>,
        signature: &mut [u32],
    ) -> bool {
        let (n, seed, k) = (self.params.ngram, self.params.seed, prev.len());
        let (all, kept) = (&self.all[..], &self.kept[..]);
        if all.len() < n || kept.len() < n {
            return false;
        }
        let hash = crate::shingle::word_shingle_hash;
        let (removed_min, removed_second) = (&mut self.removed_min, &mut self.removed_second);
        removed_min.clear();
        removed_min.resize(k, 0);
        removed_second.clear();
        removed_second.resize(k, false);
        // Removed: the windows of the whole text through a left-out token, each once (two
        // cuts closer than a shingle share windows), counted against the minimum they held.
        let mut next = 0;
        for &(s, e) in &self.cuts {
            for i in s.saturating_sub(n - 1).max(next)..=(e - 1).min(all.len() - n) {
                let (bin, val) = crate::minhash::slot(hash(&all[i..i + n], seed), k);
                if val == prev[bin] {
                    if runners.is_none() {
                        return false;
                    }
                    removed_min[bin] += 1;
                } else if runners.is_some_and(|(second, _)| second[bin] == val) {
                    removed_second[bin] = true;
                }
                next = i + 1;
            }
        }
        signature.copy_from_slice(prev);
        if let Some((second, count)) = runners {
            for bin in 0..k {
                let gone = removed_min[bin];
                // `count` saturates: a saturated count only says a copy is left while fewer
                // than that many went.
                if gone == 0 || gone < u32::from(count[bin]) {
                    continue;
                }
                if count[bin] == u8::MAX || second[bin] == EMPTY || removed_second[bin] {
                    return false;
                }
                signature[bin] = second[bin];
            }
        }
        // Every bin still holds a shingle's value: lower each by the windows of the kept text
        // across a gap.
        let mut removed = 0;
        for &(s, e) in &self.cuts {
            let gap = s - removed;
            removed += e - s;
            if gap == 0 || gap >= kept.len() {
                continue;
            }
            for i in gap.saturating_sub(n - 1)..=(gap - 1).min(kept.len() - n) {
                let (bin, val) = crate::minhash::slot(hash(&kept[i..i + n], seed), k);
                signature[bin] = signature[bin].min(val);
            }
        }
        true
    }

    /// The sorted, deduplicated shingle values of one text (for exact verification, as
    /// [`Sketcher::doc_sets`] gives them), leaving out lines whose hash is in `exclude`. Word
    /// shingles are named by verification's set values (see `SetShingler`), not by the sketch's
    /// hashes: compare them only with other sets from this method or `doc_sets`.
    pub fn shingle_set(&mut self, text: &str, exclude: &[u64], out: &mut Vec<u64>) {
        let mut sets = crate::verify::DocSets {
            shingles: std::mem::take(out),
            ..Default::default()
        };
        self.doc_sets(text, exclude, &mut sets);
        *out = sets.shingles;
    }

    /// The sorted, deduplicated shingle and number hashes of one text (for exact verification;
    /// see [`crate::verify::DocSets`]): shingles leave out lines whose hash is in `exclude`,
    /// numbers come from every line (a line such as `Pay April 30` repeats across a template
    /// family, and it is their data).
    pub fn doc_sets(&mut self, text: &str, exclude: &[u64], out: &mut crate::verify::DocSets) {
        self.doc_sets_from(Source::Text(text), exclude.into(), out)
    }

    /// [`Sketcher::doc_sets`] of the text `src` gives.
    pub(crate) fn doc_sets_from(
        &mut self,
        src: Source,
        exclude: Exclude,
        out: &mut crate::verify::DocSets,
    ) {
        out.shingles.clear();
        out.numbers.clear();
        self.shingler.reset();
        self.set_shingler.reset();
        let word = self.shingler.kind() == ShingleKind::Word;
        let (shingler, set_shingler, shingles, numbers) = (
            &mut self.shingler,
            &mut self.set_shingler,
            &mut out.shingles,
            &mut out.numbers,
        );
        Self::for_each_line(
            &mut self.normalizer,
            &mut self.line,
            self.params.seed,
            src,
            exclude,
            None,
            |l, kept| {
                if kept && word {
                    for &h in l.hashes {
                        set_shingler.push(h, &mut |v| shingles.push(v));
                    }
                } else if kept {
                    Self::feed_shingles(shingler, l, &mut |h| shingles.push(h));
                }
                l.push_numbers(numbers);
            },
        );
        if word {
            self.set_shingler.finish(&mut |v| shingles.push(v));
        } else {
            self.shingler.finish(&mut |h| shingles.push(h));
        }
        numbers.sort_unstable();
        numbers.dedup();
        // The sorted set, and the text order as indices into it, from one sort of
        // (hash, position) pairs (binary searching every shingle in the set cost more than the
        // sort on long texts).
        let by_hash = &mut self.by_hash;
        by_hash.clear();
        by_hash.extend(shingles.iter().enumerate().map(|(i, &h)| (h, i as u32)));
        sort_by_hash(by_hash, &mut self.radix);
        let in_order = &mut out.order;
        in_order.clear();
        in_order.resize(shingles.len(), 0);
        shingles.clear();
        for &(h, i) in by_hash.iter() {
            if shingles.last() != Some(&h) {
                shingles.push(h);
            }
            in_order[i as usize] = (shingles.len() - 1) as u32;
        }
        out.span = self.params.ngram as u32;
    }
}

/// Sort `(hash, position)` pairs by hash (the order of equal hashes is left as it falls): radix
/// passes on the top bits and an insertion sweep ([`radix_sort_by_hash`] for long texts, a
/// book's 100,000s of shingles; byte-wide passes for an article's hundreds), the standard sort
/// for the shortest.
fn sort_by_hash(v: &mut [(u64, u32)], scratch: &mut Vec<(u64, u32)>) {
    if v.len() < 64 {
        v.sort_unstable_by_key(|&(h, _)| h);
    } else if v.len() < RADIX_FROM {
        // An article's few hundred shingles: two byte-wide passes on the top 16 bits, then the
        // insertion sweep, about twice as fast as a comparison sort.
        radix_passes(v, scratch, 8, &[48, 56]);
        let budget = v.len().saturating_mul(4);
        if !insertion_finish(v, budget) {
            v.sort_by_key(|&(h, _)| h);
        }
    } else {
        radix_sort_by_hash(v, scratch);
    }
}

/// Sort by hash, stably (equal hashes keep their input order): the standard stable sort for a
/// few elements, byte-wide radix passes on the top 16 bits and the insertion sweep for hundreds,
/// [`radix_sort_by_hash`] from [`RADIX_FROM`] on.
pub(crate) fn sort_stable_by_hash<T: Hashed>(v: &mut [T], scratch: &mut Vec<T>) {
    if v.len() < 64 {
        v.sort_by_key(|e| e.hash());
    } else if v.len() < RADIX_FROM {
        radix_passes(v, scratch, 8, &[48, 56]);
        let budget = v.len().saturating_mul(4);
        if !insertion_finish(v, budget) {
            v.sort_by_key(|e| e.hash());
        }
    } else {
        radix_sort_by_hash(v, scratch);
    }
}

/// From this many elements on, the radix sort beats the standard one.
pub(crate) const RADIX_FROM: usize = 1 << 14;

/// An element sorted by a uniform 64-bit hash (the first field).
pub(crate) trait Hashed: Copy + Default {
    fn hash(&self) -> u64;
}

impl Hashed for (u64, u32) {
    #[inline]
    fn hash(&self) -> u64 {
        self.0
    }
}

impl Hashed for (u64, u32, u32) {
    #[inline]
    fn hash(&self) -> u64 {
        self.0
    }
}

/// Sort elements by their hash with a least-significant-digit radix sort, 11 bits a pass:
/// stable, so equal hashes keep their input order.
pub(crate) fn radix_sort_by_hash<T: Hashed>(v: &mut [T], scratch: &mut Vec<T>) {
    // Hashes are uniform: ordered by their top 22 bits (two passes), a list is sorted but for
    // the rare neighbours that share them, which insertion sort puts right in one sweep. Keys
    // that are not uniform (too many moves) get the full six passes, from where they are.
    radix_passes(v, scratch, 11, &[42, 53]);
    let budget = v.len().saturating_mul(4);
    if !insertion_finish(v, budget) {
        radix_passes(v, scratch, 11, &[0, 11, 22, 33, 42, 53]);
    }
}

/// Stable least-significant-digit radix passes, `bits` (at most 11) at each shift of `shifts`,
/// `scratch` the space the passes go back and forth through.
fn radix_passes<T: Hashed>(v: &mut [T], scratch: &mut Vec<T>, bits: u32, shifts: &[u32]) {
    scratch.clear();
    scratch.resize(v.len(), T::default());
    let mut all = [0usize; 1 << 11];
    let counts = &mut all[..1 << bits];
    let mask = (1usize << bits) - 1;
    let (mut src, mut dst): (&mut [T], &mut [T]) = (v, &mut scratch[..]);
    for &shift in shifts {
        counts.fill(0);
        for e in src.iter() {
            counts[(e.hash() >> shift) as usize & mask] += 1;
        }
        let mut sum = 0;
        for c in counts.iter_mut() {
            let n = *c;
            *c = sum;
            sum += n;
        }
        for &e in src.iter() {
            let d = (e.hash() >> shift) as usize & mask;
            dst[counts[d]] = e;
            counts[d] += 1;
        }
        std::mem::swap(&mut src, &mut dst);
    }
    if shifts.len() % 2 == 1 {
        // The result is in `scratch`.
        dst.copy_from_slice(src);
    }
}

/// From this many elements on, [`par_radix_sort_by_hash`] spreads its passes over the pool.
const PAR_RADIX_FROM: usize = 1 << 16;

/// [`radix_sort_by_hash`] on the threads of the current pool, for the long lists sorted between
/// parallel steps (one thread sorting while the others wait): the elements are bucketed by the
/// top 11 bits of their hash, chunk by chunk in parallel (each chunk's elements of a bucket go
/// after the earlier chunks' and in their order), then each bucket is sorted on its own. Stable,
/// so the order is exactly [`radix_sort_by_hash`]'s; on one thread, or for fewer than
/// [`PAR_RADIX_FROM`] elements, it is that sort.
pub(crate) fn par_radix_sort_by_hash<T: Hashed + Send + Sync>(v: &mut Vec<T>) {
    const BITS: u32 = 11;
    const BUCKETS: usize = 1 << BITS;
    let threads = rayon::current_num_threads();
    if threads < 2 || v.len() < PAR_RADIX_FROM {
        return radix_sort_by_hash(v, &mut Vec::new());
    }
    let digit = |e: &T| (e.hash() >> (64 - BITS)) as usize;
    let chunk = v.len().div_ceil(threads * 4);
    let counts: Vec<Vec<usize>> = v
        .par_chunks(chunk)
        .map(|c| {
            let mut h = vec![0usize; BUCKETS];
            for e in c {
                h[digit(e)] += 1;
            }
            h
        })
        .collect();
    let sizes: Vec<usize> = (0..BUCKETS)
        .map(|d| counts.iter().map(|h| h[d]).sum())
        .collect();
    // The output cut into one piece per (bucket, chunk), buckets in order and chunks in order
    // within a bucket; each chunk gets its pieces.
    let mut out: Vec<T> = (0..v.len()).into_par_iter().map(|_| T::default()).collect();
    {
        let mut pieces: Vec<Vec<&mut [T]>> =
            counts.iter().map(|_| Vec::with_capacity(BUCKETS)).collect();
        let mut rest: &mut [T] = &mut out;
        for (d, &size) in sizes.iter().enumerate() {
            let (mut bucket, tail) = std::mem::take(&mut rest).split_at_mut(size);
            rest = tail;
            for (c, h) in counts.iter().enumerate() {
                let (piece, tail) = std::mem::take(&mut bucket).split_at_mut(h[d]);
                pieces[c].push(piece);
                bucket = tail;
            }
        }
        v.par_chunks(chunk)
            .zip(pieces.par_iter_mut())
            .for_each(|(c, slots)| {
                let mut fill = vec![0usize; BUCKETS];
                for &e in c {
                    let d = digit(&e);
                    slots[d][fill[d]] = e;
                    fill[d] += 1;
                }
            });
    }
    let mut buckets: Vec<&mut [T]> = Vec::with_capacity(BUCKETS);
    let mut rest: &mut [T] = &mut out;
    for &size in &sizes {
        let (bucket, tail) = std::mem::take(&mut rest).split_at_mut(size);
        buckets.push(bucket);
        rest = tail;
    }
    // Each bucket, sorted by its top 11 bits already: one radix pass on the next bits and the
    // insertion sweep (the standard stable sort for the few, or keys that are not uniform).
    buckets
        .into_par_iter()
        .for_each_init(Vec::new, |scratch, bucket| {
            sort_bucket_by_hash(bucket, scratch, BITS)
        });
    *v = out;
}

/// Sort `v`, whose elements share their top `sorted` bits, stably by hash (see
/// [`par_radix_sort_by_hash`]).
fn sort_bucket_by_hash<T: Hashed>(v: &mut [T], scratch: &mut Vec<T>, sorted: u32) {
    if v.len() < 64 {
        v.sort_by_key(|e| e.hash());
        return;
    }
    let bits = if v.len() >= RADIX_FROM { 11 } else { 8 };
    radix_passes(v, scratch, bits, &[64 - sorted - bits]);
    if !insertion_finish(v, v.len().saturating_mul(4)) {
        v.sort_by_key(|e| e.hash());
    }
}

/// Stable insertion sort by hash of a nearly sorted list; false (the list still a permutation,
/// equal hashes still in their order) when it would take more than `budget` moves.
fn insertion_finish<T: Hashed>(v: &mut [T], budget: usize) -> bool {
    let mut moves = 0usize;
    for i in 1..v.len() {
        let x = v[i];
        if v[i - 1].hash() <= x.hash() {
            continue;
        }
        let mut j = i;
        while j > 0 && v[j - 1].hash() > x.hash() {
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = x;
        moves += i - j;
        if moves > budget {
            return false;
        }
    }
    true
}

/// One block's slices of the output arrays.
struct BlockOut<'a> {
    first: usize,
    signatures: &'a mut [u32],
    meta: BlockMeta<'a>,
}

/// One block's slices of the per-document arrays other than signatures.
struct BlockMeta<'a> {
    exact: &'a mut [u128],
    tokens: &'a mut [u32],
    shingles: &'a mut [u32],
}

impl BlockMeta<'_> {
    fn set(&mut self, j: usize, s: &DocSketch) {
        self.exact[j] = s.exact;
        self.tokens[j] = s.tokens;
        self.shingles[j] = s.shingles;
    }
}

/// Cut the flat output arrays at the corpus's block boundaries (deterministic: depends only on
/// the corpus).
fn split_blocks<'a>(corpus: &Corpus, k: usize, out: &'a mut Sketches) -> Vec<BlockOut<'a>> {
    let mut work = Vec::new();
    let (mut sig_rest, mut ex_rest, mut tk_rest, mut sh_rest) = (
        &mut out.signatures[..],
        &mut out.exact[..],
        &mut out.tokens[..],
        &mut out.shingles[..],
    );
    for r in corpus.blocks() {
        let len = r.len();
        let (s, s2) = std::mem::take(&mut sig_rest).split_at_mut(len * k);
        let (e, e2) = std::mem::take(&mut ex_rest).split_at_mut(len);
        let (t, t2) = std::mem::take(&mut tk_rest).split_at_mut(len);
        let (h, h2) = std::mem::take(&mut sh_rest).split_at_mut(len);
        work.push(BlockOut {
            first: r.start,
            signatures: s,
            meta: BlockMeta {
                exact: e,
                tokens: t,
                shingles: h,
            },
        });
        (sig_rest, ex_rest, tk_rest, sh_rest) = (s2, e2, t2, h2);
    }
    work
}

/// A zeroed array for the signatures, backed by transparent huge pages where the system offers
/// them on request (`madvise`): the LSH stage reads one band of every signature after another,
/// a TLB miss per document per band in 4 KiB pages, and the array's pages are faulted in and
/// torn down 512 times fewer. Same contents either way.
pub(crate) fn huge_zeroed<T: Copy + Default>(len: usize) -> Vec<T> {
    let v = vec![T::default(); len];
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = v.as_ptr() as usize;
        let end = start + std::mem::size_of_val(v.as_slice());
        let (lo, hi) = (start.next_multiple_of(HUGE), end / HUGE * HUGE);
        if hi > lo {
            // SAFETY: advice on whole pages inside the vector's own allocation; it changes how
            // the pages are backed, never their contents. Failure only means small pages.
            unsafe {
                libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_HUGEPAGE);
            }
        }
    }
    v
}

impl Sketches {
    /// Zeroed arrays for `n` documents.
    fn zeroed(n: usize, k: usize) -> Self {
        Sketches {
            num_perm: k,
            signatures: huge_zeroed(n * k),
            exact: vec![0; n],
            tokens: vec![0; n],
            shingles: vec![0; n],
        }
    }
}

/// Sketch every document of the corpus, leaving out lines whose hash is in `exclude` (sorted);
/// their token hashes go to `store` when there is one.
pub(crate) fn compute(
    corpus: &Corpus,
    params: SketchParams,
    exclude: &[u64],
    store: Option<&TokenStore>,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<Sketches> {
    let store = store.filter(|_| Sketcher::stores_tokens(&params));
    let k = params.num_perm;
    let mut out = Sketches::zeroed(corpus.docs.len(), k);
    progress.begin(Stage::Sketch, corpus.data_bytes());
    let sketchers = PerThread::new();
    let filter = LineFilter::new(exclude);
    let exclude = Exclude::with_filter(exclude, &filter);
    split_blocks(corpus, k, &mut out)
        .into_par_iter()
        // One job per block: a thread that runs out of work can always take a block (rayon
        // otherwise runs long sequential stretches that leave the other threads idle at the
        // end). A block is a millisecond of work: the jobs cost nothing in comparison.
        .with_max_len(1)
        .try_for_each(|mut block| {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Interrupted);
            }
            // One sketcher per thread, not per block: its buffers keep their size.
            sketchers.with(
                || Sketcher::new(params),
                |sk| {
                    let mut bytes = 0;
                    sk.begin_block(store);
                    for (j, sig) in block.signatures.chunks_mut(k).enumerate() {
                        let doc = &corpus.docs[block.first + j];
                        bytes += corpus.text_len(doc);
                        let mut buf = std::mem::take(&mut sk.text_buf);
                        let text = corpus.text(doc, &mut buf);
                        let s = sk.sketch_from(Source::Text(text), exclude, sig);
                        sk.text_buf = buf;
                        sk.end_doc();
                        block.meta.set(j, &s);
                    }
                    sk.end_block(store, block.first);
                    progress.advance(bytes);
                },
            );
            Ok(())
        })?;
    progress.end();
    Ok(out)
}

/// Pass 1 with boilerplate detection: sketch every whole document and collect its lines; their
/// token hashes go to `store` when there is one.
pub(crate) fn compute_with_lines(
    corpus: &Corpus,
    params: SketchParams,
    store: Option<&TokenStore>,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<(Sketches, DocLines)> {
    let store = store.filter(|_| Sketcher::stores_tokens(&params));
    let n = corpus.docs.len();
    let k = params.num_perm;
    let mut out = Sketches::zeroed(n, k);
    progress.begin(Stage::Sketch, corpus.data_bytes());
    let sketchers = PerThread::new();
    let mut parts: Vec<(Vec<LineEntry>, Vec<usize>, Pass1Bins)> = split_blocks(corpus, k, &mut out)
        .into_par_iter()
        // One job per block (see `compute`).
        .with_max_len(1)
        .map(|mut block| {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Interrupted);
            }
            // One sketcher per thread, not per block: its buffers keep their size.
            Ok(sketchers.with(
                || Sketcher::new(params),
                |sk| {
                    let mut bytes = 0;
                    let mut entries = Vec::new();
                    let mut counts = Vec::with_capacity(block.meta.exact.len());
                    let mut bins = Pass1Bins::default();
                    sk.begin_block(store);
                    for (j, sig) in block.signatures.chunks_mut(k).enumerate() {
                        let doc = &corpus.docs[block.first + j];
                        bytes += corpus.text_len(doc);
                        sk.track = corpus.text_len(doc) >= RUNNERS_UP_BYTES;
                        let mut buf = std::mem::take(&mut sk.text_buf);
                        let (s, c) =
                            sk.sketch_with_lines(corpus.text(doc, &mut buf), sig, &mut entries);
                        sk.text_buf = buf;
                        sk.end_doc();
                        block.meta.set(j, &s);
                        counts.push(c);
                        bins.full.push(sk.full_bins);
                        if sk.track && sk.full_bins {
                            bins.runners_up.push((block.first + j) as u32, &sk.runners);
                        }
                    }
                    sk.track = false;
                    sk.end_block(store, block.first);
                    progress.advance(bytes);
                    (entries, counts, bins)
                },
            ))
        })
        .collect::<Result<_>>()?;
    let total: usize = parts.iter().map(|p| p.0.len()).sum();
    let mut lines = DocLines {
        offsets: Vec::with_capacity(n + 1),
        entries: Vec::with_capacity(total),
        bins: Pass1Bins {
            full: Vec::with_capacity(n),
            runners_up: RunnersUpTable::default(),
        },
    };
    for part in &mut parts {
        lines.bins.full.append(&mut part.2.full);
        lines.bins.runners_up.append(&mut part.2.runners_up);
    }
    lines.offsets.push(0);
    for (_, counts, _) in &parts {
        for &c in counts {
            lines
                .offsets
                .push(lines.offsets.last().copied().unwrap_or(0) + c);
        }
    }
    // The blocks' entries copied into place in parallel (a serial copy of every line entry
    // left all threads but one idle between pass 1 and boilerplate detection).
    let mut rest = &mut lines.entries.spare_capacity_mut()[..total];
    let mut slots = Vec::with_capacity(parts.len());
    for (entries, _, _) in &parts {
        let (slot, tail) = rest.split_at_mut(entries.len());
        slots.push(slot);
        rest = tail;
    }
    slots
        .into_par_iter()
        .zip(&parts)
        .for_each(|(slot, (entries, _, _))| {
            for (dst, src) in slot.iter_mut().zip(entries) {
                dst.write(*src);
            }
        });
    // SAFETY: the slots partition the first `total` elements of the spare capacity, and each
    // was written in full (a slot is exactly as long as its block's entries).
    unsafe { lines.entries.set_len(total) };
    drop(parts);
    progress.end();
    Ok((out, lines))
}

/// A bitset over the top bits of a list of line hashes (uniform: they are xxh3 values), about
/// 32 bits an entry: a line that is not in the list finds its bit clear ~97 % of the time, so
/// only the rest are looked up in the list. Pass 2 and verification ask once per line of every
/// document they read, boilerplate detection once per distinct line of every document; a binary
/// search for each was ~6 % of verification on whole books.
#[derive(Debug)]
pub(crate) struct LineFilter {
    bits: Vec<u64>,
    shift: u32,
}

impl LineFilter {
    pub(crate) fn new(hashes: &[u64]) -> LineFilter {
        let log = (hashes.len().max(1) * 32)
            .next_power_of_two()
            .trailing_zeros()
            .clamp(6, 26);
        let mut bits = vec![0u64; 1 << (log - 6)];
        let shift = 64 - log;
        for &h in hashes {
            let b = (h >> shift) as usize;
            bits[b >> 6] |= 1 << (b & 63);
        }
        LineFilter { bits, shift }
    }

    /// False only if `h` is not among the hashes.
    #[inline]
    fn may_contain(&self, h: u64) -> bool {
        let b = (h >> self.shift) as usize;
        self.bits[b >> 6] >> (b & 63) & 1 == 1
    }
}

/// The line hashes left out of shingling (sorted), with their [`LineFilter`] where the caller
/// built one for the many documents it reads.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Exclude<'a> {
    hashes: &'a [u64],
    filter: Option<&'a LineFilter>,
}

impl<'a> Exclude<'a> {
    /// `hashes` (sorted) with `filter`, which must have been built from them.
    pub(crate) fn with_filter(hashes: &'a [u64], filter: &'a LineFilter) -> Self {
        Exclude {
            hashes,
            filter: Some(filter),
        }
    }

    #[inline]
    fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    #[inline]
    pub(crate) fn contains(&self, h: u64) -> bool {
        self.filter.is_none_or(|f| f.may_contain(h)) && self.hashes.binary_search(&h).is_ok()
    }
}

impl<'a> From<&'a [u64]> for Exclude<'a> {
    fn from(hashes: &'a [u64]) -> Self {
        Exclude {
            hashes,
            filter: None,
        }
    }
}

/// Text a piece of pass 2's work holds at most (besides at most 64 documents).
const RESKETCH_PIECE_BYTES: u64 = 1 << 20;

/// Pass 2: sketch `docs` (sorted) again without the lines in `exclude`, in place (from their
/// token-store records where `store` has them; pass 1's signature patched where `bins` allows).
#[allow(clippy::too_many_arguments)]
pub(crate) fn resketch(
    corpus: &Corpus,
    params: SketchParams,
    exclude: &[u64],
    store: Option<&TokenStore>,
    sketches: &mut Sketches,
    bins: &Pass1Bins,
    docs: &[u32],
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<()> {
    let k = params.num_perm;
    let bytes: u64 = docs
        .iter()
        .map(|&d| corpus.text_len(&corpus.docs[d as usize]))
        .sum();
    progress.begin(Stage::Boilerplate, bytes);
    // Pieces of at most 64 documents or RESKETCH_PIECE_BYTES of text (one book or a few): 64
    // books a piece left a tail of one thread sketching the last pieces alone.
    let mut pieces: Vec<&[u32]> = Vec::new();
    let (mut start, mut piece_bytes) = (0, 0u64);
    for (i, &d) in docs.iter().enumerate() {
        piece_bytes += corpus.text_len(&corpus.docs[d as usize]);
        if i + 1 - start == 64 || piece_bytes >= RESKETCH_PIECE_BYTES {
            pieces.push(&docs[start..=i]);
            (start, piece_bytes) = (i + 1, 0);
        }
    }
    if start < docs.len() {
        pieces.push(&docs[start..]);
    }
    let (prev, full_bins, runners_up) = (&sketches.signatures, &bins.full, &bins.runners_up);
    let filter = LineFilter::new(exclude);
    let exclude = Exclude::with_filter(exclude, &filter);
    let done: Vec<(Vec<u32>, Vec<DocSketch>)> = pieces
        .par_iter()
        .map_init(
            || (Sketcher::new(params), Vec::new()),
            |(sk, record), chunk| {
                if cancel.load(Ordering::Relaxed) {
                    return Err(Error::Interrupted);
                }
                let mut sigs = vec![0u32; chunk.len() * k];
                let mut out = Vec::with_capacity(chunk.len());
                let mut bytes = 0;
                for (&d, sig) in chunk.iter().zip(sigs.chunks_mut(k)) {
                    let doc = &corpus.docs[d as usize];
                    bytes += corpus.text_len(doc);
                    let mut buf = std::mem::take(&mut sk.text_buf);
                    let d = d as usize;
                    let sketch = match store.and_then(|s| s.get(d, record)) {
                        // Pass 1's signature patched where it can be (see `resketch_stored`).
                        Some(stored) if full_bins.get(d) == Some(&true) => {
                            let prev = &prev[d * k..(d + 1) * k];
                            let runners = runners_up.get(d as u32, k);
                            sk.resketch_stored(stored, exclude, prev, runners, sig)
                        }
                        Some(stored) => sk.sketch_from(Source::Stored(stored), exclude, sig),
                        None => {
                            sk.sketch_from(Source::Text(corpus.text(doc, &mut buf)), exclude, sig)
                        }
                    };
                    out.push(sketch);
                    sk.text_buf = buf;
                }
                progress.advance(bytes);
                Ok((sigs, out))
            },
        )
        .collect::<Result<_>>()?;
    for (chunk, (sigs, out)) in pieces.iter().zip(done) {
        for (j, &d) in chunk.iter().enumerate() {
            let d = d as usize;
            sketches.signatures[d * k..(d + 1) * k].copy_from_slice(&sigs[j * k..(j + 1) * k]);
            sketches.exact[d] = out[j].exact;
            sketches.tokens[d] = out[j].tokens;
            sketches.shingles[d] = out[j].shingles;
        }
    }
    progress.end();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::minhash::estimate_jaccard;
    use crate::verify::DocSets;

    fn params() -> SketchParams {
        SketchParams {
            profile: Profile::Full,
            shingle: ShingleKind::Word,
            ngram: 3,
            num_perm: 64,
            seed: 1,
        }
    }

    #[test]
    fn reflowed_and_restyled_text_has_same_exact_hash() {
        let mut sk = Sketcher::new(params());
        let mut s1 = vec![0; 64];
        let mut s2 = vec![0; 64];
        let a = sk.sketch(
            "The quick brown fox\njumps over the lazy dog.",
            &[],
            &mut s1,
        );
        let b = sk.sketch(
            "THE QUICK, brown fox jumps\nover the lazy dog",
            &[],
            &mut s2,
        );
        assert_eq!(a, b);
        assert_eq!(a.tokens, 9);
        assert_eq!(s1, s2);
    }

    #[test]
    fn different_texts_have_different_exact_hash_and_low_estimate() {
        let mut sk = Sketcher::new(params());
        let mut s1 = vec![0; 64];
        let mut s2 = vec![0; 64];
        let a = sk.sketch("one two three four five six seven", &[], &mut s1);
        let b = sk.sketch("eight nine ten eleven twelve thirteen", &[], &mut s2);
        assert_ne!(a.exact, b.exact);
        assert!(estimate_jaccard(&s1, &s2) < 0.2);
    }

    #[test]
    fn excluded_lines_leave_the_shingles_of_the_rest_joined_across_the_gap() {
        let mut sk = Sketcher::new(params());
        let mut line = LineTokens::new(1, false);
        Normalizer::new(Profile::Full).run("SITE NAME | share", &mut line);
        let exclude = vec![line.line_hash()];
        let mut a = Vec::new();
        let mut b = Vec::new();
        sk.shingle_set("alpha beta\nsite name share\ngamma delta", &exclude, &mut a);
        sk.shingle_set("alpha beta gamma delta", &[], &mut b);
        assert_eq!(a, b);
        let mut sig = vec![0; 64];
        let s = sk.sketch(
            "alpha beta\nSite name: share!\ngamma delta",
            &exclude,
            &mut sig,
        );
        assert_eq!((s.tokens, s.excluded_lines), (4, 1));
    }

    /// Pass 1's records stand in for the texts: pass 2's sketches and verification's sets from
    /// them equal those from normalising the texts again, with and without excluded lines.
    #[test]
    fn token_store_records_give_what_the_texts_give() {
        let texts = [
            "موقع الخبر | شارك\nأعلنت الوزارة يوم 12 مارس عن خطة جديدة\nموقع الخبر | شارك\n\nتابعونا",
            "SITE NAME | share\nPay April 30: $1,250.00 per share\n\nThe board met on 3 May.\nSITE NAME | share",
            "",
            "\n\n  \n",
            "one line only, 7 words and a number 42",
        ];
        let mut line = LineTokens::new(1, false);
        let mut exclude = Vec::new();
        for l in ["موقع الخبر | شارك", "SITE NAME | share"] {
            line.clear();
            Normalizer::new(Profile::Full).run(l, &mut line);
            exclude.push(line.line_hash());
        }
        exclude.sort_unstable();
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::create_in(dir.path(), texts.len(), 1 << 20).unwrap();
        let mut sk = Sketcher::new(params());
        let mut sig = vec![0; 64];
        // Pass 1 records both ways it runs: with line statistics, and without.
        for with_lines in [true, false] {
            sk.begin_block(Some(&store));
            for t in texts {
                if with_lines {
                    sk.sketch_with_lines(t, &mut sig, &mut Vec::new());
                } else {
                    sk.sketch(t, &[], &mut sig);
                }
                sk.end_doc();
            }
            sk.end_block(Some(&store), 0);
            let mut record = Vec::new();
            for (d, t) in texts.iter().enumerate() {
                let stored = store.get(d, &mut record).map(<[u64]>::to_vec);
                assert_eq!(stored.is_none(), t.trim().is_empty(), "{t:?}");
                let src = match &stored {
                    Some(r) => Source::Stored(r),
                    None => Source::Text(t),
                };
                for ex in [&[][..], &exclude[..]] {
                    // The stored path with the exclusions' bitset, the text without.
                    let filter = LineFilter::new(ex);
                    let filtered = Exclude::with_filter(ex, &filter);
                    let mut want_sig = vec![0; 64];
                    let mut got_sig = vec![0; 64];
                    let want = sk.sketch(t, ex, &mut want_sig);
                    let got = sk.sketch_from(src, filtered, &mut got_sig);
                    assert_eq!((got, &got_sig), (want, &want_sig), "{t:?}");
                    let (mut want, mut got) = (DocSets::default(), DocSets::default());
                    sk.doc_sets(t, ex, &mut want);
                    sk.doc_sets_from(src, filtered, &mut got);
                    assert_eq!(
                        (got.shingles, got.order, got.numbers),
                        (want.shingles, want.order, want.numbers)
                    );
                }
            }
        }
        // The exclusions and numbers were really exercised.
        let mut want_sig = vec![0; 64];
        assert_eq!(
            sk.sketch(texts[0], &exclude, &mut want_sig).excluded_lines,
            2
        );
        let mut sets = DocSets::default();
        sk.doc_sets(texts[1], &exclude, &mut sets);
        assert!(sets.numbers.len() >= 3);
    }

    /// The bitset never turns away a hash of its list, and turns away most others: a list of
    /// 4,000 hashes lets ~3 % of 100,000 others through (fails if the filter answers from the
    /// wrong bits or is sized below 32 bits an entry); an empty list has a filter too.
    #[test]
    fn line_filter_keeps_every_listed_hash_and_few_others() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut list: Vec<u64> = (0..4000).map(|_| next()).collect();
        list.sort_unstable();
        let filter = LineFilter::new(&list);
        let exclude = Exclude::with_filter(&list, &filter);
        assert!(
            list.iter()
                .all(|&h| filter.may_contain(h) && exclude.contains(h))
        );
        let through = (0..100_000).filter(|_| filter.may_contain(next())).count();
        assert!((1_500..4_500).contains(&through), "{through}");
        let others: Vec<u64> = (0..1000).map(|_| next()).collect();
        for h in others {
            assert_eq!(exclude.contains(h), list.binary_search(&h).is_ok());
        }
        let empty = LineFilter::new(&[]);
        assert!(!Exclude::with_filter(&[], &empty).contains(7));
    }

    #[test]
    fn radix_sort_by_hash_sorts_like_the_standard_sort() {
        let mut state = 0x1234_5678_9abc_def0u64;
        // Uniform hashes (top bits then one insertion sweep), and keys below 2^40 whose top
        // bits are all zero (the full passes): both sort stably, as `lsh` relies on.
        for (n, narrow) in [
            (0, false),
            (5, false),
            (500, false),
            (3000, true),
            (1 << 14, false),
            ((1 << 14) + 7, false),
            (70_000, false),
            (70_000, true),
        ] {
            let mut v: Vec<(u64, u32)> = (0..n as u32)
                .map(|i| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let h = if narrow { state >> 24 } else { state };
                    // Some repeats, as a text repeats shingles.
                    (if i % 7 == 0 { 42 } else { h }, i)
                })
                .collect();
            let mut expected = v.clone();
            expected.sort_by_key(|&(h, _)| h);
            if n >= RADIX_FROM {
                radix_sort_by_hash(&mut v, &mut Vec::new());
                assert_eq!(v, expected, "n = {n}, narrow = {narrow}");
            } else {
                sort_by_hash(&mut v, &mut Vec::new());
                let keys = |x: &[(u64, u32)]| x.iter().map(|e| e.0).collect::<Vec<_>>();
                assert_eq!(keys(&v), keys(&expected), "n = {n}");
            }
        }
        // The insertion sweep gives up past its budget and leaves a permutation.
        let mut v: Vec<(u64, u32)> = (0..100).rev().map(|i| (i as u64, i)).collect();
        assert!(!insertion_finish(&mut v, 10));
        let mut sorted = v.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).map(|i| (i as u64, i)).collect::<Vec<_>>());
    }

    #[test]
    fn the_parallel_radix_sort_gives_the_stable_sort_on_any_number_of_threads() {
        let mut state = 0x0bad_cafe_dead_beefu64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state
        };
        // Uniform hashes with repeats (many small buckets: the byte-wide pass), keys below 2^40
        // (one bucket whose next bits are all zero: the sweep gives up, the standard sort), keys
        // in a few buckets (each past RADIX_FROM: the 11-bit pass), and a list too short to
        // spread.
        let cases: Vec<Vec<(u64, u32, u32)>> =
            [(300_000, 0u32), (70_000, 1), (200_000, 2), (1_000, 0)]
                .into_iter()
                .map(|(n, kind)| {
                    (0..n as u32)
                        .map(|i| {
                            let r = next();
                            let h = match kind {
                                _ if i % 5 == 0 => (42 << 50) >> (20 * kind),
                                0 => r,
                                1 => r >> 24,
                                _ => r & !(0x1ff << 53),
                            };
                            (h, i / 3, i)
                        })
                        .collect()
                })
                .collect();
        for v in &cases {
            let mut expected = v.clone();
            expected.sort_by_key(|e| e.0);
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let mut got = v.clone();
                pool.install(|| par_radix_sort_by_hash(&mut got));
                assert!(got == expected, "{} elements on {threads} threads", v.len());
            }
        }
    }

    #[test]
    fn a_sketch_counts_at_least_the_distinct_shingles_of_its_set() {
        // `Criterion::plausible` turns a pair away from containment when the smaller document
        // emitted too few shingles; that is exact only because the exact score's sizes (distinct
        // shingles, lines left out alike) are never larger.
        let mut sk = Sketcher::new(params());
        let (mut set, mut sig) = (Vec::new(), vec![0u32; 64]);
        let texts = [
            ("a b c a b c a b c", 0),
            ("one two three four five six", 0),
            ("header line\nx y z x y z\nheader line\nfooter", 2),
            ("w", 0),
        ];
        let mut repeats_seen = false;
        for (text, excluded) in texts {
            let exclude: Vec<u64> = if excluded > 0 {
                let mut lt = LineTokens::new(params().seed, false);
                Normalizer::new(params().profile).run_line("header line", &mut lt);
                vec![lt.line_hash()]
            } else {
                Vec::new()
            };
            let s = sk.sketch(text, &exclude, &mut sig);
            sk.shingle_set(text, &exclude, &mut set);
            assert_eq!(s.excluded_lines, excluded, "{text:?}");
            assert!(s.shingles as usize >= set.len(), "{text:?}");
            repeats_seen |= s.shingles as usize > set.len();
        }
        assert!(repeats_seen);
    }

    #[test]
    fn pass_two_gives_each_document_the_sketch_of_its_text_without_the_lines() {
        // Many short documents (pieces of 64) and book-sized ones (pieces cut by size), each
        // with a header line that pass 2 leaves out (a book's on every page: its shingles take
        // bins' minimums with them, which the runners-up pass 1 kept must settle); on two
        // threads, from the token store.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docs.jsonl");
        let mut texts = Vec::new();
        for i in 0..150usize {
            let words = if i % 10 == 7 { 60_000 } else { 30 + i % 50 };
            let body: Vec<String> = (0..words)
                .map(|w| format!("w{}", (w * 7 + i) % 997))
                .collect();
            let pages: Vec<String> = body.chunks(500).map(|p| p.join(" ")).collect();
            let body = pages.join("\nSITE HEADER | share\n");
            texts.push(format!("SITE HEADER | share\n{body}\nline {i}"));
        }
        let lines: Vec<String> = texts
            .iter()
            .map(|t| serde_json::json!({ "id": t.len(), "text": t }).to_string())
            .collect();
        std::fs::write(&path, lines.join("\n")).unwrap();
        let corpus = crate::input::load(&crate::config::InputConfig::new(vec![path]));
        assert_eq!(corpus.docs.len(), texts.len());
        assert!(texts.iter().map(|t| t.len() as u64).max().unwrap() > RESKETCH_PIECE_BYTES / 4);
        let mut line = LineTokens::new(params().seed, false);
        Normalizer::new(params().profile).run("SITE HEADER | share", &mut line);
        let exclude = vec![line.line_hash()];
        let store = TokenStore::create_in(dir.path(), texts.len(), 1 << 30).unwrap();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let cancel = AtomicBool::new(false);
        let progress = crate::progress::NoProgress;
        let (sketches, bins) = pool.install(|| {
            let (mut sketches, lines) =
                compute_with_lines(&corpus, params(), Some(&store), &progress, &cancel).unwrap();
            // The book-sized documents are patched from what pass 1 kept of them.
            assert!(lines.bins.runners_up.docs.len() >= 2);
            let all: Vec<u32> = (0..texts.len() as u32).collect();
            resketch(
                &corpus,
                params(),
                &exclude,
                Some(&store),
                &mut sketches,
                &lines.bins,
                &all,
                &progress,
                &cancel,
            )
            .unwrap();
            (sketches, lines.bins)
        });
        let mut sk = Sketcher::new(params());
        let mut sig = vec![0; params().num_perm];
        // Pass 1 kept the books' runners-up, each under its own document.
        for (d, t) in texts.iter().enumerate() {
            sk.track = true;
            sk.sketch_with_lines(t, &mut sig, &mut Vec::new());
            let kept = bins.runners_up.get(d as u32, params().num_perm);
            if t.len() as u64 >= RUNNERS_UP_BYTES && sk.full_bins {
                assert_eq!(kept, Some((&sk.runners.second[..], &sk.runners.count[..])));
            } else {
                assert_eq!(kept, None, "document {d}");
            }
            assert_eq!(bins.full[d], sk.full_bins);
        }
        for (d, t) in texts.iter().enumerate() {
            let want = sk.sketch(t, &exclude, &mut sig);
            assert_eq!(
                want.excluded_lines as usize,
                t.matches("SITE HEADER").count()
            );
            assert_eq!(
                sketches.signature(DocId(d as u32)),
                &sig[..],
                "document {d}"
            );
            assert_eq!(
                (sketches.exact[d], sketches.tokens[d], sketches.shingles[d]),
                (want.exact, want.tokens, want.shingles),
                "document {d}"
            );
        }
    }

    #[test]
    fn shingle_set_is_sorted_unique_and_matches_count() {
        let mut sk = Sketcher::new(params());
        let mut set = Vec::new();
        sk.shingle_set("a b c a b c a b c", &[], &mut set);
        // windows: abc, bca, cab, abc, bca, cab, abc -> 3 distinct
        assert_eq!(set.len(), 3);
        assert!(set.windows(2).all(|w| w[0] < w[1]));
    }

    /// Pass 2's patch of a pass-1 signature gives what sketching the kept lines in full gives
    /// (signature, exact hash, counts, whether every bin is filled), whichever lines are left
    /// out: at the start, the end, next to each other, all of them, none, repeated ones, and
    /// lines with numbers (their numbers go to the exact hash).
    #[test]
    fn pass_2_patch_equals_sketching_again() {
        use proptest::test_runner::{Config, TestRunner};
        let words: Vec<String> = (0..40).map(|i| format!("w{i}")).collect();
        let line = proptest::collection::vec(0..words.len() + 3, 1..8);
        let doc = proptest::collection::vec(line, 1..120);
        let picks = proptest::collection::vec(proptest::bool::weighted(0.08), 43);
        let dir = tempfile::tempdir().unwrap();
        let (patched, fell_back) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
        // Patched only thanks to the runners-up.
        let rescued = std::cell::Cell::new(0);
        let mut runner = TestRunner::new(Config {
            cases: 400,
            ..Config::default()
        });
        runner
            .run(&(doc, picks, proptest::bool::ANY), |(doc, picks, track)| {
                let p = SketchParams {
                    num_perm: 16,
                    ..params()
                };
                let lines: Vec<String> = doc
                    .iter()
                    .map(|l| {
                        let ws = l.iter().map(|&i| match words.get(i) {
                            Some(w) => w.clone(),
                            None => format!("pay {i}"),
                        });
                        ws.collect::<Vec<_>>().join(" ")
                    })
                    .collect();
                let text = lines.join("\n");
                // Left out: the distinct lines whose pick (by first word) is set.
                let mut ln = LineTokens::new(p.seed, false);
                let mut exclude: Vec<u64> = doc
                    .iter()
                    .zip(&lines)
                    .filter(|(l, _)| picks[l[0] % picks.len()])
                    .map(|(_, t)| {
                        ln.clear();
                        Normalizer::new(Profile::Full).run(t, &mut ln);
                        ln.line_hash()
                    })
                    .collect();
                exclude.sort_unstable();
                exclude.dedup();
                let store = TokenStore::create_in(dir.path(), 1, 1 << 20).unwrap();
                let mut sk = Sketcher::new(p);
                let mut prev = vec![0; 16];
                sk.begin_block(Some(&store));
                sk.track = track;
                sk.sketch_with_lines(&text, &mut prev, &mut Vec::new());
                sk.end_doc();
                sk.end_block(Some(&store), 0);
                if !sk.full_bins {
                    return Ok(());
                }
                let record = store.get(0, &mut Vec::new()).unwrap().to_vec();
                let (mut want_sig, mut got_sig) = (vec![0; 16], vec![0; 16]);
                let want =
                    sk.sketch_from(Source::Stored(&record), exclude[..].into(), &mut want_sig);
                let want_full = sk.full_bins;
                let runners = sk.runners.clone();
                let runners = track.then_some((&runners.second[..], &runners.count[..]));
                let filter = LineFilter::new(&exclude);
                let filtered = Exclude::with_filter(&exclude, &filter);
                let got = sk.resketch_stored(&record, filtered, &prev, runners, &mut got_sig);
                proptest::prop_assert_eq!(
                    (got, &got_sig, sk.full_bins),
                    (want, &want_sig, want_full)
                );
                // Which way it went (the buffers still hold this document).
                if sk.patch(&prev, runners, &mut [0; 16]) {
                    patched.set(patched.get() + 1);
                    if !sk.patch(&prev, None, &mut [0; 16]) {
                        rescued.set(rescued.get() + 1);
                    }
                } else {
                    fell_back.set(fell_back.get() + 1);
                }
                Ok(())
            })
            .unwrap();
        // Both ways were taken, many times.
        let (patched, fell_back, rescued) = (patched.get(), fell_back.get(), rescued.get());
        assert!(
            patched > 50 && fell_back > 50 && rescued > 20,
            "{patched} patched ({rescued} by runners-up), {fell_back} not"
        );
    }

    /// A patch set up by hand: `all` tokens, `cuts` left out, pass 1's signature `prev` zero
    /// but for the bins given.
    fn patch_by_hand(
        all: &[u64],
        cuts: &[(usize, usize)],
        bins: &[(u64, &[u64], u8, u32)],
    ) -> Option<Vec<u32>> {
        let p = SketchParams {
            num_perm: 16,
            ..params()
        };
        let mut sk = Sketcher::new(p);
        sk.all = all.to_vec();
        sk.cuts = cuts.to_vec();
        let mut cut = cuts.iter();
        let mut next = cut.next();
        for (i, &t) in all.iter().enumerate() {
            while next.is_some_and(|&(_, e)| e <= i) {
                next = cut.next();
            }
            if next.is_none_or(|&(s, _)| s > i) {
                sk.kept.push(t);
            }
        }
        let (mut prev, mut second, mut count) = (vec![0; 16], vec![EMPTY; 16], vec![1u8; 16]);
        for &(_, window, c, runner_up) in bins {
            let h = crate::shingle::word_shingle_hash(window, p.seed);
            let (bin, val) = crate::minhash::slot(h, 16);
            (prev[bin], count[bin], second[bin]) = (val, c, runner_up);
        }
        let mut out = vec![0; 16];
        sk.patch(&prev, Some((&second, &count)), &mut out)
            .then_some(out)
    }

    /// A window through two cuts closer than a shingle is one removed copy, not two: with two
    /// copies of the minimum one is left.
    #[test]
    fn patch_counts_a_window_two_cuts_share_once() {
        let w0: &[u64] = &[1, 2, 3];
        let (bin, val) = crate::minhash::slot(crate::shingle::word_shingle_hash(w0, 1), 16);
        let got = patch_by_hand(
            &[1, 2, 3, 4, 5],
            &[(0, 1), (2, 3)],
            &[(0, w0, 2, EMPTY - 1)],
        );
        let got = got.expect("a copy of the minimum is left");
        // The one new window, [2, 4, 5], may lower the bin.
        let (nb, nv) = crate::minhash::slot(crate::shingle::word_shingle_hash(&[2, 4, 5], 1), 16);
        let want = if nb == bin { val.min(nv) } else { val };
        assert_eq!(got[bin], want);
    }

    /// A minimum seen 255 times or more (the count saturates) and removed as often may be gone
    /// or not: the patch does not guess.
    #[test]
    fn patch_refuses_a_saturated_count_it_cannot_settle() {
        let mut all = vec![9u64; 300];
        all.extend([1, 2, 3, 4, 5, 6]);
        let w: &[u64] = &[9, 9, 9];
        assert_eq!(
            patch_by_hand(&all, &[(0, 300)], &[(0, w, u8::MAX, 7)]),
            None
        );
        // Counted exactly, all copies gone: the runner-up takes the bin.
        let mut all = vec![9u64; 100];
        all.extend([1, 2, 3, 4, 5, 6]);
        let (bin, _) = crate::minhash::slot(crate::shingle::word_shingle_hash(w, 1), 16);
        let got = patch_by_hand(&all, &[(0, 100)], &[(0, w, 98, 7)]).expect("settled");
        assert!(got[bin] <= 7);
    }
}
