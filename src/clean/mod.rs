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
use crate::error::{ConfigError, Result};
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
/// The kept pages of HTML input, as JSON Lines (`id`, `path`, `title`, `text`).
pub const PAGES_FILE: &str = "pages.jsonl";

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
    /// Dedupe against this index (`neardup index`): a new document that an indexed one
    /// covers is dropped and names it; the scan options come from the index.
    pub against: Option<PathBuf>,
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

/// Path of an input file inside the output directory: its path under its argument (its name
/// for a file argument), byte for byte.
pub(crate) fn output_rel_path(file: &InputFile) -> PathBuf {
    // A container (WARC, CSV, TSV) is written as the JSON Lines records it was read as.
    let records = |p: PathBuf| {
        if file.format == crate::input::Format::Records {
            let mut s = p.into_os_string();
            s.push(".jsonl");
            PathBuf::from(s)
        } else {
            p
        }
    };
    if let Some(rel) = &file.rel {
        return records(rel.clone());
    }
    if file.path == "-" {
        // Written in the compression it arrived in, named for it.
        return PathBuf::from(match file.compression {
            Compression::None => "stdin.jsonl",
            Compression::Gzip => "stdin.jsonl.gz",
            Compression::Zstd => "stdin.jsonl.zst",
        });
    }
    records(if file.from_dir {
        PathBuf::from(&file.id_base)
    } else {
        Path::new(&file.path)
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(&file.id_base))
    })
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
    // Everything that can be checked before reading is checked first.
    check_output(cfg, &clean_cfg.out)?;
    let _lock = report::OutputLock::acquire(&clean_cfg.out)?;
    // The cleaned tree and its report are built in a staging directory inside OUT and moved
    // into place only when complete: an interrupted run leaves OUT as it was.
    let staging = Staging::create(&clean_cfg.out)?;
    let staged = CleanConfig {
        out: staging.dir.clone(),
        ..clean_cfg.clone()
    };
    let report_dir = staged.out.join(REPORT_DIR);
    // With an index, its options rule (the scan, the line hashes of the strip rules).
    let against_cfg = match &clean_cfg.against {
        Some(idx) => Some(crate::index::options_for(idx, &cfg.input.paths)?),
        None => None,
    };
    let cfg = against_cfg.as_ref().unwrap_or(cfg);
    let write = |corpus: &Corpus, plan: &CleanPlan, skip: Option<&str>| {
        run(corpus, plan, &staged, cfg, skip, progress, cancel)
    };
    let (counts, scan_summary) = match from {
        None => {
            let mut out = match &clean_cfg.against {
                Some(idx) => {
                    crate::index::against(idx, &cfg.input.paths, &report_dir, progress, cancel)?
                        .scan
                }
                None => crate::scan(cfg, progress, cancel)?,
            };
            // The indexed documents of the run are read back from the index: never written.
            let skip = out.indexed.as_ref().map(|(path, _)| path.clone());
            let strip: &[crate::boilerplate::FlaggedLine] = if cfg.boilerplate.enabled {
                &out.boilerplate.lines
            } else {
                &[]
            };
            let plan = CleanPlan::from_clusters(&out.corpus, &out.clusters, strip, cfg.profile);
            let counts = write(&out.corpus, &plan, skip.as_deref())?;
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
            let counts = write(&corpus, &plan, None)?;
            (counts, None)
        }
    };
    if cancel.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(crate::Error::Interrupted);
    }
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
    staging.publish()?;
    Ok(summary)
}

/// Refuse, before reading anything, an output directory that holds an input (the cleaned copy
/// would replace it) and two inputs that would be written to one output path.
fn check_output(cfg: &Config, out: &Path) -> Result<()> {
    if let Ok(out_canon) = std::fs::canonicalize(out) {
        for p in cfg.input.paths.iter().filter(|p| p.as_os_str() != "-") {
            if std::fs::canonicalize(p).is_ok_and(|c| c.starts_with(&out_canon)) {
                return Err(ConfigError::OutputHoldsInput {
                    output: out.to_path_buf(),
                    input: p.clone(),
                }
                .into());
            }
        }
    }
    let found = crate::input::discover(&cfg.input, &mut Vec::new());
    let mut seen: std::collections::HashMap<PathBuf, &str> = Default::default();
    for f in &found {
        let rel = match &f.rel {
            Some(r) => r.clone(),
            None => continue, // standard input: one at most
        };
        if let Some(first) = seen.insert(rel.clone(), &f.display) {
            return Err(ConfigError::OutputClash {
                first: first.to_string(),
                second: f.display.clone(),
                output: out.join(rel),
            }
            .into());
        }
    }
    Ok(())
}

/// Prefix of a clean run's staging directory inside OUT (hidden: never read as input).
const STAGING_PREFIX: &str = ".neardup-staging-";

/// A clean run's output under construction: `OUT/.neardup-staging-PID/`, removed unless
/// published.
struct Staging {
    dir: PathBuf,
    out: PathBuf,
    published: bool,
}

impl Staging {
    fn create(out: &Path) -> Result<Staging> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| crate::Error::Write { path, source }
        };
        // A staging directory left by a run that was killed outright is removed.
        if let Ok(entries) = std::fs::read_dir(out) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with(STAGING_PREFIX) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = out.join(format!("{STAGING_PREFIX}{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        Ok(Staging {
            dir,
            out: out.to_path_buf(),
            published: false,
        })
    }

    /// Make the staged files durable (one file-system sync), then move every top-level entry
    /// into OUT, replacing what was there under that name (an existing entry, even a symbolic
    /// link, is moved aside first, never written through).
    fn publish(mut self) -> Result<()> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| crate::Error::Write { path, source }
        };
        sync_tree(&self.dir).map_err(io(&self.dir))?;
        let aside = self.dir.join(".replaced");
        std::fs::create_dir_all(&aside).map_err(io(&aside))?;
        let mut names: Vec<_> = std::fs::read_dir(&self.dir)
            .map_err(io(&self.dir))?
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| n != ".replaced")
            .collect();
        names.sort();
        for name in names {
            let target = self.out.join(&name);
            if std::fs::symlink_metadata(&target).is_ok() {
                std::fs::rename(&target, aside.join(&name)).map_err(io(&target))?;
            }
            std::fs::rename(self.dir.join(&name), &target).map_err(io(&target))?;
        }
        self.published = true;
        let _ = std::fs::remove_dir_all(&self.dir);
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Flush every file under `dir` to stable storage: one `syncfs` on Linux, else each file.
fn sync_tree(dir: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let f = std::fs::File::open(dir)?;
        // SAFETY: `syncfs` takes any open descriptor of the file system; `f` is one.
        if unsafe { libc::syncfs(f.as_raw_fd()) } == 0 {
            return Ok(());
        }
    }
    for e in walkdir::WalkDir::new(dir) {
        let e = e.map_err(std::io::Error::other)?;
        if e.file_type().is_file() {
            std::fs::File::open(e.path())?.sync_all()?;
        }
    }
    Ok(())
}
