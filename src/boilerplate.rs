//! Boilerplate lines: site names, navigation, bylines, sign-offs, share and hashtag lines, titles
//! repeated in a page. Found before shingling, reported, kept out of near-duplicate detection,
//! and stripped by `clean`.
//!
//! **Pass 1** ([`crate::pipeline::sketch()`]) normalises every line (lines end at `\n`)
//! with the scan's profile, hashes it, and keeps per document the distinct non-empty lines with
//! their repeat count, token count and first line number, in one flat array ([`DocLines`]) —
//! in the same pass that computes each document's full MinHash signature.
//!
//! **Detection** ([`crate::pipeline::boilerplate()`]) groups those entries by line hash (sorting, not a shared map) and
//! flags a line for any of these reasons:
//!
//! * `repeated`: it occurs at least [`MIN_REPEATS`] times in one document, and at least once per
//!   [`REPEAT_LINES_PER_OCCURRENCE`] lines of it, and has 2 to
//!   [`MAX_REPEAT_TOKENS`] tokens (a title or site name printed five times in one page);
//! * `template`: within one source (outlet) it occurs in at least `min_docs` documents (4× that
//!   for a one-word line), and the documents carrying it have content of their own;
//! * `common`: across all sources it occurs in at least [`COMMON_FACTOR`] × `min_docs` documents
//!   (again 4× for one word), with the same own-content guard;
//! * `hashtags`: every word of the raw line is a `#hashtag` (at least two, at most
//!   [`MAX_TEMPLATE_TOKENS`]);
//! * `known`: it is one of a short list of navigation and sharing strings that content
//!   management systems print ("Skip to content" and its translations, "Share on Facebook", …;
//!   see [`KNOWN_LINES`]). Off with `--no-boilerplate-lexicon`.
//!
//! Guards keep ordinary text out: lines of numbers only are never flagged; a frequency rule only
//! looks at lines of at most [`MAX_TEMPLATE_TOKENS`] tokens, and never at a line that in most of
//! its documents is a *fragment* of hard-wrapped text (it continues the line before it, which
//! ends without sentence punctuation, with a lower-case letter, or the next line continues it so:
//! Reuters' `said.`); and a guard tells a template from a syndicated paragraph, which is just as
//! frequent. Within an **outlet** (a `--source-field` value, or the directory of text files), a
//! line is a template if the documents carrying it have content of their own: the median share
//! of their tokens in lines found in no other document of that outlet is at least
//! [`MIN_OWN_CONTENT`] (an outlet does not reprint one story many times, so this is enough).
//! Where the source is only the JSON Lines file a record came from, and for the corpus-wide
//! rule, edited (and re-paragraphed) reprints also carry lines of their own, so the test is
//! direct: the median MinHash similarity of documents carrying the line, paired far apart in the
//! input, must be at most [`MAX_PAIR_SIMILARITY`] — different articles around a template, not
//! copies of one story.
//!
//! **Pass 2** re-sketches only the documents that contain a flagged line, without it.

use std::sync::atomic::{AtomicU32, Ordering};

use rayon::prelude::*;

use crate::input::{Corpus, DocId};
use crate::minhash::estimate_jaccard;
use crate::normalize::{Normalizer, Profile};
use crate::shingle::LineTokens;
use crate::sketch::Signatures;

