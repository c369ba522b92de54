//! `clean`: write a deduplicated corpus with boilerplate lines removed, in the shape of the input.
//!
//! * JSON Lines in → JSON Lines out: a kept record is written as it was, byte for byte, except
//!   that the text field's value is replaced when lines were stripped from it; dropped
//!   duplicates and records that could not be read are left out (and audited).
//! * A tree of text files → the same tree under the output directory.
//! * `.gz` / `.zst` in → `.gz` / `.zst` out.
//!
//! Two promises:
//! * a document is dropped only when the kept representative of its cluster *covers* it (Jaccard
//!   at or above the threshold, or its own shingles inside the kept one at or above the
//!   containment threshold: [`crate::verify::Score::a_covers_b`]);
//! * only page furniture is stripped ([`StripRule`]): flagged lines in the block at the top or
//!   bottom of a document, navigation and hashtag lines, a title or site name repeated in the
//!   page; never a line with a number in it (data) or the first line of a sentence that goes on
//!   in the next line. Other flagged lines stay (out of matching, but in the text) unless
//!   `--strip-inner`.
//!
//! Every output file is written atomically. The audit trail (`.neardup/removed.jsonl`) is the
//! truth: every dropped duplicate (with the document covering it and their scores), every removed
//! line (document, line number, text; blank lines the removal left behind included) and every
//! skipped record (reason). Outside the removed lines the output is byte for byte the input
//! (JSON escapes and invalid UTF-8 included): lines are cut out of the raw bytes, never decoded
//! and written again. The summary accounts for every document: `read = kept + dropped + skipped`.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use serde::Serialize;

use crate::boilerplate::{Boilerplate, FlaggedLine, Reason};
use crate::cluster::Cluster;
use crate::config::{Config, ScanConfig};
use crate::error::{ConfigError, Error, Result};
use crate::input::{Compression, Corpus, Format, InputFile, TextRef};
use crate::normalize::{Normalizer, Profile, normalize_to_string};
use crate::pipeline::Context;
use crate::progress::NoProgress;
use crate::progress::{Progress, Stage};
use crate::report::{self, atomic_write, round4};
use crate::shingle::LineTokens;
use crate::verify::Score;

/// Where `clean` puts its reports inside the output directory (hidden, so a later scan of the
/// output never reads them as corpus).
pub const REPORT_DIR: &str = ".neardup";
pub const REMOVED_FILE: &str = "removed.jsonl";
pub const CLEAN_SUMMARY_FILE: &str = "summary.json";

/// What `clean` does.
#[derive(Clone, Debug)]
pub struct CleanConfig {
    pub out: PathBuf,
    /// Drop duplicates (keep each cluster's representative).
    pub dedup: bool,
    /// Strip boilerplate lines.
    pub strip: bool,
    /// Also strip template lines inside the body (by default only the top and bottom blocks).
    pub strip_inner: bool,
    /// Write only the report.
    pub dry_run: bool,
}

/// Why a document is dropped: the kept document that covers it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropped {
    pub duplicate_of: u32,
    pub cluster: u32,
    /// Score of (kept, dropped).
    pub score: Score,
}

/// Where a flagged line may be stripped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum StripRule {
    /// A navigation or sharing line of the built-in lexicon, or a hashtag line: furniture
    /// wherever it is.
    Anywhere,
    /// Printed over and over in one page (a site name, a title): stripped wherever it is in a
    /// document that has it in its top block (a refrain repeated in a poem is not).
    Title,
    /// Both a title and a template line: as [`StripRule::Title`], and as [`StripRule::Edge`].
    TitleEdge,
    /// A template or common line: stripped in the top or bottom block of a document (or
    /// anywhere with `--strip-inner`).
    Edge,
    /// Never stripped: a flagged line with a number in it (data: a date, a price, a table
    /// row), or a sentence (four words or more, ending with `.`, `!` or `?`) that no outlet
    /// prints as its template (a formula such as "Terms were not disclosed.").
    Never,
}

/// Lines above which a document is not a page (a book, a dump, a transcript): it has no top or
/// bottom block of furniture and no repeated title to strip, only lexicon and hashtag lines. A
/// news or web article is a few dozen lines (saudinewsnet: 99 % at most 39); a book opens with
/// a heading or a formula that is its text.
pub const MAX_PAGE_LINES: usize = 300;

/// Words from which a flagged line ending with sentence punctuation is a sentence, not furniture.
const SENTENCE_WORDS: usize = 4;

impl StripRule {
    /// The rule for a flagged line with these reasons, this text (as first seen) and this
    /// normalised text.
    pub fn of(
        reasons: impl IntoIterator<Item = Reason>,
        text: &str,
        normalized: &str,
        outlet: bool,
    ) -> StripRule {
        let reasons: Vec<Reason> = reasons.into_iter().collect();
        let t = text.trim();
        let outlet_template = outlet && reasons.contains(&Reason::Template);
        let sentence = !outlet_template
            && t.ends_with(['.', '!', '?', '؟'])
            && !t.ends_with("..")
            && t.split_whitespace().count() >= SENTENCE_WORDS;
        if reasons
            .iter()
            .any(|r| matches!(r, Reason::Known | Reason::Hashtags))
        {
            StripRule::Anywhere
        } else if sentence || normalized.bytes().any(|b| b.is_ascii_digit()) {
            StripRule::Never
        } else if reasons.contains(&Reason::Repeated) {
            if reasons
                .iter()
                .any(|r| matches!(r, Reason::Template | Reason::Common))
            {
                StripRule::TitleEdge
            } else {
                StripRule::Title
            }
        } else {
            StripRule::Edge
        }
    }
}

/// Which documents to drop and which lines to strip.
#[derive(Clone, Debug, Default)]
pub struct CleanPlan {
    /// Per document: `Some` when it is dropped as a duplicate.
    pub drop: Vec<Option<Dropped>>,
    /// Flagged line hashes with their rule, sorted by hash.
    pub strip: Vec<(u64, StripRule)>,
}

impl CleanPlan {
    /// The plan a scan implies: members marked `drop` go, boilerplate lines by their rule.
    pub fn from_clusters(
        corpus: &Corpus,
        clusters: &[Cluster],
        boilerplate: &[FlaggedLine],
        profile: Profile,
    ) -> Self {
        let mut drop = vec![None; corpus.docs.len()];
        for c in clusters {
            let keep = c.keep().0;
            for m in c.members[1..].iter().filter(|m| m.drop) {
                drop[m.doc.0 as usize] = Some(Dropped {
                    duplicate_of: keep,
                    cluster: c.id.0,
                    score: m.score,
                });
            }
        }
        let mut strip: Vec<(u64, StripRule)> = boilerplate
            .iter()
            .map(|f| {
                let normalized = normalize_to_string(&f.text, profile);
                let outlet = f
                    .sources
                    .iter()
                    .any(|&(src, _)| corpus.source_is_outlet[src as usize]);
                (
                    f.hash,
                    StripRule::of(f.reasons(), &f.text, &normalized, outlet),
                )
            })
            .collect();
        strip.sort_unstable();
        strip.dedup_by_key(|x| x.0);
        CleanPlan { drop, strip }
    }
}

