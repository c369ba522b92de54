//! Stage 2: shingles, hashed with xxh3 as the tokens stream by.
//!
//! A word shingle is a window of `n` consecutive normalised tokens; a character shingle a window
//! of `n` consecutive characters of the normalised text (tokens joined by single spaces). Neither
//! is ever built as a string: each token is hashed once (xxh3-64, seeded), the last `n` token
//! hashes sit in a fixed byte window, and the shingle hash is xxh3-64 over that window. A text
//! shorter than `n` tokens (characters) gives one shingle of what it has, so short documents still
//! compare.

use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::config::MAX_NGRAM;
use crate::normalize::TokenSink;

pub use crate::config::ShingleKind;

/// Salt mixed into the seed for character shingles, so the two kinds never share hashes.
const CHAR_SALT: u64 = 0x9e37_79b9_7f4a_7c15;

/// A streaming shingler: feed tokens, receive shingle hashes. Reuse one per thread.
#[derive(Debug)]
pub struct Shingler {
    kind: ShingleKind,
    n: usize,
    seed: u64,
    /// Width of one window entry in bytes (8 for token hashes, 4 for code points).
    width: usize,
    /// Every entry is written twice, at `pos` and `pos + n`, so the last `n` entries are always
    /// the contiguous bytes `[pos * width, (pos + n) * width)`.
    window: [u8; 2 * MAX_NGRAM * 8],
    pos: usize,
    count: u64,
}

impl Shingler {
    pub fn new(kind: ShingleKind, n: usize, seed: u64) -> Self {
        assert!((1..=MAX_NGRAM).contains(&n), "n-gram size out of range");
        let (width, seed) = match kind {
            ShingleKind::Word => (8, seed),
            ShingleKind::Char => (4, seed ^ CHAR_SALT),
        };
        Shingler {
            kind,
            n,
            seed,
            width,
            window: [0; 2 * MAX_NGRAM * 8],
            pos: 0,
            count: 0,
        }
    }

    pub fn kind(&self) -> ShingleKind {
        self.kind
    }

    /// Start a new text.
    #[inline]
    pub fn reset(&mut self) {
        self.pos = 0;
        self.count = 0;
    }

    #[inline(always)]
    fn push_entry(&mut self, bytes: &[u8], emit: &mut impl FnMut(u64)) {
        let w = self.width;
        let (a, b) = (self.pos * w, (self.pos + self.n) * w);
        self.window[a..a + w].copy_from_slice(bytes);
        self.window[b..b + w].copy_from_slice(bytes);
        self.pos += 1;
        if self.pos == self.n {
            self.pos = 0;
        }
        self.count += 1;
        if self.count >= self.n as u64 {
            let start = self.pos * w;
            emit(xxh3_64_with_seed(
                &self.window[start..start + self.n * w],
                self.seed,
            ));
        }
    }

    /// The hash of one token, as word shingles use it.
    #[inline]
    pub fn token_hash(&self, token: &str) -> u64 {
        xxh3_64_with_seed(token.as_bytes(), self.seed)
    }

    /// Feed one token by its [`Shingler::token_hash`] (word shingles only).
    #[inline]
    pub fn push_token_hash(&mut self, h: u64, emit: &mut impl FnMut(u64)) {
        debug_assert_eq!(self.kind, ShingleKind::Word);
        self.push_entry(&h.to_le_bytes(), emit);
    }

    /// Feed one normalised token.
    #[inline]
    pub fn push_token(&mut self, token: &str, emit: &mut impl FnMut(u64)) {
        match self.kind {
            ShingleKind::Word => {
                let h = self.token_hash(token);
                self.push_entry(&h.to_le_bytes(), emit);
            }
            ShingleKind::Char => {
                if self.count > 0 {
                    self.push_entry(&(' ' as u32).to_le_bytes(), emit);
                }
                for c in token.chars() {
                    self.push_entry(&(c as u32).to_le_bytes(), emit);
                }
            }
        }
    }

