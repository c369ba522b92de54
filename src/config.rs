//! Options for a scan, with every default defined once as a named constant.
//!
//! [`ScanConfig`] holds the options as given; [`ScanConfig::validate`] checks them and derives
//! the LSH bandings, giving a [`Config`]: the only form the pipeline accepts. Both serialise
//! (a staged run stores its `Config` in `plan.json`; deserialising validates again).
//!
//! This module is a leaf: every option type is defined here and the stage modules take them from
//! it. The command line (`src/bin/neardup/cli.rs`) refers to these constants for its defaults and
//! turns its arguments into a [`ScanConfig`]; the library never sees clap.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, Error, Result};

/// Default Jaccard threshold for near duplicates (see README "Choosing the defaults").
pub const DEFAULT_THRESHOLD: f64 = 0.5;
/// Default containment threshold: a document whose shingles are at least this much inside a
/// longer one is its duplicate (see README "Choosing the defaults").
pub const DEFAULT_CONTAINMENT: f64 = 0.6;
/// Smallest size ratio (smaller / larger document) the containment banding is tuned to catch.
pub const CONTAINMENT_MIN_RATIO: f64 = 0.25;
/// Default shingle size: word 5-grams.
pub const DEFAULT_NGRAM: usize = 5;
/// Default number of MinHash bins (one-permutation hashing).
pub const DEFAULT_NUM_PERM: usize = 128;
/// Default seed for every hash: recorded in the summary so runs can be reproduced.
pub const DEFAULT_SEED: u64 = 0x6e65_6172_6475_7001; // "neardup\x01"
/// Default JSON field holding the document text.
pub const DEFAULT_TEXT_FIELD: &str = "text";
/// Default JSON field holding the document id.
pub const DEFAULT_ID_FIELD: &str = "id";
/// Files at least this large are memory-mapped; smaller ones are read (cheaper, and immune to
/// SIGBUS if the file shrinks while we look at it).
pub const DEFAULT_MMAP_MIN_BYTES: u64 = 1 << 20;
/// Default `--max-document-size`: a text file or JSON Lines record over this many bytes is
/// skipped (and counted). Far above any article or book (the longest OpenITI book is 8 MB);
/// it bounds the memory a decompression bomb can take.
pub const DEFAULT_MAX_DOCUMENT_SIZE: u64 = 64 << 20;
/// Largest `--max-document-size`: document spans are 32-bit.
pub const MAX_DOCUMENT_SIZE_LIMIT: u64 = u32::MAX as u64;
/// Largest allowed shingle size.
pub const MAX_NGRAM: usize = 32;
/// Largest allowed number of MinHash bins.
pub const MAX_NUM_PERM: usize = 1024;
/// Default `--boilerplate-min-docs` (see README "Choosing the defaults").
pub const DEFAULT_MIN_DOCS: usize = 5;
/// Weight of false negatives against false positives when choosing bands × rows: candidates are
/// verified exactly afterwards, so a false positive costs only time while a false negative is a
/// missed duplicate.
pub const FALSE_NEGATIVE_WEIGHT: f64 = 0.85;
/// Seed salt for the containment banding, so its band keys never coincide with the Jaccard
/// banding's.
pub const CONTAINMENT_SALT: u64 = 0x5bd1_e995_0000_0001;

/// Which normalisation to apply (see [`crate::normalize`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// NFKC, case folding, punctuation, Arabic diacritics, tatweel and letter variants.
    Full,
    /// Whitespace tokenisation only; case, punctuation, diacritics all significant.
    None,
}

/// Word or character shingles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShingleKind {
    Word,
    Char,
}

/// Boilerplate line detection (see [`crate::boilerplate`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoilerplateConfig {
    /// Run detection at all.
    pub enabled: bool,
    pub min_docs: usize,
    /// Flag the lines of the built-in lexicon (`crate::boilerplate::KNOWN_LINES`).
    pub lexicon: bool,
    /// Leave flagged lines out of shingling (the default).
    pub exclude_from_shingles: bool,
}

impl BoilerplateConfig {
    /// Whether flagged lines are left out of shingling (detection on and not kept in).
    pub fn excludes_lines(&self) -> bool {
        self.enabled && self.exclude_from_shingles
    }
}

impl Default for BoilerplateConfig {
    fn default() -> Self {
        BoilerplateConfig {
            enabled: true,
            min_docs: DEFAULT_MIN_DOCS,
            lexicon: true,
            exclude_from_shingles: true,
        }
    }
}

/// When two documents are duplicates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Criterion {
    /// Jaccard threshold.
    pub jaccard: f64,
    /// Containment threshold, if containment counts.
    pub containment: Option<f64>,
}