/// The plan an earlier scan wrote into `dir` (`clusters.jsonl`, `boilerplate.jsonl`), after
/// checking that its `summary.json` describes the same inputs (`fingerprint`) and options
/// (`options`, `boilerplate`) as this run.
pub fn plan_from_dir(
    dir: &Path,
    corpus: &Corpus,
    fingerprint: &str,
    options: &serde_json::Value,
    boilerplate: &serde_json::Value,
) -> Result<CleanPlan> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|source| Error::Io { path, source })
    };
    let bad = |file: &'static str, reason: String| {
        Error::Config(ConfigError::From {
            dir: dir.to_path_buf(),
            file,
            reason,
        })
    };
    let summary: serde_json::Value = serde_json::from_str(&read(crate::report::SUMMARY_FILE)?)
        .map_err(|e| bad(crate::report::SUMMARY_FILE, e.to_string()))?;
    if summary["inputs"]["fingerprint"].as_str() != Some(fingerprint) {
        return Err(bad(
            crate::report::SUMMARY_FILE,
            "made from different inputs (fingerprint differs); run without --from".into(),
        ));
    }
    let mut differences = Vec::new();
    for (key, want) in [("options", options), ("boilerplate", boilerplate)] {
        let got = &summary[key];
        if let (Some(g), Some(w)) = (got.as_object(), want.as_object()) {
            for (k, v) in w {
                // Counts in the boilerplate section describe results, not options.
                if key == "boilerplate"
                    && !matches!(
                        k.as_str(),
                        "enabled" | "min_docs" | "lexicon" | "excluded_from_shingles"
                    )
                {
                    continue;
                }
                let was = g.get(k).unwrap_or(&serde_json::Value::Null);
                if was != v {
                    differences.push(format!("{key}.{k} was {was}, now {v}"));
                }
            }
        }
    }
    if !differences.is_empty() {
        return Err(bad(
            crate::report::SUMMARY_FILE,
            format!(
                "made with other options ({}); run without --from",
                differences.join(", ")
            ),
        ));
    }
    let mut by_place: HashMap<(&str, u32), u32> = HashMap::with_capacity(corpus.docs.len());
    for (i, d) in corpus.docs.iter().enumerate() {
        by_place.insert((corpus.source(d), d.line), i as u32);
    }
    let mut plan = CleanPlan {
        drop: vec![None; corpus.docs.len()],
        strip: Vec::new(),
    };
    for (n, line) in read(crate::report::CLUSTERS_FILE)?.lines().enumerate() {
        let c: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| bad(crate::report::CLUSTERS_FILE, format!("line {}: {e}", n + 1)))?;
        let place = |m: &serde_json::Value| -> Result<u32> {
            let src = m["source"].as_str().unwrap_or("");
            let l = m["line"].as_u64().unwrap_or(0) as u32;
            by_place.get(&(src, l)).copied().ok_or_else(|| {
                bad(
                    crate::report::CLUSTERS_FILE,
                    format!("line {}: no document {src}:{l} in this input", n + 1),
                )
            })
        };
        let members = c["members"].as_array().cloned().unwrap_or_default();
        let Some(keep) = members.first() else {
            continue;
        };
        let keep = place(keep)?;
        for m in &members[1..] {
            let Some(drop) = m["drop"].as_bool() else {
                return Err(bad(
                    crate::report::CLUSTERS_FILE,
                    format!(
                        "line {}: members have no \"drop\" field (written by an older neardup); \
                         run without --from",
                        n + 1
                    ),
                ));
            };
            if !drop {
                continue;
            }
            let f = |k: &str| m[k].as_f64().unwrap_or(0.0);
            plan.drop[place(m)? as usize] = Some(Dropped {
                duplicate_of: keep,
                cluster: c["cluster"].as_u64().unwrap_or(0) as u32,
                score: Score {
                    jaccard: f("jaccard"),
                    a_in_b: f("keep_in"),
                    b_in_a: f("in_keep"),
                    ..Score::NONE
                },
            });
        }
    }
    let outlets: HashMap<&str, bool> = corpus
        .sources
        .iter()
        .map(String::as_str)
        .zip(corpus.source_is_outlet.iter().copied())
        .collect();
    for (n, line) in read(crate::report::BOILERPLATE_FILE)?.lines().enumerate() {
        let b: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            bad(
                crate::report::BOILERPLATE_FILE,
                format!("line {}: {e}", n + 1),
            )
        })?;
        let h = b["hash"]
            .as_str()
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .ok_or_else(|| {
                bad(
                    crate::report::BOILERPLATE_FILE,
                    format!("line {}: no hash", n + 1),
                )
            })?;
        let reasons = b["reasons"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .filter_map(|r| {
                        Reason::ALL
                            .into_iter()
                            .find(|x| Some(x.as_str()) == r.as_str())
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let text = b["text"].as_str().unwrap_or("");
        let normalized = b["normalized"].as_str().unwrap_or("");
        let outlet = b["sources"].as_array().is_some_and(|ss| {
            ss.iter().any(|x| {
                let name = x["source"].as_str().unwrap_or("");
                outlets.get(name).copied().unwrap_or(false)
            })
        });
        plan.strip
            .push((h, StripRule::of(reasons, text, normalized, outlet)));
    }
    plan.strip.sort_unstable();
    plan.strip.dedup_by_key(|x| x.0);
    Ok(plan)
}

/// Counts of a clean run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CleanCounts {
    /// Documents read (including records that could not be used).
    pub read: u64,
    pub kept: u64,
    pub dropped_duplicates: u64,
    pub skipped: u64,
    /// Boilerplate lines removed from kept documents.
    pub lines_stripped: u64,
    /// Blank lines removed with them (a stripped block's blank lines; two blank lines the
    /// removal brought together become one). Listed in the audit trail too.
    pub blank_lines_removed: u64,
    /// Flagged lines left in place: inside the body, data lines (with a number), or a sentence
    /// going on in the next line.
    pub flagged_lines_kept: u64,
    /// Kept documents that lost at least one line.
    pub documents_stripped: u64,
    pub files_written: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl CleanCounts {
    fn add(&mut self, c: &CleanCounts) {
        self.kept += c.kept;
        self.dropped_duplicates += c.dropped_duplicates;
        self.lines_stripped += c.lines_stripped;
        self.blank_lines_removed += c.blank_lines_removed;
        self.flagged_lines_kept += c.flagged_lines_kept;
        self.documents_stripped += c.documents_stripped;
        self.files_written += c.files_written;
        self.bytes_in += c.bytes_in;
        self.bytes_out += c.bytes_out;
    }
}

/// Path of an input file inside the output directory.
pub fn output_rel_path(file: &InputFile) -> PathBuf {
    if file.path == "-" {
        return PathBuf::from("stdin.jsonl");
    }
    if file.from_dir {
        PathBuf::from(&file.id_base)
    } else {
        Path::new(&file.path)
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(&file.id_base))
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Audit<'a> {
    Duplicate {
        id: &'a str,
        source: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<u32>,
        duplicate_of: &'a str,
        cluster: u32,
        /// Jaccard with the kept document (as in earlier versions).
        similarity: f64,
        jaccard: f64,
        /// Share of this document's shingles inside the kept one.
        in_keep: f64,
        /// Share of the kept document's shingles inside this one.
        keep_in: f64,
    },
    Boilerplate {
        id: &'a str,
        source: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<u32>,
        /// 1-based line within the document text.
        text_line: u32,
        text: &'a str,
        /// A blank line removed with the stripped lines next to it.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        blank: bool,
    },
    Skipped {
        source: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<u64>,
        reason: &'static str,
        message: &'a str,
    },
}

/// How the raw bytes of a text are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RawKind {
    /// A text file: lines end at `\n`.
    Text,
    /// The inside of a JSON string: lines end at the escapes `\n` or `\u000a`.
    Json,
}

