//! The scan's stages as functions from named artefacts to named artefacts, defined once.
//!
//! [`crate::scan`] calls them in order in memory; the staged mode ([`crate::stages`]) calls the
//! same functions one task at a time, with the artefacts stored in a work directory between
//! tasks. Each function times itself under its [`Stage`] in the [`Context`].
//!
//! | stage | function | artefacts in → out |
//! |-------|----------|--------------------|
//! | read | [`read`] | options → [`Corpus`] |
//! | sketch | [`sketch()`] | [`Corpus`] → pass-1 [`Sketches`], [`DocLines`] |
//! | boilerplate | [`boilerplate()`], [`resketch`] | [`DocLines`] → [`Boilerplate`]; final [`Sketches`] ([`prepare`]: read to here) |
//! | exact | [`exact`] | [`Sketches`] → [`ExactGroups`] |
//! | candidates | [`candidates`] | signatures, [`ExactGroups`] → [`Candidates`] (pairs) |
//! | verify | [`verify()`] | [`Candidates`] → [`Verified`] edges |
//! | cluster | [`cluster()`] | [`ExactGroups`], [`Verified`] → [`Clustered`] |
//! | write | [`output`], [`write_outputs`] | everything → [`ScanOutput`], files |

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use crate::boilerplate::{self, Boilerplate, DocLines};
use crate::cluster::{self, ChainStats, Cluster, ClusterKind, ExactGroups};
use crate::config::{Config, Verify};
use crate::error::{Error, Result};
use crate::input::{self, Corpus, DocId};
use crate::lsh::{self, Candidates};
use crate::progress::{NoProgress, Progress, Stage};
use crate::report::{
    self, ClusterCounts, DocumentCounts, FileCounts, InputsOut, LshOut, OptionsOut, Summary,
};
use crate::sketch::{self, Signatures, SketchParams, Sketches};
use crate::tokens::TokenStore;
use crate::verify::{self, Edge, Score, Verifier, VerifyStats};

/// What every stage needs besides its artefacts: the validated options, where progress goes, the
/// cancel flag (polled between work items), and the clock.
pub struct Context<'a> {
    pub cfg: &'a Config,
    pub progress: &'a dyn Progress,
    pub cancel: &'a AtomicBool,
    started: Instant,
    timings: Mutex<BTreeMap<&'static str, u64>>,
    /// Shingle sets verification built, for the cluster stage and later settings of `tune`.
    sets: std::sync::Arc<Mutex<verify::SetCache>>,
    /// Pass 1's token hashes ([`crate::tokens`]) of the corpus last sketched in this context,
    /// for pass 2 and verification.
    tokens: std::sync::Arc<Mutex<Option<std::sync::Arc<TokenStore>>>>,
    /// Whether pass 1 keeps its token hashes (not when nothing later in the process reads them).
    keep_tokens: bool,
}

impl<'a> Context<'a> {
    pub fn new(cfg: &'a Config, progress: &'a dyn Progress, cancel: &'a AtomicBool) -> Self {
        Context {
            cfg,
            progress,
            cancel,
            started: Instant::now(),
            timings: Mutex::new(BTreeMap::new()),
            sets: Default::default(),
            tokens: Default::default(),
            keep_tokens: true,
        }
    }

    /// This context, with pass 1 not keeping token hashes: for a process that only sketches
    /// (a staged `sketch` task), where nothing would read them.
    pub(crate) fn without_token_store(self) -> Self {
        Context {
            keep_tokens: false,
            ..self
        }
    }

