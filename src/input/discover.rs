//! Finding the input files: walking directories in sorted order, hidden entries, loops,
//! excluded paths, and the format and compression of each file by name.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::config::{FormatChoice, InputConfig};
use crate::error::{Problem, ProblemKind};

use super::*;

/// A file found by discovery, not yet read.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Found {
    /// Real path to open (`None` for stdin).
    pub(crate) path: Option<PathBuf>,
    pub(crate) display: String,
    pub(crate) id_base: String,
    pub(crate) from_dir: bool,
    /// The path relative to its argument (or the file name), byte-exact.
    #[serde(skip)]
    pub(crate) rel: Option<PathBuf>,
}

pub(super) fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_string_lossy().starts_with('.')
}

/// Find every input file under `cfg.paths`, in canonical order.
pub(crate) fn discover(cfg: &InputConfig, problems: &mut Vec<Problem>) -> Vec<Found> {
    let exclude: Vec<PathBuf> = cfg
        .exclude
        .iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
    let mut seen_files: HashSet<PathBuf> = HashSet::new();
    let mut out = Vec::new();
    for arg in &cfg.paths {
        if arg.as_os_str() == "-" {
            if !out.iter().any(|f: &Found| f.path.is_none()) {
                out.push(Found {
                    path: None,
                    display: "-".into(),
                    id_base: "-".into(),
                    from_dir: false,
                    rel: None,
                });
            }
            continue;
        }
        let display = path_text(arg);
        let meta = match std::fs::metadata(arg) {
            Ok(m) => m,
            Err(e) => {
                let kind = if e.kind() == io::ErrorKind::NotFound {
                    ProblemKind::NotFound
                } else {
                    ProblemKind::Unreadable
                };
                problems.push(Problem {
                    path: display,
                    line: None,
                    kind,
                    message: e.to_string(),
                });
                continue;
            }
        };
        if meta.is_dir() {
            walk(arg, cfg, &exclude, &mut seen_files, &mut out, problems);
        } else {
            // A file named on the command line is always read (never excluded), once.
            let canon = std::fs::canonicalize(arg).unwrap_or_else(|_| arg.clone());
            if !seen_files.insert(canon) {
                continue;
            }
            out.push(Found {
                path: Some(arg.clone()),
                display: display.clone(),
                id_base: display,
                from_dir: false,
                rel: arg.file_name().map(PathBuf::from),
            });
        }
    }
    out.sort_by(|a, b| a.display.cmp(&b.display));
    out
}

/// The files under directory `root`, recursively, following symbolic links (a link back to an
/// ancestor is reported once and not followed), in sorted order; hidden entries only with
/// `cfg.hidden`; nothing under an `exclude` path; every file once (by its canonical path).
fn walk(
    root: &Path,
    cfg: &InputConfig,
    exclude: &[PathBuf],
    seen_files: &mut HashSet<PathBuf>,
    out: &mut Vec<Found>,
    problems: &mut Vec<Problem>,
) {
    let excluded =
        |p: &Path| std::fs::canonicalize(p).is_ok_and(|c| exclude.iter().any(|x| c.starts_with(x)));
    let entries = walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            if e.depth() > 0 && !cfg.hidden && is_hidden(e.file_name()) {
                return false;
            }
            !(e.file_type().is_dir() && excluded(e.path()))
        });
    for entry in entries {
        let e = match entry {
            Ok(e) => e,
            Err(err) => {
                let path = err.path().unwrap_or(root);
                let (kind, message) = if err.loop_ancestor().is_some() {
                    (
                        ProblemKind::SymlinkLoop,
                        "directory reached twice (symlink loop?); not descending again".into(),
                    )
                } else {
                    let message = err
                        .io_error()
                        .map_or_else(|| err.to_string(), |e| e.to_string());
                    // A link whose target is missing is unreadable; a path gone is not found.
                    let kind = if std::fs::symlink_metadata(path).is_ok() {
                        ProblemKind::Unreadable
                    } else {
                        ProblemKind::NotFound
                    };
                    (kind, message)
                };
                problems.push(Problem {
                    path: path_text(path),
                    line: None,
                    kind,
                    message,
                });
                continue;
            }
        };
        let t = e.file_type();
        if t.is_dir() {
            continue;
        }
        if !t.is_file() {
            problems.push(Problem {
                path: path_text(e.path()),
                line: None,
                kind: ProblemKind::NotAFile,
                message: "not a regular file (a FIFO, socket or device); skipped".into(),
            });
            continue;
        }
        let full = e.path();
        let canon = std::fs::canonicalize(full).unwrap_or_else(|_| full.to_path_buf());
        if exclude.iter().any(|x| canon.starts_with(x)) || !seen_files.insert(canon) {
            continue;
        }
        let rel = full.strip_prefix(root).unwrap_or(full);
        out.push(Found {
            path: Some(full.to_path_buf()),
            display: path_text(full),
            id_base: path_text(rel),
            from_dir: true,
            rel: Some(rel.to_path_buf()),
        });
    }
}