/// One line of a raw text: its content and where its segment (with the line end) ends.
#[derive(Clone, Copy, Debug)]
struct RawLine {
    start: usize,
    content_end: usize,
    end: usize,
}

/// The lines of a raw text, each with its line end. A text ending with a line end has no empty
/// last line (as `str::lines`); an empty text has none.
fn raw_lines(raw: &[u8], kind: RawKind, out: &mut Vec<RawLine>) {
    out.clear();
    let mut start = 0;
    let mut i = 0;
    match kind {
        RawKind::Text => {
            for p in memchr::memchr_iter(b'\n', raw) {
                out.push(RawLine {
                    start,
                    content_end: p,
                    end: p + 1,
                });
                start = p + 1;
            }
        }
        RawKind::Json => {
            while let Some(p) = memchr::memchr(b'\\', &raw[i..]) {
                let j = i + p;
                let end = match raw.get(j + 1) {
                    Some(b'n') => Some(j + 2),
                    Some(b'u')
                        if raw.len() >= j + 6
                            && raw[j + 2..j + 6].eq_ignore_ascii_case(b"000a") =>
                    {
                        Some(j + 6)
                    }
                    _ => None,
                };
                match end {
                    Some(e) => {
                        out.push(RawLine {
                            start,
                            content_end: j,
                            end: e,
                        });
                        start = e;
                        i = e;
                    }
                    // Any other escape: skip the backslash and the escaped character.
                    None => i = (j + 2).min(raw.len()),
                }
            }
        }
    }
    if start < raw.len() {
        out.push(RawLine {
            start,
            content_end: raw.len(),
            end: raw.len(),
        });
    }
}

/// A line removed from a document: 1-based line number, its text (without `\r`), and whether it
/// is a blank line removed with its neighbours.
#[derive(Clone, Debug, PartialEq)]
pub struct RemovedLine {
    pub line: u32,
    pub text: String,
    pub blank: bool,
}

/// Sentence-final punctuation: a line ending with one of these does not go on in the next.
const SENTENCE_END: &[char] = &['.', '!', '?', '؟', '。', '…', '"', '”', '»'];

/// Per-thread state: a normaliser, a line buffer to hash lines, and reused scratch.
struct Stripper {
    normalizer: Normalizer,
    line: LineTokens,
    decoded: String,
    lines: Vec<RawLine>,
    info: Vec<LineInfo>,
    /// Per line, `SHAPE_*` bits (reused).
    shapes: Vec<u8>,
}

/// Line shape bits: not blank; first word starts in lower case; a cased script; open (cased,
/// no sentence punctuation at the end); ends in a short lower-case word.
const SHAPE_TEXT: u8 = 1;
const SHAPE_FIRST_LOWER: u8 = 2;
const SHAPE_CASED: u8 = 4;
const SHAPE_OPEN: u8 = 8;
const SHAPE_MID: u8 = 16;

/// What the stripper knows of one line.
#[derive(Clone, Copy, Debug)]
struct LineInfo {
    hash: u64,
    rule: Option<StripRule>,
    blank: bool,
    /// Part of a hard-wrapped sentence that goes on in the next line, or the end of one begun in
    /// the line before (see [`Stripper::strip`]).
    wrapped: bool,
    remove: bool,
}

impl LineInfo {
    /// A wrapped piece is text, whatever its rule (a lexicon or hashtag line is never one).
    fn guarded(&self) -> bool {
        self.wrapped && self.rule != Some(StripRule::Anywhere)
    }
}

/// A line of a cased script: its last letter has case.
fn cased(text: &str) -> bool {
    text.chars()
        .rev()
        .find(|c| c.is_alphabetic())
        .is_some_and(|c| c.is_lowercase() || c.is_uppercase())
}

/// A line of a cased script that ends without sentence punctuation.
fn open_cased(text: &str) -> bool {
    let t = text.trim_end();
    !t.is_empty() && !t.ends_with(SENTENCE_END) && cased(t)
}

fn starts_lower(word: &str) -> bool {
    word.chars()
        .find(|c| c.is_alphabetic())
        .is_some_and(|c| c.is_lowercase())
}

/// An open line whose last word is a short lower-case word ("… Stabilization and",
/// "… Association of", "… for the") cannot end a heading: followed by a line, it goes on there.
fn ends_mid_sentence(text: &str) -> bool {
    open_cased(text)
        && text
            .split_whitespace()
            .last()
            .is_some_and(|w| w.chars().count() <= 3 && w.chars().all(|c| c.is_lowercase()))
}

impl Stripper {
    fn new(profile: Profile, seed: u64) -> Self {
        Stripper {
            normalizer: Normalizer::new(profile),
            line: LineTokens::new(seed, false),
            decoded: String::new(),
            lines: Vec::new(),
            info: Vec::new(),
            shapes: Vec::new(),
        }
    }