pub use crate::config::{BoilerplateConfig, DEFAULT_MIN_DOCS};
/// A one-word line needs this many times more documents.
pub const SINGLE_WORD_FACTOR: usize = 4;
/// The corpus-wide rule needs this many times more documents than the per-source rule.
pub const COMMON_FACTOR: usize = 4;
/// Longest line (in tokens) the frequency rules consider.
pub const MAX_TEMPLATE_TOKENS: usize = 60;
/// Occurrences in one document that make a line `repeated` (two is too common in verse, recipes
/// and lyrics; scraped pages repeat their site name and title many times)...
pub const MIN_REPEATS: u32 = 3;
/// ...and at least one occurrence per this many lines of the document, so a formula that recurs
/// a few times in a book is not mistaken for a page's repeated title.
pub const REPEAT_LINES_PER_OCCURRENCE: u32 = 50;
/// Longest line (in tokens) the within-document repetition rule considers.
pub const MAX_REPEAT_TOKENS: usize = 30;
/// Median own-content share required of the documents carrying a frequent line.
pub const MIN_OWN_CONTENT: f32 = 0.25;
/// Most similarity (MinHash estimate of Jaccard over the whole documents) allowed between
/// documents sharing a frequent line, where the source does not name an outlet (and for the
/// corpus-wide rule): above it they are copies of one story, not articles around a template.
pub const MAX_PAIR_SIMILARITY: f64 = 0.2;
/// Documents sampled per line and scope for the own-content median.
const OWN_CONTENT_SAMPLE: usize = 31;
/// Example document ids kept per flagged line.
pub const EXAMPLES: usize = 3;

/// Navigation and sharing lines printed by content management systems, in several languages.
/// Matched as whole normalised lines.
pub const KNOWN_LINES: &[&str] = &[
    // "Skip to content" (WordPress and others) and variants.
    "Skip to content",
    "Skip to main content",
    "Skip to navigation",
    "Jump to navigation",
    "التخطي إلى المحتوى",
    "انتقل إلى المحتوى",
    "تخطى إلى المحتوى",
    "Aller au contenu",
    "Aller au contenu principal",
    "Zum Inhalt springen",
    "Saltar al contenido",
    "Ir al contenido",
    "Passa al contenuto",
    "Pular para o conteúdo",
    "İçeriğe geç",
    // Sharing.
    "Share",
    "Share this",
    "Share this article",
    "Share on Facebook",
    "Share on Twitter",
    "Share on WhatsApp",
    "Click to share on Facebook",
    "Click to share on Twitter",
    "Tweet",
    "Print",
    "Email",
    "شارك",
    "شارك الخبر",
    "شارك المقال",
    "مشاركة",
    "طباعة",
    "تويتر",
    "فيسبوك",
    "واتساب",
    "Partager",
    "Teilen",
    "Compartir",
    // Reading prompts.
    "Read more",
    "Continue reading",
    "Advertisement",
    "اقرأ أيضا",
    "اقرأ المزيد",
    "إعلان",
    "Lire aussi",
    "Weiterlesen",
    "Leer más",
];

/// One distinct line of one document.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LineEntry {
    /// Hash of the normalised line.
    pub hash: u64,
    /// 1-based number of its first occurrence in the document text.
    pub first_line: u32,
    /// Normalised tokens (saturating).
    pub tokens: u16,
    /// Occurrences in the document (saturating).
    pub count: u8,
    /// `F_*` flags.
    pub flags: u8,
}

impl crate::sketch::Hashed for LineEntry {
    #[inline]
    fn hash(&self) -> u64 {
        self.hash
    }
}

const F_HASHTAGS: u8 = 1;
const F_NUMERIC: u8 = 2;
const F_FRAGMENT: u8 = 4;

/// Whether a raw line ends without closing its sentence (hard-wrapped text goes on below). A
/// quote closed after a comma (`,"`) is open too: `he said.` follows.
fn ends_open(raw: &str) -> bool {
    let t = raw.trim_end();
    if t.ends_with(",\"") || t.ends_with(",”") || t.ends_with(",'") {
        return true;
    }
    match t.chars().last() {
        None => false,
        Some(c) => !matches!(
            c,
            '.' | '!'
                | '?'
                | ':'
                | ';'
                | '"'
                | '\''
                | ')'
                | ']'
                | '”'
                | '’'
                | '»'
                | '…'
                | '؟'
                | '؛'
                | '。'
                | '！'
                | '？'
        ),
    }
}

/// Whether a raw line starts with a lower-case letter (only cased scripts can say so).
fn starts_lower(raw: &str) -> bool {
    raw.chars()
        // Arabic letters and marks (alphabetic, uncased) answered without the Unicode tables'
        // binary search, once per line of an Arabic text.
        .find(|&c| is_arabic_letter_or_mark(c) || c.is_alphabetic())
        .is_some_and(|c| c.is_lowercase())
}

