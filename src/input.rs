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

use std::borrow::Cow;
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read};
use std::ops::Deref;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use rayon::prelude::*;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::config::{FormatChoice, InputConfig};
use crate::error::{Problem, ProblemKind};

/// Index of a document in input order.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct DocId(pub u32);

/// How a file's bytes are split into documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// The whole file is one document.
    Text,
    /// One JSON object per line.
    Jsonl,
}

/// Compression of an input file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// The bytes of an input file: mapped read-only, or owned (read, decompressed, stdin).
pub enum Data {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl Deref for Data {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Data::Mapped(m) => m,
            Data::Owned(v) => v,
        }
    }
}

/// One input file, loaded.
pub struct InputFile {
    /// The path as shown to the user (argument joined with the path found under it), or `-`.
    pub path: String,
    /// Document id for a text file: the path relative to the argument it was found under.
    pub id_base: String,
    /// Found by walking a directory argument (so `id_base` is a relative path).
    pub from_dir: bool,
    pub format: Format,
    pub compression: Compression,
    /// Whether the bytes are memory-mapped.
    pub mapped: bool,
    /// Size on disk (compressed size for compressed files).
    pub disk_bytes: u64,
    pub data: Data,
}

/// Where a document's text is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextRef {
    /// Raw UTF-8 bytes of the file, `start..start+len`.
    Raw { start: u64, len: u32 },
    /// The inside of a JSON string in the file (between the quotes); `escaped` if it contains a
    /// backslash and must be unescaped before use.
    Json { start: u64, len: u32, escaped: bool },
    /// A repaired text stored in [`Corpus::owned`].
    Owned(u32),
}

/// Where a document's id is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdRef {
    /// A text file: the file's `id_base`.
    File,
    /// A JSON record without an id field: `path:line`.
    Line,
    /// The inside of a JSON string in the file.
    Json { start: u64, len: u32, escaped: bool },
    /// A JSON number (or other scalar) in the file, used as written.
    JsonRaw { start: u64, len: u32 },
    /// An id stored in [`Corpus::owned`].
    Owned(u32),
}

/// One document: which file, which line, where its text and id are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Document {
    pub file: u32,
    /// 1-based line of the record in its file; 0 for whole-file documents.
    pub line: u32,
    pub text: TextRef,
    pub id: IdRef,
}

/// All documents of a run, in canonical input order (document `i` is `DocId(i)`).
pub struct Corpus {
    pub files: Vec<InputFile>,
    pub docs: Vec<Document>,
    /// Texts and ids that could not be borrowed from the input (repaired invalid UTF-8).
    pub owned: Vec<String>,
    /// Distinct document sources, in order of first appearance.
    pub sources: Vec<String>,
    /// Per source: whether it names an outlet (a `--source-field` value, or the directory of
    /// text files) rather than just the JSON Lines file a record came from.
    pub source_is_outlet: Vec<bool>,
    /// Source of each document, an index into `sources`.
    pub doc_source: Vec<u32>,
    pub problems: Vec<Problem>,
    /// Records and whole-file documents that were skipped (each also has a problem).
    pub skipped_documents: u64,
    /// Files that could not be used at all.
    pub skipped_files: u64,
}

impl Corpus {
    /// The text of document `d`; JSON escapes are undone into `buf` when needed.
    pub fn text<'a>(&'a self, d: &Document, buf: &'a mut String) -> &'a str {
        match d.text {
            TextRef::Raw { start, len } => {
                let bytes = &self.files[d.file as usize].data[start as usize..][..len as usize];
                // Validated when the corpus was built.
                simdutf8::basic::from_utf8(bytes).unwrap_or("")
            }
            TextRef::Json {
                start,
                len,
                escaped,
            } => {
                let bytes = &self.files[d.file as usize].data[start as usize..][..len as usize];
                let raw = simdutf8::basic::from_utf8(bytes).unwrap_or("");
                if escaped {
                    unescape_json_into(raw, buf);
                    buf.as_str()
                } else {
                    raw
                }
            }
            TextRef::Owned(i) => &self.owned[i as usize],
        }
    }

    /// Length of the document's text as stored (escaped length for JSON), in bytes.
    pub fn text_len(&self, d: &Document) -> u64 {
        match d.text {
            TextRef::Raw { len, .. } | TextRef::Json { len, .. } => len as u64,
            TextRef::Owned(i) => self.owned[i as usize].len() as u64,
        }
    }