    /// Decode one raw line into `self.decoded`.
    fn decode(&mut self, raw: &[u8], kind: RawKind) {
        let s = String::from_utf8_lossy(raw);
        match kind {
            RawKind::Text => {
                self.decoded.clear();
                self.decoded.push_str(&s);
            }
            RawKind::Json => crate::input::unescape_json_into(&s, &mut self.decoded),
        }
    }

    /// Remove the page furniture of one text, given as raw bytes. Returns the new raw bytes
    /// (`None` when nothing was removed) and appends every removed line to `removed`; counts
    /// flagged lines left in place in `kept_flagged`.
    /// Split a raw text into lines and learn each line's rule, blankness and wrapping into
    /// `self.lines` and `self.info`. Returns whether any line is flagged.
    fn analyze(&mut self, raw: &[u8], kind: RawKind, rules: &[(u64, StripRule)]) -> bool {
        let mut lines = std::mem::take(&mut self.lines);
        raw_lines(raw, kind, &mut lines);
        self.info.clear();
        let mut any = false;
        // One decoding and one normalisation per line; the shape of each line is kept for the
        // wrapping rules below.
        let mut shapes: Vec<u8> = std::mem::take(&mut self.shapes);
        shapes.clear();
        for l in &lines {
            self.decode(&raw[l.start..l.content_end], kind);
            let text = self.decoded.trim_end_matches('\r');
            let blank = text.trim().is_empty();
            self.line.clear();
            self.normalizer.run_line(text, &mut self.line);
            let (hash, rule) = if self.line.is_empty() {
                (0, None)
            } else {
                let h = self.line.line_hash();
                let r = rules
                    .binary_search_by_key(&h, |x| x.0)
                    .ok()
                    .map(|i| rules[i].1);
                (h, r)
            };
            any |= rule.is_some();
            let mut shape = 0;
            if !blank {
                shape |= SHAPE_TEXT;
                if text.split_whitespace().next().is_some_and(starts_lower) {
                    shape |= SHAPE_FIRST_LOWER;
                }
                if cased(text) {
                    shape |= SHAPE_CASED;
                }
                if open_cased(text) {
                    shape |= SHAPE_OPEN;
                }
                if ends_mid_sentence(text) {
                    shape |= SHAPE_MID;
                }
            }
            shapes.push(shape);
            self.info.push(LineInfo {
                hash,
                rule,
                blank,
                wrapped: false,
                remove: false,
            });
        }
        if any {
            // Hard-wrapped text (Reuters): several lines go on in a line that starts in lower
            // case.
            let is = |i: usize, f: u8| shapes[i] & f != 0;
            let continued = |i: usize| i > 0 && is(i - 1, SHAPE_OPEN) && is(i, SHAPE_FIRST_LOWER);
            let wrapped_doc = (1..shapes.len()).filter(|&i| continued(i)).count() >= 2;
            for i in 1..shapes.len() {
                if !is(i, SHAPE_TEXT) {
                    continue;
                }
                // A sentence never starts in lower case: such a line goes on from a cased line
                // before it, whatever that line ends with ("… Insurance Corp." / "said …";
                // "expected later this" / "year."). Both pieces are text.
                if is(i - 1, SHAPE_CASED) && is(i, SHAPE_FIRST_LOWER) {
                    self.info[i].wrapped = true;
                    self.info[i - 1].wrapped = true;
                }
                // The first piece: in hard-wrapped text an open line goes on in the next one
                // ("U.S. Trade Representative Clayton" / "Yeutter said"); anywhere, a line
                // ending in a short lower-case word does ("… Stabilization and").
                if is(i - 1, SHAPE_MID) || (wrapped_doc && is(i - 1, SHAPE_OPEN)) {
                    self.info[i - 1].wrapped = true;
                }
            }
        }
        self.shapes = shapes;
        self.lines = lines;
        any
    }

    /// The top and bottom blocks of the analysed text: leading and trailing lines that are
    /// blank or may go at that edge (`edge_common`: whether a template line is at an edge in
    /// most documents that have it).
    fn blocks(&self, edge_common: &dyn Fn(u64) -> bool) -> (usize, usize) {
        let n = self.info.len();
        if n > MAX_PAGE_LINES {
            return (0, 0);
        }
        let ok = |x: &LineInfo, top: bool| {
            x.blank
                || (!x.guarded()
                    && match x.rule {
                        Some(StripRule::Anywhere) => true,
                        Some(StripRule::Title) => top,
                        Some(StripRule::TitleEdge) => top || edge_common(x.hash),
                        Some(StripRule::Edge) => edge_common(x.hash),
                        Some(StripRule::Never) | None => false,
                    })
        };
        let top = self.info.iter().take_while(|x| ok(x, true)).count();
        let bottom = if top == n {
            0
        } else {
            self.info.iter().rev().take_while(|x| ok(x, false)).count()
        };
        (top, bottom)
    }

