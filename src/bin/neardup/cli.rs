//! Command-line arguments, turned into the library's validated configuration.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use neardup::config::ShingleKind;
use neardup::config::{self, Banding, FormatChoice, KeepPolicy, ScanConfig, Verify};
use neardup::normalize::Profile;

const EXIT_CODES: &str = "\
Exit codes:
  0    success
  1    duplicates found, and --fail-on-duplicates was given
  2    error: bad usage, an output could not be written, or input was lost (a file or
       record skipped, a compressed stream cut short: see input_lost in summary.json)
  130  interrupted (Ctrl-C, SIGTERM, SIGHUP); no output file is left half-written";

const CLEAN_EXIT_CODES: &str = "\
Exit codes:
  0    success
  2    error: bad usage, an output could not be written, or input was lost (a file or
       record skipped, a compressed stream cut short: see OUT/.neardup/summary.json)
  130  interrupted (Ctrl-C, SIGTERM, SIGHUP); OUT is left as it was";

const ENVIRONMENT: &str = "\
Environment:
  TMPDIR  where a scan keeps pass 1's token hashes for pass 2 and verification (an unnamed
          file, about the size of the input, at most half the free space; /tmp if unset);
          if it cannot, the texts are normalised again: same outputs, slower";

const EXAMPLES: &str = "\
Examples:
  neardup scan fixtures/news -o out/
  neardup scan dump.jsonl.zst --text-field body --id-field url -o out/
  cat dump.jsonl | neardup scan - -o out/ --threshold 0.7
  neardup scan crawl/ -o out/ --fail-on-duplicates";

#[derive(Parser, Debug)]
#[command(
    name = "neardup",
    version,
    about = "Find exact and near-duplicate documents in large text dumps",
    after_long_help = EXIT_CODES,
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Scan inputs and write duplicate clusters (clusters.jsonl), boilerplate lines
    /// (boilerplate.jsonl) and a summary (summary.json).
    #[command(after_long_help = format!("{EXAMPLES}\n\n{ENVIRONMENT}\n\n{EXIT_CODES}"))]
    Scan(ScanArgs),
    /// Write a cleaned copy of the inputs: duplicates dropped (each cluster keeps its
    /// representative) and boilerplate lines removed, in the same shape (JSONL → JSONL with every
    /// other field untouched, a tree of text files → the same tree, .gz/.zst → .gz/.zst). Inputs
    /// are never modified; the audit trail goes to OUT/.neardup/removed.jsonl.
    #[command(after_long_help = format!("{CLEAN_EXAMPLES}\n\n{ENVIRONMENT}\n\n{CLEAN_EXIT_CODES}"))]
    Clean(CleanArgs),
    /// Score a clusters.jsonl against ground-truth labels ({"id":…, "cluster":…} per line):
    /// pairwise precision, recall, F1, adjusted Rand index, and recall per category.
    Eval(EvalArgs),
    /// Sweep --threshold (and --containment) against ground-truth labels: prints precision,
    /// recall, F1 and ARI per setting, recommends one, and shows its S-curve (the probability
    /// that a pair of a given similarity becomes a candidate).
    Tune(TuneArgs),
    /// Write DIR/report.html for a scan's output directory (or a clean's OUT/.neardup): one
    /// self-contained page with the summary, the clusters side by side with their shared
    /// passages highlighted, the boilerplate lines by outlet, and what clean removed. Reads the
    /// inputs again (they must not have changed).
    Report(ReportArgs),
    /// Write shell completions or the man page to stdout (`man --dir DIR`: a page per
    /// subcommand).
    Generate(GenerateArgs),
    /// One stage of a scan split into tasks over a shared work directory, for a cluster (Ray,
    /// Slurm, Kubernetes): plan, then sketch per shard, boilerplate, signatures per shard, exact,
    /// buckets per band and key range, verify per part, components. Byte-identical to
    /// `neardup scan`.
    #[command(subcommand, after_long_help = STAGE_HELP)]
    Stage(StageCommand),
    /// An incremental index of documents seen before, to dedupe each new crawl against
    /// (`neardup scan NEW --against IDX`) without scanning the old documents again.
    #[command(subcommand, after_long_help = INDEX_HELP)]
    Index(IndexCommand),
}

