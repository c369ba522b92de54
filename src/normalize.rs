//! Stage 1: text normalisation, streamed as tokens.
//!
//! The [`Normalizer`] turns raw text into a stream of normalised tokens and line ends, handed to a
//! [`TokenSink`]; nothing is materialised beyond the current token, in a buffer reused across
//! documents. The `full` profile, applied in this order:
//!
//! 1. **NFKC** (skipped when the text is ASCII or passes the NFKC quick check, which is most text).
//! 2. **Invisible characters removed**: zero-width space/joiners (U+200B–U+200F), bidi controls
//!    (U+202A–U+202E, U+2066–U+2069, U+061C), word joiner and invisible operators
//!    (U+2060–U+2064), BOM (U+FEFF), soft hyphen (U+00AD), and every other default-ignorable
//!    code point (variation selectors such as the emoji selector U+FE0F, U+034F, Hangul
//!    fillers, tags). They never split a word and are never a word of their own.
//! 3. **Arabic**: harakat (U+064B–U+065F, U+0670) and tatweel (U+0640) removed; letter variants
//!    folded: أ إ آ ٱ → ا, ى → ي, ة → ه, Persian ی → ي and ک → ك; Arabic-Indic (U+0660–U+0669)
//!    and Persian (U+06F0–U+06F9) digits → ASCII digits. Arabic punctuation (، ؛ ؟) is punctuation,
//!    so it separates words like any other.
//! 4. **Apostrophes** (`'`, `‘`, `’`, `ʼ`) are removed, so `don't` and `don’t` both give `dont`.
//! 5. **Case folding**: Unicode lowercase, plus `ß`/`ẞ` → `ss` and final `ς` → `σ`.
//! 6. **Tokens**: maximal runs of letters, digits and combining marks; every other character
//!    (punctuation including typographic quotes “ ” « », symbols, spaces, controls) separates.
//!    Scripts written without spaces (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar) give
//!    one token per character.
//! 7. **Lines** end at `\n`, U+2028, U+2029 and U+0085 (`\r` is plain whitespace).
//!
//! The `none` profile only splits on whitespace and keeps the text as it is.
//!
//! The normalised text of a document is its tokens joined by single spaces, lines by `\n`;
//! normalising that again gives the same tokens (a property test checks it).

use std::sync::OnceLock;

use unicode_normalization::char::{canonical_combining_class, is_combining_mark};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

pub use crate::config::Profile;

/// Receives the normalised token stream of one text.
pub trait TokenSink {
    /// One normalised token (never empty).
    fn token(&mut self, token: &str);
    /// The end of a line; called at every line break and once at the end of the text.
    fn line_end(&mut self) {}
}

/// A sink that can forget everything it received during the current [`Normalizer::run_line`]
/// (a per-line buffer), so the normaliser may process optimistically and start over.
pub trait Restart {
    fn restart(&mut self);
}

/// A reusable normaliser: keep one per thread.
#[derive(Debug)]
pub struct Normalizer {
    profile: Profile,
    tables: &'static Tables,
    tok: String,
    /// A character was dropped since the last push: it may have separated combining marks that
    /// NFKC would reorder, or blocked a composition that is now possible.
    dropped: bool,
    /// The last starter (combining class 0) pushed was changed by folding, so what follows it
    /// may compose differently now (`Y` + ring has no composite, `y` + ring does).
    changed_starter: bool,
    /// The current token needs NFKC again (rare: see `dropped`, `changed_starter`).
    renorm: bool,
    renorm_buf: String,
    /// Find runs of unchanged letters with SIMD ([`runs`]); false: the scalar loop only.
    simd: bool,
    /// One line's run bits ([`runs::mark`]).
    run_bits: Vec<u64>,
}

impl Normalizer {
    pub fn new(profile: Profile) -> Self {
        Normalizer {
            profile,
            tables: tables(),
            tok: String::with_capacity(64),
            dropped: false,
            changed_starter: false,
            renorm: false,
            renorm_buf: String::new(),
            simd: runs::available(),
            run_bits: Vec::new(),
        }
    }

    /// A normaliser that takes the SIMD path for runs of unchanged letters only if `vector`
    /// (and the CPU has AVX2); `false` gives the scalar reference, for tests and benchmarks that
    /// hold the two to the same output.
    pub fn with_vector_path(profile: Profile, vector: bool) -> Self {
        Normalizer {
            simd: vector && runs::available(),
            ..Normalizer::new(profile)
        }
    }

    /// A normaliser that never takes the SIMD path (the reference it is tested against).
    #[cfg(test)]
    fn scalar(profile: Profile) -> Self {
        Self::with_vector_path(profile, false)
    }

    /// Whether this normaliser takes the SIMD path.
    pub fn uses_vector_path(&self) -> bool {
        self.simd
    }

    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// Normalise `text`, sending tokens and line ends to `sink`.
    pub fn run<S: TokenSink + ?Sized>(&mut self, text: &str, sink: &mut S) {
        self.tok.clear();
        match self.profile {
            Profile::None => self.run_raw(text, sink),
            Profile::Full => {
                if text.is_ascii() {
                    self.run_ascii(text, sink);
                } else if self.tables.is_nfkc_quick(text) {
                    for c in text.chars() {
                        self.feed(c, sink);
                    }
                } else {
                    for c in text.chars().nfkc() {
                        self.feed(c, sink);
                    }
                }
            }
        }
        self.flush(sink);
        sink.line_end();
    }

