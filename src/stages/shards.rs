//! Reading the artefacts of finished tasks back: shard metadata, the corpus rebuilt from the
//! document index (no input is parsed twice), signatures mapped or copied sparsely, line
//! statistics, boilerplate.

use std::fs;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use serde::{Deserialize, Serialize};

use super::codec::{self, DocRecord, LineRecord, MetaRecord};
use super::{Task, Work, io_err};
use crate::boilerplate::{Boilerplate, DocLines};
use crate::error::{Problem, Result, WorkError};
use crate::input::{self, Assembler, Compression, Corpus, Data, Format, InputFile};
use crate::report::InputFingerprint;
use crate::sketch::{Signatures, Sketches};

/// `shard.json`: what a shard's `sketch` task read.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct ShardMeta {
    pub(super) docs: u64,
    pub(super) files: Vec<FileMeta>,
    /// Sources in order of first appearance in the shard, and whether each is an outlet.
    pub(super) outlets: Vec<(String, bool)>,
    pub(super) owned: Vec<String>,
    pub(super) load_problems: Vec<Problem>,
    pub(super) record_problems: Vec<Problem>,
    pub(super) skipped_documents: u64,
    pub(super) skipped_files: u64,
}

/// One input file of a shard as its `sketch` task read it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct FileMeta {
    pub(super) path: String,
    /// The file to map for the data: the input itself, or a decompressed copy in the shard.
    pub(super) data: PathBuf,
    pub(super) data_bytes: u64,
    pub(super) id_base: String,
    pub(super) from_dir: bool,
    pub(super) format: Format,
    pub(super) compression: Compression,
    pub(super) mapped: bool,
    pub(super) disk_bytes: u64,
    pub(super) fingerprint: Option<InputFingerprint>,
    /// The byte range of a file cut across shards, and the lines in it (line numbers of the
    /// shard's documents count from the range's start).
    pub(super) range: Option<(u64, u64)>,
    pub(super) lines: u64,
}

pub(super) fn read_file(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(io_err(path))
}

pub(super) fn map_file(path: &Path) -> Result<Data> {
    let f = fs::File::open(path).map_err(io_err(path))?;
    let len = f.metadata().map_err(io_err(path))?.len();
    if len == 0 {
        return Ok(Data::Owned(Vec::new()));
    }
    // SAFETY: inputs and stage files are read-only for the whole run (the tool never writes
    // them); a file changed underneath is caught by the length check of the caller.
    let m = unsafe { Mmap::map(&f) }.map_err(io_err(path))?;
    Ok(Data::Mapped(m))
}

/// A JSON artefact of a finished task.
pub(super) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = read_file(path)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        WorkError::Corrupt {
            path: path.to_path_buf(),
            what: e.to_string(),
        }
        .into()
    })
}

fn corrupt(path: &Path, what: impl Into<String>) -> crate::Error {
    WorkError::Corrupt {
        path: path.to_path_buf(),
        what: what.into(),
    }
    .into()
}

impl Work {
    pub(super) fn shard_meta(&self, shard: usize) -> Result<ShardMeta> {
        self.require(Task::Sketch { shard })?;
        read_json(&self.shard_dir(shard).join("shard.json"))
    }

    /// Documents per shard.
    pub(super) fn doc_counts(&self) -> Result<Vec<u64>> {
        (0..self.plan.shards.len())
            .map(|s| Ok(self.shard_meta(s)?.docs))
            .collect()
    }

    pub(super) fn boilerplate(&self) -> Result<Boilerplate> {
        self.require(Task::Boilerplate)?;
        read_json(&self.dir.join("boilerplate.json"))
    }