    /// The id of document `d`, decoded.
    pub fn id(&self, d: &Document) -> Cow<'_, str> {
        let file = &self.files[d.file as usize];
        match d.id {
            IdRef::File => Cow::Borrowed(&file.id_base),
            IdRef::Line => Cow::Owned(format!("{}:{}", file.path, d.line)),
            IdRef::Json {
                start,
                len,
                escaped,
            } => {
                let raw =
                    std::str::from_utf8(&file.data[start as usize..][..len as usize]).unwrap_or("");
                if escaped {
                    let mut s = String::new();
                    unescape_json_into(raw, &mut s);
                    Cow::Owned(s)
                } else {
                    Cow::Borrowed(raw)
                }
            }
            IdRef::JsonRaw { start, len } => Cow::Borrowed(
                std::str::from_utf8(&file.data[start as usize..][..len as usize]).unwrap_or(""),
            ),
            IdRef::Owned(i) => Cow::Borrowed(&self.owned[i as usize]),
        }
    }

    /// The source (outlet) of document `i`: `--source-field` for JSON Lines (a URL gives its
    /// host), else the file for JSON Lines and the parent directory for text files.
    pub fn doc_source_name(&self, i: usize) -> &str {
        &self.sources[self.doc_source[i] as usize]
    }

    /// The path of the file document `d` came from.
    pub fn source(&self, d: &Document) -> &str {
        &self.files[d.file as usize].path
    }

    /// Consecutive blocks of documents for parallel work: at most 256 documents and about
    /// 256 KiB of text each, so a corpus of a few huge documents still splits into enough work
    /// items to keep every core busy. Depends only on the corpus (deterministic).
    pub fn blocks(&self) -> Vec<std::ops::Range<usize>> {
        const BLOCK_DOCS: usize = 256;
        const BLOCK_BYTES: u64 = 256 << 10;
        let mut out = Vec::new();
        let mut start = 0;
        let mut bytes = 0;
        for (i, d) in self.docs.iter().enumerate() {
            bytes += self.text_len(d);
            if i + 1 - start >= BLOCK_DOCS || bytes >= BLOCK_BYTES {
                out.push(start..i + 1);
                start = i + 1;
                bytes = 0;
            }
        }
        if start < self.docs.len() {
            out.push(start..self.docs.len());
        }
        out
    }

    /// Total bytes of input data (decompressed).
    pub fn data_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.data.len() as u64).sum()
    }
}

/// Undo JSON string escapes of `raw` (the inside of a valid JSON string) into `out`.
pub fn unescape_json_into(raw: &str, out: &mut String) {
    out.clear();
    let bytes = raw.as_bytes();
    let mut i = 0;
    let mut plain = 0;
    while i < bytes.len() {
        // Plain runs are found with memchr (SIMD), not byte by byte.
        match memchr::memchr(b'\\', &bytes[i..]) {
            Some(p) => i += p,
            None => break,
        }
        out.push_str(&raw[plain..i]);
        let esc = bytes.get(i + 1).copied().unwrap_or(b'\\');
        i += 2;
        match esc {
            b'n' => out.push('\n'),
            b't' => out.push('\t'),
            b'r' => out.push('\r'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'u' => {
                let hi = hex4(bytes, i);
                i += 4;
                let c = match hi {
                    Some(h @ 0xD800..=0xDBFF)
                        if bytes.get(i) == Some(&b'\\') && bytes.get(i + 1) == Some(&b'u') =>
                    {
                        match hex4(bytes, i + 2) {
                            Some(l @ 0xDC00..=0xDFFF) => {
                                i += 6;
                                char::from_u32(0x10000 + ((h - 0xD800) << 10) + (l - 0xDC00))
                            }
                            _ => None,
                        }
                    }
                    Some(h) => char::from_u32(h),
                    None => None,
                };
                out.push(c.unwrap_or('\u{FFFD}'));
            }
            other => out.push(other as char), // \" \\ \/
        }
        i = i.min(bytes.len());
        plain = i;
    }
    out.push_str(&raw[plain..]);
}

/// The inside of a JSON string as a `String`, unescaped if it has escapes.
fn decode_json_str(raw: &str, escaped: bool) -> String {
    let mut s = String::new();
    if escaped {
        unescape_json_into(raw, &mut s);
    } else {
        s.push_str(raw);
    }
    s
}

fn hex4(bytes: &[u8], at: usize) -> Option<u32> {
    let s = bytes.get(at..at + 4)?;
    let s = std::str::from_utf8(s).ok()?;
    u32::from_str_radix(s, 16).ok()
}

/// A file found by discovery, not yet read.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Found {
    /// Real path to open (`None` for stdin).
    pub(crate) path: Option<PathBuf>,
    pub(crate) display: String,
    pub(crate) id_base: String,
    pub(crate) from_dir: bool,
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
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
                });
            }
            continue;
        }
        let display = arg.to_string_lossy().into_owned();
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
            let mut visited = HashSet::new();
            walk(
                arg,
                Path::new(""),
                cfg,
                &exclude,
                &mut visited,
                &mut seen_files,
                &mut out,
                problems,
            );
        } else {
            let canon = std::fs::canonicalize(arg).unwrap_or_else(|_| arg.clone());
            if exclude.iter().any(|x| canon.starts_with(x)) || !seen_files.insert(canon) {
                continue;
            }
            out.push(Found {
                path: Some(arg.clone()),
                display: display.clone(),
                id_base: display,
                from_dir: false,
            });
        }
    }
    out.sort_by(|a, b| a.display.cmp(&b.display));
    out
}