/// Arabic letters and harakat: alphabetic, never lower-case (U+0658 is not alphabetic).
#[inline]
fn is_arabic_letter_or_mark(c: char) -> bool {
    matches!(c, '\u{0620}'..='\u{0657}' | '\u{0659}'..='\u{065F}')
}

/// Whether a line fills the document's wrap width (`width`: its longest line, in bytes), as the
/// lines of hard-wrapped text do.
fn is_full(raw: &str, width: usize) -> bool {
    width >= 40 && raw.trim_end().len() * 4 >= width * 3
}

/// Whether the line `cur` is a piece of a sentence wrapped over several lines: it continues the
/// line before it (which ends open and fills the wrap width, or is followed by a lower-case
/// start), or the line after it continues it the same way.
fn is_fragment(prev: &str, cur: &str, next: &str, width: usize) -> bool {
    let prev_open = !prev.trim().is_empty() && ends_open(prev);
    let cur_open = !next.trim().is_empty() && ends_open(cur);
    (prev_open && (starts_lower(cur) || is_full(prev, width)))
        || (cur_open && (starts_lower(next) || is_full(cur, width)))
}

/// Pass-1 result: for every document, its distinct non-empty lines (sorted by hash).
#[derive(Debug, Default)]
pub struct DocLines {
    /// `entries[offsets[d]..offsets[d + 1]]` are document `d`'s lines.
    pub(crate) offsets: Vec<usize>,
    pub(crate) entries: Vec<LineEntry>,
    /// What pass 2 can patch pass 1's signatures from.
    pub(crate) bins: crate::sketch::Pass1Bins,
}

impl DocLines {
    /// `n` documents without lines (boilerplate detection off).
    pub fn empty(n: usize) -> Self {
        DocLines {
            offsets: vec![0; n + 1],
            entries: Vec::new(),
            bins: Default::default(),
        }
    }

    pub(crate) fn of(&self, doc: usize) -> &[LineEntry] {
        &self.entries[self.offsets[doc]..self.offsets[doc + 1]]
    }
}

/// Whether every whitespace-separated word of a raw line is a hashtag (at least two words).
pub(crate) fn is_hashtag_line(raw: &str) -> bool {
    let mut n = 0;
    for w in raw.split_whitespace() {
        if !(w.starts_with('#') || w.starts_with('＃')) || w.chars().count() < 2 {
            return false;
        }
        n += 1;
    }
    n >= 2
}

/// Width (longest line, in bytes) of a text, as the fragment test needs it.
pub(crate) fn text_width(text: &str) -> usize {
    crate::normalize::lines(text)
        .map(|l| l.trim_end().len())
        .max()
        .unwrap_or(0)
}

/// The entry for one non-empty normalised line `line` of raw text `raw` (1-based `number`),
/// between the raw lines `prev` and `next`, in a text `width` wide.
pub(crate) fn line_entry(
    line: &LineTokens,
    raw: &str,
    prev: &str,
    next: &str,
    number: usize,
    width: usize,
) -> LineEntry {
    let mut flags = 0;
    if line.numeric {
        flags |= F_NUMERIC;
    }
    if is_hashtag_line(raw) {
        flags |= F_HASHTAGS;
    }
    if is_fragment(prev, raw, next, width) {
        flags |= F_FRAGMENT;
    }
    LineEntry {
        hash: line.line_hash(),
        first_line: number.min(u32::MAX as usize) as u32,
        tokens: line.len().min(u16::MAX as usize) as u16,
        count: 1,
        flags,
    }
}