    /// Let go of what only verification and clustering read (the shingle sets kept for the run,
    /// the token store): freeing them (tens of thousands of allocations, a temporary file's
    /// pages) happens on a thread of its own, alongside the writing of the outputs, instead of
    /// in a serial tail at the end of the run. Later verification in this context rebuilds what
    /// it needs from the texts.
    pub(crate) fn release_caches(&self) {
        let sets = std::mem::take(&mut *self.sets.lock().unwrap_or_else(|e| e.into_inner()));
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner()).take();
        // A thread that cannot start only means freeing here.
        let _ = std::thread::Builder::new()
            .name("neardup-free".into())
            .spawn(move || drop((sets, tokens)));
    }

    /// Whether anything after pass 1 in this process reads a token store: pass 2 (flagged lines
    /// left out of shingling) or exact verification, with word shingles (the store keeps token
    /// hashes, not the characters). Otherwise writing one would be disk traffic for nothing.
    fn reads_token_store(&self) -> bool {
        self.keep_tokens
            && self.cfg.shingle == crate::config::ShingleKind::Word
            && (self.cfg.verify == Verify::Exact || self.cfg.boilerplate.excludes_lines())
    }

    /// The token store of the corpus last sketched in this context, if it has one.
    fn token_store(&self) -> Option<std::sync::Arc<TokenStore>> {
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A context for other thresholds over the same corpus, sketches and boilerplate as `self`
    /// (`tune`): the shingle sets built so far serve it too. `cfg` must differ from `self`'s
    /// only in what happens after sketching (thresholds, containment, banding).
    pub(crate) fn for_thresholds(&self, cfg: &'a Config, progress: &'a dyn Progress) -> Self {
        Context {
            sets: self.sets.clone(),
            tokens: self.tokens.clone(),
            ..Context::new(cfg, progress, self.cancel)
        }
    }

    /// Run `f`, adding its time to `stage`'s.
    fn timed<T>(&self, stage: Stage, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let out = f();
        let ms = t.elapsed().as_millis() as u64;
        *self
            .timings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(stage.key())
            .or_default() += ms;
        out
    }

    /// Milliseconds per stage so far.
    pub fn timings(&self) -> BTreeMap<&'static str, u64> {
        self.timings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn params(&self) -> SketchParams {
        SketchParams::from_config(self.cfg)
    }

    /// Line hashes left out of shingling: the boilerplate, unless it is kept in.
    pub(crate) fn exclude<'b>(&self, bp: &'b Boilerplate) -> &'b [u64] {
        if self.cfg.boilerplate.excludes_lines() {
            &bp.hashes
        } else {
            &[]
        }
    }

    /// The verifier for `corpus`: shingle sets rebuilt with the same exclusions as the sketches
    /// (one corpus and one boilerplate per context: the sets it builds are kept for the run).
    pub(crate) fn verifier<'b>(&'b self, corpus: &'b Corpus, bp: &'b Boilerplate) -> Verifier<'b> {
        let exclude = self.exclude(bp);
        Verifier {
            corpus,
            params: self.params(),
            exclude,
            exclude_filter: crate::sketch::LineFilter::new(exclude),
            cancel: self.cancel,
            cache: &self.sets,
            tokens: self.token_store(),
        }
    }
}

/// Read and index every input (problems recorded in the corpus; with `--strict` the first one
/// is fatal).
pub fn read(cx: &Context) -> Result<Corpus> {
    cx.timed(Stage::Read, || {
        cx.progress.begin(Stage::Read, 0);
        let (corpus, ()) = rayon::join(|| input::load(&cx.cfg.input), crate::normalize::warm_up);
        cx.progress.end();
        strict_check(cx, &corpus)?;
        Ok(corpus)
    })
}

/// With `--strict`, the first input problem is fatal.
pub(crate) fn strict_check(cx: &Context, corpus: &Corpus) -> Result<()> {
    match corpus.problems.first() {
        Some(p) if cx.cfg.strict => Err(Error::Strict(p.clone())),
        _ => Ok(()),
    }
}

