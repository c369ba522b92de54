//! The `neardup` command: parses options, runs the library, reports. See `neardup --help`.

mod cli;
mod ui;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;
use neardup::clean::CleanConfig;
use neardup::{Error, NoProgress, Problem, Progress};

use cli::{
    CleanArgs, Cli, Command, EvalArgs, GenerateArgs, IndexCommand, ReportArgs, ScanArgs,
    StageCommand, StageOptions, TuneArgs,
};

/// Process exit codes (also in `--help` and the README).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    Success = 0,
    DuplicatesFound = 1,
    Error = 2,
    Interrupted = 130,
}

static CANCEL: AtomicBool = AtomicBool::new(false);

/// SIGBUS: a memory-mapped input was truncated under us. Name it and exit 2 instead of dying
/// silently.
#[cfg(unix)]
extern "C" fn on_sigbus(_: libc::c_int) {
    let msg = b"neardup: an input file changed while it was read (SIGBUS); inputs must not change during a run\n";
    // SAFETY: only async-signal-safe calls (write, stat, _exit).
    unsafe {
        libc::write(2, msg.as_ptr().cast(), msg.len());
        neardup::input::report_shrunk_mapped_files();
        libc::_exit(Exit::Error as i32);
    }
}

#[cfg(unix)]
fn install_sigbus_handler() {
    // SAFETY: a plain handler with an empty mask; `on_sigbus` is async-signal-safe.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigbus as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    #[cfg(unix)]
    install_sigbus_handler();
    let _ = ctrlc::set_handler(|| {
        if CANCEL.swap(true, Ordering::SeqCst) {
            // Second Ctrl-C: stop now.
            std::process::exit(Exit::Interrupted as i32);
        }
    });
    let code = match cli.command {
        Command::Scan(args) => run_scan(&args),
        Command::Clean(args) => run_clean(&args),
        Command::Eval(args) => run_eval(&args),
        Command::Tune(args) => run_tune(&args),
        Command::Generate(args) => run_generate(&args),
        Command::Report(args) => run_report(&args),
        Command::Stage(cmd) => run_stage(&cmd),
        Command::Index(cmd) => run_index(&cmd),
    };
    ExitCode::from(code as u8)
}

/// Run `work` on a pool of `threads` threads; map errors to exit codes.
fn with_pool<T>(threads: usize, work: impl FnOnce() -> Result<T, Error> + Send) -> Result<T, Exit>
where
    T: Send,
{
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("neardup: cannot start {threads} threads: {e}");
            return Err(Exit::Error);
        }
    };
    match pool.install(work) {
        Ok(v) => Ok(v),
        Err(Error::Interrupted) => {
            eprintln!("neardup: interrupted; no partial output left");
            Err(Exit::Interrupted)
        }
        Err(e) => {
            eprintln!("neardup: {e:#}");
            Err(Exit::Error)
        }
    }
}

fn print_problems(problems: &[Problem]) {
    for p in problems.iter().take(20) {
        eprintln!("neardup: {p}");
    }
    if problems.len() > 20 {
        eprintln!(
            "neardup: … and {} more problems (see summary.json)",
            problems.len() - 20
        );
    }
}

fn check_cancel() -> Result<(), Error> {
    if CANCEL.load(Ordering::SeqCst) {
        Err(Error::Interrupted)
    } else {
        Ok(())
    }
}

