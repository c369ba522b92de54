//! Stage 0: finding the input files, mapping or reading them, and splitting them into documents.
//!
//! * Directories are walked recursively in sorted order; hidden entries are skipped unless
//!   asked; symlink loops and files reached twice are detected (each file is read once); paths
//!   under `exclude` (the output directory) are never read.
//! * Files are then put in one canonical order, sorted by the path shown to the user, so the
//!   document order (and so "first" in `--keep first`) does not depend on argument or directory
//!   listing order.
//! * Plain files of at least `mmap_min_bytes` are memory-mapped; smaller ones, pipes and anything
//!   whose mapping fails are read into memory; `.gz` and `.zst` are decompressed into memory.
//! * A text file is one document (id: its path relative to the argument it was found under).
//!   A JSON Lines file is one document per non-blank line. Record texts are *spans* into the file's
//!   bytes — the raw JSON string, unescaped later into a per-thread buffer — so nothing is copied.
//!   Only texts that had to be repaired (invalid UTF-8) are stored as owned strings.
//!
//! Bad input never stops the run: it becomes a [`Problem`] naming the file and line.

mod corpus;
mod discover;
pub mod html;
mod records;
pub(crate) use records::TEXT as RECORDS_TEXT;
mod json;
mod read;
mod split;
#[cfg(test)]
mod tests;

use rayon::prelude::*;

use crate::config::InputConfig;
use crate::error::{Problem, ProblemKind};

pub use corpus::*;
pub use discover::path_text;
pub(crate) use discover::*;
pub(crate) use json::*;
#[cfg(unix)]
pub use read::report_shrunk_mapped_files;
use read::*;
pub(crate) use split::*;

/// Load and index every input. Never fails: every problem is recorded in the corpus.
pub fn load(cfg: &InputConfig) -> Corpus {
    let mut problems = Vec::new();
    let found = discover(cfg, &mut problems);
    let (files, mut load_problems, mut skipped_files, skipped_documents) = load_found(&found, cfg);
    skipped_files += unusable_paths(&problems);
    problems.append(&mut load_problems);
    build(
        files,
        problems,
        skipped_files,
        skipped_documents,
        cfg,
        true,
        &[],
    )
}

/// Paths that discovery could not use at all (missing, unreadable), among its `problems`: each
/// counts as a skipped file (a symlink loop is only a warning).
pub(crate) fn unusable_paths(problems: &[Problem]) -> u64 {
    problems
        .iter()
        .filter(|p| {
            matches!(
                p.kind,
                ProblemKind::NotFound | ProblemKind::Unreadable | ProblemKind::NotAFile
            )
        })
        .count() as u64
}

/// Read the `found` files: the loaded ones, their problems in file order, files skipped, and
/// documents lost with them (a text file that cannot be used is one document).
pub(crate) fn load_found(
    found: &[Found],
    cfg: &InputConfig,
) -> (Vec<InputFile>, Vec<Problem>, u64, u64) {
    let mut problems = Vec::new();
    let loaded: Vec<(Option<InputFile>, Vec<Problem>)> =
        found.par_iter().map(|f| load_file(f, cfg)).collect();
    let mut files = Vec::with_capacity(loaded.len());
    let mut skipped_files = 0;
    let mut skipped_documents = 0;
    for ((file, mut probs), f) in loaded.into_iter().zip(found) {
        problems.append(&mut probs);
        match file {
            Some(file) => files.push(file),
            None => {
                skipped_files += 1;
                // A text file that could not be used is one document lost.
                let (_, stem) = split_compression(&f.display);
                if f.path.is_some() && format_of(stem, cfg.format).is_whole_file() {
                    skipped_documents += 1;
                }
            }
        }
    }
    (files, problems, skipped_files, skipped_documents)
}

/// Index documents already in memory (one "file" of `data`), as [`load`] does for files: for
/// library users with their own I/O, and for fuzzing.
pub fn load_bytes(name: &str, data: Vec<u8>, format: Format, cfg: &InputConfig) -> Corpus {
    let file = InputFile {
        path: name.to_string(),
        id_base: name.to_string(),
        from_dir: false,
        format,
        compression: Compression::None,
        mapped: false,
        disk_bytes: data.len() as u64,
        data: Data::Owned(data),
        rel: None,
        content_xxh3: std::sync::OnceLock::new(),
    };
    build(vec![file], Vec::new(), 0, 0, cfg, true, &[])
}