/// Pass 1: the sketches of the whole documents, and their line statistics when boilerplate is
/// detected (otherwise no lines).
pub fn sketch(cx: &Context, corpus: &Corpus) -> Result<(Sketches, DocLines)> {
    cx.timed(Stage::Sketch, || {
        let store = if cx.reads_token_store() {
            TokenStore::create(corpus.docs.len()).map(std::sync::Arc::new)
        } else {
            None
        };
        *cx.tokens.lock().unwrap_or_else(|e| e.into_inner()) = store.clone();
        let store = store.as_deref();
        if cx.cfg.boilerplate.enabled {
            sketch::compute_with_lines(corpus, cx.params(), store, cx.progress, cx.cancel)
        } else {
            let s = sketch::compute(corpus, cx.params(), &[], store, cx.progress, cx.cancel)?;
            Ok((s, DocLines::empty(corpus.docs.len())))
        }
    })
}

/// Flag boilerplate lines from the line statistics (`signatures`: pass 1's, for the
/// near-duplicate check of repeated lines).
pub fn boilerplate(
    cx: &Context,
    corpus: &Corpus,
    lines: &DocLines,
    signatures: &impl Signatures,
) -> Boilerplate {
    cx.timed(Stage::Boilerplate, || {
        if !cx.cfg.boilerplate.enabled {
            return Boilerplate::default();
        }
        boilerplate::detect(
            corpus,
            lines,
            signatures,
            &cx.cfg.boilerplate,
            cx.cfg.profile,
            cx.cfg.seed,
        )
    })
}

/// Pass 2: sketch the documents that have a flagged line again without it (when flagged lines
/// are left out of shingling); `sketches` become the final ones.
pub fn resketch(
    cx: &Context,
    corpus: &Corpus,
    bp: &Boilerplate,
    lines: &DocLines,
    sketches: &mut Sketches,
) -> Result<()> {
    if cx.exclude(bp).is_empty() {
        return Ok(());
    }
    cx.timed(Stage::Boilerplate, || {
        let affected = bp.affected_docs(lines);
        sketch::resketch(
            corpus,
            cx.params(),
            &bp.hashes,
            cx.token_store().as_deref(),
            sketches,
            &lines.bins,
            &affected,
            cx.progress,
            cx.cancel,
        )
    })
}

/// The first half of a scan on one screen: read, sketch, flag boilerplate (the line hashes of
/// `known`, flagged earlier — by an index — counting as flagged too), pass 2. What
/// `neardup index` stores of a corpus, and what [`crate::scan`] goes on from.
pub fn prepare(cx: &Context, known: &[u64]) -> Result<(Corpus, Sketches, Boilerplate)> {
    let corpus = read(cx)?;
    let (mut sketches, lines) = sketch(cx, &corpus)?;
    let mut bp = boilerplate(cx, &corpus, &lines, &sketches);
    bp.flag_known(known);
    resketch(cx, &corpus, &bp, &lines, &mut sketches)?;
    Ok((corpus, sketches, bp))
}

/// Exact duplicates (same normalised text) from the final sketches' hashes.
pub fn exact(cx: &Context, sketches: &Sketches) -> ExactGroups {
    cx.timed(Stage::Exact, || {
        cx.progress.begin(Stage::Exact, 0);
        let groups = cluster::exact_groups(&sketches.exact, &sketches.tokens);
        cx.progress.end();
        groups
    })
}

/// LSH candidate pairs over every banding of the run (see [`Config::band_sets`]); those of the
/// containment banding only when their MinHash estimate makes them plausible duplicates (see
/// `plausible`).
pub fn candidates(cx: &Context, sketches: &Sketches, groups: &ExactGroups) -> Result<Candidates> {
    let criterion = cx.cfg.criterion();
    let k = sketches.num_perm;
    // The estimate from the number of equal values (`Sketches::estimate`'s arithmetic).
    let test = |equal: u32, size_a: u32, size_b: u32| {
        criterion.plausible(&crate::verify::score_of_count(
            equal as usize,
            k,
            size_a,
            size_b,
        ))
    };
    let plausible = crate::lsh::Plausibility {
        sizes: &sketches.shingles,
        test: &test,
    };
    candidates_with(cx, sketches, groups, plausible)
}

