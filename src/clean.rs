//! `clean`: write a deduplicated corpus with boilerplate lines removed, in the shape of the input.
//!
//! * JSON Lines in → JSON Lines out: a kept record is written as it was, byte for byte, except
//!   that the text field's value is replaced when lines were stripped from it; dropped
//!   duplicates and records that could not be read are left out (and audited).
//! * A tree of text files → the same tree under the output directory.
//! * `.gz` / `.zst` in → `.gz` / `.zst` out.
//!
//! Every output file is written atomically. Nothing is dropped without a line in the audit trail
//! (`.neardup/removed.jsonl`): duplicates (with the document they duplicate, similarity and
//! cluster), stripped lines (document, line number, text) and skipped records (reason). The
//! summary accounts for every document: `read = kept + dropped + skipped`.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use serde::Serialize;

use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::input::{Compression, Corpus, Format, InputFile, TextRef};
use crate::normalize::{Normalizer, Profile};
use crate::progress::{Progress, Stage};
use crate::report::{atomic_write, round4};
use crate::shingle::LineTokens;

/// Where `clean` puts its reports inside the output directory (hidden, so a later scan of the
/// output never reads them as corpus).
pub const REPORT_DIR: &str = ".neardup";
pub const REMOVED_FILE: &str = "removed.jsonl";
pub const CLEAN_SUMMARY_FILE: &str = "summary.json";

/// What `clean` does.
#[derive(Clone, Debug)]
pub struct CleanConfig {
    pub out: PathBuf,
    /// Drop duplicates (keep each cluster's representative).
    pub dedup: bool,
    /// Strip boilerplate lines.
    pub strip: bool,
    /// Write only the report.
    pub dry_run: bool,
}

/// Why a document is dropped.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropped {
    pub duplicate_of: u32,
    pub cluster: u32,
    pub similarity: f64,
}

/// Which documents to drop and which lines to strip.
#[derive(Clone, Debug, Default)]
pub struct CleanPlan {
    /// Per document: `Some` when it is dropped as a duplicate.
    pub drop: Vec<Option<Dropped>>,
    /// Hashes of boilerplate lines to strip, sorted.
    pub strip: Vec<u64>,
}

impl CleanPlan {
    /// The plan a scan implies.
    pub fn from_clusters(n_docs: usize, clusters: &[Cluster], boilerplate: &[u64]) -> Self {
        let mut drop = vec![None; n_docs];
        for c in clusters {
            let keep = c.keep().0;
            for m in &c.members[1..] {
                drop[m.doc.0 as usize] = Some(Dropped {
                    duplicate_of: keep,
                    cluster: c.id.0,
                    similarity: m.score.jaccard,
                });
            }
        }
        CleanPlan {
            drop,
            strip: boilerplate.to_vec(),
        }
    }
}

/// The plan an earlier scan wrote into `dir` (`clusters.jsonl`, `boilerplate.jsonl`), after
/// checking that its `summary.json` describes the same inputs (`fingerprint`) and options
/// (`options`, `boilerplate`) as this run.
pub fn plan_from_dir(
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
    let bad = |name: &str, what: String| {
        Error::Config(format!("--from {}: {name}: {what}", dir.display()))
    };
    let summary: serde_json::Value = serde_json::from_str(&read(crate::report::SUMMARY_FILE)?)
        .map_err(|e| bad(crate::report::SUMMARY_FILE, e.to_string()))?;
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
        by_place.insert((corpus.source(d), d.line), i as u32);
    }
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
            by_place.get(&(src, l)).copied().ok_or_else(|| {
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
            plan.drop[place(m)? as usize] = Some(Dropped {
                duplicate_of: keep,
                cluster: c["cluster"].as_u64().unwrap_or(0) as u32,
                similarity: m["similarity"].as_f64().unwrap_or(0.0),
            });
        }
    }
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
        plan.strip.push(h);
    }
    plan.strip.sort_unstable();
    plan.strip.dedup();
    Ok(plan)
}

/// Counts of a clean run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CleanCounts {
    /// Documents read (including records that could not be used).
    pub read: u64,
    pub kept: u64,
    pub dropped_duplicates: u64,
    pub skipped: u64,
    /// Boilerplate lines removed from kept documents.
    pub lines_stripped: u64,
    /// Kept documents that lost at least one line.
    pub documents_stripped: u64,
    pub files_written: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// Path of an input file inside the output directory.