    /// [`Normalizer::run`] in one pass, for sinks that can start over: characters are processed
    /// as they come while the NFKC quick check runs alongside; the rare text that fails it is
    /// processed again through NFKC after `sink.restart()`. Same output as `run`.
    pub fn run_line<S: TokenSink + Restart>(&mut self, text: &str, sink: &mut S) {
        self.tok.clear();
        match self.profile {
            Profile::None => self.run_raw(text, sink),
            Profile::Full => {
                if text.is_ascii() {
                    self.run_ascii(text, sink);
                } else if !self.feed_checked(text, sink) {
                    sink.restart();
                    self.tok.clear();
                    self.dropped = false;
                    self.changed_starter = false;
                    self.renorm = false;
                    for c in text.chars().nfkc() {
                        self.feed(c, sink);
                    }
                }
            }
        }
        self.flush(sink);
        sink.line_end();
    }

    /// Feed `text` unnormalised while checking that it is NFKC already (quick check: every
    /// character NFKC_QC = Yes and combining marks in canonical order). Returns false, having
    /// stopped part-way, if it is not.
    fn feed_checked<S: TokenSink + ?Sized>(&mut self, text: &str, sink: &mut S) -> bool {
        let mut last_ccc = 0u8;
        // Runs of characters that are word characters mapping to themselves and interact with
        // nothing (most letters and digits of most scripts) are copied as bytes, not decoded
        // and re-encoded one by one.
        let tables = self.tables;
        let bytes = text.as_bytes();
        let mut run_start: Option<usize> = None;
        let mut i = 0;
        // The line's runs of unchanged ASCII or Arabic letters, marked in one vector pass; the
        // scalar loop jumps over each and goes on from where it ends (a character that is not
        // one, or one of a script the vector path does not know).
        let mut bits = std::mem::take(&mut self.run_bits);
        let marked = self.simd && runs::mark(&tables.runs, bytes, &mut bits);
        while i < bytes.len() {
            if marked && run_start.is_none() {
                let end = runs::run_end(&bits, i);
                if end > i {
                    if self.whole_token(bytes, end) {
                        // The run is a token by itself: handed over from the text, not copied.
                        sink.token(&text[i..end]);
                        last_ccc = 0;
                    } else {
                        run_start = Some(i);
                    }
                    i = end;
                    if i >= bytes.len() {
                        break;
                    }
                }
            }
            // Decoded by hand for one and two bytes (ASCII, Latin, Greek, Cyrillic, Hebrew,
            // Arabic): the text is valid UTF-8.
            let b0 = bytes[i];
            let (cp, len) = if b0 < 0x80 {
                (b0 as u32, 1)
            } else if b0 < 0xE0 {
                let b1 = bytes.get(i + 1).copied().unwrap_or(0x80);
                (((b0 as u32 & 0x1F) << 6) | (b1 as u32 & 0x3F), 2)
            } else {
                let c = text[i..]
                    .chars()
                    .next()
                    .unwrap_or(char::REPLACEMENT_CHARACTER);
                (c as u32, c.len_utf8())
            };
            let at = i;
            i += len;
            if cp < 0x10000 && tables.map[cp as u16 as usize] & IDENTITY != 0 {
                run_start.get_or_insert(at);
                continue;
            }
            if let Some(start) = run_start.take() {
                self.push_run(&text[start..at]);
                last_ccc = 0;
            }
            if cp < 0x80 {
                last_ccc = 0;
                self.feed_ascii(cp as u8, sink);
                continue;
            }
            let c = char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER);
            let ccc = if cp < 0x10000 {
                let e = tables.map[cp as u16 as usize];
                if e & QC_YES == 0 {
                    self.run_bits = bits;
                    return false;
                }
                if e >> CLASS_SHIFT & CLASS_MASK == C_DROP {
                    // A dropped character (a harakah, an invisible) is not in the output, so
                    // where canonical ordering would move it does not matter: only the order of
                    // the marks that are kept is checked. (Nothing here composes: a character
                    // that can, NFKC_Quick_Check = Maybe, was refused above.) Arabic typed with
                    // shadda before fatha took the slow path for the whole line.
                    self.feed(c, sink);
                    continue;
                }
                tables.ccc[cp as u16 as usize]
            } else {
                if is_nfkc_quick(std::iter::once(c)) != IsNormalized::Yes {
                    self.run_bits = bits;
                    return false;
                }
                canonical_combining_class(c)
            };
            if ccc != 0 && last_ccc > ccc {
                self.run_bits = bits;
                return false;
            }
            last_ccc = ccc;
            self.feed(c, sink);
        }
        if let Some(start) = run_start {
            self.push_run(&text[start..]);
        }
        self.run_bits = bits;
        true
    }

    /// Append a run of word characters that map to themselves (all starters, none interacting).
    #[inline]
    fn push_run(&mut self, run: &str) {
        self.tok.push_str(run);
        self.dropped = false;
        self.changed_starter = false;
    }

    #[inline]
    fn flush<S: TokenSink + ?Sized>(&mut self, sink: &mut S) {
        self.dropped = false;
        self.changed_starter = false;
        if self.tok.is_empty() {
            return;
        }
        if self.renorm {
            // Dropping an invisible character joined two runs of combining marks: restore
            // canonical order so that normalising the output again changes nothing.
            self.renorm = false;
            self.renorm_buf.clear();
            self.renorm_buf.extend(self.tok.nfkc());
            std::mem::swap(&mut self.tok, &mut self.renorm_buf);
        }
        sink.token(&self.tok);
        self.tok.clear();
    }

    fn run_raw<S: TokenSink + ?Sized>(&mut self, text: &str, sink: &mut S) {
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                sink.line_end();
            }
            for tok in line.split(char::is_whitespace).filter(|t| !t.is_empty()) {
                sink.token(tok);
            }
        }
    }

    fn run_ascii<S: TokenSink + ?Sized>(&mut self, text: &str, sink: &mut S) {
        let bytes = text.as_bytes();
        let mut bits = std::mem::take(&mut self.run_bits);
        if !(self.simd && runs::mark(&self.tables.runs, bytes, &mut bits)) {
            for &b in bytes {
                self.feed_ascii(b, sink);
            }
            self.run_bits = bits;
            return;
        }
        // Runs of lower-case letters and digits at once (as `feed_ascii` would take them one
        // by one); everything else byte by byte.
        let mut i = 0;
        while i < bytes.len() {
            let end = runs::run_end(&bits, i);
            if end > i {
                if self.whole_token(bytes, end) {
                    sink.token(&text[i..end]);
                } else {
                    self.push_run(&text[i..end]);
                }
                i = end;
                continue;
            }
            self.feed_ascii(bytes[i], sink);
            i += 1;
        }
        self.run_bits = bits;
    }

    /// Whether a run of unchanged letters ending at `end` is a whole token: nothing is pending
    /// before it, and the line ends or an ASCII separator follows (what `feed_ascii` flushes
    /// at). Then it can go to the sink straight from the text; the state is as a flush leaves it.
    #[inline]
    fn whole_token(&mut self, bytes: &[u8], end: usize) -> bool {
        let ends = bytes.get(end).is_none_or(|&b| {
            b.is_ascii() && !b.is_ascii_alphanumeric() && b != b'\'' && b != b'\n'
        });
        if self.tok.is_empty() && ends {
            self.dropped = false;
            self.changed_starter = false;
            true
        } else {
            false
        }
    }

    #[inline(always)]
    fn feed_ascii<S: TokenSink + ?Sized>(&mut self, b: u8, sink: &mut S) {
        match b {
            b'a'..=b'z' | b'0'..=b'9' => {
                self.changed_starter = false;
                self.dropped = false;
                self.tok.push(b as char)
            }
            b'A'..=b'Z' => {
                self.changed_starter = true;
                self.dropped = false;
                self.tok.push((b + 32) as char)
            }
            b'\'' => self.dropped = true,
            b'\n' => {
                self.flush(sink);
                sink.line_end();
            }
            _ => self.flush(sink),
        }
    }

    #[inline]
    fn feed<S: TokenSink + ?Sized>(&mut self, c: char, sink: &mut S) {
        let cp = c as u32;
        if cp < 0x80 {
            return self.feed_ascii(cp as u8, sink);
        }
        if cp >= 0x10000 {
            return self.feed_slow(c, sink);
        }
        let e = self.tables.map[cp as u16 as usize];
        match e >> CLASS_SHIFT & CLASS_MASK {
            C_WORD => {
                if e & INTERACTS != 0 && (self.dropped || self.changed_starter) {
                    self.renorm = true;
                }
                if e & NON_STARTER == 0 {
                    self.changed_starter = e & CHANGED != 0;
                }
                self.dropped = false;
                // The table only holds valid scalar values below 0x10000.
                self.tok
                    .push(char::from_u32(e & CHAR_MASK).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            C_SEP => self.flush(sink),
            C_DROP => self.dropped = true,
            _ => self.feed_slow(c, sink),
        }
    }

    /// The reference definition of the profile for one non-ASCII character; the BMP table is
    /// built from it and it handles what the table defers (astral characters, multi-character
    /// case folds, unspaced scripts, line separators).
    #[cold]
    fn feed_slow<S: TokenSink + ?Sized>(&mut self, c: char, sink: &mut S) {
        match classify(c) {
            Class::Word(l) => {
                self.note_push(c, l != c);
                self.tok.push(l);
            }
            Class::Sep => self.flush(sink),
            Class::Drop => self.dropped = true,
            Class::Line => {
                self.flush(sink);
                sink.line_end();
            }
            Class::Unspaced => {
                self.flush(sink);
                self.tok.push(c);
                self.flush(sink);
            }
            Class::Fold => {
                self.note_push(c, true);
                for l in c.to_lowercase() {
                    match l {
                        'ß' => self.tok.push_str("ss"),
                        'ς' => self.tok.push('σ'),
                        _ => self.tok.push(l),
                    }
                }
            }
        }
    }
}

impl Normalizer {
    /// Track what may need re-normalising before `c` (mapped, `changed` if folding changed it)
    /// is pushed.
    #[inline]
    fn note_push(&mut self, c: char, changed: bool) {
        let starter = canonical_combining_class(c) == 0;
        let interacts = !starter || is_nfkc_quick(std::iter::once(c)) != IsNormalized::Yes;
        if interacts && (self.dropped || self.changed_starter) {
            self.renorm = true;
        }
        if starter {
            self.changed_starter = changed;
        }
        self.dropped = false;
    }
}

/// What the profile does with one non-ASCII character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    /// Part of a word, written as this character.
    Word(char),
    /// Part of a word, case-folded to possibly several characters.
    Fold,
    /// Separates words.
    Sep,
    /// Removed, joining what is on either side (harakat, tatweel, invisibles, apostrophes).
    Drop,
    /// Ends a line.
    Line,
    /// A one-character token.
    Unspaced,
}