fn run_scan(args: &ScanArgs) -> Exit {
    let bars = ui::Bars::new(args.quiet);
    let progress: &dyn Progress = if args.quiet { &NoProgress } else { &bars };
    // Only this run's own outputs are excluded from a directory argument: an input in or under
    // the output directory is still read.
    let own = [
        neardup::report::CLUSTERS_FILE,
        neardup::report::BOILERPLATE_FILE,
        neardup::report::SUMMARY_FILE,
        neardup::report::LOCK_FILE,
        neardup::index::LINKED_FILE,
    ]
    .map(|f| args.output.join(f))
    .to_vec();
    let cfg = args.pipeline.to_config(&args.inputs, own);
    let result = with_pool(args.threads, || {
        let cfg = cfg.validate()?;
        // Before reading: a bad -o fails now, and a second run on the same -o is refused.
        let _lock = neardup::report::OutputLock::acquire(&args.output)?;
        let mut out = match &args.against {
            Some(idx) => {
                warn_index_options(idx, &cfg)?;
                neardup::index::against(idx, &cfg.input.paths, &args.output, progress, &CANCEL)?
                    .scan
            }
            None => neardup::scan(&cfg, progress, &CANCEL)?,
        };
        check_cancel()?;
        neardup::write_outputs(&mut out, &args.output, progress)?;
        Ok(out)
    });
    let out = match result {
        Ok(out) => out,
        Err(code) => return code,
    };
    let s = &out.summary;
    print_problems(&s.problems);
    if !args.quiet {
        ui::print_summary(s, &args.output);
    }
    let code = if s.input_lost > 0 {
        Exit::Error
    } else if args.fail_on_duplicates && s.documents.duplicates > 0 {
        Exit::DuplicatesFound
    } else {
        Exit::Success
    };
    // The process ends here: freeing the corpus index, the signatures and the clusters one
    // allocation at a time would only delay the exit (the outputs are written and the lock
    // released; the mapped inputs are unmapped by the exit as by a drop).
    std::mem::forget(out);
    code
}

fn run_clean(args: &CleanArgs) -> Exit {
    if args.output.as_os_str() == "-" {
        eprintln!(
            "neardup: clean -o -: clean writes a directory (the cleaned tree and its report); give its path"
        );
        return Exit::Error;
    }
    let bars = ui::Bars::new(args.quiet);
    let progress: &dyn Progress = if args.quiet { &NoProgress } else { &bars };
    let cfg = args
        .pipeline
        .to_config(&args.inputs, vec![args.output.clone()]);
    let clean_cfg = CleanConfig {
        out: args.output.clone(),
        dedup: !args.no_dedup,
        strip: !args.no_strip,
        strip_inner: args.strip_inner,
        dry_run: args.dry_run,
        against: args.against.clone(),
    };
    let result = with_pool(args.threads, || {
        let cfg = cfg.validate()?;
        if let Some(idx) = &args.against {
            warn_index_options(idx, &cfg)?;
        }
        let s = neardup::clean(&cfg, &clean_cfg, args.from.as_deref(), progress, &CANCEL)?;
        check_cancel()?;
        Ok(s)
    });
    let s = match result {
        Ok(s) => s,
        Err(code) => return code,
    };
    if let Some(scan) = &s.scan {
        print_problems(&scan.problems);
    }
    if !args.quiet {
        ui::print_clean_summary(&s, &args.output);
    }
    if s.documents.input_lost > 0 {
        Exit::Error
    } else {
        Exit::Success
    }
}

fn run_eval(args: &EvalArgs) -> Exit {
    let r = match neardup::eval::evaluate(
        &args.truth,
        &args.clusters,
        args.category_field.as_deref(),
    ) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("neardup: {e:#}");
            return Exit::Error;
        }
    };
    if r.true_pairs == 0 {
        eprintln!(
            "neardup: warning: the labels put no two documents in one cluster: recall is 1.0 by definition"
        );
    }
    let text = if args.json {
        serde_json::to_string_pretty(&r).unwrap_or_default() + "\n"
    } else {
        ui::eval_table(&r)
    };
    ui::print_stdout(&text)
}