pub fn output_rel_path(file: &InputFile) -> PathBuf {
    if file.path == "-" {
        return PathBuf::from("stdin.jsonl");
    }
    if file.from_dir {
        PathBuf::from(&file.id_base)
    } else {
        Path::new(&file.path)
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(&file.id_base))
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Audit<'a> {
    Duplicate {
        id: &'a str,
        source: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<u32>,
        duplicate_of: &'a str,
        cluster: u32,
        similarity: f64,
    },
    Boilerplate {
        id: &'a str,
        source: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<u32>,
        /// 1-based line within the document text.
        text_line: u32,
        text: &'a str,
    },
    Skipped {
        source: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<u64>,
        reason: &'static str,
        message: &'a str,
    },
}

/// Per-thread state: a normaliser and a line buffer to hash lines.
struct Stripper {
    normalizer: Normalizer,
    line: LineTokens,
    buf: String,
}

impl Stripper {
    /// Remove lines whose normalised hash is in `strip`; returns the cleaned text (None when
    /// nothing was removed) and appends `(line number, raw line)` of each removed line.
    fn strip(
        &mut self,
        text: &str,
        strip: &[u64],
        removed: &mut Vec<(u32, String)>,
    ) -> Option<String> {
        if strip.is_empty() {
            return None;
        }
        let mut out: Option<String> = None;
        let mut kept_upto = 0; // byte offset in `text` up to which lines are kept verbatim
        let mut pos = 0;
        for (i, raw) in text.split('\n').enumerate() {
            let start = pos;
            pos += raw.len() + 1;
            self.line.clear();
            self.normalizer.run_line(raw, &mut self.line);
            if self.line.is_empty() || strip.binary_search(&self.line.line_hash()).is_err() {
                continue;
            }
            removed.push(((i + 1) as u32, raw.trim_end_matches('\r').to_string()));
            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
            o.push_str(&text[kept_upto..start]);
            kept_upto = pos.min(text.len());
        }
        let mut o = out?;
        if kept_upto < text.len() {
            o.push_str(&text[kept_upto..]);
        } else if o.ends_with('\n') && !text.ends_with('\n') {
            // The last line was removed: drop the newline that separated it.
            o.pop();
        }
        Some(collapse_blank_lines(&o))
    }
}

/// In a document that lost lines: no blank lines at the start, and runs of blank lines (what the
/// removed lines leave behind) collapsed to one.
fn collapse_blank_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = true; // at the start, drop blank lines entirely
    for (i, line) in text.split('\n').enumerate() {
        let blank = line.trim().is_empty();
        if blank && blank_run {
            continue;
        }
        if i > 0 && !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
        blank_run = blank;
    }
    if text.ends_with('\n') && !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// What one input file produced.
#[derive(Default)]
struct FileResult {
    audit: Vec<u8>,
    counts: CleanCounts,
}

fn write_audit(buf: &mut Vec<u8>, a: &Audit) {
    // Serialising our own plain structs cannot fail.
    let _ = serde_json::to_writer(&mut *buf, a);
    buf.push(b'\n');
}

