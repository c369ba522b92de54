//! `neardup report DIR`: one self-contained static page (`DIR/report.html`) to look at a scan
//! or a clean before trusting it.
//!
//! The page needs no network (styles, script and data are inline) and opens from file://. It
//! shows the summary figures, a histogram of the members' similarities to their kept document,
//! the clusters largest first (50 to a page; a cluster opens to its members side by side with
//! the kept document, the passages they share highlighted, each member's scores and why it
//! matched), the boilerplate lines by outlet, and for a clean's report directory what was
//! dropped and stripped. Member texts come from the inputs, read again with the options the
//! summary recorded; inputs that changed since are refused.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use serde::Serialize;
use serde_json::Value;

use crate::config::{FormatChoice, Profile, ScanConfig};
use crate::error::{ConfigError, DataError, Error, Result};
use crate::normalize::normalize_to_string;
use crate::report::{BOILERPLATE_FILE, CLUSTERS_FILE, SUMMARY_FILE};

/// The report's file name inside the directory.
pub const REPORT_FILE: &str = "report.html";
/// Characters of a member's text put in the page at most.
pub const MAX_TEXT_CHARS: usize = 20_000;
/// Audit entries of a clean put in the page at most (all are counted).
pub const MAX_AUDIT: usize = 2_000;
/// Shared passages are runs of this many words in both texts.
const SHARED_WORDS: usize = 5;

#[derive(Serialize)]
struct MemberData {
    id: String,
    source: String,
    line: Option<u64>,
    jaccard: f64,
    containment: f64,
    in_keep: f64,
    keep_in: f64,
    matched: String,
    drop: bool,
    /// Text (possibly cut at [`MAX_TEXT_CHARS`]), `None` if not found in the inputs.
    text: Option<String>,
    /// Shared passages in this member's text, and in the kept document's, as UTF-16 ranges.
    shared: Vec<(u32, u32)>,
    keep_shared: Vec<(u32, u32)>,
}

#[derive(Serialize)]
struct ClusterData {
    cluster: u64,
    kind: String,
    members: Vec<MemberData>,
}

#[derive(Serialize)]
struct PageData {
    summary: Value,
    clean: Option<Value>,
    clusters: Vec<ClusterData>,
    boilerplate: Vec<Value>,
    audit: Vec<Value>,
    audit_counts: HashMap<String, u64>,
}

/// What was written.
#[derive(Debug, Serialize)]
pub struct ReportStats {
    pub path: PathBuf,
    pub clusters: u64,
    pub bytes: u64,
}

/// The JSON values of a JSON Lines file (one reader for every JSON Lines artefact).
fn read_json_lines(path: &Path) -> Result<Vec<Value>> {
    Ok(crate::eval::read_lines(path)?
        .into_iter()
        .map(|(_, v)| v)
        .collect())
}

/// The scan options that decide how inputs are read, as the summary recorded them.
fn input_config(summary: &Value) -> Result<ScanConfig> {
    let args: Vec<PathBuf> = summary["inputs"]["arguments"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str())
                .map(PathBuf::from)
                .collect()
        })
        .unwrap_or_default();
    if args.is_empty() {
        return Err(ConfigError::From {
            dir: PathBuf::new(),
            file: SUMMARY_FILE,
            reason: "names no inputs (written by an older neardup); scan again".into(),
        }
        .into());
    }
    let o = &summary["options"];
    let mut cfg = ScanConfig::new(args);
    let s = |k: &str| o[k].as_str().map(str::to_string);
    if let Some(v) = s("text_field") {
        cfg.input.text_field = v;
    }
    if let Some(v) = s("id_field") {
        cfg.input.id_field = v;
    }
    cfg.input.source_field = s("source_field");
    cfg.input.hidden = o["hidden"].as_bool().unwrap_or(false);
    if let Some(m) = o["max_document_size"].as_u64() {
        cfg.input.max_document_size = m;
    }
    cfg.input.format = match o["format"].as_str() {
        Some("text") => FormatChoice::Text,
        Some("jsonl") => FormatChoice::Jsonl,
        Some("html") => FormatChoice::Html,
        _ => FormatChoice::Auto,
    };
    cfg.profile = match o["normalization"].as_str() {
        Some("none") => Profile::None,
        _ => Profile::Full,
    };
    Ok(cfg)
}