fn run_tune(args: &TuneArgs) -> Exit {
    let mut containments = Vec::new();
    for c in &args.containments {
        match c.as_str() {
            "off" | "none" => containments.push(None),
            v => match v.parse::<f64>() {
                Ok(x) => containments.push(Some(x)),
                Err(_) => {
                    eprintln!("neardup: --containments: {v:?} is not a number or \"off\"");
                    return Exit::Error;
                }
            },
        }
    }
    let truth = match neardup::eval::Truth::load(&args.truth, args.category_field.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("neardup: {e:#}");
            return Exit::Error;
        }
    };
    let bars = ui::Bars::new(args.quiet);
    let progress: &dyn Progress = if args.quiet { &NoProgress } else { &bars };
    let cfg = args.pipeline.to_config(&args.inputs, Vec::new());
    let result = with_pool(args.threads, || {
        neardup::tune::tune(
            &cfg.validate()?,
            &truth,
            &args.thresholds,
            &containments,
            progress,
            &CANCEL,
        )
    });
    let report = match result {
        Ok(r) => r,
        Err(code) => return code,
    };
    let text = if args.json {
        serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
    } else {
        ui::tune_table(&report)
    };
    let code = ui::print_stdout(&text);
    if report.input_lost > 0 {
        eprintln!(
            "neardup: {} input problems lost documents; the scores are over what was read",
            report.input_lost
        );
        return Exit::Error;
    }
    code
}

fn run_report(args: &ReportArgs) -> Exit {
    match with_pool(args.threads, || {
        neardup::html_report::write(&args.dir, &CANCEL)
    }) {
        Ok(r) => {
            if !args.quiet {
                eprintln!(
                    "neardup: wrote {} ({} clusters, {:.1} MB)",
                    r.path.display(),
                    r.clusters,
                    r.bytes as f64 / 1e6
                );
            }
            Exit::Success
        }
        Err(code) => code,
    }
}

fn run_generate(args: &GenerateArgs) -> Exit {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    if let (true, Some(dir)) = (args.what == "man", &args.dir) {
        return match std::fs::create_dir_all(dir).and_then(|_| clap_mangen::generate_to(cmd, dir)) {
            Ok(()) => Exit::Success,
            Err(e) => {
                eprintln!(
                    "neardup: cannot write man pages into {}: {e}",
                    dir.display()
                );
                Exit::Error
            }
        };
    }
    if args.what == "man" {
        if let Err(e) = clap_mangen::Man::new(cmd).render(&mut out) {
            eprintln!("neardup: cannot render the man page: {e}");
            return Exit::Error;
        }
    } else {
        let shell: clap_complete::Shell = match args.what.parse() {
            Ok(s) => s,
            Err(_) => {
                eprintln!(
                    "neardup: generate: {:?} is not `man` or a shell (bash, zsh, fish, elvish, powershell)",
                    args.what
                );
                return Exit::Error;
            }
        };
        clap_complete::generate(shell, &mut cmd, "neardup", &mut out);
    }
    ui::print_stdout(&String::from_utf8_lossy(&out))
}

/// `--against` runs with the index's options: say which given ones that overrides.
fn warn_index_options(idx: &std::path::Path, given: &neardup::Config) -> Result<(), Error> {
    for d in neardup::index::option_differences(idx, given)? {
        eprintln!("neardup: --against uses the index's options: {d}");
    }
    Ok(())
}

fn run_index(cmd: &IndexCommand) -> Exit {
    use neardup::index;
    let (threads, quiet) = match cmd {
        IndexCommand::Create(a) => (a.threads, a.quiet),
        IndexCommand::Add(a) => (a.threads, a.quiet),
        IndexCommand::Stats(a) | IndexCommand::Compact(a) => (a.threads, a.quiet),
    };
    let bars = ui::Bars::new(quiet);
    let progress: &dyn Progress = if quiet { &NoProgress } else { &bars };
    let result = with_pool(threads, || match cmd {
        IndexCommand::Create(a) => {
            let cfg = a
                .pipeline
                .to_config(&a.inputs, vec![a.index.clone()])
                .validate()?;
            index::create(&a.index, &cfg, progress, &CANCEL).map(Some)
        }
        IndexCommand::Add(a) => index::add(&a.index, &a.inputs, progress, &CANCEL).map(Some),
        IndexCommand::Compact(a) => index::compact(&a.index, progress, &CANCEL).map(Some),
        IndexCommand::Stats(a) => {
            let idx = index::Index::open(&a.index)?;
            let stats = serde_json::json!({
                "documents": idx.documents(),
                "segments": idx.manifest.segments.len(),
                "bytes_on_disk": idx.bytes_on_disk(),
                "format": idx.manifest.format,
                "options": idx.manifest.config,
            });
            if a.json {
                println!("{stats}");
            } else {
                println!(
                    "{}: {} documents in {} segments, {:.1} MB on disk",
                    a.index.display(),
                    stats["documents"],
                    stats["segments"],
                    idx.bytes_on_disk() as f64 / 1e6
                );
                println!(
                    "options: {}",
                    serde_json::to_string(&idx.manifest.config).unwrap_or_default()
                );
            }
            Ok(None)
        }
    });
    match result {
        Ok(Some(r)) => {
            print_problems(&r.problems);
            if !quiet {
                eprintln!(
                    "neardup: {} documents added; the index holds {} documents in {} segments",
                    r.added, r.documents, r.segments
                );
            }
            if r.input_lost > 0 {
                Exit::Error
            } else {
                Exit::Success
            }
        }
        Ok(None) => Exit::Success,
        Err(code) => code,
    }
}

