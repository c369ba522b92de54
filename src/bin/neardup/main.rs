//! The `neardup` command: parses options, runs the library, reports. See `neardup --help`.

mod cli;
mod ui;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;
use neardup::{Error, NoProgress, Progress};

use cli::{Cli, Command, ScanArgs};

/// Process exit codes (also in `--help` and the README).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exit {
    Success = 0,
    DuplicatesFound = 1,
    Error = 2,
    Interrupted = 130,
}

static CANCEL: AtomicBool = AtomicBool::new(false);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = ctrlc::set_handler(|| {
        if CANCEL.swap(true, Ordering::SeqCst) {
            // Second Ctrl-C: stop now.
            std::process::exit(Exit::Interrupted as i32);
        }
    });
    let code = match cli.command {
        Command::Scan(args) => run_scan(&args),
    };
    ExitCode::from(code as u8)
}

fn run_scan(args: &ScanArgs) -> Exit {
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("neardup: cannot start {} threads: {e}", args.threads);
            return Exit::Error;
        }
    };
    let bars = ui::Bars::new(args.quiet);
    let progress: &dyn Progress = if args.quiet { &NoProgress } else { &bars };
    let result = pool.install(|| {
        let mut out = neardup::scan(args.to_config(), progress, &CANCEL)?;
        if CANCEL.load(Ordering::SeqCst) {
            return Err(Error::Interrupted);
        }
        neardup::write_outputs(&mut out, &args.output, progress)?;
        Ok(out)
    });
    match result {
        Ok(out) => {
            let s = &out.summary;
            for p in s.problems.iter().take(20) {
                eprintln!("neardup: {p}");
            }
            if s.problems.len() > 20 {
                eprintln!(
                    "neardup: … and {} more problems (see summary.json)",
                    s.problems.len() - 20
                );
            }
            if !args.quiet {
                ui::print_summary(s, &args.output);
            }
            let skipped = s.documents.skipped > 0 || s.files.skipped > 0;
            if skipped {
                Exit::Error
            } else if args.fail_on_duplicates && s.documents.duplicates > 0 {
                Exit::DuplicatesFound
            } else {
                Exit::Success
            }
        }
        Err(Error::Interrupted) => {
            eprintln!("neardup: interrupted; no output written");
            Exit::Interrupted
        }
        Err(e) => {
            eprintln!("neardup: {e:#}");
            Exit::Error
        }
    }
}