const INDEX_HELP: &str = "\
The daily-crawl workflow:
  neardup index create IDX corpus/ [scan options]   # once; the options are recorded
  neardup scan today/ --against IDX -o out/         # each day: today's clusters, with the
                                                    # indexed documents they copy
  neardup index add IDX today/                      # then add today's documents
Writers (create, add, compact) hold IDX/.neardup.lock; `add` is atomic (a new segment, then the
manifest switched by rename).
Exit codes: 0 success; 2 errors (a missing, damaged or other-version index, an input lost,
usage); 130 interrupted (the index is left as it was).";

#[derive(Subcommand, Debug)]
pub enum IndexCommand {
    /// Create an index from the inputs, recording the scan options (refused if IDX is one).
    Create(IndexCreateArgs),
    /// Add the inputs as a new segment, with the options recorded at creation.
    Add(IndexAddArgs),
    /// Print documents, segments, size on disk and options (`--json`: one JSON object).
    Stats(IndexStatsArgs),
    /// Merge the segments into one.
    Compact(IndexStatsArgs),
}

#[derive(Args, Debug)]
pub struct IndexCreateArgs {
    /// The index directory (created).
    #[arg(value_name = "IDX")]
    pub index: PathBuf,
    /// Files or directories to index.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Worker threads (0: one per core).
    #[arg(short = 'j', long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
    /// No progress bars or summary on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct IndexAddArgs {
    /// The index directory.
    #[arg(value_name = "IDX")]
    pub index: PathBuf,
    /// Files or directories to add.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Worker threads (0: one per core).
    #[arg(short = 'j', long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
    /// No progress bars or summary on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct IndexStatsArgs {
    /// The index directory.
    #[arg(value_name = "IDX")]
    pub index: PathBuf,
    /// One JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Worker threads (0: one per core).
    #[arg(short = 'j', long, value_name = "N", default_value_t = 0)]
    pub threads: usize,
    /// No progress bars on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

const STAGE_HELP: &str = "\
First plan (it stores the inputs and validated options in W/plan.json and prints the phases in
order, each with its task count and the option that numbers its tasks):
  neardup stage plan --work W --shards N -- INPUT... [scan options]
then every task of every phase, in that order: e.g. `neardup stage sketch --work W --shard I`
for I in 0..N, ..., `neardup stage components --work W -o OUT`. Each task can run on any
machine that sees W; a task that already finished is skipped, so a killed task is simply run
again. Or all of them here: neardup stage run --work W -o OUT
Drivers that read the phases from `stage plan`: distributed/neardup_ray.py, distributed/slurm.sh";

#[derive(Subcommand, Debug)]
pub enum StageCommand {
    /// List the inputs, split them into shards of about equal size, write WORK/plan.json and
    /// print {"shards", "bands", "key_ranges", "buckets", "parts", "phases"} as JSON. Inputs and
    /// scan options go after `--`, exactly as for `neardup scan` (every task runs with them).
    Plan(PlanArgs),
    /// Pass 1 over one shard: signatures, line statistics, document index.
    Sketch(ShardArgs),
    /// Flag boilerplate lines over all shards (one task).
    Boilerplate(WorkArgs),
    /// Pass 2 over one shard: final signatures and band keys.
    Signatures(ShardArgs),
    /// Choose one document per exact-duplicate group for LSH (one task).
    Exact(WorkArgs),
    /// Candidate pairs of one LSH band and key range.
    Buckets(TaskArgs),
    /// Verify one part of the candidate pairs.
    Verify(PartArgs),
    /// Clusters from all verified pairs; writes clusters.jsonl, boilerplate.jsonl, summary.json.
    Components(OutArgs),
    /// Run every remaining stage here, in order.
    Run(OutArgs),
}