    /// End of text: a text shorter than `n` entries gives one shingle of what it has.
    #[inline]
    pub fn finish(&mut self, emit: &mut impl FnMut(u64)) {
        if self.count > 0 && self.count < self.n as u64 {
            let len = self.count as usize * self.width;
            emit(xxh3_64_with_seed(&self.window[..len], self.seed));
        }
    }
}

/// The hash a word [`Shingler`] gives the window of token hashes `window` (`n` of them, in
/// text order): for code that works out single shingles without streaming the text.
#[inline]
pub(crate) fn word_shingle_hash(window: &[u64], seed: u64) -> u64 {
    xxh3_64_with_seed(&hash_bytes(window), seed)
}

/// Word shingles for exact verification's sets: each window of `n` token hashes as one 64-bit
/// value, updated as the window slides (two multiplications a shingle, where [`Shingler`]
/// hashes the window's 40 bytes anew).
///
/// The value of a window `t_0 … t_{n-1}` is the polynomial `Σ t_i · K^(n-1-i)` modulo 2^64
/// for an odd `K`. Token hashes are xxh3 values, so two different windows (differing in some
/// `t_i`) collide with probability about 2^-64, as two xxh3 values do; `K` odd makes the
/// polynomial of any non-zero difference vanish only by such chance, so a window and its
/// reordering (`a b a b a`, `b a b a b`) do not collide either. These values are compared only
/// with one another (a set's size, what two sets share), never with [`Shingler`]'s, so the
/// scores are those of the shingle sets whichever hash names the shingles. A text shorter than
/// `n` tokens gives one value of what it has, set apart by its length as [`Shingler::finish`]
/// sets it apart by its byte count.
#[derive(Debug)]
pub struct SetShingler {
    n: usize,
    /// `K^(n-1)`: the weight of the oldest token, taken off as the window slides.
    oldest: u64,
    value: u64,
    window: [u64; MAX_NGRAM],
    pos: usize,
    count: usize,
}

/// The multiplier of [`SetShingler`] (odd).
const SET_K: u64 = 0x9fb2_1c65_1e98_df25;

/// What sets a text shorter than `n` tokens apart, by its token count.
const SET_SHORT: u64 = 0xd6e8_feb8_6659_fd93;

impl SetShingler {
    pub fn new(n: usize) -> Self {
        assert!((1..=MAX_NGRAM).contains(&n), "n-gram size out of range");
        SetShingler {
            n,
            oldest: (1..n).fold(1u64, |p, _| p.wrapping_mul(SET_K)),
            value: 0,
            window: [0; MAX_NGRAM],
            pos: 0,
            count: 0,
        }
    }

    /// Start a new text.
    #[inline]
    pub fn reset(&mut self) {
        self.value = 0;
        self.pos = 0;
        self.count = 0;
    }

    /// Feed one token hash; `emit` receives each full window's value.
    #[inline(always)]
    pub fn push(&mut self, h: u64, emit: &mut impl FnMut(u64)) {
        if self.count >= self.n {
            self.value = self
                .value
                .wrapping_sub(self.window[self.pos].wrapping_mul(self.oldest));
        }
        self.value = self.value.wrapping_mul(SET_K).wrapping_add(h);
        self.window[self.pos] = h;
        self.pos += 1;
        if self.pos == self.n {
            self.pos = 0;
        }
        self.count += 1;
        if self.count >= self.n {
            emit(self.value);
        }
    }

    /// End of text: a text shorter than `n` tokens gives one value of what it has.
    #[inline]
    pub fn finish(&mut self, emit: &mut impl FnMut(u64)) {
        if self.count > 0 && self.count < self.n {
            emit(self.value ^ SET_SHORT.wrapping_mul(self.count as u64));
        }
    }
}

/// Salt for line hashes, so a one-token line never shares a hash with its token.
const LINE_SALT: u64 = 0x243f_6a88_85a3_08d3;

/// The normalised tokens of one line, buffered so the caller can decide what to do with the
/// line (count it, skip it as boilerplate, shingle it) once it has ended. Reuse one per thread.
#[derive(Debug, Default)]
pub struct LineTokens {
    seed: u64,
    keep_text: bool,
    /// Token hashes (seeded xxh3-64) in order.
    pub hashes: Vec<u64>,
    /// Tokens joined by single spaces (only when asked for: character shingles need it).
    pub text: String,
    /// Every token is made of ASCII digits only.
    pub numeric: bool,
    /// Some token starts with an ASCII digit (the normaliser folds every digit to ASCII): the
    /// line may hold a number ([`crate::verify::push_numbers`] reads it only then).
    pub digits: bool,
}