    /// Remove the page furniture of one text, given as raw bytes. Returns the new raw bytes
    /// (`None` when nothing was removed) and appends every removed line to `removed`; counts
    /// flagged lines left in place in `kept_flagged`.
    #[allow(clippy::too_many_arguments)]
    fn strip(
        &mut self,
        raw: &[u8],
        kind: RawKind,
        rules: &[(u64, StripRule)],
        edge_common: &dyn Fn(u64) -> bool,
        inner: bool,
        removed: &mut Vec<RemovedLine>,
        kept_flagged: &mut u64,
    ) -> Option<Vec<u8>> {
        if rules.is_empty() || !self.analyze(raw, kind, rules) {
            return None;
        }
        let lines = std::mem::take(&mut self.lines);
        let n = self.info.len();
        let (top, bottom) = self.blocks(edge_common);
        let in_block = |i: usize| i < top || i >= n - bottom;
        // A title: a repeated line most of whose occurrences in this document are in its top
        // block (a site name or headline printed again and again), not a refrain.
        let mut titles: Vec<(u64, bool)> = (0..n)
            .filter(|&i| {
                matches!(
                    self.info[i].rule,
                    Some(StripRule::Title | StripRule::TitleEdge)
                )
            })
            .map(|i| (self.info[i].hash, i < top))
            .collect();
        titles.sort_unstable();
        let is_title = |h: u64| {
            let from = titles.partition_point(|t| t.0 < h);
            let to = titles.partition_point(|t| t.0 <= h);
            let at_top = titles[from..to].iter().filter(|t| t.1).count();
            at_top * 2 > to - from
        };
        for i in 0..n {
            let x = self.info[i];
            let Some(rule) = x.rule else { continue };
            let remove = rule != StripRule::Never
                && !x.guarded()
                && (in_block(i)
                    || rule == StripRule::Anywhere
                    || (matches!(rule, StripRule::Title | StripRule::TitleEdge)
                        && n <= MAX_PAGE_LINES
                        && is_title(x.hash))
                    || (inner && rule != StripRule::Title));
            self.info[i].remove = remove;
            if !remove {
                *kept_flagged += 1;
            }
        }
        // Blank lines: those of a stripped top or bottom block go with it; elsewhere, a blank
        // line that the removal brings next to another blank line (or to the start or end of
        // the text) goes too.
        let mut prev_kept_blank: Option<bool> = None; // None: nothing kept yet
        let mut removed_since = false;
        for i in 0..n {
            let x = self.info[i];
            if x.remove {
                removed_since = true;
                continue;
            }
            if x.blank && removed_since && prev_kept_blank != Some(false) {
                self.info[i].remove = true;
                continue;
            }
            prev_kept_blank = Some(x.blank);
            removed_since = false;
        }
        // At the end: blank lines left before removed lines at the end of the text.
        if self.info.last().is_some_and(|x| x.remove) {
            for i in (0..n).rev() {
                let x = self.info[i];
                if x.remove {
                    continue;
                }
                if x.blank {
                    self.info[i].remove = true;
                } else {
                    break;
                }
            }
        }
        if !self.info.iter().any(|x| x.remove) {
            self.lines = lines;
            return None;
        }
        let mut out = Vec::with_capacity(raw.len());
        let mut last_kept = None;
        for (i, l) in lines.iter().enumerate() {
            let x = self.info[i];
            if x.remove {
                self.decode(&raw[l.start..l.content_end], kind);
                removed.push(RemovedLine {
                    line: i as u32 + 1,
                    text: self.decoded.trim_end_matches('\r').to_string(),
                    blank: x.blank,
                });
            } else {
                out.extend_from_slice(&raw[l.start..l.end]);
                last_kept = Some(*l);
            }
        }
        // The text's last line went: its new last line loses the line end it had only to
        // separate it from the removed one.
        let ends_open = lines.last().is_some_and(|l| l.end == l.content_end);
        if let (true, Some(l)) = (ends_open, last_kept) {
            out.truncate(out.len() - (l.end - l.content_end));
        }
        self.lines = lines;
        Some(out)
    }
}

/// What one input file produced.
#[derive(Default)]
struct FileResult {
    audit: Vec<u8>,
    counts: CleanCounts,
}

fn write_audit(buf: &mut Vec<u8>, a: &Audit) {
    // Serialising our own plain structs cannot fail.
    let _ = serde_json::to_writer(&mut *buf, a);
    buf.push(b'\n');
}

/// Write the cleaned corpus and the report. Returns the counts.
pub fn run(
    corpus: &Corpus,
    plan: &CleanPlan,
    cfg: &CleanConfig,
    scan: &ScanConfig,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<CleanCounts> {
    // Refuse two inputs that would land on the same output path.
    let mut seen: HashMap<PathBuf, &str> = HashMap::new();
    for f in &corpus.files {
        let rel = output_rel_path(f);
        if let Some(other) = seen.insert(rel.clone(), &f.path) {
            return Err(Error::Config(ConfigError::OutputClash {
                first: other.to_string(),
                second: f.path.clone(),
                output: cfg.out.join(rel),
            }));
        }
    }
    // Documents of each file are contiguous, in line order.
    let mut first_doc = vec![0usize; corpus.files.len() + 1];
    for d in &corpus.docs {
        first_doc[d.file as usize + 1] += 1;
    }
    for i in 0..corpus.files.len() {
        first_doc[i + 1] += first_doc[i];
    }
    // Problems that skipped a record, per file path.
    let mut skipped_by_file: HashMap<&str, Vec<&crate::error::Problem>> = HashMap::new();
    for p in &corpus.problems {
        if p.kind.skips_document() {
            skipped_by_file.entry(p.path.as_str()).or_default().push(p);
        }
    }
    let strip: &[(u64, StripRule)] = if cfg.strip { &plan.strip } else { &[] };
    let edges = edge_common_lines(corpus, plan, strip, cfg, scan, cancel)?;
    progress.begin(Stage::Write, corpus.files.len() as u64);
    let results: Vec<FileResult> = (0..corpus.files.len())
        .into_par_iter()
        .map_init(
            || Stripper::new(scan.profile, scan.seed),
            |st, fi| {
                if cancel.load(Ordering::Relaxed) {
                    return Err(Error::Interrupted);
                }
                let r = clean_file(
                    &FileJob {
                        corpus,
                        fi,
                        docs: first_doc[fi]..first_doc[fi + 1],
                        plan,
                        strip,
                        edges: &edges,
                        cfg,
                        text_field: &scan.input.text_field,
                        skipped: skipped_by_file.get(corpus.files[fi].path.as_str()),
                    },
                    st,
                );
                progress.advance(1);
                r
            },
        )
        .collect::<Result<_>>()?;
    progress.end();
    let mut counts = CleanCounts::default();
    let mut audit = Vec::new();
    // Whole files that could not be read, and problems not tied to a loaded file.
    for p in &corpus.problems {
        if p.kind.skips_document() && !corpus.files.iter().any(|f| f.path == p.path) {
            write_audit(
                &mut audit,
                &Audit::Skipped {
                    source: &p.path,
                    line: p.line,
                    reason: p.kind.as_str(),
                    message: &p.message,
                },
            );
        }
    }
    for r in results {
        audit.extend_from_slice(&r.audit);
        counts.add(&r.counts);
    }
    // Every document is accounted for: the corpus counted the skipped ones as it read.
    counts.skipped = corpus.skipped_documents;
    counts.read = counts.kept + counts.dropped_duplicates + counts.skipped;
    let report = cfg.out.join(REPORT_DIR);
    std::fs::create_dir_all(&report).map_err(|source| Error::Write {
        path: report.clone(),
        source,
    })?;
    atomic_write(&report.join(REMOVED_FILE), |w| w.write_all(&audit))?;
    Ok(counts)
}

/// Template lines (rule [`StripRule::Edge`] or [`StripRule::TitleEdge`]) that are in the top or
/// bottom block of at least half of the kept documents that have them, sorted. A site name or a
/// sign-off is at an edge nearly everywhere; a formula that also opens some books (a basmala) or
/// a heading is mostly inside the text, and stays everywhere.
fn edge_common_lines(
    corpus: &Corpus,
    plan: &CleanPlan,
    strip: &[(u64, StripRule)],
    cfg: &CleanConfig,
    scan: &ScanConfig,
    cancel: &AtomicBool,
) -> Result<EdgeLines> {
    if !strip
        .iter()
        .any(|x| matches!(x.1, StripRule::Edge | StripRule::TitleEdge))
    {
        return Ok(EdgeLines::default());
    }
    // Per block of documents: (hash, at an edge) once per document and line, and the documents
    // with a flagged line.
    type Seen = (Vec<(u64, bool)>, Vec<u32>);
    let seen: Vec<Seen> = corpus
        .blocks()
        .into_par_iter()
        .map_init(
            || {
                (
                    Stripper::new(scan.profile, scan.seed),
                    String::new(),
                    Vec::new(),
                )
            },
            |(st, buf, doc_votes), range| {
                if cancel.load(Ordering::Relaxed) {
                    return Err(Error::Interrupted);
                }
                let (mut votes, mut flagged) = (Vec::new(), Vec::new());
                for d in range {
                    if cfg.dedup && plan.drop[d].is_some() {
                        continue;
                    }
                    let text = corpus.text(&corpus.docs[d], buf);
                    if !st.analyze(text.as_bytes(), RawKind::Text, strip) {
                        continue;
                    }
                    flagged.push(d as u32);
                    let (top, bottom) = st.blocks(&|_| true);
                    let n = st.info.len();
                    doc_votes.clear();
                    doc_votes.extend(st.info.iter().enumerate().filter_map(|(i, x)| {
                        matches!(x.rule, Some(StripRule::Edge | StripRule::TitleEdge))
                            .then_some((x.hash, i < top || i >= n - bottom))
                    }));
                    doc_votes.sort_unstable();
                    // One vote per document: at an edge if any occurrence is.
                    votes.extend(
                        doc_votes
                            .chunk_by(|a: &(u64, bool), b| a.0 == b.0)
                            .map(|g| (g[0].0, g.iter().any(|x| x.1))),
                    );
                }
                Ok((votes, flagged))
            },
        )
        .collect::<Result<_>>()?;
    let mut all: Vec<(u64, bool)> = Vec::new();
    let mut flagged_docs = Vec::new();
    for (v, f) in seen {
        all.extend(v);
        flagged_docs.extend(f);
    }
    all.sort_unstable();
    Ok(EdgeLines {
        common: all
            .chunk_by(|a, b| a.0 == b.0)
            .filter(|g| g.iter().filter(|x| x.1).count() * 2 >= g.len())
            .map(|g| g[0].0)
            .collect(),
        flagged_docs: Some(flagged_docs),
    })
}

/// What the first pass over the kept documents learnt.
#[derive(Default)]
struct EdgeLines {
    /// Template lines at the top or bottom of most documents that have them, sorted.
    common: Vec<u64>,
    /// Kept documents with at least one flagged line, sorted (`None`: not counted, look at
    /// every document).
    flagged_docs: Option<Vec<u32>>,
}

/// One input file to clean.
struct FileJob<'a> {
    corpus: &'a Corpus,
    fi: usize,
    /// Its documents (contiguous, in line order).
    docs: std::ops::Range<usize>,
    plan: &'a CleanPlan,
    strip: &'a [(u64, StripRule)],
    edges: &'a EdgeLines,
    cfg: &'a CleanConfig,
    text_field: &'a str,
    skipped: Option<&'a Vec<&'a crate::error::Problem>>,
}

