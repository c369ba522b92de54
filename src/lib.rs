//! neardup: find exact and near-duplicate documents in large text dumps.
//!
//! A scan is a short list of stages, each a module, with a named type flowing between them:
//!
//! | # | stage | module | input → output |
//! |---|-------|--------|----------------|
//! | 0 | read | [`input`] | paths → [`Corpus`] (mapped files, document spans, problems) |
//! | 0b | boilerplate | [`boilerplate`] | lines → [`DocLines`] → [`Boilerplate`] (flagged line hashes) |
//! | 1 | normalise | [`normalize`] | text → token stream |
//! | 2 | shingle | [`shingle`] | tokens → shingle hashes (xxh3) |
//! | 3 | MinHash | [`minhash`], [`sketch`] | shingle hashes → [`Sketches`] (flat signatures, exact hashes) |
//! | 4 | exact duplicates | [`cluster::exact_groups`] | exact hashes → [`ExactGroups`] |
//! | 5 | LSH | [`lsh`] | signatures → candidate [`Pair`]s (sort-grouped band keys) |
//! | 6 | verify + cluster | [`verify`], [`cluster`] | pairs → verified [`Edge`]s → [`Cluster`]s |
//! | 7 | output | [`report`] | clusters → `clusters.jsonl`, `boilerplate.jsonl`, `summary.json` |
//!
//! [`scan`] runs them in order; [`write_outputs`] writes the results atomically. [`stages`] runs
//! the same functions as separate tasks over a shared work directory (scale-out on Ray, Slurm or
//! Kubernetes), byte-identical to [`scan`].

pub mod boilerplate;
pub mod clean;
pub mod cluster;
pub mod config;
pub mod error;
pub mod eval;
pub mod input;
pub mod lsh;
pub mod minhash;
pub mod normalize;
pub mod progress;
pub mod report;
pub mod shingle;
pub mod sketch;
pub mod stages;
pub mod tune;
pub mod verify;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

pub use boilerplate::{Boilerplate, DocLines};
pub use clean::CleanConfig;
pub use cluster::{Cluster, ClusterKind, ExactGroups};
pub use config::{Banding, KeepPolicy, ScanConfig};
pub use error::{Error, Problem, ProblemKind, Result};
pub use input::{Corpus, DocId};
pub use lsh::Pair;
pub use progress::{NoProgress, Progress, Stage};
pub use report::Summary;
pub use sketch::Sketches;
pub use verify::Edge;

use crate::config::Verify;
use crate::report::{ClusterCounts, DocumentCounts, FileCounts, LshOut, OptionsOut};
use crate::sketch::SketchParams;

/// The tool version, recorded in every summary.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Everything a scan produced.
pub struct ScanOutput {
    pub corpus: Corpus,
    pub boilerplate: Boilerplate,
    pub sketches: Sketches,
    pub clusters: Vec<Cluster>,
    pub summary: Summary,
    started: Instant,
}