/// [`classify`], extended to ASCII.
fn classify_any(c: char) -> Class {
    if c.is_ascii() {
        if c.is_ascii_alphanumeric() {
            Class::Word(c.to_ascii_lowercase())
        } else if c == '\'' {
            Class::Drop
        } else if c == '\n' {
            Class::Line
        } else {
            Class::Sep
        }
    } else {
        classify(c)
    }
}

/// The profile's rule for one non-ASCII character.
fn classify(c: char) -> Class {
    match c {
        // Arabic harakat and superscript alef; tatweel; invisible: soft hyphen, zero-width,
        // bidi controls, word joiner, BOM, Arabic letter mark; apostrophes (which join).
        '\u{064B}'..='\u{065F}'
        | '\u{0670}'
        | '\u{0640}'
        | '\u{00AD}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}'
        | '\u{061C}'
        | '\u{2018}'
        | '\u{2019}'
        | '\u{02BC}' => Class::Drop,
        // The rest of Unicode's default-ignorable code points: variation selectors (the emoji
        // selector U+FE0F after every other emoji), the combining grapheme joiner, Mongolian
        // free variation selectors, Hangul fillers, Khmer inherent vowels, invisible operators,
        // musical formatting, tags. Never part of a word, and never a word of their own.
        '\u{034F}'
        | '\u{115F}'..='\u{1160}'
        | '\u{17B4}'..='\u{17B5}'
        | '\u{180B}'..='\u{180F}'
        | '\u{2065}'..='\u{206F}'
        | '\u{3164}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FFA0}'
        | '\u{FFF0}'..='\u{FFF8}'
        | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0000}'..='\u{E0FFF}' => Class::Drop,
        // Arabic letter variants.
        'أ' | 'إ' | 'آ' | 'ٱ' => Class::Word('ا'),
        'ى' | 'ی' => Class::Word('ي'),
        'ة' => Class::Word('ه'),
        'ک' => Class::Word('ك'),
        '\u{0660}'..='\u{0669}' => Class::Word(digit(c as u32 - 0x0660)),
        '\u{06F0}'..='\u{06F9}' => Class::Word(digit(c as u32 - 0x06F0)),
        // Line and paragraph separators, NEL.
        '\u{2028}' | '\u{2029}' | '\u{0085}' => Class::Line,
        _ if is_unspaced_script(c) => Class::Unspaced,
        _ if c.is_alphanumeric() || is_combining_mark(c) => {
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) if l != 'ß' && l != 'ς' => Class::Word(l),
                _ => Class::Fold,
            }
        }
        _ => Class::Sep,
    }
}