/// [`candidates`] with another filter for the containment banding's pairs
/// ([`crate::Plausibility::ALL`]: all).
pub fn candidates_with(
    cx: &Context,
    sketches: &Sketches,
    groups: &ExactGroups,
    plausible: crate::lsh::Plausibility,
) -> Result<Candidates> {
    cx.timed(Stage::Candidates, || {
        lsh::candidates(
            &sketches.signatures,
            sketches.num_perm,
            &cx.cfg.band_sets(),
            &groups.lsh_members,
            plausible,
            cx.progress,
            cx.cancel,
        )
    })
}

/// Whether a pair that shares a band key is worth verifying: its MinHash estimate (`estimate`)
/// could meet the run's criterion. The containment banding's single-value bands propose pairs
/// of documents that merely share a phrase, more of them per document the larger the corpus;
/// turning them away as they come out of the buckets keeps the stored candidates in
/// proportion to the corpus. Verification applies the same test, so what is turned away here
/// would never have been verified. (The Jaccard banding's several-value bands collide on
/// similar pairs only; their pairs go on unfiltered, so a near-copy that collides in many bands
/// is estimated once.)
pub(crate) fn plausible<'e>(
    cx: &Context,
    estimate: impl Fn(u32, u32) -> Score + Sync + 'e,
) -> impl Fn(u32, u32) -> bool + Sync + 'e {
    let criterion = cx.cfg.criterion();
    move |a, b| criterion.plausible(&estimate(a, b))
}

/// Verified candidate pairs: the edges the criterion accepts (sorted by pair) and the counts.
#[derive(Clone, Debug, Default)]
pub struct Verified {
    pub edges: Vec<Edge>,
    pub stats: VerifyStats,
}

/// Verify `pairs` (sorted, unique): MinHash estimates (`estimate`) first, then exact scores on
/// re-derived shingle sets unless `--verify estimate`.
pub fn verify(
    cx: &Context,
    corpus: &Corpus,
    bp: &Boilerplate,
    candidates: &Candidates,
    estimate: &(dyn Fn(u32, u32) -> Score + Sync),
) -> Result<Verified> {
    cx.timed(Stage::Verify, || {
        let (edges, mut stats) = cx.verifier(corpus, bp).verify_candidates(
            &candidates.pairs,
            estimate,
            &cx.cfg.criterion(),
            cx.cfg.verify,
            cx.progress,
        )?;
        stats.containment_collisions = candidates.containment_collisions;
        stats.containment_implausible = candidates.containment_implausible;
        Ok(Verified { edges, stats })
    })
}

/// Clusters and what the chaining guard did.
pub struct Clustered {
    pub clusters: Vec<Cluster>,
    pub chains: ChainStats,
}

/// Clusters from the exact groups and the verified edges (star clustering, see
/// the [`crate::cluster`] module).
pub fn cluster(
    cx: &Context,
    corpus: &Corpus,
    bp: &Boilerplate,
    sketches: &Sketches,
    groups: &ExactGroups,
    verified: &Verified,
) -> Result<Clustered> {
    cx.timed(Stage::Cluster, || {
        cx.progress.begin(Stage::Cluster, 0);
        let verifier = cx.verifier(corpus, bp);
        let comps = cluster::components(corpus.docs.len(), groups, &verified.edges);
        let (clusters, chains) = cluster::center_clusters(
            comps,
            cx.cfg.keep,
            &sketches.exact,
            &sketches.tokens,
            &cx.cfg.criterion(),
            &verified.edges,
            |pairs| match cx.cfg.verify {
                Verify::Exact => verifier.exact_scores(pairs, &NoProgress),
                Verify::Estimate => Ok(pairs
                    .iter()
                    .map(|&(a, b)| sketches.estimate(DocId(a), DocId(b)))
                    .collect()),
            },
        )?;
        cx.progress.end();
        Ok(Clustered { clusters, chains })
    })
}

