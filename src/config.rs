//! Options for a scan, validated, with every default defined once as a named constant.
//!
//! The command line (`src/bin/neardup/cli.rs`) refers to these constants for its defaults and turns
//! its arguments into a [`ScanConfig`]; the library never sees clap.

use std::path::PathBuf;

use crate::boilerplate::BoilerplateConfig;
use crate::error::{Error, Result};
use crate::normalize::Profile;
use crate::shingle::ShingleKind;

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
/// Largest allowed shingle size.
pub const MAX_NGRAM: usize = 32;
/// Largest allowed number of MinHash bins.
pub const MAX_NUM_PERM: usize = 1024;

/// Which document of a cluster is kept as its representative.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeepPolicy {
    /// The first in input order (inputs sorted by path, then record order).
    First,
    /// The longest text (in bytes); ties go to the first in input order.
    Longest,
}

/// How input files are interpreted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FormatChoice {
    /// By extension: `.jsonl`, `.ndjson`, `.json` (optionally `.gz`/`.zst`) are JSON Lines,
    /// anything else is one text document per file.
    Auto,
    /// Every file is one text document.
    Text,
    /// Every file is JSON Lines.
    Jsonl,
}

/// How candidate pairs are verified before they are allowed to join a cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verify {
    /// Exact Jaccard over the two shingle sets (recomputed for candidate documents only).
    Exact,
    /// The MinHash estimate only (faster, noisier).
    Estimate,
}

/// Where the inputs are and how to read them.
#[derive(Clone, Debug)]
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
    /// Paths never read (e.g. the output directory).
    pub exclude: Vec<PathBuf>,
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
        }
    }
}

/// LSH banding: `bands × rows ≤ num_perm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Banding {
    pub bands: usize,
    pub rows: usize,
}

/// Everything a scan needs, validated by [`ScanConfig::validate`].
#[derive(Clone, Debug)]
pub struct ScanConfig {
    pub input: InputConfig,
    /// Jaccard threshold for near duplicates, in (0, 1].
    pub threshold: f64,
    /// Containment threshold, or `None` for Jaccard only.
    pub containment: Option<f64>,
    pub shingle: ShingleKind,
    pub ngram: usize,
    pub num_perm: usize,
    /// `None`: derived from the threshold (see [`crate::lsh::optimal_banding`]).
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

    /// When two documents are duplicates.
    pub fn criterion(&self) -> crate::verify::Criterion {
        crate::verify::Criterion {
            jaccard: self.threshold,
            containment: self.containment,
        }
    }

    /// The second LSH banding, for containment: tuned for the Jaccard that a pair has when the
    /// smaller document (at least [`CONTAINMENT_MIN_RATIO`] of the larger) is contained at the
    /// containment threshold, `J = c·r / (1 + r − c·r)`. `None` when containment is off or that
    /// Jaccard is not below the threshold's anyway.
    pub fn containment_banding(&self) -> Option<Banding> {
        let c = self.containment?;
        let r = CONTAINMENT_MIN_RATIO;
        let j = c * r / (1.0 + r - c * r);
        (j < self.threshold).then(|| crate::lsh::optimal_banding(j, self.num_perm))
    }

    /// Check ranges and fill in the derived banding; returns the banding in use.
    pub fn validate(&mut self) -> Result<Banding> {
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return Err(Error::Config(format!(
                "--threshold must be in (0, 1], got {}",
                self.threshold
            )));
        }
        if let Some(c) = self.containment {
            if !(c > 0.0 && c <= 1.0) {
                return Err(Error::Config(format!(
                    "--containment must be in (0, 1], got {c}"
                )));
            }
        }
        if self.ngram == 0 || self.ngram > MAX_NGRAM {
            return Err(Error::Config(format!(
                "--ngram must be in 1..={MAX_NGRAM}, got {}",
                self.ngram
            )));
        }
        if self.num_perm < 2 || self.num_perm > MAX_NUM_PERM {
            return Err(Error::Config(format!(
                "--num-perm must be in 2..={MAX_NUM_PERM}, got {}",
                self.num_perm
            )));
        }
        if self.input.paths.is_empty() {
            return Err(Error::Config("no input given".into()));
        }
        let banding = match self.banding {
            Some(b) => {
                if b.bands == 0 || b.rows == 0 || b.bands * b.rows > self.num_perm {
                    return Err(Error::Config(format!(
                        "--bands × --rows must be ≥ 1 and ≤ --num-perm ({}), got {}×{}",
                        self.num_perm, b.bands, b.rows
                    )));
                }
                b
            }
            None => crate::lsh::optimal_banding(self.threshold, self.num_perm),
        };
        self.banding = Some(banding);
        Ok(banding)
    }
}