#[allow(clippy::too_many_arguments)]
fn walk(
    root: &Path,
    rel: &Path,
    cfg: &InputConfig,
    exclude: &[PathBuf],
    visited: &mut HashSet<PathBuf>,
    seen_files: &mut HashSet<PathBuf>,
    out: &mut Vec<Found>,
    problems: &mut Vec<Problem>,
) {
    let dir = root.join(rel);
    let display_dir = dir.to_string_lossy().into_owned();
    let canon = match std::fs::canonicalize(&dir) {
        Ok(c) => c,
        Err(e) => {
            problems.push(Problem {
                path: display_dir,
                line: None,
                kind: ProblemKind::Unreadable,
                message: e.to_string(),
            });
            return;
        }
    };
    if exclude.iter().any(|x| canon.starts_with(x)) {
        return;
    }
    if !visited.insert(canon) {
        problems.push(Problem {
            path: display_dir,
            line: None,
            kind: ProblemKind::SymlinkLoop,
            message: "directory reached twice (symlink loop?); not descending again".into(),
        });
        return;
    }
    let entries = match std::fs::read_dir(&dir) {
        Ok(rd) => {
            let mut v: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
            v.sort();
            v
        }
        Err(e) => {
            problems.push(Problem {
                path: display_dir,
                line: None,
                kind: ProblemKind::Unreadable,
                message: e.to_string(),
            });
            return;
        }
    };
    for name in entries {
        if !cfg.hidden && is_hidden(&name) {
            continue;
        }
        let rel_child = rel.join(&name);
        let full = root.join(&rel_child);
        let meta = match std::fs::metadata(&full) {
            Ok(m) => m,
            Err(e) => {
                let kind = if std::fs::symlink_metadata(&full).is_ok() {
                    // A dangling link or a loop that the OS refused to follow.
                    if e.raw_os_error() == Some(40) {
                        ProblemKind::SymlinkLoop
                    } else {
                        ProblemKind::Unreadable
                    }
                } else {
                    ProblemKind::NotFound
                };
                problems.push(Problem {
                    path: full.to_string_lossy().into_owned(),
                    line: None,
                    kind,
                    message: e.to_string(),
                });
                continue;
            }
        };
        if meta.is_dir() {
            walk(
                root, &rel_child, cfg, exclude, visited, seen_files, out, problems,
            );
        } else if meta.is_file() {
            let canon = std::fs::canonicalize(&full).unwrap_or_else(|_| full.clone());
            if exclude.iter().any(|x| canon.starts_with(x)) || !seen_files.insert(canon) {
                continue;
            }
            out.push(Found {
                path: Some(full.clone()),
                display: full.to_string_lossy().into_owned(),
                id_base: rel_child.to_string_lossy().into_owned(),
                from_dir: true,
            });
        }
    }
}

fn split_compression(name: &str) -> (Compression, &str) {
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

fn format_of(stem: &str, choice: FormatChoice) -> Format {
    match choice {
        FormatChoice::Text => Format::Text,
        FormatChoice::Jsonl => Format::Jsonl,
        FormatChoice::Auto => {
            let lower = stem.to_ascii_lowercase();
            if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") || lower.ends_with(".json") {
                Format::Jsonl
            } else {
                Format::Text
            }
        }
    }
}

fn problem(
    path: &str,
    line: Option<u64>,
    kind: ProblemKind,
    message: impl Into<String>,
) -> Problem {
    Problem {
        path: path.to_string(),
        line,
        kind,
        message: message.into(),
    }
}

/// Read a whole (possibly compressed) stream; a fault keeps what was decoded before it.
fn read_stream(
    reader: impl Read,
    compression: Compression,
    display: &str,
    problems: &mut Vec<Problem>,
) -> Vec<u8> {
    let mut buf = Vec::new();
    let result = match compression {
        Compression::None => { reader }.read_to_end(&mut buf),
        Compression::Gzip => flate2::read::MultiGzDecoder::new(reader).read_to_end(&mut buf),
        Compression::Zstd => match zstd::stream::read::Decoder::new(reader) {
            Ok(mut d) => {
                // Allow long-window frames (zstd --long=27 and beyond).
                let _ = d.window_log_max(31);
                d.read_to_end(&mut buf)
            }
            Err(e) => Err(e),
        },
    };
    if let Err(e) = result {
        let kind = if compression == Compression::None {
            ProblemKind::Unreadable
        } else {
            ProblemKind::CorruptCompressed
        };
        problems.push(problem(
            display,
            None,
            kind,
            format!("{e}; kept the {} bytes decoded before the fault", buf.len()),
        ));
    }
    buf
}

/// Open, map or read, and decompress one file.
fn load_file(found: &Found, cfg: &InputConfig) -> (Option<InputFile>, Vec<Problem>) {
    let mut problems = Vec::new();
    let name = found.display.as_str();
    let (mut compression, stem) = split_compression(name);
    let mut format = format_of(stem, cfg.format);
    let (data, disk_bytes, mapped) = match &found.path {
        None => {
            // stdin: JSON Lines unless told otherwise; compression by magic bytes.
            if cfg.format == FormatChoice::Auto {
                format = Format::Jsonl;
            }
            let mut raw = Vec::new();
            if let Err(e) = io::stdin().lock().read_to_end(&mut raw) {
                problems.push(problem(name, None, ProblemKind::Unreadable, e.to_string()));
                return (None, problems);
            }
            compression = sniff_compression(&raw);
            let disk = raw.len() as u64;
            let data = if compression == Compression::None {
                raw
            } else {
                read_stream(&raw[..], compression, name, &mut problems)
            };
            (Data::Owned(data), disk, false)
        }
        Some(path) => {
            let file = match File::open(path) {
                Ok(f) => f,
                Err(e) => {
                    problems.push(problem(name, None, ProblemKind::Unreadable, e.to_string()));
                    return (None, problems);
                }
            };
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            if compression != Compression::None {
                let data = read_stream(&file, compression, name, &mut problems);
                (Data::Owned(data), len, false)
            } else if !cfg.no_mmap && len >= cfg.mmap_min_bytes && len > 0 {
                // SAFETY: the map is read-only and private to this process. If another process
                // truncates the file while it is mapped, reading past the new end raises SIGBUS;
                // that is the documented contract (README "Bad input"): inputs must not be
                // modified during a run. Small files are read instead of mapped, and the length
                // is checked against the metadata below.
                match unsafe { Mmap::map(&file) } {
                    Ok(m) if m.len() as u64 == len => (Data::Mapped(m), len, true),
                    _ => (
                        Data::Owned(read_stream(&file, Compression::None, name, &mut problems)),
                        len,
                        false,
                    ),
                }
            } else {
                let data = read_stream(&file, Compression::None, name, &mut problems);
                (Data::Owned(data), len, false)
            }
        }
    };
    let head = &data[..data.len().min(8192)];
    if head.contains(&0) {
        problems.push(problem(
            name,
            None,
            ProblemKind::Binary,
            "binary file (NUL bytes in the first 8 KiB); skipped",
        ));
        return (None, problems);
    }
    (
        Some(InputFile {
            path: found.display.clone(),
            id_base: found.id_base.clone(),
            from_dir: found.from_dir,
            format,
            compression,
            mapped,
            disk_bytes,
            data,
        }),
        problems,
    )
}

