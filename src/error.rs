//! Errors (fatal) and problems (non-fatal, reported as data).
//!
//! A fatal [`Error`] stops the run: unusable options, an output that cannot be written, an
//! interrupt. A [`Problem`] is bad input that the run survives: it names the file and, where there
//! is one, the record (1-based line number), is counted by [`ProblemKind`] in the summary, and the
//! run goes on with the rest.

use std::fmt;
use std::path::PathBuf;

/// A fatal error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The incremental index is missing, of another layout version, or damaged (the message
    /// names the file).
    #[error("index: {0}")]
    Index(String),
    /// Reading a path failed in a way that leaves nothing to process (e.g. no input at all).
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Writing an output failed; nothing partial was left behind.
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An option, or a combination of options, that cannot work.
    #[error("invalid options: {0}")]
    Config(#[from] ConfigError),
    /// A file the run needs besides its inputs (labels, clusters, a scan to reuse) is malformed.
    #[error("{0}")]
    Data(#[from] DataError),
    /// `--strict` turned the first input problem into a fatal error.
    #[error("{0} (--strict)")]
    Strict(Problem),
    /// A staged run's work directory is missing a stage's output, or holds another run's.
    #[error("{0}")]
    Work(#[from] WorkError),
    /// Labels and predictions (or inputs) share no document id: any score would be meaningless.
    #[error("{0}")]
    NoOverlap(String),
    /// Another run holds the output directory.
    #[error(
        "another neardup run (process {pid}) is writing {}; wait for it to finish (or remove {}/.neardup.lock if that process is gone)",
        dir.display(),
        dir.display()
    )]
    Locked { dir: PathBuf, pid: u32 },
    /// The user pressed Ctrl-C; no output was written.
    #[error("interrupted")]
    Interrupted,
}

/// Options that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value out of its range.
    #[error("{option} must be {expected}, got {got}")]
    Range {
        option: &'static str,
        expected: String,
        got: String,
    },
    /// No input path at all.
    #[error("no input given")]
    NoInput,
    /// Standard input where files are needed (a staged run cuts its inputs into shards).
    #[error("standard input cannot be split into shards; give files")]
    StdinInStages,
    /// Two inputs whose cleaned copies would have the same path.
    #[error("{first} and {second} would both be written to {output}")]
    OutputClash {
        first: String,
        second: String,
        output: PathBuf,
    },
    /// `clean -o` at or above an input: the cleaned copy would replace it.
    #[error(
        "the output directory {} holds the input {}; clean into a directory outside the inputs",
        output.display(),
        input.display()
    )]
    OutputHoldsInput { output: PathBuf, input: PathBuf },
    /// `clean --from` names a scan of other inputs or options (or not a scan at all).
    #[error("--from {dir}: {file}: {reason}")]
    From {
        dir: PathBuf,
        file: &'static str,
        reason: String,
    },
}

/// A malformed line in a file the run reads besides its inputs.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}: {message}", path.display())]
pub struct DataError {
    pub path: PathBuf,
    /// 1-based line.
    pub line: u64,
    pub message: String,
}