impl LineTokens {
    pub fn new(seed: u64, keep_text: bool) -> Self {
        LineTokens {
            seed,
            keep_text,
            numeric: true,
            ..Default::default()
        }
    }

    pub fn clear(&mut self) {
        self.hashes.clear();
        self.text.clear();
        self.numeric = true;
        self.digits = false;
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Hash of the normalised line (its token sequence).
    pub fn line_hash(&self) -> u64 {
        line_hash_of(&self.hashes, self.seed)
    }

    /// The token hashes as little-endian bytes (what the line and exact hashes are taken over),
    /// without a copy on little-endian targets.
    pub fn bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        hash_bytes(&self.hashes)
    }
}

/// [`LineTokens::line_hash`] of a line with token hashes `hashes`, for `seed`.
#[inline]
pub fn line_hash_of(hashes: &[u64], seed: u64) -> u64 {
    xxh3_64_with_seed(&hash_bytes(hashes), seed ^ LINE_SALT)
}

/// Token hashes as little-endian bytes, without a copy on little-endian targets.
#[inline]
pub fn hash_bytes(hashes: &[u64]) -> std::borrow::Cow<'_, [u8]> {
    #[cfg(target_endian = "little")]
    {
        // SAFETY: `u64` has no padding and every byte is a valid `u8`; the slice covers exactly
        // the hashes' memory, which on a little-endian target is their little-endian encoding.
        std::borrow::Cow::Borrowed(unsafe {
            std::slice::from_raw_parts(hashes.as_ptr().cast::<u8>(), hashes.len() * 8)
        })
    }
    #[cfg(not(target_endian = "little"))]
    {
        std::borrow::Cow::Owned(hashes.iter().flat_map(|h| h.to_le_bytes()).collect())
    }
}

impl crate::normalize::Restart for LineTokens {
    fn restart(&mut self) {
        self.clear();
    }
}

