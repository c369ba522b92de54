//! The incremental index: documents seen before, kept on disk, so that a new crawl is
//! deduplicated against them without scanning them again.
//!
//! An index is a directory: `MANIFEST.json` (format version, the scan options recorded at
//! creation, the list of segments) and one directory per segment, written once and never
//! changed:
//!
//! | file | content |
//! |------|---------|
//! | `segment.json` | format, document count, every file's size |
//! | `docs.bin` | per document: where its text and its metadata are (24 B records) |
//! | `texts.bin` | the documents' texts, as read (UTF-8) |
//! | `meta.bin` | per document a JSON object: id, source (input file), outlet |
//! | `keys-S.bin` | LSH band keys of band set `S` (0: Jaccard, 1: containment), `(key, doc)` sorted by key (12 B records) |
//! | `boilerplate.bin` | hashes of the lines flagged when the segment was built (sorted `u64`) |
//! | `signatures.bin`, `shingles.bin` | per document its MinHash signature (`num_perm` × `u32`) and shingle count (`u32`): a hit whose estimate is hopeless is dropped before its text is read |
//!
//! `add` writes a new segment into a temporary directory, syncs it, renames it into place, then
//! replaces the manifest by renaming a new one over it: a crash or Ctrl-C at any point leaves
//! the index as it was (a leftover temporary directory is removed by the next writer). Writers
//! hold `IDX/.neardup.lock`. Readers map the segment files; a file of the wrong size is named in
//! the error, and an index of another format version is refused, never misread.
//!
//! [`against`] deduplicates new inputs against an index: the new documents are sketched with
//! the index's options (its boilerplate lines counting as flagged), their band keys looked up
//! in every segment's sorted keys (binary search: the cost grows with the new input, not with
//! the index), and the indexed documents they hit are scanned together with them, so clusters,
//! scores and the representative are what a scan of both would give for them.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use memmap2::Mmap;
use serde::{Deserialize, Serialize};
use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::config::{BandSet, Config};
use crate::error::{Error, Result};
use crate::input::{Corpus, DocId};
use crate::pipeline::{self, Context};
use crate::progress::Progress;
use crate::sketch::Sketches;

/// The on-disk layout version this build reads and writes.
pub const INDEX_FORMAT: u32 = 1;
/// The manifest's file name.
pub const MANIFEST: &str = "MANIFEST.json";
const SEGMENT: &str = "segment.json";
const DOCS: &str = "docs.bin";
const TEXTS: &str = "texts.bin";
const META: &str = "meta.bin";
const BOILERPLATE: &str = "boilerplate.bin";
const SIGNATURES: &str = "signatures.bin";
const SHINGLES: &str = "shingles.bin";
const TMP_PREFIX: &str = ".tmp-";
/// The file of a `--against` run's output directory holding the indexed documents it read
/// back (hidden: a later scan of a directory holding it does not read it).
pub const LINKED_FILE: &str = ".neardup-indexed.jsonl";
/// Indexed documents linked per band key and segment at most: a bucket that big is a template
/// or an empty text shared by thousands (the scan's own LSH links such a bucket as a star and
/// a chain, not every pair, either).
pub const MAX_LINKS_PER_KEY: usize = 64;

/// `MANIFEST.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// The options every segment was built with (input paths: the first inputs).
    pub config: Config,
    pub segments: Vec<SegmentInfo>,
}

/// One segment as the manifest lists it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SegmentInfo {
    pub name: String,
    pub documents: u64,
}

/// `segment.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SegmentMeta {
    format: u32,
    documents: u64,
    /// (file name, size in bytes)
    files: Vec<(String, u64)>,
}

#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct DocEntry {
    text_off: U64,
    text_len: U32,
    meta_off: U64,
    meta_len: U32,
}

#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct KeyEntry {
    key: U64,
    doc: U32,
}

/// What the index knows of one indexed document besides its text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexedMeta {
    pub id: String,
    /// The input file it was read from when indexed.
    pub source: String,
    pub outlet: String,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Write {
        path: path.to_path_buf(),
        source,
    }
}

fn damaged(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::Index(format!("{}: {what}", path.display()))
}