    /// The corpus of `shards`, rebuilt from the shard files without parsing any input: the
    /// inputs (or decompressed copies) are mapped, documents come from `docs.bin`. With `full`
    /// (every shard) ids are made unique across shards, as a single scan does. Also returns each
    /// input file's fingerprint.
    pub(super) fn corpus(
        &self,
        shards: std::ops::Range<usize>,
        full: bool,
    ) -> Result<(Corpus, Vec<InputFingerprint>)> {
        let problems = if full {
            self.plan.discovery_problems.clone()
        } else {
            Vec::new()
        };
        let mut asm = Assembler::new(problems, 0);
        // For a file cut into ranges: lines before the next range, and where the last range ended.
        let mut cont = (0u64, 0u64);
        let mut record_problems = Vec::new();
        let mut prints = Vec::new();
        for s in shards {
            let mut meta = self.shard_meta(s)?;
            let corpus = &mut asm.corpus;
            // Global index of each of the shard's files, and the line offset of its documents.
            let mut file_map: Vec<(u32, u32)> = Vec::with_capacity(meta.files.len());
            for f in &meta.files {
                if let (Some((start, _)), Some(last)) = (f.range, corpus.files.last())
                    && start > 0
                    && last.path == f.path
                {
                    // The next range of the file the previous shard ended with.
                    let (start_line, end) = cont;
                    if end != start {
                        return Err(corrupt(&f.data, "ranges of this file do not join"));
                    }
                    file_map.push((corpus.files.len() as u32 - 1, start_line as u32));
                    cont = (start_line + f.lines, f.range.map_or(0, |r| r.1));
                    continue;
                }
                cont = (f.lines, f.range.map_or(0, |r| r.1));
                file_map.push((corpus.files.len() as u32, 0));
                let data = map_file(&f.data)?;
                if data.len() as u64 != f.data_bytes {
                    return Err(WorkError::Changed {
                        path: f.data.clone(),
                        was: f.data_bytes,
                        now: data.len() as u64,
                    }
                    .into());
                }
                prints.extend(f.fingerprint.clone());
                corpus.files.push(InputFile {
                    path: f.path.clone(),
                    id_base: f.id_base.clone(),
                    from_dir: f.from_dir,
                    format: f.format,
                    compression: f.compression,
                    mapped: f.mapped,
                    disk_bytes: f.disk_bytes,
                    data,
                    rel: None,
                    content_xxh3: std::sync::OnceLock::new(),
                });
            }
            let docs_path = self.shard_dir(s).join("docs.bin");
            let bytes = read_file(&docs_path)?;
            let records: &[DocRecord] = codec::records(&docs_path, &bytes)?;
            if records.len() as u64 != meta.docs {
                return Err(corrupt(
                    &docs_path,
                    format!("{} records, shard.json says {}", records.len(), meta.docs),
                ));
            }
            let mut docs = Vec::with_capacity(records.len());
            let mut sources = Vec::with_capacity(records.len());
            for (i, r) in records.iter().enumerate() {
                let bad = |what: &str| corrupt(&docs_path, format!("record {i}: {what}"));
                let (d, src) = r.get(0).ok_or_else(|| bad("unknown tag"))?;
                if d.file as usize >= file_map.len() {
                    return Err(bad("file index out of range"));
                }
                if src as usize >= meta.outlets.len() {
                    return Err(bad("source index out of range"));
                }
                docs.push(d);
                sources.push(src);
            }
            for p in &mut meta.record_problems {
                let at = meta.files.iter().position(|f| f.path == p.path);
                if let (Some(line), Some(i)) = (&mut p.line, at) {
                    *line += file_map[i].1 as u64;
                }
            }
            asm.add(docs, meta.owned, meta.outlets, &sources, |d| {
                let (file, line_base) = file_map[d.file as usize];
                d.file = file;
                if d.line > 0 {
                    d.line += line_base;
                }
            });
            let corpus = &mut asm.corpus;
            corpus.problems.extend(meta.load_problems);
            record_problems.extend(meta.record_problems);
            corpus.skipped_documents += meta.skipped_documents;
            corpus.skipped_files += meta.skipped_files;
        }
        let mut corpus = asm.corpus;
        corpus.problems.extend(record_problems);
        if full {
            corpus.skipped_files += input::unusable_paths(&self.plan.discovery_problems);
            corpus.finish(&self.config().input);
        }
        Ok((corpus, prints))
    }

    /// A shard's `NAME.sig` and `NAME.meta` appended to `out` (`num_perm` 0: the meta only).
    pub(super) fn read_sketches(
        &self,
        shard: usize,
        name: &str,
        num_perm: usize,
        out: &mut Sketches,
    ) -> Result<()> {
        let dir = self.shard_dir(shard);
        let meta_path = dir.join(format!("{name}.meta"));
        let meta_bytes = read_file(&meta_path)?;
        let meta: &[MetaRecord] = codec::records(&meta_path, &meta_bytes)?;
        if num_perm > 0 {
            let sig_path = dir.join(format!("{name}.sig"));
            let sig_bytes = read_file(&sig_path)?;
            let sig = codec::u32s(&sig_path, &sig_bytes)?;
            if sig.len() != meta.len() * num_perm {
                return Err(corrupt(
                    &sig_path,
                    format!("{} values for {} documents", sig.len(), meta.len()),
                ));
            }
            out.signatures.extend(sig.iter().map(|v| v.get()));
        }
        codec::decode_meta(meta, out);
        Ok(())
    }