impl StageCommand {
    /// The options every stage subcommand has.
    pub fn work_args(&self) -> &WorkArgs {
        match self {
            StageCommand::Plan(a) => &a.work,
            StageCommand::Sketch(a) | StageCommand::Signatures(a) => &a.work,
            StageCommand::Boilerplate(a) | StageCommand::Exact(a) => a,
            StageCommand::Buckets(a) => &a.work,
            StageCommand::Verify(a) => &a.work,
            StageCommand::Components(a) | StageCommand::Run(a) => &a.work,
        }
    }
}

#[derive(Args, Debug)]
pub struct WorkArgs {
    /// The shared work directory.
    #[arg(long, value_name = "DIR")]
    pub work: PathBuf,

    /// Worker threads (0: one per core).
    #[arg(short = 'j', long, value_name = "N", default_value_t = 0)]
    pub threads: usize,

    /// No progress bars on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    #[command(flatten)]
    pub work: WorkArgs,

    /// Number of shards (tasks of the per-shard stages).
    #[arg(long, value_name = "N")]
    pub shards: usize,

    /// Number of verification parts.
    #[arg(long, value_name = "N", default_value_t = neardup::stages::DEFAULT_PARTS)]
    pub parts: usize,

    /// Key ranges per LSH band (buckets tasks = bands × key ranges; more ranges, less memory
    /// per task).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub key_ranges: usize,

    /// Inputs and scan options, as for `neardup scan` (without -o).
    #[arg(last = true, required = true, value_name = "SCAN_ARGS")]
    pub scan: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ShardArgs {
    #[command(flatten)]
    pub work: WorkArgs,
    #[arg(long, value_name = "I")]
    pub shard: usize,
}

#[derive(Args, Debug)]
pub struct TaskArgs {
    #[command(flatten)]
    pub work: WorkArgs,
    #[arg(long, value_name = "T")]
    pub task: usize,
}

#[derive(Args, Debug)]
pub struct PartArgs {
    #[command(flatten)]
    pub work: WorkArgs,
    #[arg(long, value_name = "P")]
    pub part: usize,
}

#[derive(Args, Debug)]
pub struct OutArgs {
    #[command(flatten)]
    pub work: WorkArgs,

    /// Output directory for clusters.jsonl, boilerplate.jsonl, summary.json.
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,

    /// Exit with code 1 when any duplicate is found.
    #[arg(long)]
    pub fail_on_duplicates: bool,
}

/// The inputs and scan options a plan records, parsed as `neardup scan` parses them.
#[derive(Parser, Debug)]
#[command(no_binary_name = true, name = "neardup stage plan --")]
pub struct StageOptions {
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,

    #[command(flatten)]
    pub pipeline: PipelineArgs,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A scan's output directory, or a clean's OUT/.neardup.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,

    /// Worker threads (0: one per core).
    #[arg(short = 'j', long, value_name = "N", default_value_t = 0)]
    pub threads: usize,

    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// `man`, or a shell: bash, zsh, fish, elvish, powershell.
    #[arg(value_name = "WHAT")]
    pub what: String,

    /// With `man`: write a page per subcommand (neardup.1, neardup-scan.1, …) into this
    /// directory instead of the main page to stdout.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct TuneArgs {
    /// Files or directories to scan.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,

    /// Ground truth: JSON Lines with "id" and "cluster".
    #[arg(long, value_name = "LABELS")]
    pub truth: PathBuf,