/// Which document of a cluster is kept as its representative.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeepPolicy {
    /// The first in input order (inputs sorted by path, then record order).
    First,
    /// The longest text (in bytes); ties go to the first in input order.
    Longest,
}

/// How input files are interpreted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormatChoice {
    /// By extension: `.jsonl`, `.ndjson`, `.json` (optionally `.gz`/`.zst`) are JSON Lines,
    /// anything else is one text document per file.
    Auto,
    /// Every file is one text document.
    Text,
    /// Every file is JSON Lines.
    Jsonl,
    /// Every file is an HTML page.
    Html,
}

/// How candidate pairs are verified before they are allowed to join a cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verify {
    /// Exact Jaccard over the two shingle sets (recomputed for candidate documents only).
    Exact,
    /// The MinHash estimate only (faster, noisier).
    Estimate,
}

/// Where the inputs are and how to read them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputConfig {
    /// Files, directories, or `-` for JSON Lines on stdin.
    pub paths: Vec<PathBuf>,
    pub format: FormatChoice,
    pub text_field: String,
    pub id_field: String,
    /// JSON field naming the document's source (outlet); a URL gives its host.
    pub source_field: Option<String>,
    /// Descend into hidden files and directories (names starting with `.`).
    pub hidden: bool,
    /// Files at least this large are memory-mapped, smaller ones read.
    pub mmap_min_bytes: u64,
    /// Never memory-map (read everything).
    pub no_mmap: bool,
    /// Paths never read when found inside a directory argument (the run's own outputs); a file
    /// named on the command line is always read.
    pub exclude: Vec<PathBuf>,
    /// A text file or JSON Lines record over this many bytes is skipped (and counted).
    pub max_document_size: u64,
}

impl InputConfig {
    pub fn new(paths: Vec<PathBuf>) -> Self {
        InputConfig {
            paths,
            format: FormatChoice::Auto,
            text_field: DEFAULT_TEXT_FIELD.to_string(),
            id_field: DEFAULT_ID_FIELD.to_string(),
            source_field: None,
            hidden: false,
            mmap_min_bytes: DEFAULT_MMAP_MIN_BYTES,
            no_mmap: false,
            exclude: Vec::new(),
            max_document_size: DEFAULT_MAX_DOCUMENT_SIZE,
        }
    }
}

/// LSH banding: `bands × rows ≤ num_perm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Banding {
    pub bands: usize,
    pub rows: usize,
}

impl Banding {
    /// Probability that a pair with Jaccard `s` becomes a candidate.
    pub fn candidate_probability(self, s: f64) -> f64 {
        1.0 - (1.0 - s.powi(self.rows as i32)).powi(self.bands as i32)
    }

    /// The bands × rows (with `bands × rows ≤ num_perm`) minimising the weighted area of false
    /// positives below `threshold` and false negatives above it. The default settings' answers
    /// are known (the search takes ~2 ms, a fifth of a small run's time; a test holds the
    /// table to the search).
    pub fn optimal(threshold: f64, num_perm: usize) -> Banding {
        let known = [
            (
                DEFAULT_THRESHOLD,
                DEFAULT_NUM_PERM,
                Banding { bands: 32, rows: 4 },
            ),
            (
                containment_jaccard(DEFAULT_CONTAINMENT),
                DEFAULT_NUM_PERM,
                Banding { bands: 22, rows: 1 },
            ),
        ];
        known
            .iter()
            .find(|&&(t, k, _)| t.to_bits() == threshold.to_bits() && k == num_perm)
            .map_or_else(|| Self::search(threshold, num_perm), |&(_, _, b)| b)
    }

    /// [`Banding::optimal`] by searching every banding.
    fn search(threshold: f64, num_perm: usize) -> Banding {
        fn integrate(f: impl Fn(f64) -> f64, a: f64, b: f64) -> f64 {
            let steps = 200;
            let h = (b - a) / steps as f64;
            (0..steps).map(|i| f(a + (i as f64 + 0.5) * h) * h).sum()
        }
        use rayon::prelude::*;
        // Every banding's error (computed in parallel, kept in order), then the first best.
        let all: Vec<Banding> = (1..=num_perm)
            .flat_map(|bands| (1..=num_perm / bands).map(move |rows| Banding { bands, rows }))
            .collect();
        let errors: Vec<f64> = all
            .par_iter()
            .map(|&b| {
                let fp = integrate(|s| b.candidate_probability(s), 0.0, threshold);
                let fneg = integrate(|s| 1.0 - b.candidate_probability(s), threshold, 1.0);
                (1.0 - FALSE_NEGATIVE_WEIGHT) * fp + FALSE_NEGATIVE_WEIGHT * fneg
            })
            .collect();
        let mut best = Banding { bands: 1, rows: 1 };
        let mut best_err = f64::INFINITY;
        for (&b, &err) in all.iter().zip(&errors) {
            if err < best_err - 1e-12 {
                best_err = err;
                best = b;
            }
        }
        best
    }
}