/// Word spans of `text` with their normalised forms: (start, end) in UTF-16 units.
fn words(text: &str, profile: Profile) -> Vec<(u32, u32, u64)> {
    let mut out = Vec::new();
    let mut u16_at = 0u32;
    let mut start: Option<(usize, u32)> = None;
    let push = |s: usize, e: usize, su: u32, eu: u32, out: &mut Vec<(u32, u32, u64)>| {
        let norm = normalize_to_string(&text[s..e], profile);
        if !norm.is_empty() {
            out.push((su, eu, xxhash_rust::xxh3::xxh3_64(norm.as_bytes())));
        }
    };
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if let Some((s, su)) = start.take() {
                push(s, i, su, u16_at, &mut out);
            }
        } else if start.is_none() {
            start = Some((i, u16_at));
        }
        u16_at += c.len_utf16() as u32;
    }
    if let Some((s, su)) = start {
        push(s, text.len(), su, u16_at, &mut out);
    }
    out
}

/// The ranges of `a` in runs of [`SHARED_WORDS`] words that also occur in `b`.
fn shared_ranges(a: &[(u32, u32, u64)], b: &[(u32, u32, u64)]) -> Vec<(u32, u32)> {
    let gram = |w: &[(u32, u32, u64)]| {
        w.iter().fold(0u64, |h, x| {
            h.rotate_left(13) ^ x.2.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        })
    };
    if a.len() < SHARED_WORDS || b.len() < SHARED_WORDS {
        return Vec::new();
    }
    let mut in_b: Vec<u64> = b.windows(SHARED_WORDS).map(gram).collect();
    in_b.sort_unstable();
    let mut mark = vec![false; a.len()];
    for (i, w) in a.windows(SHARED_WORDS).enumerate() {
        if in_b.binary_search(&gram(w)).is_ok() {
            mark[i..i + SHARED_WORDS].iter_mut().for_each(|m| *m = true);
        }
    }
    let mut out: Vec<(u32, u32)> = Vec::new();
    for (i, &m) in mark.iter().enumerate() {
        if !m {
            continue;
        }
        match out.last_mut() {
            Some(last) if i > 0 && mark[i - 1] => last.1 = a[i].1,
            _ => out.push((a[i].0, a[i].1)),
        }
    }
    out
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_TEXT_CHARS) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// Write `dir/report.html` for the scan (or clean report) in `dir`.
pub fn write(dir: &Path, cancel: &AtomicBool) -> Result<ReportStats> {
    let top: Value =
        serde_json::from_slice(&std::fs::read(dir.join(SUMMARY_FILE)).map_err(|source| {
            Error::Io {
                path: dir.join(SUMMARY_FILE),
                source,
            }
        })?)
        .map_err(|e| {
            Error::Data(DataError {
                path: dir.join(SUMMARY_FILE),
                line: 1,
                message: e.to_string(),
            })
        })?;
    // A clean's report directory: its summary holds the scan's.
    let (summary, clean) = match top.get("scan") {
        Some(scan) if scan.is_object() => (scan.clone(), Some(top.clone())),
        _ => (top, None),
    };
    let cfg = input_config(&summary)?.validate()?;
    let corpus = crate::input::load(&cfg.input);
    let fingerprint = crate::report::InputsOut::new(&corpus).fingerprint;
    if summary["inputs"]["fingerprint"].as_str() != Some(fingerprint.as_str()) {
        return Err(ConfigError::From {
            dir: dir.to_path_buf(),
            file: SUMMARY_FILE,
            reason: "the inputs changed since this scan (fingerprint differs); scan again".into(),
        }
        .into());
    }
    let mut by_place: HashMap<(&str, u32), usize> = HashMap::new();
    for (i, d) in corpus.documents().iter().enumerate() {
        by_place.insert((corpus.path_of(d), d.line), i);
    }
    let text_of = |m: &Value| -> Option<String> {
        let src = m["source"].as_str()?;
        let line = m["line"].as_u64().unwrap_or(0) as u32;
        let d = *by_place.get(&(src, line))?;
        let mut buf = String::new();
        Some(corpus.text(&corpus.documents()[d], &mut buf).to_string())
    };
    let mut clusters = Vec::new();
    for c in read_json_lines(&dir.join(CLUSTERS_FILE))? {
        if cancel.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
        let members = c["members"].as_array().cloned().unwrap_or_default();
        let keep_text = members.first().and_then(&text_of);
        let keep_words = keep_text
            .as_deref()
            .map(|t| words(t, cfg.profile))
            .unwrap_or_default();
        let mut out = Vec::with_capacity(members.len());
        for (k, m) in members.iter().enumerate() {
            let text = if k == 0 {
                keep_text.clone()
            } else {
                text_of(m)
            };
            let (shared, keep_shared) = match (&text, k) {
                (Some(t), k) if k > 0 => {
                    let w = words(t, cfg.profile);
                    (
                        shared_ranges(&w, &keep_words),
                        shared_ranges(&keep_words, &w),
                    )
                }
                _ => (Vec::new(), Vec::new()),
            };
            let f = |key: &str| m[key].as_f64().unwrap_or(0.0);
            out.push(MemberData {
                id: m["id"]
                    .as_str()
                    .map_or_else(|| m["id"].to_string(), str::to_string),
                source: m["source"].as_str().unwrap_or("").to_string(),
                line: m["line"].as_u64(),
                jaccard: f("jaccard"),
                containment: f("containment"),
                in_keep: f("in_keep"),
                keep_in: f("keep_in"),
                matched: m["matched"].as_str().unwrap_or("").to_string(),
                drop: m["drop"].as_bool().unwrap_or(false),
                text: text.as_deref().map(cut),
                shared,
                keep_shared,
            });
        }
        clusters.push(ClusterData {
            cluster: c["cluster"].as_u64().unwrap_or(0),
            kind: c["kind"].as_str().unwrap_or("").to_string(),
            members: out,
        });
    }
    // Largest first; ties in cluster order.
    clusters.sort_by(|a, b| {
        b.members
            .len()
            .cmp(&a.members.len())
            .then(a.cluster.cmp(&b.cluster))
    });
    let boilerplate = read_json_lines(&dir.join(BOILERPLATE_FILE)).unwrap_or_default();
    let (mut audit, mut audit_counts) = (Vec::new(), HashMap::new());
    let removed = dir.join(crate::clean::REMOVED_FILE);
    if removed.exists() {
        for a in read_json_lines(&removed)? {
            let kind = a["type"].as_str().unwrap_or("").to_string();
            *audit_counts.entry(kind).or_insert(0u64) += 1;
            if audit.len() < MAX_AUDIT {
                audit.push(a);
            }
        }
    }
    let n = clusters.len() as u64;
    let data = PageData {
        summary,
        clean,
        clusters,
        boilerplate,
        audit,
        audit_counts,
    };
    // Inside a <script> element: `</` must not appear (it could close it).
    let json = serde_json::to_string(&data)
        .expect("serialises")
        .replace("</", "<\\/");
    let html = TEMPLATE.replace("/*DATA*/null", &json);
    let path = dir.join(REPORT_FILE);
    crate::report::atomic_write(&path, |w| {
        use std::io::Write;
        w.write_all(html.as_bytes())
    })?;
    Ok(ReportStats {
        path,
        clusters: n,
        bytes: html.len() as u64,
    })
}

const TEMPLATE: &str = include_str!("html_report.html");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_passages_are_runs_of_five_words_in_utf16_units() {
        let a = "Ｘ one two three four five six seven end";
        let b = "start one two three four five six other";
        let (wa, wb) = (words(a, Profile::Full), words(b, Profile::Full));
        let r = shared_ranges(&wa, &wb);
        // "one … six" in a: after the full-width X (1 UTF-16 unit) and a space.
        assert_eq!(r, vec![(2, 2 + "one two three four five six".len() as u32)]);
        assert!(shared_ranges(&wa, &words("nothing alike here at all", Profile::Full)).is_empty());
        // Arabic, with a diacritic on one side: still shared after normalisation.
        let x = "قال الوزير إن المشروع سيبدأ العام المقبل";
        let y = "وقال الوزيرُ إن المشروع سيبدأ العام المقبل";
        assert!(!shared_ranges(&words(x, Profile::Full), &words(y, Profile::Full)).is_empty());
    }
}