fn key_file(set: usize) -> String {
    format!("keys-{set}.bin")
}

/// An open index: the manifest and every segment mapped.
pub struct Index {
    pub dir: PathBuf,
    pub manifest: Manifest,
    segments: Vec<Segment>,
}

struct Segment {
    dir: PathBuf,
    docs: Mmap,
    texts: Mmap,
    meta: Mmap,
    keys: Vec<Mmap>,
    signatures: Mmap,
    shingles: Mmap,
    boilerplate: Vec<u64>,
}

fn map(path: &Path) -> Result<Mmap> {
    let f = fs::File::open(path).map_err(|e| damaged(path, e))?;
    // SAFETY: segment files are written once and never changed (only whole segments are
    // removed, by compaction, after the manifest no longer lists them).
    unsafe { Mmap::map(&f) }.map_err(|e| damaged(path, e))
}

fn records<'a, T: FromBytes + Immutable + KnownLayout + Unaligned>(
    path: &Path,
    bytes: &'a [u8],
) -> Result<&'a [T]> {
    <[T]>::ref_from_bytes(bytes).map_err(|_| {
        damaged(
            path,
            format!(
                "{} bytes is not a whole number of {}-byte records (damaged segment)",
                bytes.len(),
                size_of::<T>()
            ),
        )
    })
}

impl Segment {
    fn open(dir: &Path, sets: usize, num_perm: usize) -> Result<Segment> {
        let meta_path = dir.join(SEGMENT);
        let text = fs::read_to_string(&meta_path).map_err(|e| damaged(&meta_path, e))?;
        let meta: SegmentMeta = serde_json::from_str(&text)
            .map_err(|e| damaged(&meta_path, format!("not a segment description: {e}")))?;
        if meta.format != INDEX_FORMAT {
            return Err(damaged(
                &meta_path,
                format!(
                    "index layout version {} (this neardup reads {INDEX_FORMAT}); rebuild the index",
                    meta.format
                ),
            ));
        }
        for (name, bytes) in &meta.files {
            let p = dir.join(name);
            let got = fs::metadata(&p).map_err(|e| damaged(&p, e))?.len();
            if got != *bytes {
                return Err(damaged(
                    &p,
                    format!("{got} bytes, the segment says {bytes} (damaged segment)"),
                ));
            }
        }
        let docs = map(&dir.join(DOCS))?;
        let n = records::<DocEntry>(&dir.join(DOCS), &docs)?.len() as u64;
        if n != meta.documents {
            return Err(damaged(
                &dir.join(DOCS),
                format!("{n} documents, the segment says {}", meta.documents),
            ));
        }
        let bp_path = dir.join(BOILERPLATE);
        let bp_bytes = fs::read(&bp_path).map_err(|e| damaged(&bp_path, e))?;
        let boilerplate = records::<U64>(&bp_path, &bp_bytes)?
            .iter()
            .map(|h| h.get())
            .collect();
        let keys = (0..sets)
            .map(|s| {
                let p = dir.join(key_file(s));
                let m = map(&p)?;
                records::<KeyEntry>(&p, &m)?;
                Ok(m)
            })
            .collect::<Result<Vec<_>>>()?;
        let signatures = map(&dir.join(SIGNATURES))?;
        let shingles = map(&dir.join(SHINGLES))?;
        if records::<U32>(&dir.join(SHINGLES), &shingles)?.len() as u64 != n
            || records::<U32>(&dir.join(SIGNATURES), &signatures)?.len() as u64
                != n * num_perm as u64
        {
            return Err(damaged(
                dir,
                "signatures do not match the documents (damaged segment)",
            ));
        }
        Ok(Segment {
            dir: dir.to_path_buf(),
            docs,
            texts: map(&dir.join(TEXTS))?,
            meta: map(&dir.join(META))?,
            keys,
            signatures,
            shingles,
            boilerplate,
        })
    }

    fn entries(&self) -> &[DocEntry] {
        <[DocEntry]>::ref_from_bytes(&self.docs).unwrap_or(&[])
    }