/// The Jaccard of a pair whose smaller document, [`CONTAINMENT_MIN_RATIO`] of the larger, is
/// contained in it at `c`: `J = c·r / (1 + r − c·r)`.
fn containment_jaccard(c: f64) -> f64 {
    let r = CONTAINMENT_MIN_RATIO;
    c * r / (1.0 + r - c * r)
}

/// One LSH banding of a run with the seed of its band keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BandSet {
    pub banding: Banding,
    pub seed: u64,
    /// The containment banding: bands tuned for pairs at low Jaccard, which also collide on
    /// documents that merely share a phrase, more of them the larger the corpus. Its
    /// collisions are filtered by their MinHash estimate as they leave the buckets.
    pub containment: bool,
}

/// The options of a scan as given; [`ScanConfig::validate`] makes a [`Config`] of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScanConfig {
    pub input: InputConfig,
    /// Jaccard threshold for near duplicates, in (0, 1].
    pub threshold: f64,
    /// Containment threshold, or `None` for Jaccard only.
    pub containment: Option<f64>,
    pub shingle: ShingleKind,
    pub ngram: usize,
    pub num_perm: usize,
    /// `None`: derived from the threshold (see [`Banding::optimal`]).
    pub banding: Option<Banding>,
    pub seed: u64,
    pub profile: Profile,
    pub keep: KeepPolicy,
    pub verify: Verify,
    /// Turn the first input problem into a fatal error.
    pub strict: bool,
    /// Boilerplate line detection.
    pub boilerplate: BoilerplateConfig,
}

impl ScanConfig {
    pub fn new(paths: Vec<PathBuf>) -> Self {
        ScanConfig {
            input: InputConfig::new(paths),
            threshold: DEFAULT_THRESHOLD,
            containment: Some(DEFAULT_CONTAINMENT),
            shingle: ShingleKind::Word,
            ngram: DEFAULT_NGRAM,
            num_perm: DEFAULT_NUM_PERM,
            banding: None,
            seed: DEFAULT_SEED,
            profile: Profile::Full,
            keep: KeepPolicy::First,
            verify: Verify::Exact,
            strict: false,
            boilerplate: BoilerplateConfig::default(),
        }
    }

    /// The second LSH banding, for containment: tuned for the Jaccard that a pair has when the
    /// smaller document (at least [`CONTAINMENT_MIN_RATIO`] of the larger) is contained at the
    /// containment threshold, `J = c·r / (1 + r − c·r)`. `None` when containment is off or that
    /// Jaccard is not below the threshold's anyway.
    fn containment_banding(&self) -> Option<Banding> {
        let j = containment_jaccard(self.containment?);
        (j < self.threshold).then(|| Banding::optimal(j, self.num_perm))
    }

    /// Check ranges and derive the bandings.
    pub fn validate(mut self) -> Result<Config> {
        let bad = |option: &'static str, expected: String, got: String| {
            Err(Error::Config(ConfigError::Range {
                option,
                expected,
                got,
            }))
        };
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return bad(
                "--threshold",
                "in (0, 1]".into(),
                self.threshold.to_string(),
            );
        }
        if let Some(c) = self.containment
            && !(c > 0.0 && c <= 1.0)
        {
            return bad("--containment", "in (0, 1]".into(), c.to_string());
        }
        if self.ngram == 0 || self.ngram > MAX_NGRAM {
            return bad(
                "--ngram",
                format!("in 1..={MAX_NGRAM}"),
                self.ngram.to_string(),
            );
        }
        if self.num_perm < 2 || self.num_perm > MAX_NUM_PERM {
            return bad(
                "--num-perm",
                format!("in 2..={MAX_NUM_PERM}"),
                self.num_perm.to_string(),
            );
        }
        let max = self.input.max_document_size;
        if max == 0 || max > MAX_DOCUMENT_SIZE_LIMIT {
            return bad(
                "--max-document-size",
                format!("in 1..={MAX_DOCUMENT_SIZE_LIMIT} bytes"),
                max.to_string(),
            );
        }
        if self.input.paths.is_empty() {
            return Err(Error::Config(ConfigError::NoInput));
        }
        let banding = match self.banding {
            Some(b) => {
                if b.bands == 0 || b.rows == 0 || b.bands * b.rows > self.num_perm {
                    return bad(
                        "--bands × --rows",
                        format!("≥ 1 and ≤ --num-perm ({})", self.num_perm),
                        format!("{}×{}", b.bands, b.rows),
                    );
                }
                b
            }
            None => Banding::optimal(self.threshold, self.num_perm),
        };
        self.banding = Some(banding);
        let containment_banding = self.containment_banding();
        Ok(Config {
            options: self,
            banding,
            containment_banding,
        })
    }
}