/// A staged run's work directory cannot be used for this task. Every variant names the
/// directory or file.
#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    /// No `plan.json` (or unreadable).
    #[error("{}: no plan ({source}); run `neardup stage plan` first", dir.display())]
    NoPlan {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `plan.json` of another layout version.
    #[error("{}: layout version {found} (this neardup reads {expected})", path.display())]
    Layout {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    /// `neardup stage plan` on a directory planned differently.
    #[error("{} already holds another plan; use an empty directory", dir.display())]
    OtherPlan { dir: PathBuf },
    /// A task whose input another task has not finished.
    #[error("{}: {task} has not finished (run `neardup stage {task}` first)", dir.display())]
    NotDone { dir: PathBuf, task: String },
    /// A task index beyond the plan.
    #[error("{}: {what} {index} out of range (the plan has {count})", dir.display())]
    OutOfRange {
        dir: PathBuf,
        what: &'static str,
        index: usize,
        count: usize,
    },
    /// A stage file that does not decode (truncated, mixed from two runs, edited).
    #[error("{}: {what}", path.display())]
    Corrupt { path: PathBuf, what: String },
    /// An input changed after it was sketched.
    #[error("{}: changed since it was sketched ({was} bytes, now {now})", path.display())]
    Changed { path: PathBuf, was: u64, now: u64 },
}

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a file or record was skipped (or repaired). Serialised in snake case as summary keys.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The file could not be opened or read (permission denied, vanished, ...).
    Unreadable,
    /// A path given on the command line or found in a directory does not exist.
    NotFound,
    /// NUL bytes in the first block: not text.
    Binary,
    /// A compressed stream was cut short or corrupt; what decoded before the fault was kept.
    CorruptCompressed,
    /// A JSON Lines record is not valid JSON (or not an object).
    InvalidJson,
    /// A JSON Lines record has no text field.
    MissingText,
    /// The text field is not a string.
    TextNotString,
    /// Invalid UTF-8 was replaced with U+FFFD (the document is kept).
    InvalidUtf8,
    /// A symbolic link loop, or a directory reached twice.
    SymlinkLoop,
    /// Two documents carry the same id; the later one was given a `#path:line` suffix.
    DuplicateId,
    /// A document (a text file, or one JSON Lines record) over `--max-document-size`.
    TooLarge,
    /// A file's name says one compression and its bytes another (or none); read by its bytes.
    CompressionMismatch,
    /// A `.json` file holding one JSON array (or object), not JSON Lines.
    NotJsonLines,
    /// Not a regular file (a FIFO, socket or device found in a directory).
    NotAFile,
    /// Records of a file without the `--source-field` (their outlet is the file); a warning.
    MissingSourceField,
    /// A WARC, CSV or TSV record that does not parse or was cut short.
    InvalidRecord,
    /// Records of a container that are not documents (WARC requests, metadata, images), counted.
    NotADocument,
}

impl ProblemKind {
    /// Whether input with this problem is dropped (as opposed to repaired, or kept in part as
    /// for a compressed stream cut short).
    pub fn skips_document(self) -> bool {
        !matches!(
            self,
            ProblemKind::InvalidUtf8
                | ProblemKind::DuplicateId
                | ProblemKind::CorruptCompressed
                | ProblemKind::CompressionMismatch
                | ProblemKind::SymlinkLoop
                | ProblemKind::MissingSourceField
                | ProblemKind::NotADocument
        )
    }

    /// Whether the input yielded less than it holds: a file, record or the tail of a stream
    /// lost. Any such problem makes the exit code 2, in every subcommand. Repairs (invalid
    /// UTF-8, a renamed duplicate id), a directory reached twice (read once) and a compression
    /// read by content lose nothing.
    pub fn loses_input(self) -> bool {
        !matches!(
            self,
            ProblemKind::InvalidUtf8
                | ProblemKind::DuplicateId
                | ProblemKind::SymlinkLoop
                | ProblemKind::CompressionMismatch
                | ProblemKind::MissingSourceField
                | ProblemKind::NotADocument
        )
    }

    /// The snake-case name used in the summary.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Unreadable => "unreadable",
            ProblemKind::NotFound => "not_found",
            ProblemKind::Binary => "binary",
            ProblemKind::CorruptCompressed => "corrupt_compressed",
            ProblemKind::InvalidJson => "invalid_json",
            ProblemKind::MissingText => "missing_text",
            ProblemKind::TextNotString => "text_not_string",
            ProblemKind::InvalidUtf8 => "invalid_utf8",
            ProblemKind::SymlinkLoop => "symlink_loop",
            ProblemKind::DuplicateId => "duplicate_id",
            ProblemKind::TooLarge => "too_large",
            ProblemKind::CompressionMismatch => "compression_mismatch",
            ProblemKind::NotJsonLines => "not_json_lines",
            ProblemKind::NotAFile => "not_a_file",
            ProblemKind::MissingSourceField => "missing_source_field",
            ProblemKind::InvalidRecord => "invalid_record",
            ProblemKind::NotADocument => "not_a_document",
        }
    }
}

/// One non-fatal input problem: where, what kind, and a human message.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Problem {
    /// The file, as the user named it (or as found under a directory they named).
    pub path: String,
    /// 1-based line (record) number in the file, when the problem is about one record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    pub kind: ProblemKind,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path, line, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}