    /// Jaccard thresholds to try, comma-separated (no spaces: 0.5,0.7).
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "0.3,0.4,0.5,0.6,0.7,0.8,0.9"
    )]
    pub thresholds: Vec<f64>,

    /// Containment thresholds to try, comma-separated (no spaces); `off` for Jaccard only.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "off,0.5,0.6,0.7,0.8"
    )]
    pub containments: Vec<String>,

    /// Label field with a category, for recall per category in --json output.
    #[arg(long, value_name = "NAME")]
    pub category_field: Option<String>,

    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub pipeline: PipelineArgs,

    /// Worker threads (0: one per core).
    #[arg(short = 'j', long, value_name = "N", default_value_t = 0)]
    pub threads: usize,

    /// No progress bars on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Ground truth: JSON Lines with "id" and "cluster" (documents alone in their cluster are
    /// singletons).
    #[arg(long, value_name = "LABELS")]
    pub truth: PathBuf,

    /// The clusters to score (a scan's clusters.jsonl).
    #[arg(value_name = "CLUSTERS")]
    pub clusters: PathBuf,

    /// Label field with a category (e.g. cut/light/heavy) to report recall per category.
    #[arg(long, value_name = "NAME")]
    pub category_field: Option<String>,

    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

const CLEAN_EXAMPLES: &str = "\
Examples:
  neardup clean dump.jsonl.zst -o clean/                 # clean/dump.jsonl.zst
  neardup clean crawl/ -o clean/ --dry-run               # only clean/.neardup/removed.jsonl
  neardup scan crawl/ -o scan/ && neardup clean crawl/ --from scan/ -o clean/";

#[derive(Args, Debug)]
pub struct CleanArgs {
    /// Files or directories to clean (directories recursively); `-` reads JSON Lines from stdin.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,

    /// Output directory for the cleaned corpus (and its report in OUT/.neardup/).
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,

    /// Reuse the clusters and boilerplate of an earlier `scan` output directory (checked to be
    /// from the same inputs and options) instead of scanning again.
    #[arg(long, value_name = "SCAN_DIR")]
    pub from: Option<PathBuf>,

    /// Keep duplicates; only strip boilerplate lines.
    #[arg(long)]
    pub no_dedup: bool,

    /// Keep boilerplate lines; only drop duplicates.
    #[arg(long)]
    pub no_strip: bool,

    /// Also strip template lines inside the body (headings, formulas, sign-offs between
    /// paragraphs). By default only page furniture goes: flagged lines in the top or bottom
    /// block of a document, navigation and hashtag lines, a title repeated in the page. Data
    /// lines (with a number) and the first line of a sentence going on are never stripped.
    #[arg(long, conflicts_with = "no_strip")]
    pub strip_inner: bool,

    /// Write nothing but the report (OUT/.neardup/).
    #[arg(long)]
    pub dry_run: bool,

    /// Dedupe against this index (`neardup index create`): a new document that an indexed one
    /// covers is dropped (`duplicate_of` names the indexed document); every scan option comes
    /// from the index, which is not modified.
    #[arg(long, value_name = "IDX", conflicts_with = "from")]
    pub against: Option<PathBuf>,

    #[command(flatten)]
    pub pipeline: PipelineArgs,

    /// Worker threads (0: one per core).
    #[arg(short = 'j', long, value_name = "N", default_value_t = 0)]
    pub threads: usize,