/// Everything a scan produced.
pub struct ScanOutput {
    pub corpus: Corpus,
    pub boilerplate: Boilerplate,
    pub sketches: Sketches,
    pub clusters: Vec<Cluster>,
    pub summary: Summary,
    /// With `--against`: the input file holding the indexed documents of the run, and their
    /// ids, sources and outlets as indexed, one per line (`clusters.jsonl` marks them
    /// `"indexed": true`).
    pub indexed: Option<(String, Vec<crate::index::IndexedMeta>)>,
    started: Instant,
}

/// The artefacts a scan ends with, as [`output`] takes them.
pub struct Artefacts {
    pub corpus: Corpus,
    pub boilerplate: Boilerplate,
    pub sketches: Sketches,
    pub groups: ExactGroups,
    pub verify: VerifyStats,
    pub clustered: Clustered,
    /// Input fingerprints computed where the files were read (staged runs); `None`: from the
    /// corpus.
    pub inputs: Option<InputsOut>,
}

/// The scan's result with its summary.
pub fn output(cx: &Context, a: Artefacts) -> ScanOutput {
    let summary = summarise(cx, &a);
    ScanOutput {
        corpus: a.corpus,
        boilerplate: a.boilerplate,
        sketches: a.sketches,
        clusters: a.clustered.clusters,
        summary,
        indexed: None,
        started: cx.started,
    }
}

fn summarise(cx: &Context, a: &Artefacts) -> Summary {
    let (cfg, corpus, clusters) = (cx.cfg, &a.corpus, &a.clustered.clusters);
    let banding = cfg.banding();
    // Duplicates: members their representative covers, i.e. what `clean` drops (a member of a
    // cluster it does not cover stays, so kept + duplicates here match clean's counts).
    let duplicates: u64 = clusters
        .iter()
        .map(|c| c.members.iter().filter(|m| m.drop).count() as u64)
        .sum();
    let n = corpus.docs.len() as u64;
    let mut problems_by_kind = BTreeMap::new();
    for p in &corpus.problems {
        *problems_by_kind.entry(p.kind.as_str()).or_insert(0) += 1;
    }
    let bytes = corpus.data_bytes();
    let seconds = cx.started.elapsed().as_secs_f64();
    let members = || clusters.iter().flat_map(|c| &c.members);
    let of_kind = |k: ClusterKind| clusters.iter().filter(|c| c.kind == k).count() as u64;
    Summary {
        tool: "neardup",
        version: crate::VERSION,
        run_id: report::new_run_id(),
        outputs: BTreeMap::new(),
        inputs: InputsOut {
            arguments: cfg
                .input
                .paths
                .iter()
                .map(|p| crate::input::path_text(p))
                .collect(),
            ..a.inputs.clone().unwrap_or_else(|| InputsOut::new(corpus))
        },
        documents: DocumentCounts {
            read: n + corpus.skipped_documents,
            kept: n - duplicates,
            duplicates,
            skipped: corpus.skipped_documents,
            empty: a.sketches.tokens.iter().filter(|&&t| t == 0).count() as u64,
        },
        against: None,
        input_lost: corpus.input_lost(),
        problems_by_kind,
        problems: corpus
            .problems
            .iter()
            .take(report::MAX_LISTED_PROBLEMS)
            .cloned()
            .collect(),
        files: FileCounts {
            read: corpus.files.len() as u64,
            skipped: corpus.skipped_files,
            mapped: corpus.files.iter().filter(|f| f.mapped).count() as u64,
            compressed: corpus
                .files
                .iter()
                .filter(|f| f.compression != input::Compression::None)
                .count() as u64,
            bytes_on_disk: corpus.files.iter().map(|f| f.disk_bytes).sum(),
            bytes,
        },
        clusters: ClusterCounts {
            total: clusters.len() as u64,
            exact: of_kind(ClusterKind::Exact),
            near: of_kind(ClusterKind::Near),
            documents_in_clusters: members().count() as u64,
            largest: clusters
                .iter()
                .map(|c| c.members.len() as u64)
                .max()
                .unwrap_or(0),
            by_containment: members()
                .filter(|m| m.matched == verify::MatchKind::Containment)
                .count() as u64,
            chaining_guard: a.clustered.chains,
        },
        options: OptionsOut::new(cfg),
        lsh: LshOut {
            bands: banding.bands,
            rows: banding.rows,
            candidate_probability_at_threshold: report::round4(
                banding.candidate_probability(cfg.threshold),
            ),
            documents: a.groups.lsh_members.len() as u64,
            containment_bands: cfg.containment_banding().map(|b| b.bands),
            containment_rows: cfg.containment_banding().map(|b| b.rows),
            verify: a.verify,
        },
        boilerplate: report::BoilerplateOut::new(&cfg.boilerplate, &a.boilerplate),
        timings_ms: cx.timings(),
        seconds,
        mb_per_s: if seconds > 0.0 {
            bytes as f64 / 1e6 / seconds
        } else {
            0.0
        },
        docs_per_s: if seconds > 0.0 {
            n as f64 / seconds
        } else {
            0.0
        },
    }
}