const CLASS_SHIFT: u32 = 21;
const CLASS_MASK: u32 = 7;
const CHAR_MASK: u32 = (1 << CLASS_SHIFT) - 1;
const C_SEP: u32 = 0;
const C_WORD: u32 = 1;
const C_DROP: u32 = 2;
const C_SLOW: u32 = 4;
const QC_YES: u32 = 1 << 24;
/// Canonical combining class is not 0.
const NON_STARTER: u32 = 1 << 25;
/// May reorder or compose with what precedes it (a non-starter, or NFKC_Quick_Check = Maybe).
const INTERACTS: u32 = 1 << 27;
/// Folding maps the character to a different one.
const CHANGED: u32 = 1 << 26;
/// A word character that maps to itself and interacts with nothing (runs of them are copied as
/// bytes). Set for ASCII letters and digits too.
const IDENTITY: u32 = 1 << 28;

/// Per-character facts for the Basic Multilingual Plane, computed once from `classify` and the
/// Unicode tables, so the hot loop does one array lookup per character instead of several
/// binary searches (case mapping, alphabetic, NFKC quick check).
pub struct Tables {
    /// `class << 21 | mapped char`, plus the `QC_YES` bit (NFKC_Quick_Check = Yes). Fixed size,
    /// so that indexing by a BMP code point needs no bounds check in the hot loop.
    map: Box<[u32; 0x10000]>,
    /// Canonical combining class.
    ccc: Box<[u8; 0x10000]>,
    /// The vector path's view of `IDENTITY` ([`runs`]), derived from `map`.
    runs: runs::Sets,
}

impl std::fmt::Debug for Tables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tables { .. }")
    }
}

/// Build the normaliser's per-character tables now (~3 ms, once per process) rather than at
/// the first [`Normalizer::new`]: the read stage does it alongside reading, so that pass 1 does
/// not start with every thread waiting on one.
pub fn warm_up() {
    tables();
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut map: Box<[u32; 0x10000]> = vec![0u32; 0x10000]
            .into_boxed_slice()
            .try_into()
            .expect("0x10000 entries");
        let mut ccc: Box<[u8; 0x10000]> = vec![0u8; 0x10000]
            .into_boxed_slice()
            .try_into()
            .expect("0x10000 entries");
        for b in (b'a'..=b'z').chain(b'0'..=b'9') {
            map[b as usize] = IDENTITY;
        }
        for cp in 0x80u32..0x10000 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let (class, mapped) = match classify(c) {
                Class::Word(l) => (C_WORD, l as u32),
                Class::Sep => (C_SEP, 0),
                Class::Drop => (C_DROP, 0),
                Class::Fold | Class::Line | Class::Unspaced => (C_SLOW, 0),
            };
            let qc = if is_nfkc_quick(std::iter::once(c)) == IsNormalized::Yes {
                QC_YES
            } else if class == C_SEP
                && canonical_combining_class(c) == 0
                && std::iter::once(c)
                    .nfkc()
                    .all(|d| classify_any(d) == Class::Sep)
            {
                // NFKC would turn it into separators only (no-break and other spaces, the
                // ellipsis, …): a separator either way, so no need to take the slow path.
                QC_YES
            } else {
                0
            };
            let ccc_c = canonical_combining_class(c);
            let non_starter = if ccc_c != 0 { NON_STARTER } else { 0 };
            let interacts = if ccc_c != 0 || qc == 0 { INTERACTS } else { 0 };
            let changed = if class == C_WORD && mapped != cp {
                CHANGED
            } else {
                0
            };
            let identity = if class == C_WORD && changed == 0 && interacts == 0 {
                IDENTITY
            } else {
                0
            };
            map[cp as usize] =
                class << CLASS_SHIFT | mapped | qc | non_starter | interacts | changed | identity;
            ccc[cp as usize] = ccc_c;
        }
        let runs = runs::Sets::from_identity(|cp| map[cp as usize] & IDENTITY != 0);
        Tables { map, ccc, runs }
    })
}

impl Tables {
    /// The NFKC quick check ("is this text certainly NFKC already?") by table lookups; falls back
    /// to the library for text with characters beyond the BMP.
    fn is_nfkc_quick(&self, text: &str) -> bool {
        let mut last_ccc = 0u8;
        for c in text.chars() {
            let cp = c as u32;
            if cp < 0x80 {
                last_ccc = 0;
                continue;
            }
            if cp >= 0x10000 {
                return is_nfkc_quick(text.chars()) == IsNormalized::Yes;
            }
            if self.map[cp as u16 as usize] & QC_YES == 0 {
                return false;
            }
            let ccc = self.ccc[cp as u16 as usize];
            if ccc != 0 && last_ccc > ccc {
                return false;
            }
            last_ccc = ccc;
        }
        true
    }
}

