//! Scale-out: the scan as independent tasks over a shared work directory.
//!
//! `neardup scan` runs every stage in one process. For dumps that outgrow one machine the same
//! [`crate::pipeline`] functions run as separate tasks (`neardup stage …`, scheduled by
//! `distributed/neardup_ray.py`, Slurm or Kubernetes) that exchange fixed-width binary files in
//! a work directory on shared storage. The result is byte-identical to `neardup scan` with the
//! same inputs and options (`clusters.jsonl`, `boilerplate.jsonl`; `summary.json` apart from
//! timings).
//!
//! The task list is defined once, by [`Plan::phases`]: [`run_all`] runs it in order, `neardup
//! stage plan` prints it as JSON, and the Ray, Slurm and Kubernetes drivers read it from there.
//! Every task needs only the work directory: the validated [`Config`] is stored in `plan.json`.
//!
//! | phase | tasks | reads | writes |
//! |-------|-------|-------|--------|
//! | `plan` | 1 | inputs (listing only) | `plan.json` |
//! | `sketch --shard i` | shards | the shard's input files | `shards/i/`: `docs.bin`, `pass1.sig`, `pass1.meta`, `lines.count`, `lines.bin`, `shard.json` |
//! | `boilerplate` | 1 | every shard's lines and pass-1 signatures | `boilerplate.json` |
//! | `signatures --shard i` | shards | the shard, `boilerplate.json` | `shards/i/`: `final.sig`, `final.meta`, `keys/band-B-R.bin` |
//! | `exact` | 1 | every shard's `final.meta` | `members.bin` |
//! | `buckets --task t` | bands × key ranges | every shard's keys of one band and key range, `members.bin` | `buckets/task-t/part-P.bin` |
//! | `verify --part p` | parts | every band's `part-p`, signatures, texts | `verify/part-p.bin`, `.json` |
//! | `components` | 1 | every part's edges, `final.meta` | the output directory |
//!
//! Every file is written to a temporary name and renamed; a task ends by writing
//! `NAME.done` (holding the plan's fingerprint). A task whose marker exists is skipped, so a
//! killed task is simply re-run and a whole run resumes; a task refuses to start until the
//! markers of what it reads exist.
//!
//! Binary files are little-endian arrays of fixed-width records (see `codec.rs`):
//! * `docs.bin`, 40 B per document: file (u32, index in the shard), line (u32), text tag (u8: 0
//!   raw, 1 JSON string, 2 owned), text escaped (u8), id tag (u8: 0 file, 1 path:line, 2 JSON
//!   string, 3 JSON scalar, 4 owned), id escaped (u8), text length or owned index (u32), text
//!   offset (u64), id length or owned index (u32), source (u32, index in `shard.json`), id
//!   offset (u64);
//! * `*.sig`: `num_perm` × u32 per document; `*.meta`, 24 B per document: exact hash (u128),
//!   tokens (u32), shingles (u32);
//! * `lines.count`: u32 per document; `lines.bin`, 16 B per distinct line: hash (u64), first
//!   line (u32), tokens (u16), count (u8), flags (u8);
//! * `keys/band-B-R.bin`, 12 B: band key (u64), global document (u32), sorted; key range `R`
//!   holds the keys `k` with `k × key_ranges / 2^64 = R`;
//! * `members.bin`: one bit per document (bit `d % 8` of byte `d / 8`), set if it takes part in
//!   LSH;
//! * `part-P.bin` (buckets): candidate pairs, 8 B: a (u32), b (u32), a < b, sorted;
//! * `verify/part-P.bin`, 40 B per accepted edge: a, b (u32), Jaccard, `|A∩B|/|A|`,
//!   `|A∩B|/|B|` (f64), set sizes of a and b (u32).

mod codec;
mod plan;
mod shards;
mod tasks;

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use crate::config::Config;
use crate::error::{Error, Result, WorkError};
use crate::pipeline::ScanOutput;
use crate::progress::Progress;
use crate::report;

pub use plan::{DEFAULT_PARTS, Plan, PlannedFile, plan};

/// Version of the work-directory layout.
pub const WORK_FORMAT: u32 = 4;

/// One task of a staged run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    /// Pass 1 over one shard: signatures, line statistics, document index.
    Sketch { shard: usize },
    /// Flag boilerplate lines over all shards.
    Boilerplate,
    /// Pass 2 over one shard: final signatures and band keys.
    Signatures { shard: usize },
    /// Choose one document per exact-duplicate group for LSH.
    Exact,
    /// Candidate pairs of one band and key range.
    Buckets { task: usize },
    /// Verify one part of the candidate pairs.
    Verify { part: usize },
    /// Clusters from every verified pair; writes the scan's outputs.
    Components,
}

impl Task {
    /// The phase this task belongs to (its `neardup stage` subcommand).
    pub fn phase(self) -> &'static str {
        match self {
            Task::Sketch { .. } => "sketch",
            Task::Boilerplate => "boilerplate",
            Task::Signatures { .. } => "signatures",
            Task::Exact => "exact",
            Task::Buckets { .. } => "buckets",
            Task::Verify { .. } => "verify",
            Task::Components => "components",
        }
    }

    /// The done marker of the task, relative to the work directory.
    fn marker(self) -> String {
        match self {
            Task::Sketch { shard } => format!("shards/{shard:05}/sketch"),
            Task::Signatures { shard } => format!("shards/{shard:05}/signatures"),
            Task::Buckets { task } => format!("buckets/task-{task:05}"),
            Task::Verify { part } => format!("verify/part-{part:03}"),
            other => other.phase().to_string(),
        }
    }
}