    /// Document `d`'s signature into `out` (reused: no allocation per hit).
    fn signature_into(&self, d: usize, num_perm: usize, out: &mut Vec<u32>) {
        out.clear();
        out.extend(
            <[U32]>::ref_from_bytes(&self.signatures).unwrap_or(&[])[d * num_perm..][..num_perm]
                .iter()
                .map(|v| v.get()),
        );
    }

    fn shingle_count(&self, d: usize) -> u32 {
        <[U32]>::ref_from_bytes(&self.shingles).unwrap_or(&[])[d].get()
    }

    fn keys(&self, set: usize) -> &[KeyEntry] {
        <[KeyEntry]>::ref_from_bytes(&self.keys[set]).unwrap_or(&[])
    }

    fn slice<'a>(&self, bytes: &'a [u8], file: &str, off: u64, len: u32) -> Result<&'a [u8]> {
        let (off, len) = (off as usize, len as usize);
        bytes.get(off..off + len).ok_or_else(|| {
            damaged(
                &self.dir.join(file),
                format!("a document points past its end ({off} + {len}; damaged segment)"),
            )
        })
    }

    fn text(&self, d: usize) -> Result<&str> {
        let e = &self.entries()[d];
        let b = self.slice(&self.texts, TEXTS, e.text_off.get(), e.text_len.get())?;
        std::str::from_utf8(b).map_err(|_| damaged(&self.dir.join(TEXTS), "not UTF-8"))
    }

    fn meta(&self, d: usize) -> Result<IndexedMeta> {
        let e = &self.entries()[d];
        let b = self.slice(&self.meta, META, e.meta_off.get(), e.meta_len.get())?;
        serde_json::from_slice(b).map_err(|e| damaged(&self.dir.join(META), e))
    }
}

impl Index {
    /// Open the index in `dir`: the manifest, every segment mapped and its sizes checked.
    pub fn open(dir: &Path) -> Result<Index> {
        let path = dir.join(MANIFEST);
        let text = fs::read_to_string(&path).map_err(|e| {
            Error::Index(format!(
                "{}: {e} (not an index; create one with `neardup index create`)",
                path.display()
            ))
        })?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| damaged(&path, format!("not an index manifest: {e}")))?;
        let format = v["format"].as_u64().unwrap_or(0);
        if format != INDEX_FORMAT as u64 {
            return Err(damaged(
                &path,
                format!(
                    "index layout version {format} (this neardup reads {INDEX_FORMAT}); rebuild the index"
                ),
            ));
        }
        let manifest: Manifest = serde_json::from_value(v)
            .map_err(|e| damaged(&path, format!("not an index manifest: {e}")))?;
        let sets = manifest.config.band_sets().len();
        let segments = manifest
            .segments
            .iter()
            .map(|s| Segment::open(&dir.join(&s.name), sets, manifest.config.num_perm))
            .collect::<Result<Vec<_>>>()?;
        Ok(Index {
            dir: dir.to_path_buf(),
            manifest,
            segments,
        })
    }

    /// Documents indexed.
    pub fn documents(&self) -> u64 {
        self.manifest.segments.iter().map(|s| s.documents).sum()
    }

    /// Bytes on disk of the manifest and every listed segment.
    pub fn bytes_on_disk(&self) -> u64 {
        let size = |p: &Path| fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let mut n = size(&self.dir.join(MANIFEST));
        for s in &self.segments {
            if let Ok(rd) = fs::read_dir(&s.dir) {
                n += rd.flatten().map(|e| size(&e.path())).sum::<u64>();
            }
        }
        n
    }

    /// Every segment's flagged line hashes, sorted.
    pub fn boilerplate(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .segments
            .iter()
            .flat_map(|s| s.boilerplate.iter().copied())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The indexed documents sharing a band key with `keys` (`(key, new doc)` of band set
    /// `set`): `(new doc, segment, indexed doc)`, at most [`MAX_LINKS_PER_KEY`] per key and
    /// segment.
    fn probe(&self, set: usize, keys: &[(u64, u32)]) -> Vec<(u32, u32, u32)> {
        let mut out = Vec::new();
        for (si, s) in self.segments.iter().enumerate() {
            let run = s.keys(set);
            for &(key, new) in keys {
                let start = run.partition_point(|e| e.key.get() < key);
                out.extend(
                    run[start..]
                        .iter()
                        .take_while(|e| e.key.get() == key)
                        .take(MAX_LINKS_PER_KEY)
                        .map(|e| (new, si as u32, e.doc.get())),
                );
            }
        }
        out
    }
}

/// The scan options of the index in `idx` with `inputs` as the input paths (what `--against`
/// runs with).
pub fn options_for(idx: &Path, inputs: &[PathBuf]) -> Result<Config> {
    with_inputs(idx, &Index::open(idx)?.manifest.config, inputs)
}

/// The options recorded in the index `idx` that differ from `given` (the ones a `--against`
/// run was given, which the index's replace): `"threshold: 0.5 (given 0.7)"`, for a warning.
pub fn option_differences(idx: &Path, given: &Config) -> Result<Vec<String>> {
    let index = Index::open(idx)?.manifest.config;
    let json = |c: &Config| {
        let mut v = serde_json::to_value(crate::report::OptionsOut::new(c)).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "source_field".into(),
                serde_json::to_value(&c.input.source_field).unwrap_or_default(),
            );
            o.insert("text_field".into(), c.input.text_field.clone().into());
            o.insert("id_field".into(), c.input.id_field.clone().into());
        }
        v
    };
    let (have, want) = (json(&index), json(given));
    let mut out = Vec::new();
    if let (Some(h), Some(w)) = (have.as_object(), want.as_object()) {
        for (k, v) in h {
            let g = w.get(k).unwrap_or(&serde_json::Value::Null);
            if g != v {
                out.push(format!("{k}: {v} (given {g})"));
            }
        }
    }
    Ok(out)
}

