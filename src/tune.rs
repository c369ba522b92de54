//! `tune`: sweep the matching thresholds against labels and recommend settings.
//!
//! The input is read, sketched and checked for boilerplate once; for every (threshold,
//! containment) pair only the [`crate::pipeline`] stages from LSH on run again, and the clusters
//! are scored with [`crate::eval`]. The
//! recommendation is the setting with the best F1 (ties: higher precision, then the higher
//! threshold). The S-curve of its banding shows, for each similarity, the probability that a
//! pair becomes a candidate.

use std::sync::atomic::AtomicBool;

use serde::Serialize;

use crate::config::{Banding, Config};
use crate::error::Result;
use crate::eval::{EvalResult, Truth, evaluate_groups};
use crate::input::DocId;
use crate::pipeline::{self, Context};
use crate::progress::{NoProgress, Progress};

/// One setting and how it scored.
#[derive(Clone, Debug, Serialize)]
pub struct TuneRow {
    pub threshold: f64,
    pub containment: Option<f64>,
    pub bands: usize,
    pub rows: usize,
    pub candidate_pairs: u64,
    pub clusters: u64,
    pub eval: EvalResult,
}

/// The sweep, the recommended setting, and its S-curve.
#[derive(Clone, Debug, Serialize)]
pub struct TuneReport {
    pub rows: Vec<TuneRow>,
    /// Index into `rows`.
    pub recommended: usize,
    /// `(similarity, probability of becoming a candidate)` for the recommended Jaccard banding.
    pub s_curve: Vec<(f64, f64)>,
    /// The same for its containment banding (Jaccard of a contained pair on the x axis).
    pub containment_s_curve: Vec<(f64, f64)>,
    /// Labelled documents found in the input.
    pub labelled_in_input: u64,
    /// Input problems that lost documents (any makes the exit code 2).
    pub input_lost: u64,
}

fn s_curve(b: Option<Banding>) -> Vec<(f64, f64)> {
    match b {
        None => Vec::new(),
        Some(b) => (1..=10)
            .map(|i| {
                let s = i as f64 / 10.0;
                (s, (b.candidate_probability(s) * 1000.0).round() / 1000.0)
            })
            .collect(),
    }
}

/// Sweep `thresholds` × `containments` on the inputs of `cfg`.
pub fn tune(
    cfg: &Config,
    truth: &Truth,
    thresholds: &[f64],
    containments: &[Option<f64>],
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<TuneReport> {
    // Everything before LSH does not depend on the thresholds: once.
    let cx = Context::new(cfg, progress, cancel);
    let corpus = pipeline::read(&cx)?;
    let (mut sketches, lines) = pipeline::sketch(&cx, &corpus)?;
    let bp = pipeline::boilerplate(&cx, &corpus, &lines, &sketches);
    pipeline::resketch(&cx, &corpus, &bp, &lines, &mut sketches)?;
    drop(lines);
    let groups = pipeline::exact(&cx, &sketches);
    let labelled_in_input = corpus
        .documents()
        .iter()
        .filter(|d| truth.contains(&corpus.id(d)))
        .count() as u64;
    if labelled_in_input == 0 {
        return Err(crate::Error::NoOverlap(format!(
            "none of the {} input documents has a label ({} labelled ids): check --truth, the inputs and --id-field",
            corpus.len(),
            truth.len()
        )));
    }
    let estimate = |a, b| sketches.estimate(DocId(a), DocId(b));
    let mut rows = Vec::new();
    let mut configs = Vec::new();
    for &t in thresholds {
        for &c in containments {
            let mut run = cfg.options().clone();
            run.threshold = t;
            run.containment = c;
            run.banding = None;
            let run = run.validate()?;
            let rx = cx.for_thresholds(&run, &NoProgress);
            let pairs = pipeline::candidates(&rx, &sketches, &groups)?;
            let verified = pipeline::verify(&rx, &corpus, &bp, &pairs, &estimate)?;
            let clustered = pipeline::cluster(&rx, &corpus, &bp, &sketches, &groups, &verified)?;
            let groups: Vec<Vec<String>> = clustered
                .clusters
                .iter()
                .map(|cl| {
                    cl.members
                        .iter()
                        .map(|mm| corpus.id(&corpus.docs[mm.doc.0 as usize]).into_owned())
                        .collect()
                })
                .collect();
            rows.push(TuneRow {
                threshold: t,
                containment: c,
                bands: run.banding().bands,
                rows: run.banding().rows,
                candidate_pairs: verified.stats.candidate_pairs,
                clusters: clustered.clusters.len() as u64,
                eval: evaluate_groups(truth, &groups),
            });
            configs.push(run);
        }
    }
    // Best F1, then precision; on a tie the setting nearest the defaults (a sweep where every
    // setting scores the same says nothing for an extreme one).
    let from_default = |r: &TuneRow| {
        let c = match (r.containment, cfg.containment) {
            (Some(x), Some(y)) => (x - y).abs(),
            (None, None) => 0.0,
            _ => 1.0,
        };
        (r.threshold - cfg.threshold).abs() + c
    };
    let recommended = (0..rows.len())
        .max_by(|&a, &b| {
            let (x, y) = (&rows[a], &rows[b]);
            x.eval
                .f1
                .total_cmp(&y.eval.f1)
                .then(x.eval.precision.total_cmp(&y.eval.precision))
                .then(from_default(y).total_cmp(&from_default(x)))
        })
        .unwrap_or(0);
    let (curve, ccurve) = match configs.get(recommended) {
        Some(best) => (
            s_curve(Some(best.banding())),
            s_curve(best.containment_banding()),
        ),
        None => (Vec::new(), Vec::new()),
    };
    Ok(TuneReport {
        rows,
        recommended,
        s_curve: curve,
        containment_s_curve: ccurve,
        labelled_in_input,
        input_lost: corpus.input_lost(),
    })
}