fn sniff_compression(raw: &[u8]) -> Compression {
    if raw.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if raw.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Documents, owned strings and problems found in one piece of one file.
#[derive(Default)]
struct Piece {
    docs: Vec<Document>,
    owned: Vec<String>,
    /// Distinct sources of the piece in order of first appearance, and whether each is an
    /// outlet; `doc_source[i]` indexes it for `docs[i]`.
    sources: Vec<(String, bool)>,
    source_ids: std::collections::HashMap<String, u32>,
    doc_source: Vec<u32>,
    problems: Vec<Problem>,
    skipped: u64,
    lines: u64,
}

impl Piece {
    /// Record the source of the document just pushed (interned: no allocation for a source
    /// already seen in the piece).
    fn push_source(&mut self, name: Cow<'_, str>, outlet: bool) {
        let id = match self.sources.last() {
            Some((last, _)) if *last == *name => self.sources.len() as u32 - 1,
            _ => match self.source_ids.get(name.as_ref()) {
                Some(&id) => id,
                None => {
                    let id = self.sources.len() as u32;
                    self.source_ids.insert(name.to_string(), id);
                    self.sources.push((name.into_owned(), outlet));
                    id
                }
            },
        };
        self.doc_source.push(id);
    }
}

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
        .filter(|p| matches!(p.kind, ProblemKind::NotFound | ProblemKind::Unreadable))
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
                if f.path.is_some() && format_of(stem, cfg.format) == Format::Text {
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
    };
    build(vec![file], Vec::new(), 0, 0, cfg, true, &[])
}

/// Split loaded files into documents and assemble the corpus; `disambiguate` makes ids unique
/// (a shard of a staged run leaves that to the stage that sees every shard). `ranges[i]`, when
/// given, limits JSON Lines file `i` to those bytes (cut at line starts; line numbers then count
/// from the start of the range).
pub(crate) fn build(
    files: Vec<InputFile>,
    mut problems: Vec<Problem>,
    skipped_files: u64,
    mut skipped_documents: u64,
    cfg: &InputConfig,
    disambiguate: bool,
    ranges: &[Option<std::ops::Range<usize>>],
) -> Corpus {
    let pieces: Vec<Vec<Piece>> = files
        .par_iter()
        .enumerate()
        .map(|(i, f)| index_file(i as u32, f, cfg, ranges.get(i).cloned().flatten()))
        .collect();
    let mut asm = Assembler::new(Corpus {
        files: Vec::new(),
        docs: Vec::new(),
        owned: Vec::new(),
        sources: Vec::new(),
        source_is_outlet: Vec::new(),
        doc_source: Vec::new(),
        problems: std::mem::take(&mut problems),
        skipped_documents: 0,
        skipped_files,
    });
    for (file_pieces, file) in pieces.into_iter().zip(&files) {
        let mut line_base = 0u64;
        for mut p in file_pieces {
            for pr in &mut p.problems {
                if let Some(l) = &mut pr.line {
                    *l += line_base;
                }
                debug_assert_eq!(pr.path, file.path);
            }
            asm.add(p.docs, p.owned, p.sources, &p.doc_source, |d| {
                if d.line > 0 {
                    d.line += line_base as u32;
                }
            });
            asm.corpus.problems.append(&mut p.problems);
            skipped_documents += p.skipped;
            line_base += p.lines;
        }
    }
    asm.corpus.files = files;
    asm.corpus.skipped_documents = skipped_documents;
    let mut corpus = asm.corpus;
    if disambiguate {
        corpus.disambiguate_ids();
    }
    corpus
}

/// Assembles a corpus from pieces in input order: shifts the pieces' owned-string indices and
/// interns their sources. A scan's parsed pieces and a staged run's shards both go through it.
pub(crate) struct Assembler {
    pub(crate) corpus: Corpus,
    source_ids: std::collections::HashMap<String, u32>,
}

impl Assembler {
    pub(crate) fn new(corpus: Corpus) -> Self {
        Assembler {
            corpus,
            source_ids: Default::default(),
        }
    }