#[inline]
fn digit(d: u32) -> char {
    char::from(b'0' + d as u8)
}

/// Scripts written without spaces between words: one token per character.
#[inline]
pub fn is_unspaced_script(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF       // Thai, Lao
        | 0x1000..=0x109F     // Myanmar
        | 0x1780..=0x17FF     // Khmer
        | 0x3040..=0x30FF     // Hiragana, Katakana
        | 0x3400..=0x4DBF     // CJK Extension A
        | 0x4E00..=0x9FFF     // CJK Unified Ideographs
        | 0xF900..=0xFAFF     // CJK Compatibility Ideographs
        | 0x20000..=0x3FFFF   // CJK Extensions B and later
    )
}

/// Runs of characters that the normaliser copies unchanged (`IDENTITY`), found 32 bytes at a
/// time with AVX2 where the CPU has it (checked at run time): ASCII lower-case letters and
/// digits, and the Arabic block's unchanged letters (U+0600–U+067F, two bytes each: no marks,
/// no folded variants such as ة or أ, which the scalar loop handles). The scalar loop stays the
/// reference: a property test holds the two paths to the same output on random and real text.
mod runs {
    /// Which continuation bytes make an unchanged letter after the lead bytes 0xD8 (U+0600–
    /// U+063F) and 0xD9 (U+0640–U+067F), as nibble tables for a byte shuffle: for a
    /// continuation byte `c`, `lo[c & 15] & hi_d8[c >> 4]` is non-zero when `0xD8 c` is one.
    #[derive(Clone, Copy, Debug, Default)]
    pub(super) struct Sets {
        lo: [u8; 16],
        hi_d8: [u8; 16],
        hi_d9: [u8; 16],
    }

    impl Sets {
        pub(super) fn from_identity(identity: impl Fn(u32) -> bool) -> Sets {
            let mut s = Sets::default();
            for k in 0..4u8 {
                // High nibbles 8..=B of a continuation byte: bit k for 0xD8, bit 4 + k for 0xD9.
                s.hi_d8[8 + k as usize] = 1 << k;
                s.hi_d9[8 + k as usize] = 1 << (4 + k);
            }
            for c in 0x80u32..0xC0 {
                let (k, lo) = ((c >> 4) - 8, (c & 15) as usize);
                if identity(0x600 + c - 0x80) {
                    s.lo[lo] |= 1 << k;
                }
                if identity(0x640 + c - 0x80) {
                    s.lo[lo] |= 1 << (4 + k);
                }
            }
            s
        }
    }

    /// Whether this CPU takes the vector path.
    pub(super) fn available() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx2")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// Mark the run characters of `b` (valid UTF-8): bit `j % 64` of `bits[j / 64]` is set when
    /// byte `j` belongs to one. Returns false (nothing marked) where the vector path is not
    /// available.
    #[inline]
    pub(super) fn mark(sets: &Sets, b: &[u8], bits: &mut Vec<u64>) -> bool {
        #[cfg(target_arch = "x86_64")]
        if available() {
            // SAFETY: AVX2 is available.
            unsafe { avx2::mark(sets, b, bits) };
            return true;
        }
        let _ = (sets, b, bits);
        false
    }

    /// The end of the run of marked bytes starting at `i` (`i` when byte `i` is not marked).
    #[inline]
    pub(super) fn run_end(bits: &[u64], i: usize) -> usize {
        let (mut w, shift) = (i / 64, i % 64);
        let Some(&first) = bits.get(w) else {
            return i;
        };
        let ones = (!(first >> shift)).trailing_zeros() as usize;
        if ones < 64 - shift {
            return i + ones;
        }
        let mut end = (w + 1) * 64;
        w += 1;
        while let Some(&word) = bits.get(w) {
            let ones = (!word).trailing_zeros() as usize;
            end += ones;
            if ones < 64 {
                break;
            }
            w += 1;
        }
        end
    }

    /// The end of the run starting at `i`, by [`mark`] and [`run_end`] (tests).
    #[cfg(test)]
    pub(super) fn find(sets: &Sets, b: &[u8], i: usize) -> usize {
        let mut bits = Vec::new();
        if !mark(sets, b, &mut bits) {
            return i;
        }
        run_end(&bits, i).min(b.len())
    }

    #[cfg(target_arch = "x86_64")]
    mod avx2 {
        use super::Sets;
        use std::arch::x86_64::*;

        #[target_feature(enable = "avx2")]
        pub(super) unsafe fn mark(sets: &Sets, b: &[u8], bits: &mut Vec<u64>) {
            let words = b.len().div_ceil(64);
            bits.clear();
            bits.resize(words + 1, 0);
            // Per 64 bytes: ASCII letters and digits, lead bytes, and which bytes would complete
            // a letter after each lead; pairs are joined across words afterwards.
            let mut raw = [[0u64; 5]; 2];
            let mut pad = [0u8; 64];
            let mut prev_pair_top = 0u64;
            for w in 0..=words {
                let cur = if w < words {
                    let at = w * 64;
                    let chunk = if at + 64 <= b.len() {
                        &b[at..at + 64]
                    } else {
                        // The last bytes (once), padded with zeros (never part of a run).
                        pad[..b.len() - at].copy_from_slice(&b[at..]);
                        &pad[..]
                    };
                    // SAFETY: `chunk` has 64 readable bytes.
                    let (lo, hi) = unsafe {
                        (
                            block(sets, chunk.as_ptr()),
                            block(sets, chunk.as_ptr().add(32)),
                        )
                    };
                    let mut m = [0u64; 5];
                    for k in 0..5 {
                        m[k] = u64::from(lo[k]) | u64::from(hi[k]) << 32;
                    }
                    m
                } else {
                    [0u64; 5]
                };
                raw[w % 2] = cur;
                if w > 0 {
                    // Finish word w - 1 now that the first byte of word w is known.
                    let [ascii, d8, d9, c8, c9] = raw[(w - 1) % 2];
                    let next_c8 = cur[3] & 1;
                    let next_c9 = cur[4] & 1;
                    let pair = (d8 & (c8 >> 1 | next_c8 << 63)) | (d9 & (c9 >> 1 | next_c9 << 63));
                    bits[w - 1] = ascii | pair | pair << 1 | prev_pair_top;
                    prev_pair_top = pair >> 63;
                }
            }
            bits.truncate(words);
        }

