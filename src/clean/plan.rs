//! What `clean` does to each document: drop it (covered by its cluster's kept document) or
//! strip lines by [`StripRule`]; built from a scan's clusters or read back from a scan directory.

use std::collections::HashMap;
use std::path::Path;

use crate::boilerplate::{FlaggedLine, Reason};
use crate::cluster::Cluster;
use crate::error::{ConfigError, Error, Result};
use crate::input::Corpus;
use crate::normalize::{Profile, normalize_to_string};
use crate::verify::Score;

/// Why a document is dropped: the kept document that covers it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Dropped {
    pub duplicate_of: u32,
    pub cluster: u32,
    /// Score of (kept, dropped).
    pub score: Score,
}

/// Where a flagged line may be stripped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum StripRule {
    /// A navigation or sharing line of the built-in lexicon, or a hashtag line: furniture
    /// wherever it is.
    Anywhere,
    /// Printed over and over in one page (a site name, a title): stripped wherever it is in a
    /// document that has it in its top block (a refrain repeated in a poem is not).
    Title,
    /// Both a title and a template line: as [`StripRule::Title`], and as [`StripRule::Edge`].
    TitleEdge,
    /// A template or common line: stripped in the top or bottom block of a document (or
    /// anywhere with `--strip-inner`).
    Edge,
    /// Never stripped: a flagged line with a number in it (data: a date, a price, a table
    /// row), or a sentence (four words or more, ending with `.`, `!` or `?`) that no outlet
    /// prints as its template (a formula such as "Terms were not disclosed.").
    Never,
}

/// Lines above which a document is not a page (a book, a dump, a transcript): it has no top or
/// bottom block of furniture and no repeated title to strip, only lexicon and hashtag lines. A
/// news or web article is a few dozen lines (saudinewsnet: 99 % at most 39); a book opens with
/// a heading or a formula that is its text.
pub(crate) const MAX_PAGE_LINES: usize = 300;

/// Words from which a flagged line ending with sentence punctuation is a sentence, not furniture.
pub(super) const SENTENCE_WORDS: usize = 4;

impl StripRule {
    /// The rule for a flagged line with these reasons, this text (as first seen) and this
    /// normalised text.
    pub fn of(
        reasons: impl IntoIterator<Item = Reason>,
        text: &str,
        normalized: &str,
        outlet: bool,
    ) -> StripRule {
        let reasons: Vec<Reason> = reasons.into_iter().collect();
        let t = text.trim();
        let outlet_template = outlet && reasons.contains(&Reason::Template);
        let sentence = !outlet_template
            && t.ends_with(['.', '!', '?', '؟'])
            && !t.ends_with("..")
            && t.split_whitespace().count() >= SENTENCE_WORDS;
        if reasons
            .iter()
            .any(|r| matches!(r, Reason::Known | Reason::Hashtags))
        {
            StripRule::Anywhere
        } else if sentence || normalized.bytes().any(|b| b.is_ascii_digit()) {
            StripRule::Never
        } else if reasons.contains(&Reason::Repeated) {
            if reasons
                .iter()
                .any(|r| matches!(r, Reason::Template | Reason::Common))
            {
                StripRule::TitleEdge
            } else {
                StripRule::Title
            }
        } else {
            StripRule::Edge
        }
    }
}

/// Which documents to drop and which lines to strip.
#[derive(Clone, Debug, Default)]
pub(crate) struct CleanPlan {
    /// Per document: `Some` when it is dropped as a duplicate.
    pub drop: Vec<Option<Dropped>>,
    /// Flagged line hashes with their rule, sorted by hash.
    pub strip: Vec<(u64, StripRule)>,
}