    /// Append `docs`, whose owned indices point into `owned` and whose sources are
    /// `doc_source[i]`, indices into `sources` (name, is an outlet); `place` sets each
    /// document's file and line as the corpus numbers them.
    pub(crate) fn add(
        &mut self,
        docs: Vec<Document>,
        mut owned: Vec<String>,
        sources: Vec<(String, bool)>,
        doc_source: &[u32],
        mut place: impl FnMut(&mut Document),
    ) {
        debug_assert_eq!(docs.len(), doc_source.len());
        let c = &mut self.corpus;
        let owned_base = c.owned.len() as u32;
        c.docs.extend(docs.into_iter().map(|mut d| {
            place(&mut d);
            if let TextRef::Owned(i) = &mut d.text {
                *i += owned_base;
            }
            if let IdRef::Owned(i) = &mut d.id {
                *i += owned_base;
            }
            d
        }));
        c.owned.append(&mut owned);
        let global: Vec<u32> = sources
            .into_iter()
            .map(|(src, outlet)| {
                let next = c.sources.len() as u32;
                *self.source_ids.entry(src).or_insert_with_key(|k| {
                    c.sources.push(k.clone());
                    c.source_is_outlet.push(outlet);
                    next
                })
            })
            .collect();
        c.doc_source
            .extend(doc_source.iter().map(|&l| global[l as usize]));
    }
}

impl Corpus {
    /// Make ids unique: every later document with an id already seen gets `#path:line` (text
    /// files: `#path`) appended, and a [`ProblemKind::DuplicateId`] problem; never merged.
    pub(crate) fn disambiguate_ids(&mut self) {
        let mut keyed: Vec<(u64, u32)> = (0..self.docs.len())
            .into_par_iter()
            .map(|i| {
                let id = self.id(&self.docs[i]);
                (xxhash_rust::xxh3::xxh3_64(id.as_bytes()), i as u32)
            })
            .collect();
        keyed.par_sort_unstable();
        let mut renames: Vec<(u32, u32)> = Vec::new(); // (duplicate, first with that id)
        let mut i = 0;
        while i < keyed.len() {
            let mut j = i + 1;
            while j < keyed.len() && keyed[j].0 == keyed[i].0 {
                j += 1;
            }
            if j - i > 1 {
                // Same hash: compare the ids themselves (first of each distinct id wins).
                let run = &keyed[i..j];
                for (k, &(_, d)) in run.iter().enumerate().skip(1) {
                    let id = self.id(&self.docs[d as usize]);
                    if let Some(&(_, first)) = run[..k]
                        .iter()
                        .find(|&&(_, e)| self.id(&self.docs[e as usize]) == id)
                    {
                        renames.push((d, first));
                    }
                }
            }
            i = j;
        }
        renames.sort_unstable();
        for (d, first) in renames {
            let doc = self.docs[d as usize];
            let id = self.id(&doc).into_owned();
            let place = |x: &Document| {
                let path = &self.files[x.file as usize].path;
                if x.line > 0 {
                    format!("{path}:{}", x.line)
                } else {
                    path.clone()
                }
            };
            let here = place(&doc);
            let there = place(&self.docs[first as usize]);
            self.problems.push(Problem {
                path: self.files[doc.file as usize].path.clone(),
                line: (doc.line > 0).then_some(doc.line as u64),
                kind: ProblemKind::DuplicateId,
                message: format!(
                    "id {id:?} already used at {there}; this one is now \"{id}#{here}\""
                ),
            });
            self.owned.push(format!("{id}#{here}"));
            self.docs[d as usize].id = IdRef::Owned(self.owned.len() as u32 - 1);
        }
    }
}

/// Target size of the pieces a JSON Lines file is cut into for parallel parsing.
const PIECE_BYTES: usize = 1 << 20;

fn index_file(
    file_idx: u32,
    file: &InputFile,
    cfg: &InputConfig,
    range: Option<std::ops::Range<usize>>,
) -> Vec<Piece> {
    let data: &[u8] = &file.data;
    match file.format {
        Format::Text => {
            let mut piece = Piece::default();
            let text = match std::str::from_utf8(data) {
                Ok(_) => TextRef::Raw {
                    start: 0,
                    len: data.len().min(u32::MAX as usize) as u32,
                },
                Err(e) => {
                    piece.problems.push(problem(
                        &file.path,
                        None,
                        ProblemKind::InvalidUtf8,
                        format!(
                            "invalid UTF-8 at byte {}; replaced with U+FFFD",
                            e.valid_up_to()
                        ),
                    ));
                    piece.owned.push(String::from_utf8_lossy(data).into_owned());
                    TextRef::Owned(0)
                }
            };
            piece.docs.push(Document {
                file: file_idx,
                line: 0,
                text,
                id: IdRef::File,
            });
            let parent = Path::new(&file.path)
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            piece.push_source(Cow::Owned(parent), true);
            vec![piece]
        }
        Format::Jsonl => {
            // Cut at newlines into ~1 MiB pieces, parse pieces in parallel.
            let range = range.unwrap_or(0..data.len());
            let (first, last) = (range.start.min(data.len()), range.end.min(data.len()));
            let mut bounds = vec![first];
            let mut at = first;
            while at < last {
                let target = (at + PIECE_BYTES).min(last);
                let end = if target == last {
                    target
                } else {
                    match data[target..last].iter().position(|&b| b == b'\n') {
                        Some(p) => target + p + 1,
                        None => last,
                    }
                };
                bounds.push(end);
                at = end;
            }
            bounds
                .par_windows(2)
                .map(|w| index_jsonl_piece(file_idx, file, w[0], w[1], cfg))
                .collect()
        }
    }
}