/// Sort one document's line entries (in line order, as read) by hash and merge repeats into
/// `out`; returns how many were added.
pub(crate) fn merge_doc_lines(
    doc: &mut [LineEntry],
    scratch: &mut Vec<LineEntry>,
    out: &mut Vec<LineEntry>,
) -> usize {
    // Stable: entries of one line hash stay in line order, as sorting by (hash, line) would.
    debug_assert!(doc.is_sorted_by_key(|e| e.first_line));
    crate::sketch::sort_stable_by_hash(doc, scratch);
    let start = out.len();
    for e in doc.iter() {
        let len = out.len();
        match out.last_mut() {
            Some(last) if len > start && last.hash == e.hash => {
                last.count = last.count.saturating_add(1);
                last.flags |= e.flags;
            }
            _ => out.push(*e),
        }
    }
    out.len() - start
}

/// Why a line was flagged (a set of these is reported per line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Known,
    Hashtags,
    Repeated,
    Template,
    Common,
}

impl Reason {
    pub const ALL: [Reason; 5] = [
        Reason::Known,
        Reason::Hashtags,
        Reason::Repeated,
        Reason::Template,
        Reason::Common,
    ];
    fn bit(self) -> u8 {
        1 << self as u8
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Known => "known",
            Reason::Hashtags => "hashtags",
            Reason::Repeated => "repeated",
            Reason::Template => "template",
            Reason::Common => "common",
        }
    }
}

/// A flagged line.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FlaggedLine {
    pub hash: u64,
    /// Bit set of [`Reason`]s.
    pub reasons: u8,
    /// Documents containing the line.
    pub docs: u64,
    /// Most occurrences in one document.
    pub max_repeats: u32,
    /// `(outlet index, documents)` for every outlet it appears in, most documents first.
    pub outlets: Vec<(u32, u64)>,
    /// The first few documents containing it.
    pub examples: Vec<DocId>,
    /// Where it was first seen: document and 1-based line.
    pub first: (DocId, u32),
    /// The raw text of that first occurrence, trimmed.
    pub text: String,
    pub tokens: u16,
}

impl FlaggedLine {
    pub fn reasons(&self) -> impl Iterator<Item = Reason> + '_ {
        Reason::ALL
            .into_iter()
            .filter(|r| self.reasons & r.bit() != 0)
    }
}

/// The detected boilerplate.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Boilerplate {
    /// Hashes of flagged lines, sorted (for lookup).
    pub hashes: Vec<u64>,
    /// Flagged lines in report order (most documents first, ties by first-seen text).
    pub lines: Vec<FlaggedLine>,
    /// Documents with at least one flagged line.
    pub docs_affected: u64,
    /// Flagged line occurrences over all documents.
    pub occurrences: u64,
}

impl Boilerplate {
    pub fn contains(&self, hash: u64) -> bool {
        self.hashes.binary_search(&hash).is_ok()
    }

    /// Count the lines of `hashes` (flagged earlier, e.g. in an index) as flagged too: left out
    /// of shingling like this run's own (they are not reported in `boilerplate.jsonl`).
    pub fn flag_known(&mut self, hashes: &[u64]) {
        if hashes.is_empty() {
            return;
        }
        self.hashes.extend_from_slice(hashes);
        self.hashes.sort_unstable();
        self.hashes.dedup();
    }

    /// Documents with at least one flagged line, sorted.
    pub fn affected_docs(&self, lines: &DocLines) -> Vec<u32> {
        let filter = crate::sketch::LineFilter::new(&self.hashes);
        let flagged = crate::sketch::Exclude::with_filter(&self.hashes, &filter);
        (0..lines.offsets.len().saturating_sub(1))
            .into_par_iter()
            .filter(|&d| lines.of(d).iter().any(|e| flagged.contains(e.hash)))
            .map(|d| d as u32)
            .collect()
    }
}