        /// For the 32 bytes at `p`, as bit masks: ASCII letters and digits, the lead bytes 0xD8
        /// and 0xD9, and the bytes that complete a run letter after 0xD8 and after 0xD9.
        #[inline]
        #[target_feature(enable = "avx2")]
        unsafe fn block(sets: &Sets, p: *const u8) -> [u32; 5] {
            // SAFETY: the caller guarantees 32 readable bytes; the table loads are 16 bytes of
            // 16-byte arrays.
            unsafe {
                let v = _mm256_loadu_si256(p.cast());
                let at_most = |x: __m256i, n: i8| {
                    _mm256_cmpeq_epi8(_mm256_min_epu8(x, _mm256_set1_epi8(n)), x)
                };
                let letter = at_most(_mm256_sub_epi8(v, _mm256_set1_epi8(b'a' as i8)), 25);
                let digit = at_most(_mm256_sub_epi8(v, _mm256_set1_epi8(b'0' as i8)), 9);
                let ascii = _mm256_movemask_epi8(_mm256_or_si256(letter, digit)) as u32;
                let d8 = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(0xD8u8 as i8)))
                    as u32;
                let d9 = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(0xD9u8 as i8)))
                    as u32;
                let table =
                    |t: &[u8; 16]| _mm256_broadcastsi128_si256(_mm_loadu_si128(t.as_ptr().cast()));
                let nib = _mm256_set1_epi8(0x0F);
                let lo = _mm256_shuffle_epi8(table(&sets.lo), _mm256_and_si256(v, nib));
                let hi_nibble = _mm256_and_si256(_mm256_srli_epi16(v, 4), nib);
                let zero = _mm256_setzero_si256();
                let member = |t: &[u8; 16]| {
                    let hit = _mm256_and_si256(lo, _mm256_shuffle_epi8(table(t), hi_nibble));
                    !(_mm256_movemask_epi8(_mm256_cmpeq_epi8(hit, zero)) as u32)
                };
                [ascii, d8, d9, member(&sets.hi_d8), member(&sets.hi_d9)]
            }
        }
    }
}

/// The lines of `text`, as `text.split('\n')` gives them (the piece after a final `\n` included),
/// found with SIMD `memchr` rather than one `char` search per line.
#[inline]
pub fn lines(text: &str) -> Lines<'_> {
    Lines {
        text,
        pos: 0,
        done: false,
    }
}

/// Iterator of [`lines`].
#[derive(Clone, Debug)]
pub struct Lines<'a> {
    text: &'a str,
    pos: usize,
    done: bool,
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        if self.done {
            return None;
        }
        let start = self.pos;
        match memchr::memchr(b'\n', &self.text.as_bytes()[start..]) {
            Some(p) => {
                self.pos = start + p + 1;
                // `\n` is one byte, so both ends are character boundaries.
                Some(&self.text[start..start + p])
            }
            None => {
                self.done = true;
                Some(&self.text[start..])
            }
        }
    }
}

/// Collects tokens into a string: tokens joined by a space, lines by `\n`, empty lines dropped.
/// Used for display (boilerplate lines) and tests, not on the hot path.
#[derive(Default, Debug)]
pub struct JoinSink {
    pub out: String,
    line_has_tokens: bool,
}

impl TokenSink for JoinSink {
    fn token(&mut self, token: &str) {
        if self.line_has_tokens {
            self.out.push(' ');
        } else if !self.out.is_empty() {
            self.out.push('\n');
        }
        self.out.push_str(token);
        self.line_has_tokens = true;
    }
    fn line_end(&mut self) {
        self.line_has_tokens = false;
    }
}

/// Starting over forgets everything collected: with [`Normalizer::run_line`], use one sink per
/// line.
impl Restart for JoinSink {
    fn restart(&mut self) {
        self.out.clear();
        self.line_has_tokens = false;
    }
}

