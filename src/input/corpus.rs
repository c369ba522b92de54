//! The document model: input files, documents as spans into them, the corpus, and its
//! assembly from pieces (ids made unique).

use std::borrow::Cow;
use std::ops::Deref;

use memmap2::Mmap;
use rayon::prelude::*;

use crate::error::{Problem, ProblemKind};

use super::*;

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
    /// An HTML page: one document, its visible text (see [`crate::input::html`]).
    Html,
    /// A WARC crawl (`.warc`, `.warc.gz`, WET), read as records.
    Warc,
    /// A CSV table with a header row, read as records.
    Csv,
    /// A TSV table with a header row, read as records.
    Tsv,
    /// A Parquet table (feature `parquet`), read as records.
    Parquet,
    /// JSON Lines that neardup converted a container into (fields `id`, `text`, `source`,
    /// `title`); a WARC, CSV or TSV file is this once read.
    Records,
}

impl Format {
    /// Whether the whole file is one document.
    pub fn is_whole_file(self) -> bool {
        matches!(self, Format::Text | Format::Html)
    }
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
    /// The file's path relative to its argument (its name for a file argument), byte for byte
    /// as the file system has it (`path` and `id_base` are lossy for a name that is not UTF-8):
    /// where `clean` writes its cleaned copy. `None` for standard input and in staged runs.
    pub(crate) rel: Option<std::path::PathBuf>,
    /// xxh3-64 of `data`, the input's fingerprint: hashed alongside the read stage's indexing,
    /// while the file's pages are read anyway (later, on an input bigger than memory, it would
    /// read the whole file from disk once more), or on first use.
    pub(crate) content_xxh3: std::sync::OnceLock<u64>,
}

impl InputFile {
    /// xxh3-64 of the file's bytes (decompressed), computed once.
    pub fn content_xxh3(&self) -> u64 {
        *self
            .content_xxh3
            .get_or_init(|| xxhash_rust::xxh3::xxh3_64(&self.data))
    }
}

/// Where a document's text is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextRef {
    /// Raw UTF-8 bytes of the file, `start..start+len`.
    Raw { start: u64, len: u32 },
    /// The inside of a JSON string in the file (between the quotes); `escaped` if it contains a
    /// backslash and must be unescaped before use.
    Json { start: u64, len: u32, escaped: bool },
    /// A repaired text stored in the corpus (`Corpus::owned`).
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
    /// An id stored in the corpus (`Corpus::owned`).
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
///
/// A document's *path* is the input file it came from; its *outlet* is the site or publisher
/// that boilerplate is counted per (`--source-field`, a URL's host, the directory of text
/// files, or else the file itself).
pub struct Corpus {
    pub(crate) files: Vec<InputFile>,
    pub(crate) docs: Vec<Document>,
    /// Texts and ids that could not be borrowed from the input (repaired invalid UTF-8).
    pub(crate) owned: Vec<String>,
    /// Distinct outlets, in order of first appearance.
    pub(crate) outlets: Vec<String>,
    /// Per outlet: whether it names one (a `--source-field` value, or the directory of text
    /// files) rather than just the JSON Lines file a record came from.
    pub(crate) outlet_known: Vec<bool>,
    /// Outlet of each document, an index into `outlets`.
    pub(crate) doc_outlet: Vec<u32>,
    pub(crate) problems: Vec<Problem>,
    /// Records and whole-file documents that were skipped (each also has a problem).
    pub(crate) skipped_documents: u64,
    /// Files that could not be used at all.
    pub(crate) skipped_files: u64,
}

impl Corpus {
    /// Number of documents.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Every document, in input order (document `i` is `DocId(i)`).
    pub fn documents(&self) -> &[Document] {
        &self.docs
    }

    /// Document `d`.
    pub fn document(&self, d: DocId) -> &Document {
        &self.docs[d.0 as usize]
    }

    /// The input files read.
    pub fn files(&self) -> &[InputFile] {
        &self.files
    }

    /// Input problems (files and records skipped or repaired), in input order.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Records and whole-file documents that were skipped (each also has a problem).
    pub fn skipped_documents(&self) -> u64 {
        self.skipped_documents
    }

    /// Problems where the input yielded less than it holds ([`ProblemKind::loses_input`]).
    pub fn input_lost(&self) -> u64 {
        self.problems
            .iter()
            .filter(|p| p.kind.loses_input())
            .count() as u64
    }

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