impl FileJob<'_> {
    /// Audit one document: dropped (returns `None`), or kept, with its text cleaned from
    /// `raw` (the raw bytes of its text, of this `kind`).
    fn document(
        &self,
        d: usize,
        raw: Option<&[u8]>,
        kind: RawKind,
        st: &mut Stripper,
        res: &mut FileResult,
    ) -> Option<Option<Vec<u8>>> {
        let corpus = self.corpus;
        let file = &corpus.files[self.fi];
        let doc = &corpus.docs[d];
        let id = corpus.id(doc);
        let line = (doc.line > 0).then_some(doc.line);
        if let (true, Some(dr)) = (self.cfg.dedup, self.plan.drop[d]) {
            let keep_id = corpus.id(&corpus.docs[dr.duplicate_of as usize]);
            write_audit(
                &mut res.audit,
                &Audit::Duplicate {
                    id: &id,
                    source: &file.path,
                    line,
                    duplicate_of: &keep_id,
                    cluster: dr.cluster,
                    similarity: round4(dr.score.jaccard),
                    jaccard: round4(dr.score.jaccard),
                    in_keep: round4(dr.score.b_in_a),
                    keep_in: round4(dr.score.a_in_b),
                },
            );
            res.counts.dropped_duplicates += 1;
            return None;
        }
        res.counts.kept += 1;
        let Some(raw) = raw else {
            return Some(None);
        };
        let mut removed = Vec::new();
        let flagged = self
            .edges
            .flagged_docs
            .as_ref()
            .is_none_or(|f| f.binary_search(&(d as u32)).is_ok());
        if !flagged {
            return Some(None);
        }
        let edge_common = |h: u64| self.edges.common.binary_search(&h).is_ok();
        let cleaned = st.strip(
            raw,
            kind,
            self.strip,
            &edge_common,
            self.cfg.strip_inner,
            &mut removed,
            &mut res.counts.flagged_lines_kept,
        );
        if cleaned.is_some() {
            res.counts.documents_stripped += 1;
        }
        for r in &removed {
            if r.blank {
                res.counts.blank_lines_removed += 1;
            } else {
                res.counts.lines_stripped += 1;
            }
            write_audit(
                &mut res.audit,
                &Audit::Boilerplate {
                    id: &id,
                    source: &file.path,
                    line,
                    text_line: r.line,
                    text: &r.text,
                    blank: r.blank,
                },
            );
        }
        Some(cleaned)
    }
}