/// Normalise `text` into a `String` (tokens joined by spaces, lines by newlines).
pub fn normalize_to_string(text: &str, profile: Profile) -> String {
    let mut sink = JoinSink::default();
    Normalizer::new(profile).run(text, &mut sink);
    sink.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn norm(s: &str) -> String {
        normalize_to_string(s, Profile::Full)
    }

    #[test]
    fn ascii_is_lowercased_and_punctuation_splits() {
        assert_eq!(norm("Hello, World!  It's 2024."), "hello world its 2024");
    }

    #[test]
    fn typographic_apostrophe_matches_ascii_apostrophe() {
        assert_eq!(norm("don’t stop"), norm("don't stop"));
        assert_eq!(norm("“quoted” «guillemets»"), "quoted guillemets");
    }

    #[test]
    fn arabic_harakat_and_tatweel_are_removed() {
        // "مُحَمَّد" with harakat, and "العـــربية" with tatweel.
        assert_eq!(norm("مُحَمَّدٌ"), "محمد");
        assert_eq!(norm("العـــربية"), "العربيه");
    }

    #[test]
    fn arabic_letter_variants_fold() {
        assert_eq!(norm("أحمد إلى آخر ٱلكتاب"), "احمد الي اخر الكتاب");
        assert_eq!(norm("مدرسة"), "مدرسه");
        // Persian yeh and keheh fold to the Arabic letters.
        assert_eq!(norm("یک"), "يك");
    }

    #[test]
    fn arabic_digits_and_punctuation() {
        assert_eq!(norm("عام ٢٠١٥، وفي ۱۴۰۰؟ نعم؛"), "عام 2015 وفي 1400 نعم");
    }

    #[test]
    fn arabic_presentation_forms_become_letters() {
        // U+FEFB is the lam-alef ligature; NFKC maps it to لا.
        assert_eq!(norm("\u{FEFB}"), "لا");
    }

    #[test]
    fn invisible_characters_do_not_split_words() {
        assert_eq!(norm("ab\u{200B}cd e\u{200F}f\u{00AD}g"), "abcd efg");
        // Default-ignorables: an emoji's variation selector is no word.
        assert_eq!(norm("😀\u{FE0F} ❤\u{FE0F}"), "");
        assert_eq!(
            norm("x\u{FE0F}y a\u{034F}b c\u{E0041}d \u{3164}"),
            "xy ab cd"
        );
    }

    #[test]
    fn nfkc_and_case_folding() {
        assert_eq!(
            norm("ＦＵＬＬＷＩＤＴＨ ﬁne Straße ΣΟΦΟΣ"),
            "fullwidth fine strasse σοφοσ"
        );
        // Decomposed é composes to the same token as precomposed é.
        assert_eq!(norm("cafe\u{0301}"), norm("café"));
    }

    #[test]
    fn unspaced_scripts_tokenise_per_character() {
        assert_eq!(norm("東京都"), "東 京 都");
        assert_eq!(norm("ภาษาไทย"), "ภ า ษ า ไ ท ย");
    }

    /// The vector path's letter sets are the table's, and every character it can see is judged
    /// as the table judges it (every two-byte character after every lead and continuation byte
    /// it could meet, at every position of a block).
    #[test]
    fn vector_runs_cover_exactly_the_identity_characters_they_can_see() {
        if !runs::available() {
            return;
        }
        let t = tables();
        let identity = |c: char| (c as u32) < 0x10000 && t.map[c as usize] & IDENTITY != 0;
        let seen = |c: char| c.is_ascii() || (0x600..0x680).contains(&(c as u32));
        let mut checked = 0;
        for cp in 0u32..0x800 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            for pad in 0..33 {
                let text = format!("{}{c}{c}!", "x".repeat(pad));
                let b = text.as_bytes();
                let end = runs::find(&t.runs, b, pad);
                let want = if seen(c) && identity(c) {
                    pad + 2 * c.len_utf8()
                } else {
                    pad
                };
                assert_eq!(end, want, "U+{cp:04X} after {pad} letters");
                // From the start, the letters before it join the run.
                assert_eq!(
                    runs::find(&t.runs, b, 0),
                    want,
                    "U+{cp:04X} after {pad} letters"
                );
                checked += 1;
            }
        }
        assert!(checked > 60_000);
    }

    #[test]
    fn lines_split_like_str_split() {
        for t in [
            "",
            "\n",
            "a",
            "a\n",
            "\na",
            "a\nb\n\nc",
            "أ\nب\r\n\n",
            "x\n\n",
        ] {
            assert_eq!(
                lines(t).collect::<Vec<_>>(),
                t.split('\n').collect::<Vec<_>>(),
                "{t:?}"
            );
        }
    }

    #[test]
    fn lines_are_kept_and_empty_lines_dropped() {
        assert_eq!(norm("One\n\n  Two three \r\nfour"), "one\ntwo three\nfour");
    }

    #[test]
    fn profile_none_splits_on_whitespace_only() {
        assert_eq!(
            normalize_to_string("Hello, World!\nأَحمد", Profile::None),
            "Hello, World!\nأَحمد"
        );
    }

    struct Counter {
        tokens: usize,
        lines: usize,
    }
    impl TokenSink for Counter {
        fn token(&mut self, _: &str) {
            self.tokens += 1;
        }
        fn line_end(&mut self) {
            self.lines += 1;
        }
    }

    #[test]
    fn line_end_is_reported_for_every_break_and_at_the_end() {
        let mut c = Counter {
            tokens: 0,
            lines: 0,
        };
        Normalizer::new(Profile::Full).run("a b\nc\n", &mut c);
        assert_eq!((c.tokens, c.lines), (3, 3));
    }

    /// Inputs proptest found where dropping or case-folding a character let NFKC reorder or
    /// compose differently on a second pass.
    #[test]
    fn regression_dropped_or_folded_characters_do_not_break_idempotence() {
        for s in [
            "\u{35c}\u{feff}\u{300}",
            "Y\u{30a}",
            "u\u{657}\u{300}",
            "\u{1138b}'\u{113c5}",
        ] {
            let once = norm(s);
            assert_eq!(norm(&once), once, "{s:?}");
        }
        assert_eq!(norm("Y\u{30a}"), "\u{1e99}");
    }

    /// Every BMP character through the table path gives what the reference rules give.
    #[test]
    fn table_path_matches_reference_rules_for_every_bmp_character() {
        struct Collect(Vec<String>, usize);
        impl TokenSink for Collect {
            fn token(&mut self, t: &str) {
                self.0.push(t.to_string());
            }
            fn line_end(&mut self) {
                self.1 += 1;
            }
        }
        let mut fast = Normalizer::new(Profile::Full);
        let mut slow = Normalizer::new(Profile::Full);
        for cp in 0x80u32..0x10000 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let (mut a, mut b) = (Collect(vec![], 0), Collect(vec![], 0));
            for ch in ['x', c, 'y'] {
                fast.feed(ch, &mut a);
                slow.feed_slow_any(ch, &mut b);
            }
            fast.flush(&mut a);
            slow.flush(&mut b);
            assert_eq!((a.0, a.1), (b.0, b.1), "U+{cp:04X}");
        }
    }

    impl Normalizer {
        fn feed_slow_any<S: TokenSink + ?Sized>(&mut self, c: char, sink: &mut S) {
            if c.is_ascii() {
                self.feed_ascii(c as u8, sink)
            } else {
                self.feed_slow(c, sink)
            }
        }
    }

    #[test]
    fn table_quick_check_agrees_with_library() {
        let t = tables();
        for s in [
            "abc",
            "مُحَمَّد",
            "a\u{0301}",
            "e\u{0327}\u{0301}",
            "e\u{0301}\u{0327}",
            "ﬁ",
            "\u{FEFB}",
            "한국어",
            "😀x",
        ] {
            assert_eq!(
                t.is_nfkc_quick(s),
                is_nfkc_quick(s.chars()) == IsNormalized::Yes,
                "{s:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn normalisation_is_idempotent(s in "\\PC{0,64}") {
            let once = norm(&s);
            prop_assert_eq!(norm(&once), once);
        }

        /// The shortcuts (ASCII path, table quick check, separators treated as stable) give
        /// exactly what normalising the NFKC form of the text gives.
        #[test]
        fn shortcuts_agree_with_normalising_the_nfkc_form(s in "[\\PC\u{00A0}\u{2000}-\u{200A}\u{2026}\u{3000}\u{FE50}-\u{FE6B}\u{FEFB}]{0,48}") {
            let nfkc: String = s.nfkc().collect();
            prop_assert_eq!(norm(&s), norm(&nfkc));
        }

        /// The one-pass, restartable path gives the same tokens as the two-pass one.
        #[test]
        fn run_line_matches_run(s in "[\\PC\u{0300}-\u{036F}\u{064B}-\u{065F}\u{00A0}\u{FB50}-\u{FEFC}]{0,48}") {
            let mut a = crate::shingle::LineTokens::new(3, true);
            let mut b = crate::shingle::LineTokens::new(3, true);
            let mut n = Normalizer::new(Profile::Full);
            // Something left in the buffer from an earlier line must not matter either.
            n.run("leftover", &mut a);
            a.clear();
            n.run(&s, &mut a);
            n.run_line(&s, &mut b);
            prop_assert_eq!(&a.hashes, &b.hashes);
            prop_assert_eq!(&a.text, &b.text);
        }

        /// Harakat in any order (shadda before fatha, as typed), dropped marks between kept
        /// ones (Hebrew points, Latin marks that compose with nothing), tatweel: the one-pass
        /// path gives what normalising the NFKC form gives.
        #[test]
        fn dropped_marks_in_any_order_match_the_nfkc_path(s in "[\u{0621}-\u{064A}\u{064B}-\u{0652}\u{0670}\u{0640}\u{200C}\u{00AD} \u{0300}-\u{0304}\u{0327}\u{0316}-\u{031A}\u{0334}\u{0346}\u{05B0}-\u{05B9}\u{05D0}-\u{05D4}a-eE]{0,40}") {
            let mut a = crate::shingle::LineTokens::new(3, true);
            let mut b = crate::shingle::LineTokens::new(3, true);
            let mut n = Normalizer::new(Profile::Full);
            let nfkc: String = s.nfkc().collect();
            n.run(&nfkc, &mut a);
            n.run_line(&s, &mut b);
            prop_assert_eq!(&a.text, &b.text);
        }

        /// The vector path for runs of unchanged letters gives exactly the scalar path's tokens,
        /// on text dense in what borders runs: Arabic letters and their folded variants, marks,
        /// tatweel, Persian letters, ASCII of every class, other scripts, lines of every length
        /// (the last bytes of a line take the padded block).
        #[test]
        fn vector_runs_match_the_scalar_loop(s in "[\u{0600}-\u{06FF}\u{0620}-\u{064A}\u{0620}-\u{064A}\u{0621}-\u{063A}a-zA-Z0-9 '.,\u{00E9}\u{0416}\u{05D0}\u{0915}\u{4E00}\u{1F600}\u{FB50}-\u{FB60}\u{200C}\u{00A0}\n]{0,120}") {
            let mut a = crate::shingle::LineTokens::new(3, true);
            let mut b = crate::shingle::LineTokens::new(3, true);
            Normalizer::scalar(Profile::Full).run_line(&s, &mut a);
            Normalizer::new(Profile::Full).run_line(&s, &mut b);
            prop_assert_eq!(&a.hashes, &b.hashes);
            prop_assert_eq!(&a.text, &b.text);
        }

        /// The same on ASCII text, lines and whole texts (the ASCII path), where runs end at
        /// capitals, apostrophes, punctuation and line breaks.
        #[test]
        fn vector_runs_match_the_scalar_loop_on_ascii(s in "[a-zA-Z0-9 '.,;!?()\n-]{0,200}") {
            let (mut a, mut b) = (JoinSink::default(), JoinSink::default());
            Normalizer::scalar(Profile::Full).run(&s, &mut a);
            Normalizer::new(Profile::Full).run(&s, &mut b);
            prop_assert_eq!(&a.out, &b.out);
            let mut a = crate::shingle::LineTokens::new(3, true);
            let mut b = crate::shingle::LineTokens::new(3, true);
            let line = s.replace('\n', " ");
            Normalizer::scalar(Profile::Full).run_line(&line, &mut a);
            Normalizer::new(Profile::Full).run_line(&line, &mut b);
            prop_assert_eq!(&a.hashes, &b.hashes);
        }

        #[test]
        fn normalisation_is_idempotent_on_arabic_and_mixed(s in "[\\u{0600}-\\u{06FF}\\u{FB50}-\\u{FDFF}\\u{FE70}-\\u{FEFF} a-zA-Z0-9\\u{0300}-\\u{036F}\\n]{0,64}") {
            let once = norm(&s);
            prop_assert_eq!(norm(&once), once);
        }
    }
}