    /// The lines numbered `wanted` (1-based, ascending) of document `d`'s text, as
    /// [`crate::boilerplate::raw_line`] gives them from the whole text (split at `'\n'`,
    /// trimmed): `each(k, line)` for `wanted[k]`, for those the text has. Only those lines are
    /// validated and unescaped, so a book's few wanted lines do not cost decoding the book.
    pub(crate) fn lines_numbered(
        &self,
        d: &Document,
        wanted: &[u32],
        buf: &mut String,
        mut each: impl FnMut(usize, &str),
    ) {
        let mut k = 0;
        let mut visit = |n: usize, line: &[u8], escaped: bool, buf: &mut String| {
            while k < wanted.len() && wanted[k] as usize == n {
                let text = simdutf8::basic::from_utf8(line).unwrap_or("");
                let text = if escaped {
                    unescape_json_into(text, buf);
                    buf.as_str()
                } else {
                    text
                };
                each(k, text.trim());
                k += 1;
            }
            k < wanted.len()
        };
        match d.text {
            TextRef::Raw { start, len } | TextRef::Json { start, len, .. } => {
                let bytes = &self.files[d.file as usize].data[start as usize..][..len as usize];
                let escaped = matches!(d.text, TextRef::Json { escaped: true, .. });
                if escaped {
                    for (i, line) in json_raw_lines(bytes).enumerate() {
                        if !visit(i + 1, line, true, buf) {
                            break;
                        }
                    }
                } else {
                    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
                        if !visit(i + 1, line, false, buf) {
                            break;
                        }
                    }
                }
            }
            TextRef::Owned(i) => {
                for (i, line) in self.owned[i as usize].split('\n').enumerate() {
                    if !visit(i + 1, line.as_bytes(), false, buf) {
                        break;
                    }
                }
            }
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

    /// The outlet of document `i`: `--source-field` for JSON Lines (a URL gives its host), else
    /// the file for JSON Lines and the parent directory for text files.
    pub fn outlet_of(&self, i: usize) -> &str {
        &self.outlets[self.doc_outlet[i] as usize]
    }

    /// The path of the file document `d` came from.
    pub fn path_of(&self, d: &Document) -> &str {
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

/// Assembles a corpus from pieces in input order: shifts the pieces' owned-string indices and
/// interns their sources. A scan's parsed pieces and a staged run's shards both go through it.
pub(crate) struct Assembler {
    pub(crate) corpus: Corpus,
    source_ids: std::collections::HashMap<String, u32>,
}

impl Assembler {
    /// An empty corpus holding `problems` found before any file was read.
    pub(crate) fn new(problems: Vec<Problem>, skipped_files: u64) -> Self {
        Assembler {
            corpus: Corpus {
                files: Vec::new(),
                docs: Vec::new(),
                owned: Vec::new(),
                outlets: Vec::new(),
                outlet_known: Vec::new(),
                doc_outlet: Vec::new(),
                problems,
                skipped_documents: 0,
                skipped_files,
            },
            source_ids: Default::default(),
        }
    }

    /// Append `docs`, whose owned indices point into `owned` and whose sources are
    /// `doc_outlet[i]`, indices into `sources` (name, is an outlet); `place` sets each
    /// document's file and line as the corpus numbers them.
    pub(crate) fn add(
        &mut self,
        docs: Vec<Document>,
        mut owned: Vec<String>,
        sources: Vec<(String, bool)>,
        doc_outlet: &[u32],
        mut place: impl FnMut(&mut Document),
    ) {
        debug_assert_eq!(docs.len(), doc_outlet.len());
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
                let next = c.outlets.len() as u32;
                *self.source_ids.entry(src).or_insert_with_key(|k| {
                    c.outlets.push(k.clone());
                    c.outlet_known.push(outlet);
                    next
                })
            })
            .collect();
        c.doc_outlet
            .extend(doc_outlet.iter().map(|&l| global[l as usize]));
    }
}

impl Corpus {
    /// What only the whole corpus can tell: ids made unique, and one warning per JSON Lines
    /// file whose records lack the `--source-field`.
    pub(crate) fn finish(&mut self, cfg: &crate::config::InputConfig) {
        self.disambiguate_ids();
        let Some(field) = &cfg.source_field else {
            return;
        };
        let mut per_file = vec![(0u64, 0u64); self.files.len()];
        for (d, &o) in self.docs.iter().zip(&self.doc_outlet) {
            let c = &mut per_file[d.file as usize];
            c.0 += 1;
            c.1 += u64::from(!self.outlet_known[o as usize]);
        }
        for (f, (records, missing)) in self.files.iter().zip(per_file) {
            if f.format == Format::Jsonl && missing > 0 {
                self.problems.push(Problem {
                    path: f.path.clone(),
                    line: None,
                    kind: ProblemKind::MissingSourceField,
                    message: format!(
                        "{missing} of {records} records have no \"{field}\" string field; their outlet is the file"
                    ),
                });
            }
        }
    }

    /// Make ids unique: every later document with an id already seen gets `#path:line` (text
    /// files: `#path`) appended, and a [`ProblemKind::DuplicateId`] problem; never merged.
    fn disambiguate_ids(&mut self) {
        let mut keyed: Vec<(u64, u32)> = (0..self.docs.len())
            .into_par_iter()
            .map(|i| {
                let id = self.id(&self.docs[i]);
                (xxhash_rust::xxh3::xxh3_64(id.as_bytes()), i as u32)
            })
            .collect();
        keyed.par_sort_unstable();
        let mut renames: Vec<(u32, u32)> = Vec::new(); // (duplicate, first with that id)
        // Same hash: compare the ids themselves (first of each distinct id wins).
        for run in keyed.chunk_by(|x, y| x.0 == y.0).filter(|r| r.len() > 1) {
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