/// Hashes of the known lines under this profile and seed, sorted.
pub(crate) fn known_hashes(profile: Profile, seed: u64) -> Vec<u64> {
    let mut n = Normalizer::new(profile);
    let mut line = LineTokens::new(seed, false);
    let mut v: Vec<u64> = KNOWN_LINES
        .iter()
        .map(|s| {
            line.clear();
            n.run_line(s, &mut line);
            line.line_hash()
        })
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The raw text of 1-based line `line` of `text`, trimmed.
pub fn raw_line(text: &str, line: u32) -> &str {
    text.split('\n')
        .nth(line.saturating_sub(1) as usize)
        .unwrap_or("")
        .trim()
}

/// Median similarity between documents of (a sample of) `docs` paired far apart (the i-th with
/// the one half the list later, so neighbouring copies of one story in the input do not decide):
/// high when they are copies of one story, low when they are different articles around a
/// template.
fn median_pair_similarity(sigs: &dyn Signatures, docs: &[u32]) -> f64 {
    let k = sigs.num_perm();
    let (mut sa, mut sb) = (vec![0u32; k], vec![0u32; k]);
    let step = docs.len().div_ceil(2 * OWN_CONTENT_SAMPLE).max(1);
    let picked: Vec<u32> = docs.iter().step_by(step).copied().collect();
    let half = picked.len() / 2;
    let mut v: Vec<f64> = (0..half)
        .map(|i| {
            let (a, b) = (picked[i], picked[i + half]);
            sigs.copy_signature(a, &mut sa);
            sigs.copy_signature(b, &mut sb);
            estimate_jaccard(&sa, &sb)
        })
        .collect();
    v.sort_unstable_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn median(mut v: Vec<f32>) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Up to `k` evenly spaced items of `v`.
fn sample<T: Copy>(v: &[T], k: usize) -> impl Iterator<Item = T> + '_ {
    let step = v.len().div_ceil(k).max(1);
    v.iter().step_by(step).copied()
}

/// Flag boilerplate lines from the pass-1 statistics.
pub(crate) fn detect(
    corpus: &Corpus,
    lines: &DocLines,
    sketches: &dyn Signatures,
    cfg: &BoilerplateConfig,
    profile: Profile,
    seed: u64,
) -> Boilerplate {
    let n_docs = corpus.docs.len();
    // (hash, doc, entry index) for every entry, grouped by sorting.
    // (Every step over all entries runs in parallel: one serial pass over millions of entries
    // is what leaves the other threads idle on a second core.)
    let mut index: Vec<(u64, u32, u32)> = vec![(0, 0, 0); lines.entries.len()];
    const PIECE: usize = 1 << 14;
    index
        .par_chunks_mut(PIECE)
        .enumerate()
        .for_each(|(k, piece)| {
            let first = k * PIECE;
            // The document of entry `first`: the last whose lines start at or before it.
            let mut d = lines.offsets.partition_point(|&o| o <= first) - 1;
            for (i, slot) in (first..).zip(piece.iter_mut()) {
                while lines.offsets[d + 1] <= i {
                    d += 1;
                }
                *slot = (lines.entries[i].hash, d as u32, i as u32);
            }
        });
    // The entries come in (document, entry) order, so the radix sort, stable by hash, leaves
    // them as the full sort of the triples would.
    debug_assert!(
        index
            .windows(2)
            .all(|w| (w[0].1, w[0].2) < (w[1].1, w[1].2))
    );
    if index.len() >= crate::sketch::RADIX_FROM {
        crate::sketch::par_radix_sort_by_hash(&mut index);
    } else {
        index.sort_unstable();
    }
    // The runs of one line hash, found in parallel each time they are walked (not collected:
    // one run per distinct line, millions on books, joined on one thread).
    let runs = || index.par_chunk_by(|x, y| x.0 == y.0);
    // Document frequency of every entry's line within its document's outlet (each entry is in
    // one run: every slot is written once).
    let df_atomic: Vec<AtomicU32> = (0..lines.entries.len())
        .into_par_iter()
        .map(|_| AtomicU32::new(0))
        .collect();
    runs().for_each_init(Vec::new, |by_source, run| {
        by_source.clear();
        by_source.extend(
            run.iter()
                .map(|&(_, d, i)| (corpus.doc_outlet[d as usize], i)),
        );
        by_source.sort_unstable();
        for group in by_source.chunk_by(|x: &(u32, u32), y| x.0 == y.0) {
            for &(_, i) in group {
                df_atomic[i as usize].store(group.len() as u32, Ordering::Relaxed);
            }
        }
    });
    let df_source: Vec<u32> = df_atomic.into_iter().map(AtomicU32::into_inner).collect();
    // Own content of every document within its source.
    let own = |df: &[u32], d: usize| -> f32 {
        let (mut own, mut all) = (0u64, 0u64);
        let range = lines.offsets[d]..lines.offsets[d + 1];
        for (e, &f) in lines.entries[range.clone()].iter().zip(&df[range]) {
            let t = e.tokens as u64 * e.count as u64;
            all += t;
            if f == 1 {
                own += t;
            }
        }
        if all == 0 {
            0.0
        } else {
            own as f32 / all as f32
        }
    };
    let own_source: Vec<f32> = (0..n_docs)
        .into_par_iter()
        .map(|d| own(&df_source, d))
        .collect();
    // Non-empty lines of every document, for the repetition rule.
    let doc_lines: Vec<u32> = (0..n_docs)
        .into_par_iter()
        .map(|d| lines.of(d).iter().map(|e| e.count as u32).sum())
        .collect();
    let known = if cfg.lexicon {
        known_hashes(profile, seed)
    } else {
        Vec::new()
    };

    let min_docs = cfg.min_docs.max(1);
    let mut flagged: Vec<FlaggedLine> = runs()
        .filter_map(|run| {
            let first = lines.entries[run[0].2 as usize];
            if first.flags & F_NUMERIC != 0 {
                return None;
            }
            let tokens = first.tokens as usize;
            let mut reasons = 0u8;
            let max_repeats = run
                .iter()
                .map(|&(_, _, i)| lines.entries[i as usize].count as u32)
                .max()
                .unwrap_or(1);

            if tokens <= MAX_TEMPLATE_TOKENS
                && run
                    .iter()
                    .any(|&(_, _, i)| lines.entries[i as usize].flags & F_HASHTAGS != 0)
            {
                reasons |= Reason::Hashtags.bit();
            }
            let repeated_somewhere = run.iter().any(|&(_, d, i)| {
                let c = lines.entries[i as usize].count as u32;
                c >= MIN_REPEATS && c * REPEAT_LINES_PER_OCCURRENCE >= doc_lines[d as usize]
            });
            if repeated_somewhere && (2..=MAX_REPEAT_TOKENS).contains(&tokens) {
                reasons |= Reason::Repeated.bit();
            }
            // A piece of a hard-wrapped sentence in most of its documents ("said." after a line
            // ending "...the company") is text, however frequent.
            let fragments = run
                .iter()
                .filter(|&&(_, _, i)| lines.entries[i as usize].flags & F_FRAGMENT != 0)
                .count();
            let mostly_fragment = fragments * 2 >= run.len();
            let frequency_rules = tokens <= MAX_TEMPLATE_TOKENS && !mostly_fragment;
            if !mostly_fragment && known.binary_search(&first.hash).is_ok() {
                reasons |= Reason::Known.bit();
            }
            // Documents per source.
            let mut src_docs: Vec<(u32, u32)> = run
                .iter()
                .map(|&(_, d, _)| (corpus.doc_outlet[d as usize], d))
                .collect();
            src_docs.sort_unstable();
            let mut sources: Vec<(u32, u64)> = Vec::new();
            let need = if tokens == 1 {
                min_docs * SINGLE_WORD_FACTOR
            } else {
                min_docs
            };
            for group in src_docs.chunk_by(|x, y| x.0 == y.0) {
                let outlet = group[0].0;
                sources.push((outlet, group.len() as u64));
                if frequency_rules && group.len() >= need {
                    let docs: Vec<u32> = group.iter().map(|&(_, d)| d).collect();
                    let template = if corpus.outlet_known[outlet as usize] {
                        // One outlet does not reprint one story many times: documents with
                        // content of their own carrying this line make it the outlet's template.
                        median(
                            sample(&docs, OWN_CONTENT_SAMPLE)
                                .map(|d| own_source[d as usize])
                                .collect(),
                        ) >= MIN_OWN_CONTENT
                    } else {
                        median_pair_similarity(sketches, &docs) <= MAX_PAIR_SIMILARITY
                    };
                    if template {
                        reasons |= Reason::Template.bit();
                    }
                }
            }
            if frequency_rules && run.len() >= need * COMMON_FACTOR {
                let docs: Vec<u32> = run.iter().map(|&(_, d, _)| d).collect();
                if median_pair_similarity(sketches, &docs) <= MAX_PAIR_SIMILARITY {
                    reasons |= Reason::Common.bit();
                }
            }
            if reasons == 0 {
                return None;
            }
            sources.sort_unstable_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
            let first_doc = run[0].1;
            Some(FlaggedLine {
                hash: first.hash,
                reasons,
                docs: run.len() as u64,
                max_repeats,
                outlets: sources,
                examples: run
                    .iter()
                    .take(EXAMPLES)
                    .map(|&(_, d, _)| DocId(d))
                    .collect(),
                first: (DocId(first_doc), first.first_line),
                text: String::new(),
                tokens: first.tokens,
            })
        })
        .collect();
    // First-seen texts: decode each document once for all the lines wanted from it.
    flagged.sort_unstable_by_key(|f| f.first);
    // (In parallel, and only the lines wanted: a book is not decoded whole for its few.)
    flagged
        .par_chunk_by_mut(|x, y| x.first.0 == y.first.0)
        .for_each_init(
            || (String::new(), Vec::new()),
            |(buf, wanted), group| {
                // Sorted by line number within the document.
                wanted.clear();
                wanted.extend(group.iter().map(|f| f.first.1));
                let doc = &corpus.docs[group[0].first.0.0 as usize];
                corpus.lines_numbered(doc, wanted, buf, |k, line| {
                    group[k].text = line.to_string();
                });
            },
        );
    // Report order: most documents first, ties by first-seen text, then hash.
    flagged.sort_by(|a, b| {
        b.docs
            .cmp(&a.docs)
            .then_with(|| a.text.cmp(&b.text))
            .then(a.hash.cmp(&b.hash))
    });
    let lines_out = flagged;
    let mut hashes: Vec<u64> = lines_out.iter().map(|f| f.hash).collect();
    hashes.sort_unstable();
    let filter = crate::sketch::LineFilter::new(&hashes);
    let flagged_hashes = crate::sketch::Exclude::with_filter(&hashes, &filter);
    let (docs_affected, occurrences) = (0..n_docs)
        .into_par_iter()
        .map(|d| {
            let occurrences: u64 = lines
                .of(d)
                .iter()
                .filter(|e| flagged_hashes.contains(e.hash))
                .map(|e| e.count as u64)
                .sum();
            (u64::from(occurrences > 0), occurrences)
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    Boilerplate {
        hashes,
        lines: lines_out,
        docs_affected,
        occurrences,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arabic_fast_path_agrees_with_the_unicode_tables() {
        for cp in 0x0600..0x0700 {
            let c = char::from_u32(cp).unwrap();
            if is_arabic_letter_or_mark(c) {
                assert!(c.is_alphabetic() && !c.is_lowercase(), "U+{cp:04X}");
            }
        }
        assert!(!starts_lower("، وقال الوزير"));
        assert!(starts_lower("، and then"));
    }

    #[test]
    fn hashtag_lines_need_two_hashtags_and_nothing_else() {
        assert!(is_hashtag_line("#الجزائر #تحاول #التقرب"));
        assert!(is_hashtag_line("  #a1 ＃b2 "));
        assert!(!is_hashtag_line("#solo"));
        assert!(!is_hashtag_line("#a plain #b"));
        assert!(!is_hashtag_line("# #"));
    }

    fn scan(text: &str, out: &mut Vec<LineEntry>) -> usize {
        let mut n = Normalizer::new(Profile::Full);
        let mut line = LineTokens::new(1, false);
        let width = text_width(text);
        let raws: Vec<&str> = text.split('\n').collect();
        let mut doc = Vec::new();
        for (i, raw) in raws.iter().enumerate() {
            line.clear();
            n.run(raw, &mut line);
            if !line.is_empty() {
                let prev = if i > 0 { raws[i - 1] } else { "" };
                let next = raws.get(i + 1).copied().unwrap_or("");
                doc.push(line_entry(&line, raw, prev, next, i + 1, width));
            }
        }
        merge_doc_lines(&mut doc, &mut Vec::new(), out)
    }

    #[test]
    fn merged_lines_match_the_sort_by_hash_then_line_at_every_length() {
        // Uniform hashes drawn from a pool, so that lines repeat; lengths across the three
        // sorting paths (a few, hundreds, a book's tens of thousands).
        let mut x = 0x0bad_5eed_u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let pool: Vec<u64> = (0..5000).map(|_| next()).collect();
        for len in [0usize, 1, 5, 63, 64, 500, 16_383, 16_384, 40_000] {
            let doc: Vec<LineEntry> = (0..len)
                .map(|i| LineEntry {
                    hash: pool[(next() % pool.len() as u64) as usize],
                    first_line: i as u32 + 1,
                    tokens: (i % 7) as u16,
                    count: 1,
                    flags: (i % 3) as u8,
                })
                .collect();
            let mut expected = doc.clone();
            expected.sort_unstable_by_key(|e| (e.hash, e.first_line));
            let mut want: Vec<LineEntry> = Vec::new();
            for e in expected {
                match want.last_mut() {
                    Some(last) if last.hash == e.hash => {
                        last.count = last.count.saturating_add(1);
                        last.flags |= e.flags;
                    }
                    _ => want.push(e),
                }
            }
            let mut got = Vec::new();
            let n = merge_doc_lines(&mut doc.clone(), &mut Vec::new(), &mut got);
            assert_eq!(n, want.len(), "{len} lines");
            assert_eq!(got, want, "{len} lines");
        }
    }

    #[test]
    fn line_entries_count_repeats_and_keep_first_line_numbers() {
        let mut out = Vec::new();
        let n = scan(
            "Site: News\nbody text here\n\nsite news\n2024\n#a #b",
            &mut out,
        );
        assert_eq!(n, 4);
        let site = out.iter().find(|e| e.count == 2).unwrap();
        assert_eq!((site.first_line, site.tokens), (1, 2));
        assert!(
            out.iter()
                .any(|e| e.flags & F_NUMERIC != 0 && e.first_line == 5)
        );
        assert!(
            out.iter()
                .any(|e| e.flags & F_HASHTAGS != 0 && e.first_line == 6)
        );
    }

    #[test]
    fn wrapped_sentence_pieces_are_fragments_and_sign_offs_are_not() {
        let w = 70;
        assert!(is_fragment(
            "closed by regulators, the FDIC",
            "said.",
            "",
            w
        ));
        let full = "the agency's outlook for grain exports was revised by the Commerce";
        assert!(is_fragment(full, "Department said.", "", w));
        assert!(is_fragment("\"We will not sell,\"", "he said.", "", w));
        let m = "Moody's Investors Service Inc said it";
        assert!(is_fragment("", m, "had lowered the rating", w));
        assert!(!is_fragment("The deal closed on Friday.", "Reuter", "", w));
        assert!(!is_fragment("Net 1,234 vs 987", "Reuter", "", w));
        assert!(!is_fragment("نص عربي بلا ترقيم", "نص آخر", "", w));
    }

    #[test]
    fn known_lines_include_skip_to_content_in_arabic() {
        let known = known_hashes(Profile::Full, 9);
        let mut line = LineTokens::new(9, false);
        Normalizer::new(Profile::Full).run("  التخطّي إلى المحتوى ", &mut line);
        assert!(known.binary_search(&line.line_hash()).is_ok());
    }
}