fn index_jsonl_piece(
    file_idx: u32,
    file: &InputFile,
    start: usize,
    end: usize,
    cfg: &InputConfig,
) -> Piece {
    let data: &[u8] = &file.data;
    let mut piece = Piece::default();
    let mut pos = start;
    while pos < end {
        let nl = data[pos..end].iter().position(|&b| b == b'\n');
        let line_end = nl.map_or(end, |p| pos + p);
        piece.lines += 1;
        let line_no = piece.lines;
        let mut line = &data[pos..line_end];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        let line_start = pos;
        pos = line_end + 1;
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        // Validate UTF-8 once, fast; serde_json then parses a `&str` without validating again.
        let Ok(line_str) = simdutf8::basic::from_utf8(line) else {
            repair_record(file_idx, file, line, line_no, cfg, &mut piece);
            continue;
        };
        match parse_record(
            line_str,
            &cfg.text_field,
            &cfg.id_field,
            cfg.source_field.as_deref(),
        ) {
            Ok(rec) => {
                let base = line_start as u64;
                let text = match rec.text {
                    Some(t) => t,
                    None => {
                        piece.skipped += 1;
                        piece.problems.push(problem(
                            &file.path,
                            Some(line_no),
                            ProblemKind::MissingText,
                            format!("no \"{}\" field; record skipped", cfg.text_field),
                        ));
                        continue;
                    }
                };
                let (t_start, t_len, escaped) = match text {
                    Field::String {
                        start,
                        len,
                        escaped,
                    } => (start, len, escaped),
                    Field::Other { .. } => {
                        piece.skipped += 1;
                        piece.problems.push(problem(
                            &file.path,
                            Some(line_no),
                            ProblemKind::TextNotString,
                            format!("\"{}\" is not a string; record skipped", cfg.text_field),
                        ));
                        continue;
                    }
                };
                let id = match rec.id {
                    None => IdRef::Line,
                    Some(Field::String {
                        start,
                        len,
                        escaped,
                    }) => IdRef::Json {
                        start: base + start as u64,
                        len: len as u32,
                        escaped,
                    },
                    Some(Field::Other { start, len, null }) => {
                        if null {
                            IdRef::Line
                        } else {
                            IdRef::JsonRaw {
                                start: base + start as u64,
                                len: len as u32,
                            }
                        }
                    }
                };
                piece.docs.push(Document {
                    file: file_idx,
                    line: line_no as u32,
                    text: TextRef::Json {
                        start: base + t_start as u64,
                        len: t_len as u32,
                        escaped,
                    },
                    id,
                });
                let (name, outlet) = source_name(line, rec.source, &file.path);
                piece.push_source(name, outlet);
            }
            Err(e) => {
                piece.skipped += 1;
                piece.problems.push(problem(
                    &file.path,
                    Some(line_no),
                    ProblemKind::InvalidJson,
                    format!("invalid JSON: {e}; record skipped"),
                ));
            }
        }
    }
    piece
}

/// A record with invalid UTF-8: decode lossily, parse again, keep text and id as owned strings.
fn repair_record(
    file_idx: u32,
    file: &InputFile,
    line: &[u8],
    line_no: u64,
    cfg: &InputConfig,
    piece: &mut Piece,
) {
    let fixed = String::from_utf8_lossy(line).into_owned();
    let rec = match parse_record(
        &fixed,
        &cfg.text_field,
        &cfg.id_field,
        cfg.source_field.as_deref(),
    ) {
        Ok(r) => r,
        Err(e) => {
            piece.skipped += 1;
            piece.problems.push(problem(
                &file.path,
                Some(line_no),
                ProblemKind::InvalidJson,
                format!("invalid JSON: {e}; record skipped"),
            ));
            return;
        }
    };
    let Some(Field::String {
        start,
        len,
        escaped,
    }) = rec.text
    else {
        piece.skipped += 1;
        let (kind, what) = if rec.text.is_none() {
            (ProblemKind::MissingText, "no")
        } else {
            (ProblemKind::TextNotString, "non-string")
        };
        piece.problems.push(problem(
            &file.path,
            Some(line_no),
            kind,
            format!("{what} \"{}\" field; record skipped", cfg.text_field),
        ));
        return;
    };
    piece.problems.push(problem(
        &file.path,
        Some(line_no),
        ProblemKind::InvalidUtf8,
        "invalid UTF-8; replaced with U+FFFD",
    ));
    let text_idx = piece.owned.len() as u32;
    piece
        .owned
        .push(decode_json_str(&fixed[start..start + len], escaped));
    let id = match rec.id {
        None | Some(Field::Other { null: true, .. }) => IdRef::Line,
        Some(Field::String {
            start,
            len,
            escaped,
        }) => {
            piece
                .owned
                .push(decode_json_str(&fixed[start..start + len], escaped));
            IdRef::Owned(piece.owned.len() as u32 - 1)
        }
        Some(Field::Other { start, len, .. }) => {
            piece.owned.push(fixed[start..start + len].to_string());
            IdRef::Owned(piece.owned.len() as u32 - 1)
        }
    };
    piece.docs.push(Document {
        file: file_idx,
        line: line_no as u32,
        text: TextRef::Owned(text_idx),
        id,
    });
    let (name, outlet) = source_name(fixed.as_bytes(), rec.source, &file.path);
    piece.push_source(name, outlet);
}