fn clean_file(job: &FileJob, st: &mut Stripper) -> Result<FileResult> {
    let (corpus, cfg) = (job.corpus, job.cfg);
    let file = &corpus.files[job.fi];
    let docs = job.docs.clone();
    let mut res = FileResult::default();
    res.counts.bytes_in = file.data.len() as u64;
    let data: &[u8] = &file.data;
    let out_bytes: Option<Vec<u8>> = match file.format {
        Format::Text => docs.clone().next().and_then(|d| {
            let cleaned = job.document(d, Some(data), RawKind::Text, st, &mut res)?;
            // A dry run writes nothing: no copy of an unchanged file.
            (!cfg.dry_run).then(|| cleaned.unwrap_or_else(|| data.to_vec()))
        }),
        Format::Jsonl => {
            let mut out = Vec::with_capacity(if cfg.dry_run { 0 } else { data.len() });
            let mut k = docs.start; // the next document of this file
            let mut pos = 0;
            let mut line_no = 0u32;
            while pos < data.len() && k < docs.end {
                let end = memchr::memchr(b'\n', &data[pos..]).map_or(data.len(), |p| pos + p + 1);
                line_no += 1;
                let line = &data[pos..end];
                let this = pos;
                pos = end;
                // Lines that are not documents (blank, skipped records) are not written.
                if corpus.docs[k].line != line_no {
                    continue;
                }
                let d = k;
                k += 1;
                // The raw inside of the text's JSON string, relative to the line.
                let span = match corpus.docs[d].text {
                    TextRef::Json { start, len, .. } => {
                        let s = start as usize - this;
                        Some(s..s + len as usize)
                    }
                    _ => crate::input::raw_text_span(line, job.text_field),
                };
                let raw = span.clone().map(|s| &line[s]);
                let Some(cleaned) = job.document(d, raw, RawKind::Json, st, &mut res) else {
                    continue;
                };
                if cfg.dry_run {
                    continue;
                }
                match (cleaned, span) {
                    (Some(text), Some(s)) => {
                        out.extend_from_slice(&line[..s.start]);
                        out.extend_from_slice(&text);
                        out.extend_from_slice(&line[s.end..]);
                    }
                    _ => out.extend_from_slice(line),
                }
            }
            Some(out)
        }
    };
    if let Some(probs) = job.skipped {
        for p in probs {
            write_audit(
                &mut res.audit,
                &Audit::Skipped {
                    source: &p.path,
                    line: p.line,
                    reason: p.kind.as_str(),
                    message: &p.message,
                },
            );
        }
    }
    if cfg.dry_run {
        return Ok(res);
    }
    if let Some(bytes) = out_bytes {
        let path = cfg.out.join(output_rel_path(file));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| Error::Write {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        res.counts.bytes_out = bytes.len() as u64;
        atomic_write(&path, |w| write_compressed(w, &bytes, file.compression))?;
        res.counts.files_written += 1;
    }
    Ok(res)
}

fn write_compressed(w: &mut impl Write, bytes: &[u8], c: Compression) -> io::Result<()> {
    match c {
        Compression::None => w.write_all(bytes),
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(w, flate2::Compression::default());
            e.write_all(bytes)?;
            e.finish().map(|_| ())
        }
        Compression::Zstd => {
            let mut e = zstd::stream::write::Encoder::new(w, 3)?;
            e.write_all(bytes)?;
            e.finish().map(|_| ())
        }
    }
}

/// What [`clean()`] did.
#[derive(Debug, serde::Serialize)]
pub struct CleanSummary {
    pub tool: &'static str,
    pub version: &'static str,
    pub dedup: bool,
    pub strip: bool,
    pub dry_run: bool,
    /// The scan directory reused, if any.
    pub from: Option<String>,
    pub documents: CleanCounts,
    /// The scan run for this clean (absent with `--from`).
    pub scan: Option<report::Summary>,
}

