//! Writing the cleaned corpus: one output file per input file (atomically, in its
//! compression) and the audit trail, in parallel over files.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use serde::Serialize;

use crate::config::ScanConfig;
use crate::error::{ConfigError, Error, Result};
use crate::input::{Compression, Corpus, Format, TextRef};
use crate::progress::{Progress, Stage};
use crate::report::{atomic_write, round4};

use super::*;

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Audit<'a> {
    Duplicate {
        id: &'a str,
        source: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<u32>,
        duplicate_of: &'a str,
        cluster: u32,
        /// Jaccard with the kept document (as in earlier versions).
        similarity: f64,
        jaccard: f64,
        /// Share of this document's shingles inside the kept one.
        in_keep: f64,
        /// Share of the kept document's shingles inside this one.
        keep_in: f64,
    },
    Boilerplate {
        id: &'a str,
        source: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<u32>,
        /// 1-based line within the document text.
        text_line: u32,
        text: &'a str,
        /// A blank line removed with the stripped lines next to it.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        blank: bool,
    },
    Skipped {
        source: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        line: Option<u64>,
        reason: &'static str,
        message: &'a str,
    },
}

/// What one input file produced.
#[derive(Default)]
pub(super) struct FileResult {
    audit: Vec<u8>,
    counts: CleanCounts,
    /// Kept pages of an HTML input, as `pages.jsonl` lines.
    pages: Vec<u8>,
}

/// One kept page in `pages.jsonl`: what `clean` writes for HTML input.
#[derive(serde::Serialize)]
struct PageOut<'a> {
    id: &'a str,
    path: &'a str,
    title: &'a str,
    text: &'a str,
}

pub(super) fn write_audit(buf: &mut Vec<u8>, a: &Audit) {
    // Serialising our own plain structs cannot fail.
    let _ = serde_json::to_writer(&mut *buf, a);
    buf.push(b'\n');
}

