//! `eval`: score a `clusters.jsonl` against ground-truth labels.
//!
//! Labels are JSON Lines `{"id": …, "cluster": …}` (any other fields ignored, except an optional
//! category field). Every labelled document not in a predicted cluster is a predicted singleton;
//! predicted documents without a label are ignored (and counted). Pairwise figures are computed
//! from the contingency table of (true cluster × predicted cluster), never by listing pairs:
//!
//! * precision = true pairs predicted / pairs predicted, recall = true pairs predicted / true
//!   pairs, F1 their harmonic mean;
//! * adjusted Rand index (Hubert & Arabie), 1 for identical partitions, about 0 for chance;
//! * with a category field, recall per category over the true pairs that involve a document of
//!   that category.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;

use crate::error::{DataError, Error, Result};

/// The scores of one evaluation.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct EvalResult {
    /// Labelled documents.
    pub documents: u64,
    /// Documents in predicted clusters that have no label (ignored).
    pub unlabelled_predicted: u64,
    /// Documents in predicted clusters that have a label.
    pub labelled_predicted: u64,
    pub true_pairs: u64,
    pub predicted_pairs: u64,
    pub correct_pairs: u64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub adjusted_rand_index: f64,
    /// Recall over the true pairs involving a document of each category.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub recall_by_category: BTreeMap<String, CategoryRecall>,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct CategoryRecall {
    pub true_pairs: u64,
    pub correct_pairs: u64,
    pub recall: f64,
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// The non-blank lines of a JSON Lines file with their 1-based numbers; a malformed line is a
/// [`DataError`] naming the file and line.
pub(crate) fn read_lines(path: &Path) -> Result<Vec<(usize, serde_json::Value)>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map(|v| (i + 1, v)).map_err(|e| {
                Error::Data(DataError {
                    path: path.to_path_buf(),
                    line: i as u64 + 1,
                    message: format!("invalid JSON: {e}"),
                })
            })
        })
        .collect()
}

