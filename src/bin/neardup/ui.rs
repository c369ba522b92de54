//! Terminal output: one progress bar per stage on stderr, and the human summary.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use neardup::{Progress, Stage, Summary};

/// Progress bars on stderr; hidden when stderr is not a terminal or `--quiet`.
pub struct Bars {
    enabled: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    pub fn new(quiet: bool) -> Self {
        Bars {
            enabled: !quiet && std::io::stderr().is_terminal(),
            bar: Mutex::new(None),
        }
    }

    fn current(&self) -> Option<ProgressBar> {
        self.bar.lock().ok().and_then(|b| b.clone())
    }
}

impl Progress for Bars {
    fn begin(&self, stage: Stage, total: u64) {
        if !self.enabled {
            return;
        }
        let prefix = format!("{}/{}: {}", stage.number(), Stage::ALL.len(), stage.title());
        let bar = if total == 0 {
            let b = ProgressBar::new_spinner();
            b.set_style(ProgressStyle::with_template("{spinner} {prefix} {elapsed}").unwrap());
            b.enable_steady_tick(Duration::from_millis(120));
            b
        } else {
            let b = ProgressBar::new(total);
            let template = if stage.counts_bytes() {
                "{prefix:<32} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
            } else {
                "{prefix:<32} [{bar:30}] {pos}/{len} eta {eta}"
            };
            b.set_style(
                ProgressStyle::with_template(template)
                    .unwrap()
                    .progress_chars("=> "),
            );
            b
        };
        bar.set_draw_target(ProgressDrawTarget::stderr());
        bar.set_prefix(prefix);
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }

    fn advance(&self, n: u64) {
        if let Some(b) = self.current() {
            b.inc(n);
        }
    }

    fn end(&self) {
        if let Ok(mut slot) = self.bar.lock()
            && let Some(b) = slot.take()
        {
            b.finish_and_clear();
        }
    }
}

/// The short human summary printed on stderr after a scan.
pub fn print_summary(s: &Summary, out_dir: &std::path::Path) {
    let d = &s.documents;
    eprintln!(
        "neardup: {} documents, {:.1} MB in {:.2} s ({:.1} MB/s, {:.0} docs/s)",
        d.read,
        s.files.bytes as f64 / 1e6,
        s.seconds,
        s.mb_per_s,
        s.docs_per_s
    );
    eprintln!(
        "  clusters: {} ({} exact, {} near) holding {} documents; largest {}",
        s.clusters.total,
        s.clusters.exact,
        s.clusters.near,
        s.clusters.documents_in_clusters,
        s.clusters.largest
    );
    eprintln!(
        "  documents: {} kept, {} duplicates, {} skipped, {} empty",
        d.kept, d.duplicates, d.skipped, d.empty
    );
    if !s.problems_by_kind.is_empty() {
        let parts: Vec<String> = s
            .problems_by_kind
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        eprintln!("  problems: {}", parts.join(", "));
    }
    eprintln!(
        "  LSH {}×{} (threshold {}), {} candidate pairs, {} pairs accepted",
        s.lsh.bands,
        s.lsh.rows,
        s.options.threshold,
        s.lsh.verify.candidate_pairs,
        s.lsh.verify.accepted
    );
    if s.boilerplate.enabled {
        eprintln!(
            "  boilerplate: {} lines flagged, in {} documents{}",
            s.boilerplate.lines,
            s.boilerplate.documents_affected,
            if s.boilerplate.excluded_from_shingles {
                " (left out of matching)"
            } else {
                ""
            }
        );
    }
    eprintln!("  wrote {}", out_dir.display());
}