/// Validated options: ranges checked and the LSH bandings derived. Made only by
/// [`ScanConfig::validate`] (deserialising validates again); reads as a [`ScanConfig`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ScanConfig", into = "ScanConfig")]
pub struct Config {
    options: ScanConfig,
    banding: Banding,
    containment_banding: Option<Banding>,
}

impl TryFrom<ScanConfig> for Config {
    type Error = Error;
    fn try_from(options: ScanConfig) -> Result<Config> {
        options.validate()
    }
}

impl From<Config> for ScanConfig {
    fn from(c: Config) -> ScanConfig {
        c.options
    }
}

impl std::ops::Deref for Config {
    type Target = ScanConfig;
    fn deref(&self) -> &ScanConfig {
        &self.options
    }
}

impl Config {
    /// The options (with the banding filled in), to change and validate again.
    pub fn options(&self) -> &ScanConfig {
        &self.options
    }

    /// The banding for the Jaccard threshold.
    pub fn banding(&self) -> Banding {
        self.banding
    }

    /// The second banding, for containment candidates (`None`: containment off, or the Jaccard
    /// banding catches contained pairs anyway).
    pub fn containment_banding(&self) -> Option<Banding> {
        self.containment_banding
    }

    /// Every banding of the run with its seed, in order: the Jaccard banding, then the
    /// containment banding. Scan and staged mode both number their bands through this list.
    pub fn band_sets(&self) -> Vec<BandSet> {
        let mut v = vec![BandSet {
            banding: self.banding,
            seed: self.seed,
            containment: false,
        }];
        v.extend(self.containment_banding.map(|banding| BandSet {
            banding,
            seed: self.seed ^ CONTAINMENT_SALT,
            containment: true,
        }));
        v
    }

    /// When two documents are duplicates.
    pub fn criterion(&self) -> Criterion {
        Criterion {
            jaccard: self.threshold,
            containment: self.containment,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optimal_bandings_are_the_documented_ones() {
        // The README's figures, as the serial search found them before it was parallelised.
        assert_eq!(Banding::optimal(0.5, 128), Banding { bands: 32, rows: 4 });
        assert_eq!(Banding::optimal(0.2, 128), Banding { bands: 64, rows: 2 });
        // The known answers are the search's.
        for t in [DEFAULT_THRESHOLD, containment_jaccard(DEFAULT_CONTAINMENT)] {
            assert_eq!(
                Banding::optimal(t, DEFAULT_NUM_PERM),
                Banding::search(t, DEFAULT_NUM_PERM),
                "{t}"
            );
        }
        let cfg = ScanConfig::new(vec!["-".into()]).validate().unwrap();
        assert_eq!(
            cfg.containment_banding(),
            Some(Banding { bands: 22, rows: 1 })
        );
    }

    #[test]
    fn validation_names_the_option_and_derives_the_bandings() {
        let mut o = ScanConfig::new(vec!["x".into()]);
        o.ngram = 0;
        let e = o.validate().unwrap_err().to_string();
        assert_eq!(e, "invalid options: --ngram must be in 1..=32, got 0");
        let cfg = ScanConfig::new(vec!["x".into()]).validate().unwrap();
        assert_eq!(cfg.options().banding, Some(cfg.banding()));
        // Containment on by default: a second, lower banding with its own seed.
        let sets = cfg.band_sets();
        assert_eq!(sets.len(), 2);
        assert_eq!(sets[1].seed, cfg.seed ^ CONTAINMENT_SALT);
        assert!(sets[1].banding.rows < sets[0].banding.rows);
    }

    #[test]
    fn a_config_round_trips_through_json_and_is_validated_when_read() {
        let mut o = ScanConfig::new(vec!["in/a.jsonl".into(), "b".into()]);
        o.threshold = 0.7;
        o.input.source_field = Some("meta.url".into());
        o.boilerplate.min_docs = 9;
        let cfg = o.validate().unwrap();
        let json = serde_json::to_string(&cfg).unwrap();
        let back: Config = serde_json::from_str(&json).unwrap();
        assert_eq!(back, cfg);
        // Every option that changes results is in it.
        for key in [
            "threshold",
            "ngram",
            "num_perm",
            "seed",
            "source_field",
            "min_docs",
        ] {
            assert!(json.contains(key), "{key} missing from {json}");
        }
        let broken = json.replace("\"threshold\":0.7", "\"threshold\":2.0");
        let e = serde_json::from_str::<Config>(&broken).unwrap_err();
        assert!(
            e.to_string().contains("--threshold must be in (0, 1]"),
            "{e}"
        );
    }
}