/// A JSON id or label as a string (numbers as written).
fn key(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Ground truth: a label (and optional category) per document id.
#[derive(Clone, Debug, Default)]
pub struct Truth {
    doc_index: HashMap<String, usize>,
    true_of: Vec<u32>,
    cat_of: Vec<Option<u32>>,
    cat_names: Vec<String>,
}

impl Truth {
    /// Read labels (JSON Lines with "id" and "cluster").
    pub fn load(truth: &Path, category_field: Option<&str>) -> Result<Truth> {
        let mut t = Truth::default();
        let mut true_ids: HashMap<String, u32> = HashMap::new();
        let mut cat_ids: HashMap<String, u32> = HashMap::new();
        for (line, v) in read_lines(truth)? {
            let bad = |what: &str| {
                Error::Data(DataError {
                    path: truth.to_path_buf(),
                    line: line as u64,
                    message: what.to_string(),
                })
            };
            let id = key(&v["id"]).ok_or_else(|| bad("no \"id\""))?;
            let label = key(&v["cluster"]).ok_or_else(|| bad("no \"cluster\""))?;
            if t.doc_index.contains_key(&id) {
                return Err(bad(&format!("id {id} labelled twice")));
            }
            let next = true_ids.len() as u32;
            let label_idx = *true_ids.entry(label).or_insert(next);
            let c = category_field.and_then(|f| key(&v[f])).map(|c| {
                let next = cat_ids.len() as u32;
                *cat_ids.entry(c.clone()).or_insert_with(|| {
                    t.cat_names.push(c);
                    next
                })
            });
            t.doc_index.insert(id, t.true_of.len());
            t.true_of.push(label_idx);
            t.cat_of.push(c);
        }
        Ok(t)
    }

    /// Whether document `id` has a label.
    pub fn contains(&self, id: &str) -> bool {
        self.doc_index.contains_key(id)
    }

    /// Labelled documents.
    pub fn len(&self) -> usize {
        self.true_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.true_of.is_empty()
    }
}

/// Evaluate `clusters` (a `clusters.jsonl`) against `truth` (labels JSON Lines).
pub fn evaluate(truth: &Path, clusters: &Path, category_field: Option<&str>) -> Result<EvalResult> {
    let t = Truth::load(truth, category_field)?;
    let mut groups = Vec::new();
    for (line, v) in read_lines(clusters)? {
        let members = v["members"].as_array().ok_or_else(|| {
            Error::Data(DataError {
                path: clusters.to_path_buf(),
                line: line as u64,
                message: "no \"members\" array".into(),
            })
        })?;
        groups.push(
            members
                .iter()
                .filter_map(|m| key(&m["id"]))
                .collect::<Vec<_>>(),
        );
    }
    let r = evaluate_groups(&t, &groups);
    if r.unlabelled_predicted > 0 && r.labelled_predicted == 0 {
        return Err(Error::NoOverlap(format!(
            "none of the {} documents in {} has a label in {}: check that both use the same ids",
            r.unlabelled_predicted,
            clusters.display(),
            truth.display()
        )));
    }
    Ok(r)
}

/// Evaluate predicted groups of document ids against `truth`.
pub fn evaluate_groups(truth: &Truth, groups: &[Vec<String>]) -> EvalResult {
    let (doc_index, true_of, cat_of, cat_names) = (
        &truth.doc_index,
        &truth.true_of,
        &truth.cat_of,
        &truth.cat_names,
    );
    let n = true_of.len();
    // Prediction: every labelled document starts as its own singleton; predicted clusters are
    // numbered after the singletons.
    let mut pred_of: Vec<u32> = (0..n as u32).collect();
    let (mut unlabelled, mut labelled) = (0u64, 0u64);
    for (p, members) in (n as u32..).zip(groups) {
        for id in members {
            match doc_index.get(id) {
                Some(&d) => {
                    pred_of[d] = p;
                    labelled += 1;
                }
                None => unlabelled += 1,
            }
        }
    }
    // Contingency table and marginals.
    let mut cells: HashMap<(u32, u32), u64> = HashMap::new();
    let mut true_size: HashMap<u32, u64> = HashMap::new();
    let mut pred_size: HashMap<u32, u64> = HashMap::new();
    let mut cells_cat: HashMap<(u32, u32, u32), u64> = HashMap::new();
    let mut true_cat: HashMap<(u32, u32), u64> = HashMap::new();
    for d in 0..n {
        *cells.entry((true_of[d], pred_of[d])).or_default() += 1;
        *true_size.entry(true_of[d]).or_default() += 1;
        *pred_size.entry(pred_of[d]).or_default() += 1;
        if let Some(c) = cat_of[d] {
            *cells_cat.entry((true_of[d], pred_of[d], c)).or_default() += 1;
            *true_cat.entry((true_of[d], c)).or_default() += 1;
        }
    }
    let correct: u64 = cells.values().map(|&k| pairs(k)).sum();
    let t: u64 = true_size.values().map(|&k| pairs(k)).sum();
    let p: u64 = pred_size.values().map(|&k| pairs(k)).sum();
    let precision = ratio(correct, p);
    let recall = ratio(correct, t);
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    let all = pairs(n as u64) as f64;
    let expected = if all > 0.0 {
        t as f64 * p as f64 / all
    } else {
        0.0
    };
    let max = 0.5 * (t as f64 + p as f64);
    let ari = if (max - expected).abs() < f64::EPSILON {
        1.0
    } else {
        (correct as f64 - expected) / (max - expected)
    };
    // Per category: pairs involving a c-document = pairs(size) - pairs(size - k_c).
    let mut by_cat = BTreeMap::new();
    for (ci, name) in cat_names.iter().enumerate() {
        let c = ci as u32;
        let tp: u64 = true_cat
            .iter()
            .filter(|((_, cc), _)| *cc == c)
            .map(|(&(tc, _), &k)| pairs(true_size[&tc]) - pairs(true_size[&tc] - k))
            .sum();
        let found: u64 = cells_cat
            .iter()
            .filter(|((_, _, cc), _)| *cc == c)
            .map(|(&(tc, pc, _), &k)| {
                let cell = cells[&(tc, pc)];
                pairs(cell) - pairs(cell - k)
            })
            .sum();
        by_cat.insert(
            name.clone(),
            CategoryRecall {
                true_pairs: tp,
                correct_pairs: found,
                recall: ratio(found, tp),
            },
        );
    }
    EvalResult {
        documents: n as u64,
        unlabelled_predicted: unlabelled,
        labelled_predicted: labelled,
        true_pairs: t,
        predicted_pairs: p,
        correct_pairs: correct,
        precision,
        recall,
        f1,
        adjusted_rand_index: ari,
        recall_by_category: by_cat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &Path, name: &str, lines: &[&str]) -> std::path::PathBuf {
        let p = dir.join(name);
        let mut f = std::fs::File::create(&p).unwrap();
        for l in lines {
            writeln!(f, "{l}").unwrap();
        }
        p
    }

    #[test]
    fn pairwise_scores_and_ari_on_a_small_example() {
        let dir = tempfile::tempdir().unwrap();
        // Truth: {a,b,c} {d,e} {f}; prediction: {a,b} {c,d} (e, f alone).
        let truth = write(
            dir.path(),
            "t.jsonl",
            &[
                r#"{"id":"a","cluster":1,"category":"orig"}"#,
                r#"{"id":"b","cluster":1,"category":"cut"}"#,
                r#"{"id":"c","cluster":1,"category":"heavy"}"#,
                r#"{"id":"d","cluster":2,"category":"cut"}"#,
                r#"{"id":"e","cluster":2,"category":"orig"}"#,
                r#"{"id":"f","cluster":3,"category":"non"}"#,
            ],
        );
        let pred = write(
            dir.path(),
            "c.jsonl",
            &[
                r#"{"members":[{"id":"a"},{"id":"b"}]}"#,
                r#"{"members":[{"id":"c"},{"id":"d"},{"id":"zz"}]}"#,
            ],
        );
        let r = evaluate(&truth, &pred, Some("category")).unwrap();
        // True pairs: ab ac bc de = 4; predicted: ab cd = 2; correct: ab = 1.
        assert_eq!(
            (r.true_pairs, r.predicted_pairs, r.correct_pairs),
            (4, 2, 1)
        );
        assert_eq!((r.precision, r.recall), (0.5, 0.25));
        assert!((r.f1 - 1.0 / 3.0).abs() < 1e-12);
        // ARI: expected = 4*2/15 = 0.5333; max = 3 -> (1 - 0.5333) / (3 - 0.5333).
        assert!((r.adjusted_rand_index - (1.0 - 8.0 / 15.0) / (3.0 - 8.0 / 15.0)).abs() < 1e-12);
        assert_eq!(r.unlabelled_predicted, 1);
        // cut: pairs ab, bc, de involve a cut doc; only ab was found.
        let cut = &r.recall_by_category["cut"];
        assert_eq!((cut.true_pairs, cut.correct_pairs), (3, 1));
        assert_eq!(r.recall_by_category["non"].true_pairs, 0);
    }

    #[test]
    fn identical_partitions_score_one() {
        let dir = tempfile::tempdir().unwrap();
        let truth = write(
            dir.path(),
            "t.jsonl",
            &[
                r#"{"id":"a","cluster":"x"}"#,
                r#"{"id":"b","cluster":"x"}"#,
                r#"{"id":"c","cluster":"y"}"#,
            ],
        );
        let pred = write(
            dir.path(),
            "c.jsonl",
            &[r#"{"members":[{"id":"b"},{"id":"a"}]}"#],
        );
        let r = evaluate(&truth, &pred, None).unwrap();
        assert_eq!(
            (r.precision, r.recall, r.f1, r.adjusted_rand_index),
            (1.0, 1.0, 1.0, 1.0)
        );
    }

    #[test]
    fn broken_label_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let truth = write(
            dir.path(),
            "t.jsonl",
            &[r#"{"id":"a","cluster":1}"#, "{oops"],
        );
        let pred = write(dir.path(), "c.jsonl", &[]);
        let e = evaluate(&truth, &pred, None).unwrap_err().to_string();
        assert!(e.contains("t.jsonl:2: invalid JSON"), "{e}");
    }
}