/// The scan options of the index in `idx` with `inputs` as the input paths, and the index
/// itself never read from a directory argument.
fn with_inputs(idx: &Path, cfg: &Config, inputs: &[PathBuf]) -> Result<Config> {
    let mut o = (**cfg).clone();
    o.input.paths = inputs.to_vec();
    o.input.exclude = vec![idx.to_path_buf()];
    o.validate()
}

/// What `create`, `add` and `compact` report.
#[derive(Clone, Debug, Serialize)]
pub struct IndexReport {
    /// Documents added by this run.
    pub added: u64,
    pub documents: u64,
    pub segments: usize,
    /// Input problems (the CLI prints them; any that lost input makes the exit code 2).
    pub problems: Vec<crate::error::Problem>,
    pub input_lost: u64,
}

/// Remove temporary segment directories left by an interrupted writer.
fn sweep(dir: &Path) {
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
}

fn write_manifest(dir: &Path, m: &Manifest) -> Result<()> {
    crate::report::atomic_write(&dir.join(MANIFEST), |w| {
        serde_json::to_writer_pretty(&mut *w, m).map_err(std::io::Error::other)?;
        w.write_all(b"\n")
    })
    .map(drop)
}

/// Create an index in `dir` from the inputs of `cfg` (refused if `dir` already holds one).
pub fn create(
    dir: &Path,
    cfg: &Config,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<IndexReport> {
    let _lock = crate::report::OutputLock::acquire(dir)?;
    if dir.join(MANIFEST).exists() {
        return Err(Error::Index(format!(
            "{}: already an index; add documents with `neardup index add`",
            dir.display()
        )));
    }
    sweep(dir);
    let manifest = Manifest {
        format: INDEX_FORMAT,
        config: cfg.clone(),
        segments: Vec::new(),
    };
    append(dir, manifest, cfg, &[], progress, cancel)
}

/// Add the documents of `inputs` to the index in `dir` as a new segment, with the options
/// recorded at creation.
pub fn add(
    dir: &Path,
    inputs: &[PathBuf],
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<IndexReport> {
    let _lock = crate::report::OutputLock::acquire(dir)?;
    sweep(dir);
    let index = Index::open(dir)?;
    let cfg = with_inputs(dir, &index.manifest.config, inputs)?;
    let known = index.boilerplate();
    let manifest = index.manifest.clone();
    drop(index);
    append(dir, manifest, &cfg, &known, progress, cancel)
}

/// Sketch the inputs of `cfg` (the lines in `known` counting as flagged too) and write them as
/// the next segment of `manifest`.
fn append(
    dir: &Path,
    mut manifest: Manifest,
    cfg: &Config,
    known: &[u64],
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<IndexReport> {
    let cx = Context::new(cfg, progress, cancel);
    let (corpus, sketches, bp) = pipeline::prepare(&cx, known)?;
    if corpus.is_empty() {
        let why = corpus.problems().first().map_or_else(
            || "no documents in the inputs".to_string(),
            |p| p.to_string(),
        );
        return Err(Error::Index(format!(
            "nothing indexed, the index is as it was: {why}"
        )));
    }
    if cancel.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(Error::Interrupted);
    }
    let next = manifest
        .segments
        .iter()
        .filter_map(|s| s.name.strip_prefix("seg-")?.parse::<u64>().ok())
        .max()
        .unwrap_or(0)
        + 1;
    let name = format!("seg-{next:06}");
    let tmp = dir.join(format!("{TMP_PREFIX}{name}-{}", std::process::id()));
    write_segment(&tmp, cfg, &corpus, &sketches, &bp.hashes, cancel)?;
    fs::rename(&tmp, dir.join(&name)).map_err(io_err(&tmp))?;
    let added = corpus.len() as u64;
    manifest.segments.push(SegmentInfo {
        name,
        documents: added,
    });
    write_manifest(dir, &manifest)?;
    let problems = corpus.problems().to_vec();
    Ok(IndexReport {
        added,
        documents: manifest.segments.iter().map(|s| s.documents).sum(),
        segments: manifest.segments.len(),
        input_lost: corpus.input_lost(),
        problems,
    })
}

/// The sorted `(key, doc)` list of band set `set` over the non-empty documents of `sketches`.
fn keys_of(sketches: &Sketches, set: BandSet, docs: &[u32]) -> Vec<(u64, u32)> {
    let mut all = Vec::new();
    let mut part = Vec::new();
    for band in 0..set.banding.bands {
        crate::lsh::band_keys(
            &sketches.signatures,
            sketches.num_perm,
            set,
            band,
            docs,
            0,
            &mut part,
        );
        all.extend_from_slice(&part);
    }
    all.sort_unstable();
    all
}

fn non_empty(sketches: &Sketches) -> Vec<u32> {
    (0..sketches.tokens.len() as u32)
        .filter(|&d| sketches.tokens[d as usize] > 0)
        .collect()
}

/// Write one segment into `tmp` (created), synced.
fn write_segment(
    tmp: &Path,
    cfg: &Config,
    corpus: &Corpus,
    sketches: &Sketches,
    boilerplate: &[u64],
    cancel: &AtomicBool,
) -> Result<()> {
    fs::create_dir_all(tmp).map_err(io_err(tmp))?;
    let mut texts =
        std::io::BufWriter::new(fs::File::create(tmp.join(TEXTS)).map_err(io_err(tmp))?);
    let mut meta = Vec::new();
    let mut docs = Vec::with_capacity(corpus.len());
    let (mut text_off, mut buf) = (0u64, String::new());
    for (i, d) in corpus.documents().iter().enumerate() {
        let text = corpus.text(d, &mut buf);
        texts.write_all(text.as_bytes()).map_err(io_err(tmp))?;
        let m = IndexedMeta {
            id: corpus.id(d).into_owned(),
            source: corpus.path_of(d).to_string(),
            outlet: corpus.outlet_of(i).to_string(),
        };
        let meta_off = meta.len() as u64;
        serde_json::to_writer(&mut meta, &m).map_err(|e| Error::Index(e.to_string()))?;
        docs.push(DocEntry {
            text_off: text_off.into(),
            text_len: (text.len() as u32).into(),
            meta_off: meta_off.into(),
            meta_len: ((meta.len() as u64 - meta_off) as u32).into(),
        });
        text_off += text.len() as u64;
    }
    texts.flush().map_err(io_err(tmp))?;
    drop(texts);
    let files: Vec<(String, Vec<u8>)> = vec![
        (DOCS.into(), docs.as_bytes().to_vec()),
        (META.into(), meta),
        (
            BOILERPLATE.into(),
            boilerplate.iter().flat_map(|h| h.to_le_bytes()).collect(),
        ),
        (SIGNATURES.into(), sketches.signatures.as_bytes().to_vec()),
        (SHINGLES.into(), sketches.shingles.as_bytes().to_vec()),
    ];
    let mut sizes = vec![(TEXTS.to_string(), text_off)];
    for (name, bytes) in &files {
        fs::write(tmp.join(name), bytes).map_err(io_err(&tmp.join(name)))?;
        sizes.push((name.clone(), bytes.len() as u64));
    }
    drop(files);
    // One band set at a time, written as soon as it is sorted (the largest arrays here).
    let members = non_empty(sketches);
    for (s, set) in cfg.band_sets().into_iter().enumerate() {
        if cancel.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
        let keys: Vec<KeyEntry> = keys_of(sketches, set, &members)
            .into_iter()
            .map(|(key, doc)| KeyEntry {
                key: key.into(),
                doc: doc.into(),
            })
            .collect();
        let name = key_file(s);
        fs::write(tmp.join(&name), keys.as_bytes()).map_err(io_err(&tmp.join(&name)))?;
        sizes.push((name, keys.as_bytes().len() as u64));
    }
    let meta = SegmentMeta {
        format: INDEX_FORMAT,
        documents: corpus.len() as u64,
        files: sizes,
    };
    let seg = tmp.join(SEGMENT);
    fs::write(
        &seg,
        serde_json::to_vec_pretty(&meta).map_err(|e| Error::Index(e.to_string()))?,
    )
    .map_err(io_err(&seg))?;
    for name in meta.files.iter().map(|f| f.0.as_str()).chain([SEGMENT]) {
        let p = tmp.join(name);
        fs::File::open(&p)
            .and_then(|f| f.sync_all())
            .map_err(io_err(&p))?;
    }
    Ok(())
}

/// Merge every segment of the index in `dir` into one (no-op with one segment or none).
pub fn compact(dir: &Path, progress: &dyn Progress, cancel: &AtomicBool) -> Result<IndexReport> {
    let _lock = crate::report::OutputLock::acquire(dir)?;
    sweep(dir);
    let index = Index::open(dir)?;
    let report = |m: &Manifest| IndexReport {
        added: 0,
        documents: m.segments.iter().map(|s| s.documents).sum(),
        segments: m.segments.len(),
        problems: Vec::new(),
        input_lost: 0,
    };
    if index.segments.len() < 2 {
        return Ok(report(&index.manifest));
    }
    let _ = progress;
    let next = index.manifest.segments.len() as u64;
    let name = format!(
        "seg-{:06}",
        index
            .manifest
            .segments
            .iter()
            .filter_map(|s| s.name.strip_prefix("seg-")?.parse::<u64>().ok())
            .max()
            .unwrap_or(next)
            + 1
    );
    let tmp = dir.join(format!("{TMP_PREFIX}{name}-{}", std::process::id()));
    fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
    let (mut texts, mut meta, mut docs) = (Vec::new(), Vec::new(), Vec::<DocEntry>::new());
    let (mut sigs, mut sizes_all) = (Vec::new(), Vec::new());
    let sets = index.manifest.config.band_sets().len();
    let mut keys: Vec<Vec<KeyEntry>> = vec![Vec::new(); sets];
    let mut base = 0u32;
    for s in &index.segments {
        if cancel.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
        let (t0, m0) = (texts.len() as u64, meta.len() as u64);
        texts.extend_from_slice(&s.texts);
        meta.extend_from_slice(&s.meta);
        sigs.extend_from_slice(&s.signatures);
        sizes_all.extend_from_slice(&s.shingles);
        docs.extend(s.entries().iter().map(|e| DocEntry {
            text_off: (e.text_off.get() + t0).into(),
            text_len: e.text_len,
            meta_off: (e.meta_off.get() + m0).into(),
            meta_len: e.meta_len,
        }));
        for (set, k) in keys.iter_mut().enumerate() {
            k.extend(s.keys(set).iter().map(|e| KeyEntry {
                key: e.key,
                doc: (e.doc.get() + base).into(),
            }));
        }
        base += s.entries().len() as u32;
    }
    for k in &mut keys {
        k.sort_unstable_by_key(|e| (e.key.get(), e.doc.get()));
    }
    let bp: Vec<u8> = index
        .boilerplate()
        .iter()
        .flat_map(|h| h.to_le_bytes())
        .collect();
    let mut files: Vec<(String, &[u8])> = vec![
        (TEXTS.into(), &texts),
        (DOCS.into(), docs.as_bytes()),
        (META.into(), &meta),
        (BOILERPLATE.into(), &bp),
        (SIGNATURES.into(), &sigs),
        (SHINGLES.into(), &sizes_all),
    ];
    let key_bytes: Vec<Vec<u8>> = keys.iter().map(|k| k.as_bytes().to_vec()).collect();
    for (s, k) in key_bytes.iter().enumerate() {
        files.push((key_file(s), k));
    }
    let mut sizes = Vec::new();
    for (name, bytes) in &files {
        let p = tmp.join(name);
        fs::write(&p, bytes).map_err(io_err(&p))?;
        fs::File::open(&p)
            .and_then(|f| f.sync_all())
            .map_err(io_err(&p))?;
        sizes.push((name.clone(), bytes.len() as u64));
    }
    let documents = docs.len() as u64;
    let seg = tmp.join(SEGMENT);
    fs::write(
        &seg,
        serde_json::to_vec_pretty(&SegmentMeta {
            format: INDEX_FORMAT,
            documents,
            files: sizes,
        })
        .map_err(|e| Error::Index(e.to_string()))?,
    )
    .map_err(io_err(&seg))?;
    fs::rename(&tmp, dir.join(&name)).map_err(io_err(&tmp))?;
    let old: Vec<PathBuf> = index.segments.iter().map(|s| s.dir.clone()).collect();
    let mut manifest = index.manifest.clone();
    drop(index);
    manifest.segments = vec![SegmentInfo { name, documents }];
    write_manifest(dir, &manifest)?;
    for d in old {
        let _ = fs::remove_dir_all(d);
    }
    Ok(report(&manifest))
}

/// The result of [`against`]: the scan of the new documents with the indexed documents they
/// hit, and which documents of it came from the index.
pub struct AgainstOutput {
    pub scan: crate::ScanOutput,
    /// Per document of the scan's corpus: whether it came from the index (its id, source and
    /// outlet as indexed are in `scan.indexed`).
    pub is_indexed: Vec<bool>,
    /// Documents in the index.
    pub index_documents: u64,
}

/// Deduplicate the inputs of `cfg` (its input options; every other option comes from the index)
/// against the index `idx`. The indexed documents hit are written to `out_dir`/[`LINKED_FILE`]
/// and scanned as one more input; the file stays with the run's outputs, so `neardup report`
/// and `clean --from` find every member's text.
pub fn against(
    idx: &Path,
    inputs: &[PathBuf],
    out_dir: &Path,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<AgainstOutput> {
    let index = Index::open(idx)?;
    let cfg = with_inputs(idx, &index.manifest.config, inputs)?;
    let known = index.boilerplate();
    // Probe: sketch the new documents as the index would, look their band keys up.
    let cx = Context::new(&cfg, progress, cancel);
    let (corpus, sketches, bp) = pipeline::prepare(&cx, &known)?;
    let members = non_empty(&sketches);
    let mut probed: Vec<(u32, u32, u32)> = Vec::new();
    for (s, set) in cfg.band_sets().into_iter().enumerate() {
        let keys = keys_of(&sketches, set, &members);
        probed.extend(index.probe(s, &keys));
    }
    probed.sort_unstable();
    probed.dedup();
    // Only hits whose MinHash estimate is not hopeless (as verification would judge them).
    let criterion = cfg.criterion();
    let mut old_sig = Vec::with_capacity(cfg.num_perm);
    let mut hits: Vec<(u32, u32)> = probed
        .into_iter()
        .filter(|&(new, seg, d)| {
            let s = &index.segments[seg as usize];
            s.signature_into(d as usize, cfg.num_perm, &mut old_sig);
            let est = crate::verify::estimate_score(
                sketches.signature(DocId(new)),
                &old_sig,
                sketches.shingles[new as usize],
                s.shingle_count(d as usize),
            );
            criterion.plausible(&est)
        })
        .map(|(_, seg, d)| (seg, d))
        .collect();
    hits.sort_unstable();
    hits.dedup();
    drop((corpus, sketches, bp));
    // Scan the new documents with the indexed ones they hit, written as one more input.
    fs::create_dir_all(out_dir).map_err(io_err(out_dir))?;
    let linked_path = out_dir.join(LINKED_FILE);
    let mut indexed = Vec::with_capacity(hits.len());
    crate::report::atomic_write(&linked_path, |w| {
        indexed.clear();
        for &(seg, d) in &hits {
            let s = &index.segments[seg as usize];
            let (meta, text) = match (s.meta(d as usize), s.text(d as usize)) {
                (Ok(m), Ok(t)) => (m, t),
                (Err(e), _) | (_, Err(e)) => return Err(std::io::Error::other(e.to_string())),
            };
            let mut rec = serde_json::Map::new();
            put(&mut rec, &cfg.input.id_field, meta.id.clone().into());
            put(&mut rec, &cfg.input.text_field, text.into());
            if let Some(f) = &cfg.input.source_field {
                put(&mut rec, f, meta.outlet.clone().into());
            }
            serde_json::to_writer(&mut *w, &rec)?;
            w.write_all(b"\n")?;
            indexed.push(meta);
        }
        Ok(())
    })?;
    let index_documents = index.documents();
    let result = (|| -> Result<(crate::ScanOutput, Vec<bool>)> {
        let mut all = inputs.to_vec();
        all.push(linked_path.clone());
        let mut o = (*cfg).clone();
        o.input.paths = all;
        o.input.exclude.push(linked_path.clone());
        o.input.format = crate::config::FormatChoice::Auto;
        let cfg2 = o.validate()?;
        let linked = linked_path.to_string_lossy();
        let mut is_indexed = Vec::new();
        let mut new_linked = 0;
        let mut out = crate::scan_knowing(&cfg2, &known, progress, cancel, |corpus, clustered| {
            is_indexed = corpus
                .documents()
                .iter()
                .map(|d| corpus.path_of(d) == linked)
                .collect();
            // Only clusters with a new document (the indexed ones among themselves are not
            // news); an indexed document is already kept, never dropped.
            clustered
                .clusters
                .retain(|c| c.members.iter().any(|m| !is_indexed[m.doc.0 as usize]));
            for (i, c) in clustered.clusters.iter_mut().enumerate() {
                c.id = crate::cluster::ClusterId(i as u32);
                let with_indexed = c.members.iter().any(|m| is_indexed[m.doc.0 as usize]);
                for m in &mut c.members {
                    if is_indexed[m.doc.0 as usize] {
                        m.drop = false;
                    } else if with_indexed {
                        new_linked += 1;
                    }
                }
            }
        })?;
        let linked_docs = is_indexed.iter().filter(|&&x| x).count() as u64;
        let d = &mut out.summary.documents;
        d.read -= linked_docs;
        d.kept -= linked_docs;
        out.summary.against = Some(crate::report::AgainstOut {
            index: idx.display().to_string(),
            index_documents: index.documents(),
            indexed_linked: linked_docs,
            new_linked,
        });
        Ok((out, is_indexed))
    })();
    let (mut scan, is_indexed) = result?;
    scan.indexed = Some((linked_path.to_string_lossy().into_owned(), indexed));
    Ok(AgainstOutput {
        scan,
        is_indexed,
        index_documents,
    })
}

/// Set the (dotted) field `path` of a JSON object.
fn put(obj: &mut serde_json::Map<String, serde_json::Value>, path: &str, v: serde_json::Value) {
    match path.split_once('.') {
        None => {
            obj.insert(path.to_string(), v);
        }
        Some((head, rest)) => {
            let inner = obj
                .entry(head.to_string())
                .or_insert_with(|| serde_json::Value::Object(Default::default()));
            if let serde_json::Value::Object(m) = inner {
                put(m, rest, v);
            }
        }
    }
}
