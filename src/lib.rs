//! neardup: find exact and near-duplicate documents in large text dumps.
//!
//! A scan reads the inputs into a [`Corpus`], sketches every document (word shingles hashed
//! with xxh3 into one-permutation MinHash signatures), flags boilerplate lines and sketches the
//! documents that have them again without them, groups exact duplicates, finds candidate pairs
//! by LSH, verifies them on the shingle sets and clusters them around a representative that
//! covers every member. [`scan`] below is that whole list; each step is a function of
//! [`pipeline`], which the staged mode ([`stages`]) runs one task at a time instead.
//!
//! ```
//! use std::sync::atomic::AtomicBool;
//! use neardup::{NoProgress, ScanConfig};
//!
//! // Options as given, then validated (ranges checked, LSH bandings derived).
//! let cfg = ScanConfig::new(vec!["fixtures/news".into()]).validate()?;
//! let out = neardup::scan(&cfg, &NoProgress, &AtomicBool::new(false))?;
//! for cluster in &out.clusters {
//!     let keep = out.corpus.id(out.corpus.document(cluster.keep()));
//!     for m in cluster.members.iter().filter(|m| m.drop) {
//!         let id = out.corpus.id(out.corpus.document(m.doc));
//!         println!("{id} duplicates {keep} ({:?}, Jaccard {:.2})", m.matched, m.score.jaccard);
//!     }
//! }
//! assert!(out.summary.documents.duplicates > 0);
//! # Ok::<(), neardup::Error>(())
//! ```

pub mod boilerplate;
pub mod clean;
pub mod cluster;
pub mod config;
pub mod error;
pub mod eval;
pub mod html_report;
pub mod index;
pub mod input;
mod lsh;
mod minhash;
pub mod normalize;
mod per_thread;
pub mod pipeline;
pub mod progress;
pub mod report;
mod shingle;
pub mod sketch;
pub mod stages;
mod tokens;
pub mod tune;
pub mod verify;

use std::sync::atomic::AtomicBool;

pub use boilerplate::{Boilerplate, DocLines};
pub use clean::{CleanConfig, CleanSummary, clean};
pub use cluster::{Cluster, ClusterKind, ExactGroups};
pub use config::{Banding, Config, KeepPolicy, ScanConfig};
pub use error::{Error, Problem, ProblemKind, Result};
pub use input::{Corpus, DocId};
pub use lsh::{Candidates, Pair, Plausibility};
pub use pipeline::{ScanOutput, write_outputs};
pub use progress::{NoProgress, Progress, Stage};
pub use report::Summary;
pub use sketch::Sketches;
pub use verify::Edge;

use pipeline::{Artefacts, Context};

/// The tool version, recorded in every summary.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Scan the inputs of `cfg`: every stage in order, in memory. `cancel` is polled between work
/// items: set it to stop early with [`Error::Interrupted`].
pub fn scan(cfg: &Config, progress: &dyn Progress, cancel: &AtomicBool) -> Result<ScanOutput> {
    scan_knowing(cfg, &[], progress, cancel, |_, _| {})
}

/// [`scan`], with the line hashes of `known` flagged as boilerplate too, and `edit` given the
/// clusters before the summary is made (`--against`: an index's boilerplate; only the clusters
/// with a new document).
pub(crate) fn scan_knowing(
    cfg: &Config,
    known: &[u64],
    progress: &dyn Progress,
    cancel: &AtomicBool,
    edit: impl FnOnce(&input::Corpus, &mut pipeline::Clustered),
) -> Result<ScanOutput> {
    let cx = Context::new(cfg, progress, cancel);
    let (corpus, sketches, bp) = pipeline::prepare(&cx, known)?;
    let groups = pipeline::exact(&cx, &sketches);
    // The inputs' fingerprints (each file's hash was taken while it was read; here each path
    // is made canonical, a file-system call per file) alongside candidates and verification,
    // instead of a serial tail after clustering.
    let (inputs, verified) = rayon::join(
        || report::InputsOut::new(&corpus),
        || -> Result<pipeline::Verified> {
            let candidates = pipeline::candidates(&cx, &sketches, &groups)?;
            let estimate = |a, b| sketches.estimate(DocId(a), DocId(b));
            pipeline::verify(&cx, &corpus, &bp, &candidates, &estimate)
        },
    );
    let verified = verified?;
    let mut clustered = pipeline::cluster(&cx, &corpus, &bp, &sketches, &groups, &verified)?;
    cx.release_caches();
    edit(&corpus, &mut clustered);
    let artefacts = Artefacts {
        corpus,
        boilerplate: bp,
        sketches,
        groups,
        verify: verified.stats,
        clustered,
        inputs: Some(inputs),
    };
    Ok(pipeline::output(&cx, artefacts))
}