impl TokenSink for LineTokens {
    #[inline]
    fn token(&mut self, token: &str) {
        let h = xxh3_64_with_seed(token.as_bytes(), self.seed);
        self.hashes.push(h);
        let first_digit = token.as_bytes().first().is_some_and(u8::is_ascii_digit);
        self.digits |= first_digit;
        if self.numeric && !(first_digit && token.bytes().all(|b| b.is_ascii_digit())) {
            self.numeric = false;
        }
        if self.keep_text {
            if !self.text.is_empty() {
                self.text.push(' ');
            }
            self.text.push_str(token);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shingles(kind: ShingleKind, n: usize, tokens: &[&str]) -> Vec<u64> {
        let mut s = Shingler::new(kind, n, 7);
        let mut out = Vec::new();
        for t in tokens {
            s.push_token(t, &mut |h| out.push(h));
        }
        s.finish(&mut |h| out.push(h));
        out
    }

    fn set_values(n: usize, tokens: &[&str]) -> Vec<u64> {
        let hasher = Shingler::new(ShingleKind::Word, n, 7);
        let mut s = SetShingler::new(n);
        let mut out = Vec::new();
        for t in tokens {
            s.push(hasher.token_hash(t), &mut |v| out.push(v));
        }
        s.finish(&mut |v| out.push(v));
        out
    }

    /// Each value is the window's polynomial worked out from scratch: sliding the window
    /// (taking the oldest token's term off) loses nothing.
    #[test]
    fn set_values_are_the_windows_polynomials() {
        let toks: Vec<String> = (0..40).map(|i| format!("w{}", i % 7)).collect();
        let toks: Vec<&str> = toks.iter().map(|t| t.as_str()).collect();
        let hasher = Shingler::new(ShingleKind::Word, 5, 7);
        let h: Vec<u64> = toks.iter().map(|t| hasher.token_hash(t)).collect();
        let want: Vec<u64> = h
            .windows(5)
            .map(|w| {
                w.iter()
                    .fold(0u64, |v, &t| v.wrapping_mul(SET_K).wrapping_add(t))
            })
            .collect();
        assert_eq!(set_values(5, &toks), want);
    }

    /// A window and its reorderings are different shingles, as with [`Shingler`]; a text
    /// shorter than `n` is one shingle of what it has, unlike any window or shorter text.
    #[test]
    fn set_values_tell_order_and_length_apart() {
        let a = set_values(5, &["a", "b", "a", "b", "a"]);
        let b = set_values(5, &["b", "a", "b", "a", "b"]);
        assert_eq!((a.len(), b.len()), (1, 1));
        assert_ne!(a, b);
        let short = set_values(5, &["a", "b", "a"]);
        let shorter = set_values(5, &["a", "b"]);
        assert_eq!(short.len(), 1);
        assert_ne!(short, shorter);
        assert_ne!(short, set_values(3, &["a", "b", "a"]));
        assert_eq!(set_values(5, &[]), Vec::<u64>::new());
    }

    proptest::proptest! {
        /// Verification's values name the same shingles as the sketch's hashes: two windows
        /// (of one text or of two texts, full or short) get equal values exactly when they
        /// get equal hashes, so every set size and overlap is the same.
        #[test]
        fn set_values_partition_windows_as_shingle_hashes_do(
            a in proptest::collection::vec(0u8..4, 0..40),
            b in proptest::collection::vec(0u8..4, 0..12),
            n in 1usize..6,
        ) {
            let words = ["sun", "sea", "sand", "salt"];
            let toks = |x: &[u8]| x.iter().map(|&i| words[i as usize]).collect::<Vec<_>>();
            let (ta, tb) = (toks(&a), toks(&b));
            let mut hashes = shingles(ShingleKind::Word, n, &ta);
            hashes.extend(shingles(ShingleKind::Word, n, &tb));
            let mut values = set_values(n, &ta);
            values.extend(set_values(n, &tb));
            proptest::prop_assert_eq!(hashes.len(), values.len());
            for i in 0..hashes.len() {
                for j in 0..hashes.len() {
                    proptest::prop_assert_eq!(hashes[i] == hashes[j], values[i] == values[j]);
                }
            }
        }
    }

    #[test]
    fn word_shingles_count_is_tokens_minus_n_plus_one() {
        let toks = ["a", "b", "c", "d", "e", "f", "g"];
        assert_eq!(shingles(ShingleKind::Word, 3, &toks).len(), 5);
    }

    #[test]
    fn equal_windows_hash_equal_and_order_matters() {
        let a = shingles(ShingleKind::Word, 2, &["x", "y", "x", "y"]);
        // windows: xy, yx, xy
        assert_eq!(a[0], a[2]);
        assert_ne!(a[0], a[1]);
    }

    #[test]
    fn a_window_hash_does_not_depend_on_what_came_before() {
        let a = shingles(ShingleKind::Word, 3, &["p", "q", "r", "s"]);
        let b = shingles(ShingleKind::Word, 3, &["q", "r", "s"]);
        assert_eq!(a[1], b[0]);
    }

    #[test]
    fn short_text_gives_one_shingle() {
        assert_eq!(shingles(ShingleKind::Word, 5, &["only", "two"]).len(), 1);
        assert!(shingles(ShingleKind::Word, 5, &[]).is_empty());
    }

    #[test]
    fn char_shingles_cross_token_boundaries_with_one_space() {
        // "ab cd" has 5 characters, so 3 char-3-grams: "ab ", "b c", " cd".
        assert_eq!(shingles(ShingleKind::Char, 3, &["ab", "cd"]).len(), 3);
        let joined = shingles(ShingleKind::Char, 3, &["ab", "cd"]);
        let other = shingles(ShingleKind::Char, 3, &["abc", "d"]);
        assert_ne!(joined, other);
    }

    #[test]
    fn word_and_char_shingles_of_same_text_never_collide() {
        let w = shingles(ShingleKind::Word, 1, &["a"]);
        let c = shingles(ShingleKind::Char, 1, &["a"]);
        assert_ne!(w, c);
    }
}