/// The inside of the text field's JSON string in the raw bytes of a record that is not valid
/// UTF-8 (a repaired record): the record is decoded lossily and parsed as the reader did, and the
/// span is mapped back to the raw bytes (each U+FFFD the decoding put in stands for one invalid
/// sequence). `None` when the record has no string text field.
pub(crate) fn raw_text_span(line: &[u8], text_field: &str) -> Option<std::ops::Range<usize>> {
    let fixed = String::from_utf8_lossy(line);
    let rec = parse_record(&fixed, text_field, "\u{0}", None).ok()?;
    let Some(Field::String { start, len, .. }) = rec.text else {
        return None;
    };
    Some(lossy_to_raw(line, start)..lossy_to_raw(line, start + len))
}

/// The raw offset of byte `offset` of `String::from_utf8_lossy(raw)`.
fn lossy_to_raw(raw: &[u8], offset: usize) -> usize {
    let (mut fixed, mut pos) = (0, 0);
    for chunk in raw.utf8_chunks() {
        let valid = chunk.valid().len();
        if offset <= fixed + valid {
            return pos + (offset - fixed);
        }
        fixed += valid;
        pos += valid;
        if !chunk.invalid().is_empty() {
            // One U+FFFD (3 bytes) for the invalid sequence; an offset never falls inside it.
            fixed += 3;
            pos += chunk.invalid().len();
            if offset <= fixed {
                return pos;
            }
        }
    }
    pos
}

/// The source of a record: the `--source-field` value (a URL gives its host, without `www.`),
/// an outlet; or the file when the field is absent, not one.
fn source_name<'a>(line: &'a [u8], field: Option<Field>, file: &'a str) -> (Cow<'a, str>, bool) {
    let Some(Field::String {
        start,
        len,
        escaped,
    }) = field
    else {
        return (Cow::Borrowed(file), false);
    };
    // Borrowed from the record unless it has escapes: no allocation per document.
    let name = match String::from_utf8_lossy(&line[start..start + len]) {
        Cow::Borrowed(raw) if !escaped => Cow::Borrowed(url_host(raw).unwrap_or(raw)),
        raw => {
            let value = decode_json_str(&raw, escaped);
            Cow::Owned(url_host(&value).map(str::to_string).unwrap_or(value))
        }
    };
    (name, true)
}

/// The host of an `http(s)://` URL, lower-cased callers aside, without a leading `www.`.
pub fn url_host(s: &str) -> Option<&str> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))?;
    let end = rest.find(['/', '?', '#', ':']).unwrap_or(rest.len());
    let host = &rest[..end];
    let host = host.rsplit('@').next().unwrap_or(host);
    Some(host.strip_prefix("www.").unwrap_or(host))
}

/// A field found in a record, as offsets into the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    /// A JSON string: offsets of its inside (between the quotes).
    String {
        start: usize,
        len: usize,
        escaped: bool,
    },
    /// Any other JSON value, as written.
    Other {
        start: usize,
        len: usize,
        null: bool,
    },
}

#[derive(Debug, Default)]
struct Record {
    text: Option<Field>,
    id: Option<Field>,
    source: Option<Field>,
}

/// Parse one JSON Lines record, locating the text, id and source fields without copying anything.
fn parse_record(
    line: &str,
    text_field: &str,
    id_field: &str,
    source_field: Option<&str>,
) -> Result<Record, String> {
    let mut de = serde_json::Deserializer::from_str(line);
    let found = RecordSeed {
        text_field,
        id_field,
        source_field,
    }
    .deserialize(&mut de)
    .map_err(json_error)?;
    de.end().map_err(json_error)?;
    let base = line.as_ptr() as usize;
    let locate = |raw: &RawValue| -> Field {
        let s = raw.get();
        let start = s.as_ptr() as usize - base;
        if s.starts_with('"') {
            let inner = &s[1..s.len() - 1];
            Field::String {
                start: start + 1,
                len: inner.len(),
                escaped: inner.contains('\\'),
            }
        } else {
            Field::Other {
                start,
                len: s.len(),
                null: s == "null",
            }
        }
    };
    Ok(Record {
        text: found.text.map(locate),
        id: found.id.map(locate),
        source: found.source.map(locate),
    })
}

fn json_error(e: serde_json::Error) -> String {
    let mut s = e.to_string();
    if let Some(i) = s.rfind(" at line ") {
        s.truncate(i);
    }
    format!("{s} at column {}", e.column())
}

struct RecordSeed<'a> {
    text_field: &'a str,
    id_field: &'a str,
    source_field: Option<&'a str>,
}