impl CleanPlan {
    /// The plan a scan implies: members marked `drop` go, boilerplate lines by their rule.
    pub fn from_clusters(
        corpus: &Corpus,
        clusters: &[Cluster],
        boilerplate: &[FlaggedLine],
        profile: Profile,
    ) -> Self {
        let mut drop = vec![None; corpus.docs.len()];
        for c in clusters {
            let keep = c.keep().0;
            for m in c.members[1..].iter().filter(|m| m.drop) {
                drop[m.doc.0 as usize] = Some(Dropped {
                    duplicate_of: keep,
                    cluster: c.id.0,
                    score: m.score,
                });
            }
        }
        let mut strip: Vec<(u64, StripRule)> = boilerplate
            .iter()
            .map(|f| {
                let normalized = normalize_to_string(&f.text, profile);
                let outlet = f
                    .outlets
                    .iter()
                    .any(|&(src, _)| corpus.outlet_known[src as usize]);
                (
                    f.hash,
                    StripRule::of(f.reasons(), &f.text, &normalized, outlet),
                )
            })
            .collect();
        strip.sort_unstable();
        strip.dedup_by_key(|x| x.0);
        CleanPlan { drop, strip }
    }
}

/// The plan an earlier scan wrote into `dir` (`clusters.jsonl`, `boilerplate.jsonl`), after
/// checking that its `summary.json` describes the same inputs (`fingerprint`) and options
/// (`options`, `boilerplate`) as this run.
pub(crate) fn plan_from_dir(
    dir: &Path,
    corpus: &Corpus,
    fingerprint: &str,
    options: &serde_json::Value,
    boilerplate: &serde_json::Value,
) -> Result<CleanPlan> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|source| Error::Io { path, source })
    };
    let bad = |file: &'static str, reason: String| {
        Error::Config(ConfigError::From {
            dir: dir.to_path_buf(),
            file,
            reason,
        })
    };
    let summary: serde_json::Value = serde_json::from_str(&read(crate::report::SUMMARY_FILE)?)
        .map_err(|e| bad(crate::report::SUMMARY_FILE, e.to_string()))?;
    // A clean's report directory: its summary holds the scan's.
    let summary = match summary.get("scan") {
        Some(scan) if scan.is_object() => scan.clone(),
        _ => summary,
    };
    // The three files are one run's: the summary, written last, names the others' hashes.
    let Some(outputs) = summary["outputs"].as_object() else {
        return Err(bad(
            crate::report::SUMMARY_FILE,
            "lists no outputs (written by an older neardup); run without --from".into(),
        ));
    };
    for name in [
        crate::report::CLUSTERS_FILE,
        crate::report::BOILERPLATE_FILE,
    ] {
        let want: Option<crate::report::OutputFile> = outputs
            .get(name)
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        let got = crate::report::OutputFile::of(&dir.join(name)).ok();
        if want.is_none() || want != got {
            return Err(bad(
                name,
                format!(
                    "not the file summary.json (run {}) describes: the directory mixes two runs' outputs; run the scan again",
                    summary["run_id"].as_str().unwrap_or("?")
                ),
            ));
        }
    }
    if summary["inputs"]["fingerprint"].as_str() != Some(fingerprint) {
        return Err(bad(
            crate::report::SUMMARY_FILE,
            "made from different inputs (fingerprint differs); run without --from".into(),
        ));
    }
    let mut differences = Vec::new();
    for (key, want) in [("options", options), ("boilerplate", boilerplate)] {
        let got = &summary[key];
        if let (Some(g), Some(w)) = (got.as_object(), want.as_object()) {
            for (k, v) in w {
                // Counts in the boilerplate section describe results, not options.
                if key == "boilerplate"
                    && !matches!(
                        k.as_str(),
                        "enabled" | "min_docs" | "lexicon" | "excluded_from_shingles"
                    )
                {
                    continue;
                }
                let was = g.get(k).unwrap_or(&serde_json::Value::Null);
                if was != v {
                    differences.push(format!("{key}.{k} was {was}, now {v}"));
                }
            }
        }
    }
    if !differences.is_empty() {
        return Err(bad(
            crate::report::SUMMARY_FILE,
            format!(
                "made with other options ({}); run without --from",
                differences.join(", ")
            ),
        ));
    }
    let mut by_place: HashMap<(&str, u32), u32> = HashMap::with_capacity(corpus.docs.len());
    for (i, d) in corpus.docs.iter().enumerate() {
        by_place.insert((corpus.path_of(d), d.line), i as u32);
    }
    // Where the scan's files were (its summary lists the first 1,000 with canonical paths).
    let old_canonical: HashMap<&str, &str> = summary["inputs"]["list"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|f| Some((f["path"].as_str()?, f["canonical"].as_str()?)))
                .collect()
        })
        .unwrap_or_default();
    let by_canonical: HashMap<std::path::PathBuf, &str> = corpus
        .files
        .iter()
        .filter_map(|f| Some((std::fs::canonicalize(&f.path).ok()?, f.path.as_str())))
        .collect();
    let mut plan = CleanPlan {
        drop: vec![None; corpus.docs.len()],
        strip: Vec::new(),
    };
    for (n, line) in read(crate::report::CLUSTERS_FILE)?.lines().enumerate() {
        let c: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| bad(crate::report::CLUSTERS_FILE, format!("line {}: {e}", n + 1)))?;
        let place = |m: &serde_json::Value| -> Result<u32> {
            let src = m["source"].as_str().unwrap_or("");
            let l = m["line"].as_u64().unwrap_or(0) as u32;
            // The scan may have named a file another way (relative, absolute): its canonical
            // path finds it.
            let found = by_place.get(&(src, l)).copied().or_else(|| {
                let canon = match old_canonical.get(src) {
                    Some(c) => std::path::PathBuf::from(c),
                    None => std::fs::canonicalize(src).ok()?,
                };
                let display = by_canonical.get(&canon)?;
                by_place.get(&(*display, l)).copied()
            });
            found.ok_or_else(|| {
                bad(
                    crate::report::CLUSTERS_FILE,
                    format!("line {}: no document {src}:{l} in this input", n + 1),
                )
            })
        };
        let members = c["members"].as_array().cloned().unwrap_or_default();
        let Some(keep) = members.first() else {
            continue;
        };
        let keep = place(keep)?;
        for m in &members[1..] {
            let Some(drop) = m["drop"].as_bool() else {
                return Err(bad(
                    crate::report::CLUSTERS_FILE,
                    format!(
                        "line {}: members have no \"drop\" field (written by an older neardup); \
                         run without --from",
                        n + 1
                    ),
                ));
            };
            if !drop {
                continue;
            }
            let f = |k: &str| m[k].as_f64().unwrap_or(0.0);
            plan.drop[place(m)? as usize] = Some(Dropped {
                duplicate_of: keep,
                cluster: c["cluster"].as_u64().unwrap_or(0) as u32,
                score: Score {
                    jaccard: f("jaccard"),
                    a_in_b: f("keep_in"),
                    b_in_a: f("in_keep"),
                    ..Score::NONE
                },
            });
        }
    }
    let outlets: HashMap<&str, bool> = corpus
        .outlets
        .iter()
        .map(String::as_str)
        .zip(corpus.outlet_known.iter().copied())
        .collect();
    for (n, line) in read(crate::report::BOILERPLATE_FILE)?.lines().enumerate() {
        let b: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            bad(
                crate::report::BOILERPLATE_FILE,
                format!("line {}: {e}", n + 1),
            )
        })?;
        let h = b["hash"]
            .as_str()
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .ok_or_else(|| {
                bad(
                    crate::report::BOILERPLATE_FILE,
                    format!("line {}: no hash", n + 1),
                )
            })?;
        let reasons = b["reasons"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .filter_map(|r| {
                        Reason::ALL
                            .into_iter()
                            .find(|x| Some(x.as_str()) == r.as_str())
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let text = b["text"].as_str().unwrap_or("");
        let normalized = b["normalized"].as_str().unwrap_or("");
        let outlet = b["sources"].as_array().is_some_and(|ss| {
            ss.iter().any(|x| {
                let name = x["source"].as_str().unwrap_or("");
                outlets.get(name).copied().unwrap_or(false)
            })
        });
        plan.strip
            .push((h, StripRule::of(reasons, text, normalized, outlet)));
    }
    plan.strip.sort_unstable();
    plan.strip.dedup_by_key(|x| x.0);
    Ok(plan)
}