/// Write the cleaned corpus and the report. Returns the counts.
pub(crate) fn run(
    corpus: &Corpus,
    plan: &CleanPlan,
    cfg: &CleanConfig,
    scan: &ScanConfig,
    skip: Option<&str>,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<CleanCounts> {
    // `skip`: an input read for the run but not written (the indexed documents of
    // `--against`).
    let skipped_file = |fi: usize| skip.is_some_and(|p| corpus.files[fi].path == p);
    // Refuse two inputs that would land on the same output path.
    let mut seen: HashMap<PathBuf, &str> = HashMap::new();
    for f in corpus
        .files
        .iter()
        .filter(|f| skip != Some(f.path.as_str()))
    {
        let rel = output_rel_path(f);
        if let Some(other) = seen.insert(rel.clone(), &f.path) {
            return Err(Error::Config(ConfigError::OutputClash {
                first: other.to_string(),
                second: f.path.clone(),
                output: cfg.out.join(rel),
            }));
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
    let strip: &[(u64, StripRule)] = if cfg.strip { &plan.strip } else { &[] };
    let edges = edge_common_lines(corpus, plan, strip, cfg, scan, cancel)?;
    // By input bytes, advanced as records are processed (one big file moves too).
    progress.begin(Stage::Write, corpus.data_bytes());
    let results: Vec<FileResult> = (0..corpus.files.len())
        .into_par_iter()
        .map_init(
            || Stripper::new(scan.profile, scan.seed),
            |st, fi| {
                if cancel.load(Ordering::Relaxed) {
                    return Err(Error::Interrupted);
                }
                if skipped_file(fi) {
                    return Ok(FileResult::default());
                }
                clean_file(
                    &FileJob {
                        corpus,
                        fi,
                        docs: first_doc[fi]..first_doc[fi + 1],
                        plan,
                        strip,
                        edges: &edges,
                        cfg,
                        text_field: &scan.input.text_field,
                        skipped: skipped_by_file.get(corpus.files[fi].path.as_str()),
                        progress,
                    },
                    st,
                )
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
    let mut pages = Vec::new();
    for r in &results {
        audit.extend_from_slice(&r.audit);
        counts.add(&r.counts);
        pages.extend_from_slice(&r.pages);
    }
    // Pages extracted from HTML, in input order, in one file.
    if corpus.files.iter().any(|f| f.format == Format::Html) && !cfg.dry_run {
        crate::report::write_staged(&cfg.out.join(PAGES_FILE), |w| w.write_all(&pages))?;
        counts.files_written += 1;
        counts.bytes_out += pages.len() as u64;
    }
    // Every document is accounted for: the corpus counted the skipped ones as it read.
    counts.skipped = corpus.skipped_documents;
    counts.input_lost = corpus.input_lost();
    counts.read = counts.kept + counts.dropped_duplicates + counts.skipped;
    let report = cfg.out.join(REPORT_DIR);
    std::fs::create_dir_all(&report).map_err(|source| Error::Write {
        path: report.clone(),
        source,
    })?;
    atomic_write(&report.join(REMOVED_FILE), |w| w.write_all(&audit))?;
    Ok(counts)
}

/// Template lines (rule [`StripRule::Edge`] or [`StripRule::TitleEdge`]) that are in the top or
/// bottom block of at least half of the kept documents that have them, sorted. A site name or a
/// sign-off is at an edge nearly everywhere; a formula that also opens some books (a basmala) or
/// a heading is mostly inside the text, and stays everywhere.
pub(super) fn edge_common_lines(
    corpus: &Corpus,
    plan: &CleanPlan,
    strip: &[(u64, StripRule)],
    cfg: &CleanConfig,
    scan: &ScanConfig,
    cancel: &AtomicBool,
) -> Result<EdgeLines> {
    if !strip
        .iter()
        .any(|x| matches!(x.1, StripRule::Edge | StripRule::TitleEdge))
    {
        return Ok(EdgeLines::default());
    }
    // Per block of documents: (hash, at an edge) once per document and line, and the documents
    // with a flagged line.
    type Seen = (Vec<(u64, bool)>, Vec<u32>);
    let seen: Vec<Seen> = corpus
        .blocks()
        .into_par_iter()
        .map_init(
            || {
                (
                    Stripper::new(scan.profile, scan.seed),
                    String::new(),
                    Vec::new(),
                )
            },
            |(st, buf, doc_votes), range| {
                if cancel.load(Ordering::Relaxed) {
                    return Err(Error::Interrupted);
                }
                let (mut votes, mut flagged) = (Vec::new(), Vec::new());
                for d in range {
                    if cfg.dedup && plan.drop[d].is_some() {
                        continue;
                    }
                    let text = corpus.text(&corpus.docs[d], buf);
                    if !st.analyze(text.as_bytes(), RawKind::Text, strip) {
                        continue;
                    }
                    flagged.push(d as u32);
                    let (top, bottom) = st.blocks(&|_| true);
                    let n = st.info.len();
                    doc_votes.clear();
                    doc_votes.extend(st.info.iter().enumerate().filter_map(|(i, x)| {
                        matches!(x.rule, Some(StripRule::Edge | StripRule::TitleEdge))
                            .then_some((x.hash, i < top || i >= n - bottom))
                    }));
                    doc_votes.sort_unstable();
                    // One vote per document: at an edge if any occurrence is.
                    votes.extend(
                        doc_votes
                            .chunk_by(|a: &(u64, bool), b| a.0 == b.0)
                            .map(|g| (g[0].0, g.iter().any(|x| x.1))),
                    );
                }
                Ok((votes, flagged))
            },
        )
        .collect::<Result<_>>()?;
    let mut all: Vec<(u64, bool)> = Vec::new();
    let mut flagged_docs = Vec::new();
    for (v, f) in seen {
        all.extend(v);
        flagged_docs.extend(f);
    }
    all.sort_unstable();
    Ok(EdgeLines {
        common: all
            .chunk_by(|a, b| a.0 == b.0)
            .filter(|g| g.iter().filter(|x| x.1).count() * 2 >= g.len())
            .map(|g| g[0].0)
            .collect(),
        flagged_docs: Some(flagged_docs),
    })
}

/// What the first pass over the kept documents learnt.
#[derive(Default)]
pub(super) struct EdgeLines {
    /// Template lines at the top or bottom of most documents that have them, sorted.
    common: Vec<u64>,
    /// Kept documents with at least one flagged line, sorted (`None`: not counted, look at
    /// every document).
    flagged_docs: Option<Vec<u32>>,
}

/// One input file to clean.
pub(super) struct FileJob<'a> {
    corpus: &'a Corpus,
    fi: usize,
    /// Its documents (contiguous, in line order).
    docs: std::ops::Range<usize>,
    plan: &'a CleanPlan,
    strip: &'a [(u64, StripRule)],
    edges: &'a EdgeLines,
    cfg: &'a CleanConfig,
    text_field: &'a str,
    skipped: Option<&'a Vec<&'a crate::error::Problem>>,
    /// Advanced by input bytes as the file is processed.
    progress: &'a dyn Progress,
}

impl FileJob<'_> {
    /// Audit one document: dropped (returns `None`), or kept, with its text cleaned from
    /// `raw` (the raw bytes of its text, of this `kind`).
    fn document(
        &self,
        d: usize,
        raw: Option<&[u8]>,
        kind: RawKind,
        st: &mut Stripper,
        res: &mut FileResult,
    ) -> Option<Option<Vec<u8>>> {
        let corpus = self.corpus;
        let file = &corpus.files[self.fi];
        let doc = &corpus.docs[d];
        let id = corpus.id(doc);
        let line = (doc.line > 0).then_some(doc.line);
        if let (true, Some(dr)) = (self.cfg.dedup, self.plan.drop[d]) {
            let keep_id = corpus.id(&corpus.docs[dr.duplicate_of as usize]);
            write_audit(
                &mut res.audit,
                &Audit::Duplicate {
                    id: &id,
                    source: &file.path,
                    line,
                    duplicate_of: &keep_id,
                    cluster: dr.cluster,
                    similarity: round4(dr.score.jaccard),
                    jaccard: round4(dr.score.jaccard),
                    in_keep: round4(dr.score.b_in_a),
                    keep_in: round4(dr.score.a_in_b),
                },
            );
            res.counts.dropped_duplicates += 1;
            return None;
        }
        res.counts.kept += 1;
        let Some(raw) = raw else {
            return Some(None);
        };
        let mut removed = Vec::new();
        let flagged = self
            .edges
            .flagged_docs
            .as_ref()
            .is_none_or(|f| f.binary_search(&(d as u32)).is_ok());
        if !flagged {
            return Some(None);
        }
        let edge_common = |h: u64| self.edges.common.binary_search(&h).is_ok();
        let cleaned = st.strip(
            raw,
            kind,
            self.strip,
            &edge_common,
            self.cfg.strip_inner,
            &mut removed,
            &mut res.counts.flagged_lines_kept,
        );
        if cleaned.is_some() {
            res.counts.documents_stripped += 1;
        }
        for r in &removed {
            if r.blank {
                res.counts.blank_lines_removed += 1;
            } else {
                res.counts.lines_stripped += 1;
            }
            write_audit(
                &mut res.audit,
                &Audit::Boilerplate {
                    id: &id,
                    source: &file.path,
                    line,
                    text_line: r.line,
                    text: &r.text,
                    blank: r.blank,
                },
            );
        }
        Some(cleaned)
    }
}

pub(super) fn clean_file(job: &FileJob, st: &mut Stripper) -> Result<FileResult> {
    let (corpus, cfg) = (job.corpus, job.cfg);
    let file = &corpus.files[job.fi];
    let docs = job.docs.clone();
    let mut res = FileResult::default();
    res.counts.bytes_in = file.data.len() as u64;
    let data: &[u8] = &file.data;
    let out_bytes: Option<Vec<u8>> = match file.format {
        Format::Html => {
            if let Some(d) = docs.clone().next() {
                let doc = &corpus.docs[d];
                let text = corpus.text(doc, &mut String::new()).to_string();
                if let Some(cleaned) =
                    job.document(d, Some(text.as_bytes()), RawKind::Text, st, &mut res)
                {
                    let cleaned = cleaned.unwrap_or_else(|| text.clone().into_bytes());
                    let page = PageOut {
                        id: &corpus.id(doc),
                        path: &file.path,
                        title: &crate::input::html::extract(data, None).title,
                        text: &String::from_utf8_lossy(&cleaned),
                    };
                    serde_json::to_writer(&mut res.pages, &page).expect("serialises");
                    res.pages.push(b'\n');
                }
            }
            // Written once for all pages (`pages.jsonl`), not per file.
            None
        }
        Format::Text => docs.clone().next().and_then(|d| {
            let cleaned = job.document(d, Some(data), RawKind::Text, st, &mut res)?;
            // A dry run writes nothing: no copy of an unchanged file.
            (!cfg.dry_run).then(|| cleaned.unwrap_or_else(|| data.to_vec()))
        }),
        Format::Warc | Format::Csv | Format::Tsv | Format::Parquet => None, // read as records
        Format::Jsonl | Format::Records => {
            let mut out = Vec::with_capacity(if cfg.dry_run { 0 } else { data.len() });
            let mut k = docs.start; // the next document of this file
            let mut pos = 0;
            let mut line_no = 0u32;
            let mut reported = 0;
            while pos < data.len() && k < docs.end {
                if pos - reported >= 1 << 20 {
                    job.progress.advance((pos - reported) as u64);
                    reported = pos;
                }
                let end = memchr::memchr(b'\n', &data[pos..]).map_or(data.len(), |p| pos + p + 1);
                line_no += 1;
                let line = &data[pos..end];
                let this = pos;
                pos = end;
                // Lines that are not documents (blank, skipped records) are not written.
                if corpus.docs[k].line != line_no {
                    continue;
                }
                let d = k;
                k += 1;
                // The raw inside of the text's JSON string, relative to the line.
                let span = match corpus.docs[d].text {
                    TextRef::Json { start, len, .. } => {
                        let s = start as usize - this;
                        Some(s..s + len as usize)
                    }
                    _ if file.format == Format::Records => {
                        crate::input::raw_text_span(line, crate::input::RECORDS_TEXT)
                    }
                    _ => crate::input::raw_text_span(line, job.text_field),
                };
                let raw = span.clone().map(|s| &line[s]);
                let Some(cleaned) = job.document(d, raw, RawKind::Json, st, &mut res) else {
                    continue;
                };
                if cfg.dry_run {
                    continue;
                }
                match (cleaned, span) {
                    (Some(text), Some(s)) => {
                        out.extend_from_slice(&line[..s.start]);
                        out.extend_from_slice(&text);
                        out.extend_from_slice(&line[s.end..]);
                    }
                    _ => out.extend_from_slice(line),
                }
            }
            job.progress.advance((data.len() - reported) as u64);
            Some(out)
        }
    };
    if file.format.is_whole_file() {
        job.progress.advance(data.len() as u64);
    }
    if let Some(probs) = job.skipped {
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
    if let Some(bytes) = out_bytes {
        let path = cfg.out.join(output_rel_path(file));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| Error::Write {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        res.counts.bytes_out = bytes.len() as u64;
        // Inside the run's staging directory: synced once and published by rename as a whole.
        // Records read from a container are written as plain JSON Lines.
        let compression = match file.format {
            Format::Records => Compression::None,
            _ => file.compression,
        };
        crate::report::write_staged(&path, |w| write_compressed(w, &bytes, compression))?;
        res.counts.files_written += 1;
    }
    Ok(res)
}

pub(super) fn write_compressed(w: &mut impl Write, bytes: &[u8], c: Compression) -> io::Result<()> {
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
