//! Stripping lines from the raw bytes of one text: where its lines are, which of them are
//! page furniture by [`super::StripRule`], and the blank lines removed with them.

use crate::normalize::{Normalizer, Profile};
use crate::shingle::LineTokens;

use super::*;

/// How the raw bytes of a text are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RawKind {
    /// A text file: lines end at `\n`.
    Text,
    /// The inside of a JSON string: lines end at the escapes `\n` or `\u000a`.
    Json,
}

/// One line of a raw text: its content and where its segment (with the line end) ends.
#[derive(Clone, Copy, Debug)]
pub(super) struct RawLine {
    start: usize,
    content_end: usize,
    end: usize,
}

/// The lines of a raw text, each with its line end. A text ending with a line end has no empty
/// last line (as `str::lines`); an empty text has none.
pub(super) fn raw_lines(raw: &[u8], kind: RawKind, out: &mut Vec<RawLine>) {
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
pub(super) const SENTENCE_END: &[char] = &['.', '!', '?', '؟', '。', '…', '"', '”', '»'];

/// Per-thread state: a normaliser, a line buffer to hash lines, and reused scratch.
pub(super) struct Stripper {
    pub(super) normalizer: Normalizer,
    pub(super) line: LineTokens,
    pub(super) decoded: String,
    pub(super) lines: Vec<RawLine>,
    pub(super) info: Vec<LineInfo>,
    /// Per line, `SHAPE_*` bits (reused).
    pub(super) shapes: Vec<u8>,
}

/// Line shape bits: not blank; first word starts in lower case; a cased script; open (cased,
/// no sentence punctuation at the end); ends in a short lower-case word.
pub(super) const SHAPE_TEXT: u8 = 1;
pub(super) const SHAPE_FIRST_LOWER: u8 = 2;
pub(super) const SHAPE_CASED: u8 = 4;
pub(super) const SHAPE_OPEN: u8 = 8;
pub(super) const SHAPE_MID: u8 = 16;

/// What the stripper knows of one line.
#[derive(Clone, Copy, Debug)]
pub(super) struct LineInfo {
    pub(super) hash: u64,
    pub(super) rule: Option<StripRule>,
    pub(super) blank: bool,
    /// Part of a hard-wrapped sentence that goes on in the next line, or the end of one begun in
    /// the line before (see [`Stripper::strip`]).
    pub(super) wrapped: bool,
    pub(super) remove: bool,
}

impl LineInfo {
    /// A wrapped piece is text, whatever its rule (a lexicon or hashtag line is never one).
    fn guarded(&self) -> bool {
        self.wrapped && self.rule != Some(StripRule::Anywhere)
    }
}

/// A line of a cased script: its last letter has case.
pub(super) fn cased(text: &str) -> bool {
    text.chars()
        .rev()
        .find(|c| c.is_alphabetic())
        .is_some_and(|c| c.is_lowercase() || c.is_uppercase())
}

/// A line of a cased script that ends without sentence punctuation.
pub(super) fn open_cased(text: &str) -> bool {
    let t = text.trim_end();
    !t.is_empty() && !t.ends_with(SENTENCE_END) && cased(t)
}

pub(super) fn starts_lower(word: &str) -> bool {
    word.chars()
        .find(|c| c.is_alphabetic())
        .is_some_and(|c| c.is_lowercase())
}

/// An open line whose last word is a short lower-case word ("… Stabilization and",
/// "… Association of", "… for the") cannot end a heading: followed by a line, it goes on there.
pub(super) fn ends_mid_sentence(text: &str) -> bool {
    open_cased(text)
        && text
            .split_whitespace()
            .last()
            .is_some_and(|w| w.chars().count() <= 3 && w.chars().all(|c| c.is_lowercase()))
}

impl Stripper {
    pub(super) fn new(profile: Profile, seed: u64) -> Self {
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
    pub(super) fn analyze(
        &mut self,
        raw: &[u8],
        kind: RawKind,
        rules: &[(u64, StripRule)],
    ) -> bool {
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
    pub(super) fn blocks(&self, edge_common: &dyn Fn(u64) -> bool) -> (usize, usize) {
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
    pub(super) fn strip(
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