struct Found2<'de> {
    text: Option<&'de RawValue>,
    id: Option<&'de RawValue>,
    source: Option<&'de RawValue>,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = Found2<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = Found2<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Found2 {
            text: None,
            id: None,
            source: None,
        };
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if out.text.is_none() && key.0 == self.text_field {
                out.text = Some(map.next_value::<&'de RawValue>()?);
            } else if out.id.is_none() && key.0 == self.id_field {
                out.id = Some(map.next_value::<&'de RawValue>()?);
            } else if out.source.is_none() && Some(key.0.as_ref()) == self.source_field {
                out.source = Some(map.next_value::<&'de RawValue>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(out)
    }
}

/// An object key, borrowed when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy;

    fn field_str(line: &str, f: Option<Field>) -> Option<&str> {
        match f? {
            Field::String { start, len, .. } | Field::Other { start, len, .. } => {
                Some(&line[start..start + len])
            }
        }
    }

    #[test]
    fn parse_record_locates_text_and_id_without_copying() {
        let line = r#"{"id": "a1", "meta": {"x": [1, 2]}, "text": "hello\nworld"}"#;
        let rec = parse_record(line, "text", "id", None).unwrap();
        assert_eq!(field_str(line, rec.text), Some(r"hello\nworld"));
        assert_eq!(field_str(line, rec.id), Some("a1"));
        assert!(matches!(
            rec.text,
            Some(Field::String { escaped: true, .. })
        ));
    }

    #[test]
    fn raw_text_span_finds_the_text_of_a_record_with_invalid_utf8_around_it() {
        let line = b"{\"id\": \"caf\xe9\", \"text\": \"a\xff\\nb\"}";
        let span = raw_text_span(line, "text").unwrap();
        assert_eq!(&line[span], b"a\xff\\nb");
        assert_eq!(raw_text_span(b"{\"id\": 1}", "text"), None);
    }

    #[test]
    fn parse_record_reports_column_of_syntax_error() {
        let err = parse_record(r#"{"text": "a" "id": 1}"#, "text", "id", None).unwrap_err();
        assert!(err.contains("column 14"), "{err}");
        assert!(!err.contains("line 1"), "{err}");
    }

    #[test]
    fn parse_record_numeric_id_and_missing_text() {
        let line = r#"{"id": 42, "body": "x"}"#;
        let rec = parse_record(line, "text", "id", None).unwrap();
        assert!(rec.text.is_none());
        assert_eq!(field_str(line, rec.id), Some("42"));
        // A custom text field.
        let rec = parse_record(line, "body", "id", None).unwrap();
        assert_eq!(field_str(line, rec.text), Some("x"));
    }

    #[test]
    fn parse_record_rejects_non_objects_and_trailing_garbage() {
        assert!(parse_record("[1,2]", "text", "id", None).is_err());
        assert!(parse_record(r#"{"text":"a"} x"#, "text", "id", None).is_err());
    }

    #[test]
    fn source_field_is_read_and_urls_give_their_host() {
        let line = r#"{"text": "x", "url": "https://www.example.com:8080/a/b?c=1"}"#;
        let rec = parse_record(line, "text", "id", Some("url")).unwrap();
        assert_eq!(
            source_name(line.as_bytes(), rec.source, "f.jsonl"),
            (Cow::Borrowed("example.com"), true)
        );
        let rec = parse_record(line, "text", "id", Some("outlet")).unwrap();
        assert_eq!(
            source_name(line.as_bytes(), rec.source, "f.jsonl"),
            (Cow::Borrowed("f.jsonl"), false)
        );
        // Escaped values are decoded before the host is taken.
        let line = r#"{"text": "x", "url": "https:\/\/www.Example.org\/a"}"#;
        let rec = parse_record(line, "text", "id", Some("url")).unwrap();
        let (name, outlet) = source_name(line.as_bytes(), rec.source, "f.jsonl");
        assert_eq!((name.as_ref(), outlet), ("Example.org", true));
        assert_eq!(url_host("ftp://x"), None);
    }

    proptest::proptest! {
        /// Whatever bytes a JSON Lines file holds, loading never panics and every non-blank line
        /// is either one document or one skipped record.
        #[test]
        fn every_non_blank_line_of_arbitrary_bytes_is_a_document_or_a_skip(
            lines in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::collection::vec(proptest::num::u8::ANY, 0..40),
                    "[ -~]{0,30}".prop_map(|s| format!("{{\"text\": \"{s}\"}}").into_bytes()),
                    "[ -~]{0,30}".prop_map(|s| format!("{{\"id\": 1, \"text\": {s}}}").into_bytes()),
                ],
                0..30,
            )
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("x.jsonl");
            let mut bytes = Vec::new();
            for l in &lines {
                bytes.extend(l.iter().map(|&b| if b == b'\n' { b' ' } else { b }));
                bytes.push(b'\n');
            }
            std::fs::write(&path, &bytes).unwrap();
            let corpus = load(&InputConfig::new(vec![path]));
            if corpus.files.is_empty() {
                // NUL bytes: the whole file is skipped as binary.
                proptest::prop_assert!(bytes[..bytes.len().min(8192)].contains(&0));
            } else {
                let non_blank = bytes
                    .split(|&b| b == b'\n')
                    .filter(|l| !l.iter().all(|b| b.is_ascii_whitespace()))
                    .count() as u64;
                proptest::prop_assert_eq!(corpus.docs.len() as u64 + corpus.skipped_documents, non_blank);
                let mut buf = String::new();
                for d in &corpus.docs {
                    let _ = corpus.text(d, &mut buf);
                    let _ = corpus.id(d);
                }
            }
        }
    }

    #[test]
    fn unescape_handles_all_escapes_and_surrogate_pairs() {
        let mut s = String::new();
        unescape_json_into(r#"a\"b\\c\/d\ne\tf\u00e9\ud83d\ude00 \u0627"#, &mut s);
        assert_eq!(s, "a\"b\\c/d\ne\tfé😀 ا");
        unescape_json_into(r"bad \ud800 lone", &mut s);
        assert_eq!(s, "bad \u{FFFD} lone");
    }

    #[test]
    fn unescape_matches_serde_json_on_arabic_text() {
        let original = "السلام عليكم\n\t\"مرحبا\" \\ end";
        let json = serde_json::to_string(original).unwrap();
        let mut s = String::new();
        unescape_json_into(&json[1..json.len() - 1], &mut s);
        assert_eq!(s, original);
    }
}