    /// Every shard's final sketches (`num_perm` 0: exact hashes and counts only).
    pub(super) fn final_sketches(&self, num_perm: usize) -> Result<Sketches> {
        let mut s = Sketches::empty(num_perm);
        for shard in 0..self.plan.shards.len() {
            self.require(Task::Signatures { shard })?;
            self.read_sketches(shard, "final", num_perm, &mut s)?;
        }
        Ok(s)
    }

    /// A shard's line statistics appended to `out`.
    pub(super) fn read_lines(&self, shard: usize, out: &mut DocLines) -> Result<()> {
        let dir = self.shard_dir(shard);
        let (cpath, bpath) = (dir.join("lines.count"), dir.join("lines.bin"));
        let (cbytes, bbytes) = (read_file(&cpath)?, read_file(&bpath)?);
        let counts = codec::u32s(&cpath, &cbytes)?;
        let bin: &[LineRecord] = codec::records(&bpath, &bbytes)?;
        if !codec::decode_lines(counts, bin, out) {
            return Err(corrupt(&bpath, "disagrees with lines.count"));
        }
        Ok(())
    }

    /// Final signatures and shingle counts of the documents `docs` (sorted global indices), in
    /// that order, copied from the mapped shard files: memory in proportion to `docs`, not the
    /// corpus.
    pub(super) fn sparse_signatures(
        &self,
        docs: &[u32],
        num_perm: usize,
    ) -> Result<(Vec<u32>, Vec<u32>)> {
        let counts = self.doc_counts()?;
        let mut sigs = Vec::with_capacity(docs.len() * num_perm);
        let mut sizes = Vec::with_capacity(docs.len());
        let (mut base, mut i) = (0u64, 0usize);
        for (s, &n) in counts.iter().enumerate() {
            let end = docs[i..].partition_point(|&d| (d as u64) < base + n) + i;
            if end > i {
                self.require(Task::Signatures { shard: s })?;
                let dir = self.shard_dir(s);
                let (sig_path, meta_path) = (dir.join("final.sig"), dir.join("final.meta"));
                let (sig_map, meta_map) = (map_file(&sig_path)?, map_file(&meta_path)?);
                let sig = codec::u32s(&sig_path, &sig_map)?;
                let meta: &[MetaRecord] = codec::records(&meta_path, &meta_map)?;
                if sig.len() as u64 != n * num_perm as u64 || meta.len() as u64 != n {
                    return Err(corrupt(&sig_path, "disagrees with final.meta"));
                }
                for &d in &docs[i..end] {
                    let l = (d as u64 - base) as usize;
                    sigs.extend(sig[l * num_perm..][..num_perm].iter().map(|v| v.get()));
                    sizes.push(meta[l].shingles.get());
                }
            }
            base += n;
            i = end;
        }
        Ok((sigs, sizes))
    }
}

/// Every shard's `NAME.sig`, mapped: signatures read on demand instead of loaded.
pub(super) struct MappedSignatures {
    num_perm: usize,
    /// First global document of each shard, and one past the last.
    starts: Vec<u64>,
    maps: Vec<Data>,
}

impl MappedSignatures {
    pub(super) fn open(work: &Work, name: &str, num_perm: usize) -> Result<Self> {
        let counts = work.doc_counts()?;
        let mut starts = vec![0u64];
        let mut maps = Vec::with_capacity(counts.len());
        for (s, &n) in counts.iter().enumerate() {
            let path = work.shard_dir(s).join(format!("{name}.sig"));
            let m = map_file(&path)?;
            if codec::u32s(&path, &m)?.len() as u64 != n * num_perm as u64 {
                return Err(corrupt(&path, format!("not {n} signatures")));
            }
            maps.push(m);
            starts.push(starts.last().copied().unwrap_or(0) + n);
        }
        Ok(MappedSignatures {
            num_perm,
            starts,
            maps,
        })
    }
}

impl Signatures for MappedSignatures {
    fn num_perm(&self) -> usize {
        self.num_perm
    }
    fn copy_signature(&self, d: u32, out: &mut [u32]) {
        let s = self.starts.partition_point(|&x| x <= d as u64) - 1;
        let l = (d as u64 - self.starts[s]) as usize;
        // Checked whole when opened.
        let values = codec::u32s(Path::new(""), &self.maps[s]).unwrap_or(&[]);
        for (o, v) in out
            .iter_mut()
            .zip(&values[l * self.num_perm..][..self.num_perm])
        {
            *o = v.get();
        }
    }
}