fn run_stage(cmd: &StageCommand) -> Exit {
    use neardup::stages::{self, Task};
    let w = cmd.work_args();
    let bars = ui::Bars::new(w.quiet);
    let progress: &dyn Progress = if w.quiet { &NoProgress } else { &bars };
    let (task, out, fail_on_duplicates) = match cmd {
        StageCommand::Plan(a) => {
            let cfg = match StageOptions::try_parse_from(&a.scan) {
                Ok(o) => o.pipeline.to_config(&o.inputs, vec![w.work.clone()]),
                Err(e) => {
                    let _ = e.print();
                    return Exit::Error;
                }
            };
            let plan = with_pool(w.threads, || {
                stages::plan(&cfg.validate()?, a.shards, a.parts, a.key_ranges, &w.work)
            });
            return match plan {
                Ok(plan) => {
                    println!(
                        "{}",
                        serde_json::json!({
                            "shards": plan.shards.len(),
                            "bands": plan.bands(),
                            "key_ranges": plan.key_ranges,
                            "buckets": plan.bucket_tasks(),
                            "parts": plan.parts,
                            "phases": plan.phases(),
                        })
                    );
                    Exit::Success
                }
                Err(code) => code,
            };
        }
        StageCommand::Run(a) => {
            let result = with_pool(w.threads, || {
                stages::run_all(&w.work, &a.output, progress, &CANCEL)
            });
            match result {
                Ok(out) => {
                    return finish_stage_output(&out, &a.output, w.quiet, a.fail_on_duplicates);
                }
                Err(code) => return code,
            }
        }
        StageCommand::Sketch(a) => (Task::Sketch { shard: a.shard }, None, false),
        StageCommand::Boilerplate(_) => (Task::Boilerplate, None, false),
        StageCommand::Signatures(a) => (Task::Signatures { shard: a.shard }, None, false),
        StageCommand::Exact(_) => (Task::Exact, None, false),
        StageCommand::Buckets(a) => (Task::Buckets { task: a.task }, None, false),
        StageCommand::Verify(a) => (Task::Verify { part: a.part }, None, false),
        StageCommand::Components(a) => (Task::Components, Some(&a.output), a.fail_on_duplicates),
    };
    let result = with_pool(w.threads, || {
        stages::run_task(&w.work, task, out.map(|p| p.as_path()), progress, &CANCEL)
    });
    match (result, out) {
        (Ok(Some(scan)), Some(out)) => finish_stage_output(&scan, out, w.quiet, fail_on_duplicates),
        (Ok(_), _) => Exit::Success,
        (Err(code), _) => code,
    }
}

/// Report the outputs of a staged run's last task, as `scan` does.
fn finish_stage_output(
    out: &neardup::ScanOutput,
    dir: &std::path::Path,
    quiet: bool,
    fail_on_duplicates: bool,
) -> Exit {
    let s = &out.summary;
    print_problems(&s.problems);
    if !quiet {
        ui::print_summary(s, dir);
    }
    if s.input_lost > 0 {
        Exit::Error
    } else if fail_on_duplicates && s.documents.duplicates > 0 {
        Exit::DuplicatesFound
    } else {
        Exit::Success
    }
}