/// Clean a corpus: scan it (or reuse the scan in `from`), then write it without duplicates and
/// boilerplate lines into `clean_cfg.out`, with the report in `out/.neardup/`.
pub fn clean(
    cfg: &Config,
    clean_cfg: &CleanConfig,
    from: Option<&Path>,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<CleanSummary> {
    let report_dir = clean_cfg.out.join(REPORT_DIR);
    let write =
        |corpus: &Corpus, plan: &CleanPlan| run(corpus, plan, clean_cfg, cfg, progress, cancel);
    let (counts, scan_summary) = match from {
        None => {
            let mut out = crate::scan(cfg, progress, cancel)?;
            let strip: &[crate::boilerplate::FlaggedLine] = if cfg.boilerplate.enabled {
                &out.boilerplate.lines
            } else {
                &[]
            };
            let plan = CleanPlan::from_clusters(&out.corpus, &out.clusters, strip, cfg.profile);
            let counts = write(&out.corpus, &plan)?;
            // The scan's own outputs go with the report, so `clean --from` can reuse them.
            crate::write_outputs(&mut out, &report_dir, &NoProgress)?;
            (counts, Some(out.summary))
        }
        Some(dir) => {
            let corpus = crate::pipeline::read(&Context::new(cfg, progress, cancel))?;
            let inputs = report::InputsOut::new(&corpus);
            // Serialising our own structs cannot fail.
            let options = serde_json::to_value(report::OptionsOut::new(cfg)).unwrap_or_default();
            let bp = serde_json::to_value(report::BoilerplateOut::new(
                &cfg.boilerplate,
                &Boilerplate::default(),
            ))
            .unwrap_or_default();
            let plan = plan_from_dir(dir, &corpus, &inputs.fingerprint, &options, &bp)?;
            let counts = write(&corpus, &plan)?;
            (counts, None)
        }
    };
    let summary = CleanSummary {
        tool: "neardup",
        version: crate::VERSION,
        dedup: clean_cfg.dedup,
        strip: clean_cfg.strip,
        dry_run: clean_cfg.dry_run,
        from: from.map(|p| p.display().to_string()),
        documents: counts,
        scan: scan_summary,
    };
    report::atomic_write(&report_dir.join(CLEAN_SUMMARY_FILE), |w| {
        serde_json::to_writer_pretty(&mut *w, &summary)?;
        w.write_all(b"\n")
    })?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(s: &str) -> u64 {
        let mut l = LineTokens::new(5, false);
        Normalizer::new(Profile::Full).run(s, &mut l);
        l.line_hash()
    }

    fn rules(r: &[(&str, StripRule)]) -> Vec<(u64, StripRule)> {
        let mut v: Vec<(u64, StripRule)> = r.iter().map(|&(t, r)| (hash(t), r)).collect();
        v.sort_unstable();
        v
    }

    /// Strip raw bytes with every template line at an edge in most documents.
    fn strip_raw(
        raw: &[u8],
        kind: RawKind,
        r: &[(u64, StripRule)],
        inner: bool,
    ) -> (Option<Vec<u8>>, Vec<RemovedLine>) {
        let mut st = Stripper::new(Profile::Full, 5);
        let (mut removed, mut kept) = (Vec::new(), 0);
        let out = st.strip(raw, kind, r, &|_| true, inner, &mut removed, &mut kept);
        (out, removed)
    }

    /// Strip `text` (a text file).
    fn strip(
        text: &str,
        r: &[(u64, StripRule)],
        inner: bool,
    ) -> (Option<String>, Vec<RemovedLine>) {
        let (out, removed) = strip_raw(text.as_bytes(), RawKind::Text, r, inner);
        (out.map(|b| String::from_utf8(b).unwrap()), removed)
    }

    fn texts(removed: &[RemovedLine]) -> Vec<(u32, &str)> {
        removed
            .iter()
            .filter(|r| !r.blank)
            .map(|r| (r.line, r.text.as_str()))
            .collect()
    }

    #[test]
    fn furniture_goes_from_the_top_and_bottom_blocks_but_the_same_line_in_the_body_stays() {
        let r = rules(&[("site name", StripRule::Edge), ("share", StripRule::Edge)]);
        let text = "Site Name:\nFirst  paragraph.\r\n\nSite Name\nSecond paragraph.\nSHARE";
        let (out, removed) = strip(text, &r, false);
        assert_eq!(
            out.unwrap(),
            "First  paragraph.\r\n\nSite Name\nSecond paragraph."
        );
        assert_eq!(texts(&removed), vec![(1, "Site Name:"), (6, "SHARE")]);
        // With --strip-inner the body's copy goes too.
        let (out, _) = strip(text, &r, true);
        assert_eq!(out.unwrap(), "First  paragraph.\r\n\nSecond paragraph.");
        assert!(strip("nothing to do", &r, false).0.is_none());
    }

    #[test]
    fn blank_lines_of_a_stripped_block_go_with_it_and_are_listed() {
        let r = rules(&[
            ("site", StripRule::Edge),
            ("read more", StripRule::Anywhere),
        ]);
        let (out, removed) = strip(
            "site\n\nsite\n\n\nBody one.\n\nRead more\n\nBody two.\n",
            &r,
            false,
        );
        assert_eq!(out.unwrap(), "Body one.\n\nBody two.\n");
        assert_eq!(
            texts(&removed),
            vec![(1, "site"), (3, "site"), (8, "Read more")]
        );
        // Every line that went is listed: 3 flagged, 4 blank.
        assert_eq!(removed.len(), 7);
        assert_eq!(removed.iter().filter(|r| r.blank).count(), 4);
    }

    #[test]
    fn data_lines_sentences_and_wrapped_first_lines_are_never_stripped() {
        let r = rules(&[
            (
                "Pay April 30",
                StripRule::of([Reason::Template], "Pay April 30", "pay april 30", false),
            ),
            (
                "Terms were not disclosed.",
                StripRule::of(
                    [Reason::Common],
                    "Terms were not disclosed.",
                    "terms were not disclosed",
                    false,
                ),
            ),
            ("U.S. Trade Representative Clayton", StripRule::Edge),
            ("Reuter", StripRule::Edge),
        ]);
        let text = "U.S. Trade Representative Clayton\nYeutter today said the talks with\n\
                    the European Community on farm trade\nwould go on.\n\
                    Terms were not disclosed.\n    Pay April 30\n Reuter\n";
        let (out, removed) = strip(text, &r, false);
        assert_eq!(texts(&removed), vec![(7, " Reuter")]);
        assert_eq!(out.unwrap(), text.replace(" Reuter\n", ""));
        // The end of a wrapped sentence stays too.
        let r = rules(&[("year.", StripRule::Edge), ("Reuter", StripRule::Edge)]);
        let (_, removed) = strip("Results are expected later this\nyear.\nReuter", &r, false);
        assert_eq!(texts(&removed), vec![(3, "Reuter")]);
    }

    #[test]
    fn a_title_repeated_in_the_page_goes_everywhere_a_refrain_stays() {
        let r = rules(&[
            ("the title", StripRule::Title),
            ("the refrain", StripRule::Title),
        ]);
        let (out, _) = strip(
            "The title\nThe title\nBody starts.\nThe refrain\nMore body.\nThe refrain\nThe title\nEnd.\nThe refrain",
            &r,
            false,
        );
        assert_eq!(
            out.unwrap(),
            "Body starts.\nThe refrain\nMore body.\nThe refrain\nEnd.\nThe refrain"
        );
    }

    #[test]
    fn a_long_document_is_not_a_page_only_lexicon_lines_go() {
        let r = rules(&[
            ("opening formula", StripRule::Edge),
            ("share", StripRule::Anywhere),
        ]);
        let mut book = String::from("Opening formula\n");
        for i in 0..MAX_PAGE_LINES {
            book.push_str(&format!("Line {i} of the book.\n"));
        }
        book.push_str("Share\n");
        let (out, removed) = strip(&book, &r, false);
        assert_eq!(texts(&removed), vec![(MAX_PAGE_LINES as u32 + 2, "Share")]);
        assert!(out.unwrap().starts_with("Opening formula\n"));
    }

    #[test]
    fn json_lines_are_cut_out_of_the_raw_escaped_bytes() {
        // `\n` and `\u000a` end lines; `\\n` is a backslash and an n; other escapes stay as written.
        let raw = br#"Site\nBody \u0627 \"q\" a\\nb\u000ASite"#;
        let mut lines = Vec::new();
        raw_lines(raw, RawKind::Json, &mut lines);
        assert_eq!(lines.len(), 3);
        let r = rules(&[("site", StripRule::Edge)]);
        let (out, removed) = strip_raw(raw, RawKind::Json, &r, false);
        let out = out.unwrap();
        assert_eq!(out, br#"Body \u0627 \"q\" a\\nb"#.to_vec());
        assert_eq!(texts(&removed), vec![(1, "Site"), (3, "Site")]);
    }

    #[test]
    fn invalid_utf8_outside_the_removed_lines_is_kept_byte_for_byte() {
        let r = rules(&[("site", StripRule::Edge)]);
        let raw = b"Site\nUn caf\xe9 au lait.\n";
        let (out, removed) = strip_raw(raw, RawKind::Text, &r, false);
        let out = out.unwrap();
        assert_eq!(texts(&removed), vec![(1, "Site")]);
        assert_eq!(out, b"Un caf\xe9 au lait.\n".to_vec());
    }

    #[test]
    fn strip_rule_follows_the_reasons_and_the_text() {
        assert_eq!(
            StripRule::of(
                [Reason::Known, Reason::Template],
                "Share 2",
                "share 2",
                false
            ),
            StripRule::Anywhere
        );
        assert_eq!(
            StripRule::of([Reason::Repeated, Reason::Template], "Site", "site", false),
            StripRule::TitleEdge
        );
        assert_eq!(
            StripRule::of([Reason::Repeated], "Title", "title", false),
            StripRule::Title
        );
        assert_eq!(
            StripRule::of(
                [Reason::Common],
                "It gave no details.",
                "it gave no details",
                false
            ),
            StripRule::Never
        );
        assert_eq!(
            StripRule::of([Reason::Common], "More...", "more", false),
            StripRule::Edge
        );
    }
}