/// Write `clusters.jsonl`, `boilerplate.jsonl` and `summary.json` into `dir` (created if
/// needed), each atomically.
pub fn write_outputs(out: &mut ScanOutput, dir: &Path, progress: &dyn Progress) -> Result<()> {
    let t = Instant::now();
    progress.begin(Stage::Write, 0);
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let profile = out.summary.options.normalization;
    // The two files side by side: each ends in an fsync, a wait on the disk. Each is described
    // (size, xxh3) as it is written.
    let (clusters, boilerplate) = rayon::join(
        || {
            report::atomic_write(&dir.join(report::CLUSTERS_FILE), |w| {
                report::write_clusters(
                    w,
                    &out.clusters,
                    &out.corpus,
                    out.indexed
                        .as_ref()
                        .map(|(path, m)| (path.as_str(), m.as_slice())),
                )
            })
        },
        || {
            report::atomic_write(&dir.join(report::BOILERPLATE_FILE), |w| {
                report::write_boilerplate(w, &out.boilerplate, &out.corpus, profile)
            })
        },
    );
    out.summary.outputs.insert(report::CLUSTERS_FILE, clusters?);
    out.summary
        .outputs
        .insert(report::BOILERPLATE_FILE, boilerplate?);
    out.summary
        .timings_ms
        .insert(Stage::Write.key(), t.elapsed().as_millis() as u64);
    let seconds = out.started.elapsed().as_secs_f64();
    out.summary.seconds = report::round4(seconds);
    out.summary.mb_per_s = report::round4(out.summary.files.bytes as f64 / 1e6 / seconds);
    out.summary.docs_per_s = report::round4(out.corpus.docs.len() as f64 / seconds);
    report::atomic_write(&dir.join(report::SUMMARY_FILE), |w| {
        report::write_summary(w, &out.summary)
    })?;
    progress.end();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ScanConfig, ShingleKind};

    /// Pass 1 writes a token store only where pass 2 or exact verification will read it.
    #[test]
    fn a_token_store_only_where_something_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("a.txt");
        std::fs::write(
            &input,
            "one two three four five six\nseven eight nine ten\n",
        )
        .unwrap();
        let has_store = |edit: &dyn Fn(&mut ScanConfig)| {
            let mut o = ScanConfig::new(vec![input.clone()]);
            edit(&mut o);
            let cfg = o.validate().unwrap();
            let cancel = AtomicBool::new(false);
            let cx = Context::new(&cfg, &NoProgress, &cancel);
            let corpus = read(&cx).unwrap();
            sketch(&cx, &corpus).unwrap();
            cx.token_store().is_some()
        };
        assert!(has_store(&|_| {}));
        assert!(has_store(&|o| o.verify = Verify::Estimate));
        assert!(has_store(&|o| o.boilerplate.enabled = false));
        assert!(!has_store(&|o| {
            o.verify = Verify::Estimate;
            o.boilerplate.enabled = false;
        }));
        assert!(!has_store(&|o| o.shingle = ShingleKind::Char));
    }
}