/// Run the scan pipeline. `cancel` is polled between work items: set it to stop early with
/// [`Error::Interrupted`].
pub fn scan(
    mut cfg: ScanConfig,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<ScanOutput> {
    let banding = cfg.validate()?;
    let mut prep = prepare(&cfg, progress, cancel)?;
    let m = match_documents(&mut prep, &cfg, banding, progress, cancel)?;
    Ok(finish(prep, &cfg, banding, m))
}

/// Assemble the output of a scan from its prepared inputs and matches.
fn finish(prep: Prepared, cfg: &ScanConfig, banding: Banding, m: Matched) -> ScanOutput {
    let summary = summarise(
        cfg,
        banding,
        m.containment_banding,
        &prep.corpus,
        &prep.boilerplate,
        &prep.sketches,
        &prep.groups,
        &m.clusters,
        m.verify,
        m.chains,
        prep.timings.clone(),
        prep.started,
        prep.inputs.clone(),
    );
    ScanOutput {
        corpus: prep.corpus,
        boilerplate: prep.boilerplate,
        sketches: prep.sketches,
        clusters: m.clusters,
        summary,
        started: prep.started,
    }
}

/// Stages 0–4: everything that does not depend on the matching thresholds (read, sketch,
/// boilerplate, exact groups). [`match_documents`] can run on it several times (`tune`).
pub struct Prepared {
    pub corpus: Corpus,
    pub boilerplate: Boilerplate,
    pub sketches: Sketches,
    pub groups: ExactGroups,
    params: SketchParams,
    exclude_boilerplate: bool,
    /// Milliseconds per stage so far.
    pub timings: BTreeMap<&'static str, u64>,
    started: Instant,
    /// Input fingerprints computed where the files were read (staged runs); `None`: from the
    /// corpus.
    inputs: Option<report::InputsOut>,
}

impl Prepared {
    /// The verifier for this corpus (exact sets rebuilt with the same exclusions as the sketches).
    fn verifier<'a>(&'a self, cancel: &'a AtomicBool) -> verify::Verifier<'a> {
        verify::Verifier {
            corpus: &self.corpus,
            params: self.params,
            exclude: self.exclude(),
            cancel,
        }
    }

    /// Line hashes left out of shingling.
    pub fn exclude(&self) -> &[u64] {
        if self.exclude_boilerplate {
            &self.boilerplate.hashes
        } else {
            &[]
        }
    }
}

/// Stages 0–4 of a scan (`cfg` validated).
pub fn prepare(cfg: &ScanConfig, progress: &dyn Progress, cancel: &AtomicBool) -> Result<Prepared> {
    let started = Instant::now();
    let mut timings = BTreeMap::new();
    let mut clock = Instant::now();
    let mut lap = |stage: Stage, clock: &mut Instant| {
        timings.insert(stage.key(), clock.elapsed().as_millis() as u64);
        *clock = Instant::now();
    };

    progress.begin(Stage::Read, 0);
    let corpus = input::load(&cfg.input);
    progress.end();
    strict_check(cfg, &corpus)?;
    lap(Stage::Read, &mut clock);

    // Pass 1: sketches of the whole documents, and their lines when boilerplate is detected.
    let params = SketchParams::from_config(cfg);
    let (mut sketches, lines) = if cfg.boilerplate.enabled {
        let (s, l) = sketch::compute_with_lines(&corpus, params, progress, cancel)?;
        (s, Some(l))
    } else {
        (
            sketch::compute(&corpus, params, &[], progress, cancel)?,
            None,
        )
    };
    lap(Stage::Sketch, &mut clock);

    // Boilerplate: flag lines, then (pass 2) sketch the documents that have any without them.
    let bp = match &lines {
        Some(lines) => {
            let bp = boilerplate::detect(
                &corpus,
                lines,
                &sketches,
                &cfg.boilerplate,
                cfg.profile,
                cfg.seed,
            );
            if cfg.boilerplate.exclude_from_shingles {
                let affected = bp.affected_docs(lines);
                sketch::resketch(
                    &corpus,
                    params,
                    &bp.hashes,
                    &mut sketches,
                    &affected,
                    progress,
                    cancel,
                )?;
            }
            bp
        }
        None => Boilerplate::default(),
    };
    drop(lines);
    lap(Stage::Boilerplate, &mut clock);

    progress.begin(Stage::Exact, 0);
    let groups = cluster::exact_groups(&sketches.exact, &sketches.tokens);
    progress.end();
    lap(Stage::Exact, &mut clock);
    Ok(Prepared {
        corpus,
        boilerplate: bp,
        sketches,
        groups,
        params,
        exclude_boilerplate: cfg.boilerplate.excludes_lines(),
        timings,
        started,
        inputs: None,
    })
}

/// With `--strict`, the first input problem is fatal.
fn strict_check(cfg: &ScanConfig, corpus: &Corpus) -> Result<()> {
    match corpus.problems.first() {
        Some(p) if cfg.strict => Err(Error::Strict(p.clone())),
        _ => Ok(()),
    }
}

/// What stages 5–6 produced for one setting.
pub struct Matched {
    pub clusters: Vec<Cluster>,
    pub verify: verify::VerifyStats,
    pub chains: cluster::ChainStats,
    pub containment_banding: Option<Banding>,
}

/// Stages 5–6: LSH candidates, verification, clustering, for the thresholds of `cfg`.
pub fn match_documents(
    prep: &mut Prepared,
    cfg: &ScanConfig,
    banding: Banding,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<Matched> {
    let mut clock = Instant::now();
    let lap = |stage: Stage, clock: &mut Instant, timings: &mut BTreeMap<&'static str, u64>| {
        timings.insert(stage.key(), clock.elapsed().as_millis() as u64);
        *clock = Instant::now();
    };
    let mut timings = std::mem::take(&mut prep.timings);
    let (sketches, groups) = (&prep.sketches, &prep.groups);

    // Candidates: a banding for the Jaccard threshold, and with containment a second, lower one
    // that catches a short document inside a longer one.
    let mut pairs = lsh::candidates(
        &sketches.signatures,
        sketches.num_perm,
        banding,
        &groups.lsh_members,
        cfg.seed,
        progress,
        cancel,
    )?;
    let containment_banding = cfg.containment_banding();
    if let Some(cb) = containment_banding {
        let more = lsh::candidates(
            &sketches.signatures,
            sketches.num_perm,
            cb,
            &groups.lsh_members,
            cfg.seed ^ CONTAINMENT_SALT,
            progress,
            cancel,
        )?;
        pairs = lsh::merge_pairs(pairs, more);
    }
    lap(Stage::Candidates, &mut clock, &mut timings);

    let criterion = cfg.criterion();
    let verifier = prep.verifier(cancel);
    let (edges, vstats) = verifier.verify_candidates(
        &pairs,
        &|a, b| sketches.estimate(DocId(a), DocId(b)),
        &criterion,
        cfg.verify,
        progress,
    )?;
    drop(pairs);
    lap(Stage::Verify, &mut clock, &mut timings);
    prep.timings = timings;
    cluster_edges(
        prep,
        cfg,
        &edges,
        vstats,
        containment_banding,
        progress,
        cancel,
    )
}

/// Stage 6b: clusters from the exact groups and verified `edges` (sorted by pair).
pub(crate) fn cluster_edges(
    prep: &mut Prepared,
    cfg: &ScanConfig,
    edges: &[Edge],
    vstats: verify::VerifyStats,
    containment_banding: Option<Banding>,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<Matched> {
    let clock = Instant::now();
    let (corpus, sketches, groups) = (&prep.corpus, &prep.sketches, &prep.groups);
    let criterion = cfg.criterion();
    let verifier = prep.verifier(cancel);
    progress.begin(Stage::Cluster, 0);
    let comps = cluster::components(corpus.docs.len(), groups, edges);
    let (clusters, chains) = cluster::center_clusters(
        comps,
        cfg.keep,
        &sketches.exact,
        &sketches.tokens,
        &criterion,
        edges,
        |pairs| match cfg.verify {
            Verify::Exact => verifier.exact_scores(pairs, &NoProgress),
            Verify::Estimate => Ok(pairs
                .iter()
                .map(|&(a, b)| sketches.estimate(DocId(a), DocId(b)))
                .collect()),
        },
    )?;
    progress.end();
    prep.timings
        .insert(Stage::Cluster.key(), clock.elapsed().as_millis() as u64);
    Ok(Matched {
        clusters,
        verify: vstats,
        chains,
        containment_banding,
    })
}

/// Seed salt for the containment banding, so its band keys never coincide with the Jaccard
/// banding's.
pub(crate) const CONTAINMENT_SALT: u64 = 0x5bd1_e995_0000_0001;

#[allow(clippy::too_many_arguments)]
fn summarise(
    cfg: &ScanConfig,
    banding: Banding,
    containment_banding: Option<Banding>,
    corpus: &Corpus,
    bp: &Boilerplate,
    sketches: &Sketches,
    groups: &ExactGroups,
    clusters: &[Cluster],
    vstats: verify::VerifyStats,
    chains: cluster::ChainStats,
    timings: BTreeMap<&'static str, u64>,
    started: Instant,
    inputs: Option<report::InputsOut>,
) -> Summary {
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
    let seconds = started.elapsed().as_secs_f64();
    Summary {
        tool: "neardup",
        version: VERSION,
        inputs: inputs.unwrap_or_else(|| report::InputsOut::new(corpus)),
        documents: DocumentCounts {
            read: n + corpus.skipped_documents,
            kept: n - duplicates,
            duplicates,
            skipped: corpus.skipped_documents,
            empty: sketches.tokens.iter().filter(|&&t| t == 0).count() as u64,
        },
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
            exact: clusters
                .iter()
                .filter(|c| c.kind == ClusterKind::Exact)
                .count() as u64,
            near: clusters
                .iter()
                .filter(|c| c.kind == ClusterKind::Near)
                .count() as u64,
            documents_in_clusters: clusters.iter().map(|c| c.members.len() as u64).sum(),
            largest: clusters
                .iter()
                .map(|c| c.members.len() as u64)
                .max()
                .unwrap_or(0),
            by_containment: clusters
                .iter()
                .flat_map(|c| &c.members)
                .filter(|m| m.matched == verify::MatchKind::Containment)
                .count() as u64,
            chaining_guard: chains,
        },
        options: OptionsOut::new(cfg, banding),
        lsh: LshOut {
            bands: banding.bands,
            rows: banding.rows,
            candidate_probability_at_threshold: report::round4(lsh::candidate_probability(
                cfg.threshold,
                banding,
            )),
            documents: groups.lsh_members.len() as u64,
            containment_bands: containment_banding.map(|b| b.bands),
            containment_rows: containment_banding.map(|b| b.rows),
            verify: vstats,
        },
        boilerplate: report::BoilerplateOut::new(&cfg.boilerplate, bp),
        timings_ms: timings,
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
    pub documents: clean::CleanCounts,
    /// The scan run for this clean (absent with `--from`).
    pub scan: Option<Summary>,
}

/// Clean a corpus: scan it (or reuse the scan in `from`), then write it without duplicates and
/// boilerplate lines into `clean_cfg.out`, with the report in `out/.neardup/`.
pub fn clean(
    mut cfg: ScanConfig,
    clean_cfg: &clean::CleanConfig,
    from: Option<&Path>,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<CleanSummary> {
    let report_dir = clean_cfg.out.join(clean::REPORT_DIR);
    let scan_cfg = cfg.clone();
    let write = |corpus: &Corpus, plan: &clean::CleanPlan| {
        clean::run(corpus, plan, clean_cfg, &scan_cfg, progress, cancel)
    };
    let (counts, scan_summary) = match from {
        None => {
            let mut out = scan(cfg.clone(), progress, cancel)?;
            let strip: &[boilerplate::FlaggedLine] = if cfg.boilerplate.enabled {
                &out.boilerplate.lines
            } else {
                &[]
            };
            let plan =
                clean::CleanPlan::from_clusters(&out.corpus, &out.clusters, strip, cfg.profile);
            let counts = write(&out.corpus, &plan)?;
            // The scan's own outputs go with the report, so `clean --from` can reuse them.
            write_outputs(&mut out, &report_dir, &NoProgress)?;
            (counts, Some(out.summary))
        }
        Some(dir) => {
            let banding = cfg.validate()?;
            progress.begin(Stage::Read, 0);
            let corpus = input::load(&cfg.input);
            progress.end();
            strict_check(&cfg, &corpus)?;
            let inputs = report::InputsOut::new(&corpus);
            // Serialising our own structs cannot fail.
            let options = serde_json::to_value(OptionsOut::new(&cfg, banding)).unwrap_or_default();
            let bp = serde_json::to_value(report::BoilerplateOut::new(
                &cfg.boilerplate,
                &Boilerplate::default(),
            ))
            .unwrap_or_default();
            let plan = clean::plan_from_dir(dir, &corpus, &inputs.fingerprint, &options, &bp)?;
            let counts = write(&corpus, &plan)?;
            (counts, None)
        }
    };
    let summary = CleanSummary {
        tool: "neardup",
        version: VERSION,
        dedup: clean_cfg.dedup,
        strip: clean_cfg.strip,
        dry_run: clean_cfg.dry_run,
        from: from.map(|p| p.display().to_string()),
        documents: counts,
        scan: scan_summary,
    };
    report::atomic_write(&report_dir.join(clean::CLEAN_SUMMARY_FILE), |w| {
        serde_json::to_writer_pretty(&mut *w, &summary)?;
        w.write_all(b"\n")
    })?;
    Ok(summary)
}

/// Write `clusters.jsonl` and `summary.json` into `dir` (created if needed), atomically.
pub fn write_outputs(out: &mut ScanOutput, dir: &Path, progress: &dyn Progress) -> Result<()> {
    let t = Instant::now();
    progress.begin(Stage::Write, 0);
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    report::atomic_write(&dir.join(report::CLUSTERS_FILE), |w| {
        report::write_clusters(w, &out.clusters, &out.corpus)
    })?;
    let profile = out.summary.options.normalization;
    report::atomic_write(&dir.join(report::BOILERPLATE_FILE), |w| {
        report::write_boilerplate(w, &out.boilerplate, &out.corpus, profile)
    })?;
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