/// As the command that runs it: `sketch --shard 3`.
impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Task::Sketch { shard } | Task::Signatures { shard } => {
                write!(f, "{} --shard {shard}", self.phase())
            }
            Task::Buckets { task } => write!(f, "buckets --task {task}"),
            Task::Verify { part } => write!(f, "verify --part {part}"),
            _ => f.write_str(self.phase()),
        }
    }
}

/// One phase of a staged run: tasks that can run in parallel once the previous phase is done.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Phase {
    /// The `neardup stage` subcommand.
    pub name: &'static str,
    /// Number of tasks.
    pub tasks: usize,
    /// The option that numbers the tasks (`--shard`, `--task`, `--part`); `None` for a single
    /// task.
    pub index: Option<&'static str>,
    /// Whether the task holds every document's data (schedule it on the largest node).
    pub whole_corpus: bool,
    /// Whether the task writes the scan's outputs (give it `-o OUT`).
    pub output: bool,
}

impl Phase {
    /// The tasks of this phase.
    pub fn task_list(&self) -> Vec<Task> {
        (0..self.tasks)
            .map(|i| match self.name {
                "sketch" => Task::Sketch { shard: i },
                "boilerplate" => Task::Boilerplate,
                "signatures" => Task::Signatures { shard: i },
                "exact" => Task::Exact,
                "buckets" => Task::Buckets { task: i },
                "verify" => Task::Verify { part: i },
                _ => Task::Components,
            })
            .collect()
    }
}

/// A staged run's work directory with its plan.
pub struct Work {
    pub dir: PathBuf,
    pub plan: Plan,
    fingerprint: String,
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

impl Work {
    /// Open a planned work directory.
    pub fn open(dir: &Path) -> Result<Work> {
        let plan = Plan::load(dir)?;
        Ok(Work {
            dir: dir.to_path_buf(),
            fingerprint: plan.fingerprint(),
            plan,
        })
    }

    /// The run's validated options, as planned.
    pub fn config(&self) -> &Config {
        &self.plan.config
    }

    fn shard_dir(&self, shard: usize) -> PathBuf {
        self.dir.join("shards").join(format!("{shard:05}"))
    }

    fn marker_path(&self, task: Task) -> PathBuf {
        self.dir.join(format!("{}.done", task.marker()))
    }

    /// Whether `task` finished for this plan.
    pub fn is_done(&self, task: Task) -> bool {
        fs::read_to_string(self.marker_path(task)).is_ok_and(|s| s.trim() == self.fingerprint)
    }

    /// Refuse to go on before `task` has finished.
    fn require(&self, task: Task) -> Result<()> {
        if self.is_done(task) {
            Ok(())
        } else {
            Err(WorkError::NotDone {
                dir: self.dir.clone(),
                task: task.to_string(),
            }
            .into())
        }
    }

    fn mark_done(&self, task: Task) -> Result<()> {
        let path = self.marker_path(task);
        if let Some(p) = path.parent() {
            fs::create_dir_all(p).map_err(io_err(p))?;
        }
        let fp = self.fingerprint.clone();
        report::atomic_write(&path, |w| {
            use std::io::Write;
            writeln!(w, "{fp}")
        })
        .map(drop)
    }

    /// Refuse a task index beyond the plan.
    fn check(&self, task: Task) -> Result<()> {
        let (what, index, count) = match task {
            Task::Sketch { shard } | Task::Signatures { shard } => {
                ("shard", shard, self.plan.shards.len())
            }
            Task::Buckets { task } => ("buckets task", task, self.plan.bucket_tasks()),
            Task::Verify { part } => ("part", part, self.plan.parts),
            _ => return Ok(()),
        };
        if index < count {
            Ok(())
        } else {
            Err(WorkError::OutOfRange {
                dir: self.dir.clone(),
                what,
                index,
                count,
            }
            .into())
        }
    }
}

/// Run one task of the work directory `dir` (skipped when it already finished). `out` is the
/// output directory of [`Task::Components`]; that task returns the scan's output.
pub fn run_task(
    dir: &Path,
    task: Task,
    out: Option<&Path>,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<Option<ScanOutput>> {
    let work = Work::open(dir)?;
    run_in(&work, task, out, progress, cancel)
}

fn run_in(
    work: &Work,
    task: Task,
    out: Option<&Path>,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<Option<ScanOutput>> {
    work.check(task)?;
    if let Task::Components = task {
        let out = out.unwrap_or(&work.dir);
        return tasks::components(work, out, progress, cancel).map(Some);
    }
    if work.is_done(task) {
        return Ok(None);
    }
    match task {
        Task::Sketch { shard } => tasks::sketch(work, shard, progress, cancel)?,
        Task::Boilerplate => tasks::boilerplate(work, progress, cancel)?,
        Task::Signatures { shard } => tasks::signatures(work, shard, progress, cancel)?,
        Task::Exact => tasks::exact(work, progress, cancel)?,
        Task::Buckets { task } => tasks::buckets(work, task, cancel)?,
        Task::Verify { part } => tasks::verify(work, part, progress, cancel)?,
        Task::Components => unreachable!("handled above"),
    }
    work.mark_done(task)?;
    Ok(None)
}

/// Run every task of a planned work directory in order in this process (what the drivers do
/// across machines): for one machine, for resuming, and for tests.
pub fn run_all(
    dir: &Path,
    out: &Path,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<ScanOutput> {
    let work = Work::open(dir)?;
    let mut result = None;
    for phase in work.plan.phases() {
        for task in phase.task_list() {
            result = run_in(&work, task, Some(out), progress, cancel)?.or(result);
        }
    }
    Ok(result.expect("the last phase writes the output"))
}