/// Write the cleaned corpus and the report. Returns the counts.
pub fn run(
    corpus: &Corpus,
    plan: &CleanPlan,
    cfg: &CleanConfig,
    profile: Profile,
    seed: u64,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<CleanCounts> {
    // Refuse two inputs that would land on the same output path.
    let mut seen: HashMap<PathBuf, &str> = HashMap::new();
    for f in &corpus.files {
        let rel = output_rel_path(f);
        if let Some(other) = seen.insert(rel.clone(), &f.path) {
            return Err(Error::Config(format!(
                "{} and {} would both be written to {}",
                other,
                f.path,
                cfg.out.join(rel).display()
            )));
        }
    }
    // Documents of each file are contiguous, in line order.
    let mut first_doc = vec![0usize; corpus.files.len() + 1];
    for d in &corpus.docs {
        first_doc[d.file as usize + 1] += 1;
    }
    for i in 0..corpus.files.len() {
        first_doc[i + 1] += first_doc[i];
    }
    // Problems that skipped a record, per file path.
    let mut skipped_by_file: HashMap<&str, Vec<&crate::error::Problem>> = HashMap::new();
    for p in &corpus.problems {
        if p.kind.skips_document() {
            skipped_by_file.entry(p.path.as_str()).or_default().push(p);
        }
    }
    let strip: &[u64] = if cfg.strip { &plan.strip } else { &[] };
    progress.begin(Stage::Write, corpus.files.len() as u64);
    let results: Vec<FileResult> = (0..corpus.files.len())
        .into_par_iter()
        .map_init(
            || Stripper {
                normalizer: Normalizer::new(profile),
                line: LineTokens::new(seed, false),
                buf: String::new(),
            },
            |st, fi| {
                if cancel.load(Ordering::Relaxed) {
                    return Err(Error::Interrupted);
                }
                let r = clean_file(
                    corpus,
                    fi,
                    first_doc[fi]..first_doc[fi + 1],
                    plan,
                    strip,
                    cfg,
                    st,
                    skipped_by_file.get(corpus.files[fi].path.as_str()),
                );
                progress.advance(1);
                r
            },
        )
        .collect::<Result<_>>()?;
    progress.end();
    let mut counts = CleanCounts::default();
    let mut audit = Vec::new();
    // Whole files that could not be read, and problems not tied to a loaded file.
    for p in &corpus.problems {
        if p.kind.skips_document() && !corpus.files.iter().any(|f| f.path == p.path) {
            write_audit(
                &mut audit,
                &Audit::Skipped {
                    source: &p.path,
                    line: p.line,
                    reason: p.kind.as_str(),
                    message: &p.message,
                },
            );
        }
    }
    for r in results {
        audit.extend_from_slice(&r.audit);
        let c = r.counts;
        counts.kept += c.kept;
        counts.dropped_duplicates += c.dropped_duplicates;
        counts.lines_stripped += c.lines_stripped;
        counts.documents_stripped += c.documents_stripped;
        counts.files_written += c.files_written;
        counts.bytes_in += c.bytes_in;
        counts.bytes_out += c.bytes_out;
    }
    // Every document is accounted for: the corpus counted the skipped ones as it read.
    counts.skipped = corpus.skipped_documents;
    counts.read = counts.kept + counts.dropped_duplicates + counts.skipped;
    let report = cfg.out.join(REPORT_DIR);
    std::fs::create_dir_all(&report).map_err(|source| Error::Write {
        path: report.clone(),
        source,
    })?;
    atomic_write(&report.join(REMOVED_FILE), |w| w.write_all(&audit))?;
    Ok(counts)
}

#[allow(clippy::too_many_arguments)]
fn clean_file(
    corpus: &Corpus,
    fi: usize,
    docs: std::ops::Range<usize>,
    plan: &CleanPlan,
    strip: &[u64],
    cfg: &CleanConfig,
    st: &mut Stripper,
    skipped: Option<&Vec<&crate::error::Problem>>,
) -> Result<FileResult> {
    let file = &corpus.files[fi];
    let mut res = FileResult::default();
    res.counts.bytes_in = file.data.len() as u64;
    let mut removed_lines = Vec::new();
    // Decide per document: dropped, or kept with an optional cleaned text.
    let mut cleaned: Vec<Option<String>> = Vec::with_capacity(docs.len());
    let mut dropped: Vec<bool> = Vec::with_capacity(docs.len());
    for d in docs.clone() {
        let doc = &corpus.docs[d];
        let id = corpus.id(doc);
        let line = (doc.line > 0).then_some(doc.line);
        if let (true, Some(dr)) = (cfg.dedup, plan.drop[d]) {
            let keep_id = corpus.id(&corpus.docs[dr.duplicate_of as usize]);
            write_audit(
                &mut res.audit,
                &Audit::Duplicate {
                    id: &id,
                    source: &file.path,
                    line,
                    duplicate_of: &keep_id,
                    cluster: dr.cluster,
                    similarity: round4(dr.similarity),
                },
            );
            res.counts.dropped_duplicates += 1;
            dropped.push(true);
            cleaned.push(None);
            continue;
        }
        res.counts.kept += 1;
        dropped.push(false);
        removed_lines.clear();
        let mut buf = std::mem::take(&mut st.buf);
        let text = corpus.text(doc, &mut buf);
        let c = st.strip(text, strip, &mut removed_lines);
        st.buf = buf;
        if c.is_some() {
            res.counts.documents_stripped += 1;
        }
        for (n, raw) in &removed_lines {
            res.counts.lines_stripped += 1;
            write_audit(
                &mut res.audit,
                &Audit::Boilerplate {
                    id: &id,
                    source: &file.path,
                    line,
                    text_line: *n,
                    text: raw,
                },
            );
        }
        cleaned.push(c);
    }
    if let Some(probs) = skipped {
        for p in probs {
            write_audit(
                &mut res.audit,
                &Audit::Skipped {
                    source: &p.path,
                    line: p.line,
                    reason: p.kind.as_str(),
                    message: &p.message,
                },
            );
        }
    }
    if cfg.dry_run {
        return Ok(res);
    }
    // Build the output bytes.
    let data: &[u8] = &file.data;
    let out_bytes: Option<Vec<u8>> = match file.format {
        Format::Text => {
            if dropped.first().copied().unwrap_or(true) {
                None
            } else {
                Some(match &cleaned[0] {
                    Some(t) => t.clone().into_bytes(),
                    None => data.to_vec(),
                })
            }
        }
        Format::Jsonl => {
            let mut out = Vec::with_capacity(data.len());
            let mut k = 0; // index into this file's docs
            let mut pos = 0;
            let mut line_no = 0u32;
            while pos < data.len() {
                let end = data[pos..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(data.len(), |p| pos + p + 1);
                line_no += 1;
                let line = &data[pos..end];
                let this = pos;
                pos = end;
                let doc_idx = docs.start + k;
                if k < docs.len() && corpus.docs[doc_idx].line == line_no {
                    k += 1;
                    if dropped[k - 1] {
                        continue;
                    }
                    match (&cleaned[k - 1], corpus.docs[doc_idx].text) {
                        (Some(text), TextRef::Json { start, len, .. }) => {
                            let (s, e) =
                                (start as usize - this, start as usize - this + len as usize);
                            // `start..e` is the inside of the JSON string; replace the quotes too.
                            out.extend_from_slice(&line[..s - 1]);
                            out.extend_from_slice(
                                serde_json::to_string(text).unwrap_or_default().as_bytes(),
                            );
                            out.extend_from_slice(&line[e + 1..]);
                        }
                        _ => out.extend_from_slice(line),
                    }
                }
                // Lines that are not documents (blank, skipped records) are not written.
            }
            Some(out)
        }
    };
    if let Some(bytes) = out_bytes {
        let path = cfg.out.join(output_rel_path(file));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| Error::Write {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        res.counts.bytes_out = bytes.len() as u64;
        atomic_write(&path, |w| write_compressed(w, &bytes, file.compression))?;
        res.counts.files_written += 1;
    }
    Ok(res)
}

fn write_compressed(w: &mut impl Write, bytes: &[u8], c: Compression) -> io::Result<()> {
    match c {
        Compression::None => w.write_all(bytes),
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(w, flate2::Compression::default());
            e.write_all(bytes)?;
            e.finish().map(|_| ())
        }
        Compression::Zstd => {
            let mut e = zstd::stream::write::Encoder::new(w, 3)?;
            e.write_all(bytes)?;
            e.finish().map(|_| ())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripper() -> Stripper {
        Stripper {
            normalizer: Normalizer::new(Profile::Full),
            line: LineTokens::new(5, false),
            buf: String::new(),
        }
    }

    fn hash(s: &str) -> u64 {
        let mut l = LineTokens::new(5, false);
        Normalizer::new(Profile::Full).run(s, &mut l);
        l.line_hash()
    }

    #[test]
    fn strip_removes_matching_lines_and_keeps_the_rest_verbatim() {
        let mut st = stripper();
        let mut strip = vec![hash("site name"), hash("share")];
        strip.sort_unstable();
        let mut removed = Vec::new();
        let text = "Site Name:\nFirst  paragraph.\r\n\nSecond paragraph.\nSHARE";
        let out = st.strip(text, &strip, &mut removed).unwrap();
        assert_eq!(out, "First  paragraph.\r\n\nSecond paragraph.");
        assert_eq!(
            removed,
            vec![(1, "Site Name:".to_string()), (5, "SHARE".to_string())]
        );
        assert!(st.strip("nothing to do", &strip, &mut removed).is_none());
    }

    #[test]
    fn removed_lines_leave_no_pile_of_blank_lines() {
        let mut st = stripper();
        let strip = vec![hash("site")];
        let mut removed = Vec::new();
        let out = st.strip(
            "site\n\nsite\n\n\nBody one.\n\nsite\n\nBody two.\n",
            &strip,
            &mut removed,
        );
        assert_eq!(out.unwrap(), "Body one.\n\nBody two.\n");
        assert_eq!(removed.len(), 3);
    }

    #[test]
    fn strip_of_a_middle_line_keeps_the_line_break_structure() {
        let mut st = stripper();
        let strip = vec![hash("ad")];
        let mut removed = Vec::new();
        assert_eq!(
            st.strip("a\nAd\nb\n", &strip, &mut removed).unwrap(),
            "a\nb\n"
        );
    }
}