    /// No progress bars or summary on stderr (errors are still printed).
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ShingleArg {
    Word,
    Char,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ProfileArg {
    /// NFKC, case folding, punctuation, Arabic diacritics/tatweel/letter variants, digits.
    Full,
    /// Whitespace tokenisation only.
    None,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum KeepArg {
    First,
    Longest,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum VerifyArg {
    Exact,
    Estimate,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    Auto,
    Text,
    Jsonl,
}

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// Files or directories to scan (directories recursively); `-` reads JSON Lines from stdin.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,

    /// Output directory (created if missing); never read as input.
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,

    #[command(flatten)]
    pub pipeline: PipelineArgs,

    /// Worker threads (0: one per core).
    #[arg(short = 'j', long, value_name = "N", default_value_t = 0)]
    pub threads: usize,

    /// Exit with code 1 when any duplicate is found.
    #[arg(long)]
    pub fail_on_duplicates: bool,

    /// No progress bars or summary on stderr (errors are still printed).
    #[arg(short, long)]
    pub quiet: bool,

    /// Dedupe the inputs against this index (`neardup index create`): clusters of the new
    /// documents among themselves and with the indexed documents they copy (those marked
    /// `"indexed": true`). Every scan option comes from the index; the index is not modified.
    #[arg(long, value_name = "IDX")]
    pub against: Option<PathBuf>,
}

/// Options of the scan pipeline, shared by `scan` and `clean`.
#[derive(Args, Debug)]
pub struct PipelineArgs {
    /// Jaccard similarity at or above which two documents are near duplicates.
    #[arg(long, value_name = "FLOAT", default_value_t = config::DEFAULT_THRESHOLD)]
    pub threshold: f64,

    /// Containment (how much of the smaller document is inside the larger: the share of its
    /// shingles found there, or of its words inside shared shingles less 0.2) at or above which
    /// a document is a duplicate of a longer one: a teaser, a truncated or heavily edited
    /// reprint, an article inside a longer page. The smaller must have at least 30 distinct
    /// shingles, and numbers must agree.
    #[arg(long, value_name = "FLOAT", default_value_t = config::DEFAULT_CONTAINMENT)]
    pub containment: f64,

    /// Match on Jaccard only.
    #[arg(long)]
    pub no_containment: bool,

    /// Shingle size (n-gram length, in words or characters).
    #[arg(long, value_name = "N", default_value_t = config::DEFAULT_NGRAM)]
    pub ngram: usize,

    /// Shingle unit.
    #[arg(long, value_enum, default_value = "word")]
    pub shingle: ShingleArg,

    /// Number of MinHash values per document.
    #[arg(long, value_name = "NUM", default_value_t = config::DEFAULT_NUM_PERM)]
    pub num_perm: usize,

    /// LSH bands (default: derived from --threshold and --num-perm; needs --rows).
    #[arg(long, value_name = "B", requires = "rows")]
    pub bands: Option<usize>,

    /// LSH rows per band (default: derived; needs --bands).
    #[arg(long, value_name = "R", requires = "bands")]
    pub rows: Option<usize>,

    /// Seed of every hash function.
    #[arg(long, value_name = "SEED", default_value_t = config::DEFAULT_SEED)]
    pub seed: u64,

    /// Normalisation profile.
    #[arg(long = "normalize", value_enum, default_value = "full")]
    pub profile: ProfileArg,

    /// Which member of a cluster is kept as its representative (ties: first in input order).
    #[arg(long, value_enum, default_value = "first")]
    pub keep: KeepArg,

    /// How candidate pairs are checked: exact Jaccard on shingle sets, or MinHash estimate.
    #[arg(long, value_enum, default_value = "exact")]
    pub verify: VerifyArg,

    /// Input format (auto: .jsonl/.ndjson/.json are JSON Lines, other files plain text).
    #[arg(long, value_enum, default_value = "auto")]
    pub format: FormatArg,

    /// JSON field with the document text.
    #[arg(long, value_name = "NAME", default_value = config::DEFAULT_TEXT_FIELD)]
    pub text_field: String,

    /// JSON field with the document id (missing: `path:line`).
    #[arg(long, value_name = "NAME", default_value = config::DEFAULT_ID_FIELD)]
    pub id_field: String,

    /// JSON field naming each document's source (outlet) for per-source boilerplate; a URL gives
    /// its host. Without it: the file (JSON Lines) or parent directory (text files).
    #[arg(long, value_name = "NAME")]
    pub source_field: Option<String>,

    /// Documents of one source a line must appear in to be flagged as that source's template
    /// (4× for one-word lines; corpus-wide lines need 4× more).
    #[arg(long, value_name = "N", default_value_t = neardup::boilerplate::DEFAULT_MIN_DOCS)]
    pub boilerplate_min_docs: usize,

    /// Do not detect boilerplate lines at all.
    #[arg(long)]
    pub no_boilerplate: bool,

    /// Detect and report boilerplate, but keep it in the shingles used for matching.
    #[arg(long)]
    pub keep_boilerplate_in_shingles: bool,

    /// Do not flag the built-in list of navigation/sharing lines ("Skip to content", …).
    #[arg(long)]
    pub no_boilerplate_lexicon: bool,

    /// Also read hidden files and directories.
    #[arg(long)]
    pub hidden: bool,

    /// Read files instead of memory-mapping them.
    #[arg(long)]
    pub no_mmap: bool,

    /// Skip (and count) any text file or JSON Lines record over this size: bytes, or with a
    /// K, M or G suffix (powers of 1024). Bounds the memory a decompression bomb can take.
    #[arg(long, value_name = "SIZE", default_value = "64M", value_parser = parse_size)]
    pub max_document_size: u64,

    /// Stop at the first input problem instead of skipping it.
    #[arg(long)]
    pub strict: bool,
}

impl PipelineArgs {
    /// The library configuration these arguments describe, for `inputs`, never reading `output`.
    /// The options; `exclude`: the run's own outputs, never read from a directory argument.
    pub fn to_config(&self, inputs: &[PathBuf], exclude: Vec<PathBuf>) -> ScanConfig {
        let mut cfg = ScanConfig::new(inputs.to_vec());
        cfg.threshold = self.threshold;
        cfg.containment = (!self.no_containment).then_some(self.containment);
        cfg.ngram = self.ngram;
        cfg.shingle = match self.shingle {
            ShingleArg::Word => ShingleKind::Word,
            ShingleArg::Char => ShingleKind::Char,
        };
        cfg.num_perm = self.num_perm;
        cfg.banding = match (self.bands, self.rows) {
            (Some(bands), Some(rows)) => Some(Banding { bands, rows }),
            _ => None,
        };
        cfg.seed = self.seed;
        cfg.profile = match self.profile {
            ProfileArg::Full => Profile::Full,
            ProfileArg::None => Profile::None,
        };
        cfg.keep = match self.keep {
            KeepArg::First => KeepPolicy::First,
            KeepArg::Longest => KeepPolicy::Longest,
        };
        cfg.verify = match self.verify {
            VerifyArg::Exact => Verify::Exact,
            VerifyArg::Estimate => Verify::Estimate,
        };
        cfg.input.format = match self.format {
            FormatArg::Auto => FormatChoice::Auto,
            FormatArg::Text => FormatChoice::Text,
            FormatArg::Jsonl => FormatChoice::Jsonl,
        };
        cfg.input.text_field = self.text_field.clone();
        cfg.input.id_field = self.id_field.clone();
        cfg.input.hidden = self.hidden;
        cfg.input.no_mmap = self.no_mmap;
        cfg.input.max_document_size = self.max_document_size;
        cfg.input.exclude = exclude;
        cfg.input.source_field = self.source_field.clone();
        cfg.boilerplate.enabled = !self.no_boilerplate;
        cfg.boilerplate.min_docs = self.boilerplate_min_docs;
        cfg.boilerplate.exclude_from_shingles = !self.keep_boilerplate_in_shingles;
        cfg.boilerplate.lexicon = !self.no_boilerplate_lexicon;
        cfg.strict = self.strict;
        cfg
    }
}

/// A size in bytes: a number, optionally followed by K, M or G (powers of 1024).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, shift) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 10),
        Some((i, 'm' | 'M')) => (&t[..i], 20),
        Some((i, 'g' | 'G')) => (&t[..i], 30),
        _ => (t, 0),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 500000, 64M, 1G)"))?;
    n.checked_shl(shift)
        .filter(|v| v >> shift == n)
        .ok_or_else(|| format!("{s:?} is too large"))
}
