//! `tune`: sweep the matching thresholds against labels and recommend settings.
//!
//! The input is read, sketched and checked for boilerplate once ([`crate::prepare`]); for every
//! (threshold, containment) pair only LSH, verification and clustering run again
//! ([`crate::match_documents`]), and the clusters are scored with [`crate::eval`]. The
//! recommendation is the setting with the best F1 (ties: higher precision, then the higher
//! threshold). The S-curve of its banding shows, for each similarity, the probability that a
//! pair becomes a candidate.

use std::sync::atomic::AtomicBool;

use serde::Serialize;

use crate::config::{Banding, ScanConfig};
use crate::error::Result;
use crate::eval::{EvalResult, Truth, evaluate_groups};
use crate::lsh::candidate_probability;
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
}

fn s_curve(b: Option<Banding>) -> Vec<(f64, f64)> {
    match b {
        None => Vec::new(),
        Some(b) => (1..=10)
            .map(|i| {
                let s = i as f64 / 10.0;
                (s, (candidate_probability(s, b) * 1000.0).round() / 1000.0)
            })
            .collect(),
    }
}

/// Sweep `thresholds` × `containments` on the inputs of `cfg`.
pub fn tune(
    cfg: &ScanConfig,
    truth: &Truth,
    thresholds: &[f64],
    containments: &[Option<f64>],
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<TuneReport> {
    let mut base = cfg.clone();
    base.validate()?;
    let mut prep = crate::prepare(&base, progress, cancel)?;
    let mut rows = Vec::new();
    for &t in thresholds {
        for &c in containments {
            let mut run = cfg.clone();
            run.threshold = t;
            run.containment = c;
            run.banding = None;
            let banding = run.validate()?;
            let m = crate::match_documents(&mut prep, &run, banding, &NoProgress, cancel)?;
            let groups: Vec<Vec<String>> = m
                .clusters
                .iter()
                .map(|cl| {
                    cl.members
                        .iter()
                        .map(|mm| {
                            prep.corpus
                                .id(&prep.corpus.docs[mm.doc.0 as usize])
                                .into_owned()
                        })
                        .collect()
                })
                .collect();
            rows.push(TuneRow {
                threshold: t,
                containment: c,
                bands: banding.bands,
                rows: banding.rows,
                candidate_pairs: m.verify.candidate_pairs,
                clusters: m.clusters.len() as u64,
                eval: evaluate_groups(truth, &groups),
            });
        }
    }
    let recommended = (0..rows.len())
        .max_by(|&a, &b| {
            let (x, y) = (&rows[a], &rows[b]);
            x.eval
                .f1
                .total_cmp(&y.eval.f1)
                .then(x.eval.precision.total_cmp(&y.eval.precision))
                .then(x.threshold.total_cmp(&y.threshold))
        })
        .unwrap_or(0);
    let (curve, ccurve) = match rows.get(recommended) {
        Some(r) => {
            let mut best = cfg.clone();
            best.threshold = r.threshold;
            best.containment = r.containment;
            (
                s_curve(Some(Banding {
                    bands: r.bands,
                    rows: r.rows,
                })),
                s_curve(best.containment_banding()),
            )
        }
        None => (Vec::new(), Vec::new()),
    };
    Ok(TuneReport {
        rows,
        recommended,
        s_curve: curve,
        containment_s_curve: ccurve,
    })
}