pub(super) fn split_compression(name: &str) -> (Compression, &str) {
    if let Some(stem) = name.strip_suffix(".gz") {
        (Compression::Gzip, stem)
    } else if let Some(stem) = name
        .strip_suffix(".zst")
        .or_else(|| name.strip_suffix(".zstd"))
    {
        (Compression::Zstd, stem)
    } else {
        (Compression::None, name)
    }
}

/// Whether a found file is uncompressed JSON Lines (by name and by its first bytes), so it can be
/// cut into byte ranges at line starts.
pub(crate) fn is_plain_jsonl(found: &Found, cfg: &InputConfig) -> bool {
    let (compression, stem) = split_compression(&found.display);
    if compression != Compression::None || format_of(stem, cfg.format) != Format::Jsonl {
        return false;
    }
    let Some(path) = &found.path else {
        return false;
    };
    let mut head = [0u8; 4];
    let n = File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    sniff_compression(&head[..n]) == Compression::None
}

pub(super) fn format_of(stem: &str, choice: FormatChoice) -> Format {
    match choice {
        FormatChoice::Text => Format::Text,
        FormatChoice::Jsonl => Format::Jsonl,
        FormatChoice::Html => Format::Html,
        FormatChoice::Auto => {
            let lower = stem.to_ascii_lowercase();
            if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") || lower.ends_with(".json") {
                Format::Jsonl
            } else if lower.ends_with(".html")
                || lower.ends_with(".htm")
                || lower.ends_with(".xhtml")
            {
                Format::Html
            } else if lower.ends_with(".warc") || lower.ends_with(".wet") || lower.ends_with(".arc")
            {
                Format::Warc
            } else if lower.ends_with(".csv") {
                Format::Csv
            } else if lower.ends_with(".tsv") {
                Format::Tsv
            } else if lower.ends_with(".parquet") {
                Format::Parquet
            } else {
                Format::Text
            }
        }
    }
}

/// A path as text for messages, ids and outputs: UTF-8 as it is; any byte of a name that is not
/// UTF-8 written as `\xNN` (so distinct names stay distinct; the file itself is opened, and
/// `clean` writes its copy, by the exact bytes).
pub fn path_text(p: &Path) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let bytes = p.as_os_str().as_bytes();
        let mut s = String::with_capacity(bytes.len());
        for chunk in bytes.utf8_chunks() {
            s.push_str(chunk.valid());
            for b in chunk.invalid() {
                s.push_str(&format!("\\x{b:02X}"));
            }
        }
        s
    }
    #[cfg(not(unix))]
    {
        p.to_string_lossy().into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn names_that_are_not_utf8_stay_distinct_as_text() {
        use std::os::unix::ffi::OsStrExt;
        let p = |b: &[u8]| path_text(Path::new(std::ffi::OsStr::from_bytes(b)));
        assert_eq!(p(b"dir/caf\xe9.txt"), "dir/caf\\xE9.txt");
        assert_ne!(p(b"caf\xe9"), p(b"caf\xe8"));
        assert_eq!(p("café/ملف.txt".as_bytes()), "café/ملف.txt");
    }
}