/// The short human summary printed on stderr after `clean`.
pub fn print_clean_summary(s: &neardup::CleanSummary, out_dir: &std::path::Path) {
    let d = &s.documents;
    eprintln!(
        "neardup clean: {} documents read: {} kept, {} dropped as duplicates, {} skipped",
        d.read, d.kept, d.dropped_duplicates, d.skipped
    );
    eprintln!(
        "  {} boilerplate lines removed from {} documents; {} {}, {:.1} MB → {:.1} MB",
        d.lines_stripped,
        d.documents_stripped,
        d.files_written,
        if d.files_written == 1 {
            "file"
        } else {
            "files"
        },
        d.bytes_in as f64 / 1e6,
        d.bytes_out as f64 / 1e6
    );
    let report = out_dir.join(neardup::clean::REPORT_DIR);
    if s.dry_run {
        eprintln!("  dry run: nothing written but {}", report.display());
    } else {
        eprintln!(
            "  wrote {} (audit trail in {})",
            out_dir.display(),
            report.display()
        );
    }
}

/// The human table for `eval`.
pub fn eval_table(r: &neardup::eval::EvalResult) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "documents            {}", r.documents);
    let _ = writeln!(
        s,
        "pairs                {} true, {} predicted, {} correct",
        r.true_pairs, r.predicted_pairs, r.correct_pairs
    );
    let _ = writeln!(s, "precision            {:.4}", r.precision);
    let _ = writeln!(s, "recall               {:.4}", r.recall);
    let _ = writeln!(s, "F1                   {:.4}", r.f1);
    let _ = writeln!(s, "adjusted Rand index  {:.4}", r.adjusted_rand_index);
    if r.unlabelled_predicted > 0 {
        let _ = writeln!(s, "unlabelled (ignored) {}", r.unlabelled_predicted);
    }
    for (c, v) in &r.recall_by_category {
        let _ = writeln!(
            s,
            "recall[{c}]{:>width$}{:.4} ({} of {} pairs)",
            "",
            v.recall,
            v.correct_pairs,
            v.true_pairs,
            width = 13usize.saturating_sub(c.len())
        );
    }
    s
}

/// Print to stdout; a closed pipe (`| head`) is not an error.
pub fn print_stdout(text: &str) -> crate::Exit {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => crate::Exit::Success,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => crate::Exit::Success,
        Err(e) => {
            eprintln!("neardup: cannot write to stdout: {e}");
            crate::Exit::Error
        }
    }
}

/// The human table for `tune`.
pub fn tune_table(r: &neardup::tune::TuneReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "threshold  containment  bands×rows  candidates  clusters  precision  recall  F1      ARI"
    );
    for (i, row) in r.rows.iter().enumerate() {
        let c = row
            .containment
            .map_or("off".to_string(), |c| format!("{c}"));
        let _ = writeln!(
            s,
            "{:<10} {:<12} {:<11} {:<11} {:<9} {:<10.4} {:<7.4} {:<7.4} {:.4}{}",
            row.threshold,
            c,
            format!("{}×{}", row.bands, row.rows),
            row.candidate_pairs,
            row.clusters,
            row.eval.precision,
            row.eval.recall,
            row.eval.f1,
            row.eval.adjusted_rand_index,
            if i == r.recommended {
                "  ← recommended"
            } else {
                ""
            }
        );
    }
    if let Some(best) = r.rows.get(r.recommended) {
        let c = best
            .containment
            .map_or("--no-containment".to_string(), |c| {
                format!("--containment {c}")
            });
        let _ = writeln!(s, "\nrecommended: --threshold {} {c}", best.threshold);
        let _ = writeln!(
            s,
            "S-curve (probability that a pair of Jaccard s becomes a candidate):"
        );
        for (x, p) in &r.s_curve {
            let _ = writeln!(
                s,
                "  s={x:.1}  {p:.3}  {}",
                "#".repeat((p * 40.0).round() as usize)
            );
        }
        if !r.containment_s_curve.is_empty() {
            let _ = writeln!(s, "containment banding (adds candidates at low Jaccard):");
            for (x, p) in &r.containment_s_curve {
                let _ = writeln!(
                    s,
                    "  s={x:.1}  {p:.3}  {}",
                    "#".repeat((p * 40.0).round() as usize)
                );
            }
        }
    }
    s
}
