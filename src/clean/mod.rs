//! `clean`: write a deduplicated corpus with boilerplate lines removed, in the shape of the input.
//!
//! * JSON Lines in → JSON Lines out: a kept record is written as it was, byte for byte, except
//!   that the text field's value is replaced when lines were stripped from it; dropped
//!   duplicates and records that could not be read are left out (and audited).
//! * A tree of text files → the same tree under the output directory.
//! * `.gz` / `.zst` in → `.gz` / `.zst` out.
//!
//! Two promises:
//! * a document is dropped only when the kept representative of its cluster *covers* it (Jaccard
//!   at or above the threshold, or its own shingles inside the kept one at or above the
//!   containment threshold: [`crate::verify::Score::a_covers_b`]);
//! * only page furniture is stripped ([`StripRule`]): flagged lines in the block at the top or
//!   bottom of a document, navigation and hashtag lines, a title or site name repeated in the
//!   page; never a line with a number in it (data) or the first line of a sentence that goes on
//!   in the next line. Other flagged lines stay (out of matching, but in the text) unless
//!   `--strip-inner`.
//!
//! Every output file is written atomically. The audit trail (`.neardup/removed.jsonl`) is the
//! truth: every dropped duplicate (with the document covering it and their scores), every removed
//! line (document, line number, text; blank lines the removal left behind included) and every
//! skipped record (reason). Outside the removed lines the output is byte for byte the input
//! (JSON escapes and invalid UTF-8 included): lines are cut out of the raw bytes, never decoded
//! and written again. The summary accounts for every document: `read = kept + dropped + skipped`.

mod plan;
mod strip;
#[cfg(test)]
mod tests;
mod write;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use serde::Serialize;

use crate::boilerplate::Boilerplate;
use crate::config::Config;
use crate::error::Result;
use crate::input::{Compression, Corpus, InputFile};
use crate::pipeline::Context;
use crate::progress::{NoProgress, Progress};
use crate::report;

pub use plan::StripRule;
pub(crate) use plan::*;
pub use strip::RemovedLine;
use strip::*;
pub(crate) use write::run;

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
    /// Also strip template lines inside the body (by default only the top and bottom blocks).
    pub strip_inner: bool,
    /// Write only the report.
    pub dry_run: bool,
}

/// Counts of a clean run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CleanCounts {
    /// Documents read (including records that could not be used).
    pub read: u64,
    pub kept: u64,
    pub dropped_duplicates: u64,
    pub skipped: u64,
    /// Problems where the input yielded less than it holds (files or records skipped, streams
    /// cut short); any makes the exit code 2.
    pub input_lost: u64,
    /// Boilerplate lines removed from kept documents.
    pub lines_stripped: u64,
    /// Blank lines removed with them (a stripped block's blank lines; two blank lines the
    /// removal brought together become one). Listed in the audit trail too.
    pub blank_lines_removed: u64,
    /// Flagged lines left in place: inside the body, data lines (with a number), or a sentence
    /// going on in the next line.
    pub flagged_lines_kept: u64,
    /// Kept documents that lost at least one line.
    pub documents_stripped: u64,
    pub files_written: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl CleanCounts {
    fn add(&mut self, c: &CleanCounts) {
        self.kept += c.kept;
        self.dropped_duplicates += c.dropped_duplicates;
        self.lines_stripped += c.lines_stripped;
        self.blank_lines_removed += c.blank_lines_removed;
        self.flagged_lines_kept += c.flagged_lines_kept;
        self.documents_stripped += c.documents_stripped;
        self.files_written += c.files_written;
        self.bytes_in += c.bytes_in;
        self.bytes_out += c.bytes_out;
    }
}

/// Path of an input file inside the output directory.
pub(crate) fn output_rel_path(file: &InputFile) -> PathBuf {
    if file.path == "-" {
        // Written in the compression it arrived in, named for it.
        return PathBuf::from(match file.compression {
            Compression::None => "stdin.jsonl",
            Compression::Gzip => "stdin.jsonl.gz",
            Compression::Zstd => "stdin.jsonl.zst",
        });
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
    pub documents: CleanCounts,
    /// The scan run for this clean (absent with `--from`).
    pub scan: Option<report::Summary>,
}

/// Clean a corpus: scan it (or reuse the scan in `from`), then write it without duplicates and
/// boilerplate lines into `clean_cfg.out`, with the report in `out/.neardup/`.
pub fn clean(
    cfg: &Config,
    clean_cfg: &CleanConfig,
    from: Option<&Path>,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<CleanSummary> {
    let report_dir = clean_cfg.out.join(REPORT_DIR);
    let write =
        |corpus: &Corpus, plan: &CleanPlan| run(corpus, plan, clean_cfg, cfg, progress, cancel);
    let (counts, scan_summary) = match from {
        None => {
            let mut out = crate::scan(cfg, progress, cancel)?;
            let strip: &[crate::boilerplate::FlaggedLine] = if cfg.boilerplate.enabled {
                &out.boilerplate.lines
            } else {
                &[]
            };
            let plan = CleanPlan::from_clusters(&out.corpus, &out.clusters, strip, cfg.profile);
            let counts = write(&out.corpus, &plan)?;
            // The scan's own outputs go with the report, so `clean --from` can reuse them.
            crate::write_outputs(&mut out, &report_dir, &NoProgress)?;
            (counts, Some(out.summary))
        }
        Some(dir) => {
            let corpus = crate::pipeline::read(&Context::new(cfg, progress, cancel))?;
            let inputs = report::InputsOut::new(&corpus);
            // Serialising our own structs cannot fail.
            let options = serde_json::to_value(report::OptionsOut::new(cfg)).unwrap_or_default();
            let bp = serde_json::to_value(report::BoilerplateOut::new(
                &cfg.boilerplate,
                &Boilerplate::default(),
            ))
            .unwrap_or_default();
            let plan = plan_from_dir(dir, &corpus, &inputs.fingerprint, &options, &bp)?;
            let counts = write(&corpus, &plan)?;
            (counts, None)
        }
    };
    let summary = CleanSummary {
        tool: "neardup",
        version: crate::VERSION,
        dedup: clean_cfg.dedup,
        strip: clean_cfg.strip,
        dry_run: clean_cfg.dry_run,
        from: from.map(|p| p.display().to_string()),
        documents: counts,
        scan: scan_summary,
    };
    report::atomic_write(&report_dir.join(CLEAN_SUMMARY_FILE), |w| {
        serde_json::to_writer_pretty(&mut *w, &summary)?;
        w.write_all(b"\n")
    })?;
    Ok(summary)
}
