//! Stage 7: outputs. `clusters.jsonl` (one line per cluster) and `summary.json`, each written
//! atomically: a temporary file in the same directory, flushed and synced, then renamed over the
//! target, so a reader never sees a half-written file and an interrupted run leaves none.
//!
//! `clusters.jsonl` is byte-identical for the same input and options, whatever the thread count;
//! `summary.json` also holds timings, so it is not.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::boilerplate::{Boilerplate, BoilerplateConfig, Reason};
use crate::cluster::{Cluster, ClusterKind};
use crate::config::{Config, FormatChoice, KeepPolicy, Verify};
use crate::error::{Error, Problem, Result};
use crate::input::Corpus;
use crate::normalize::{Profile, normalize_to_string};
use crate::shingle::ShingleKind;
use crate::verify::VerifyStats;

/// File names inside the output directory.
pub const CLUSTERS_FILE: &str = "clusters.jsonl";
pub const SUMMARY_FILE: &str = "summary.json";
pub const BOILERPLATE_FILE: &str = "boilerplate.jsonl";

/// Write `path` atomically: `fill` writes into a temporary file beside it, which is synced and
/// renamed over `path` only if everything succeeded. On failure the temporary file is removed.
/// Returns the size and hash of what was written (hashed on the way out, not read back).
pub(crate) fn atomic_write(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<Hashing<File>>) -> io::Result<()>,
) -> Result<OutputFile> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp: PathBuf = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let wrap = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    let result = (|| {
        let file = Hashing::new(File::create(&tmp)?);
        let mut w = BufWriter::with_capacity(1 << 20, file);
        fill(&mut w)?;
        let hashed = w.into_inner().map_err(|e| e.into_error())?;
        let described = hashed.described();
        hashed.inner.sync_all()?;
        fs::rename(&tmp, path)?;
        Ok(described)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        wrap(e)
    })
}

/// A writer that hashes (xxh3-64) and counts what passes through it.
pub(crate) struct Hashing<W> {
    inner: W,
    hash: xxhash_rust::xxh3::Xxh3,
    bytes: u64,
}

impl<W> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            hash: xxhash_rust::xxh3::Xxh3::new(),
            bytes: 0,
        }
    }

    /// Size and hash of what was written so far.
    fn described(&self) -> OutputFile {
        OutputFile {
            bytes: self.bytes,
            xxh3: format!("{:016x}", self.hash.digest()),
        }
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Write `path` inside a staging directory that is synced and moved into place as a whole
/// (`clean`): no temporary name, no sync per file. A partial file is removed on failure.
pub(crate) fn write_staged(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> Result<()> {
    let result = (|| {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
        fill(&mut w)?;
        w.into_inner().map_err(|e| e.into_error()).map(drop)
    })();
    result.map_err(|source| {
        let _ = fs::remove_file(path);
        Error::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// The lock file a run holds in its output directory.
pub const LOCK_FILE: &str = ".neardup.lock";

/// A run's hold on its output directory: `DIR/.neardup.lock` (holding the process id), created
/// exclusively, removed when dropped. A second run on the same directory is refused while the
/// first is alive; a lock left by a process that no longer exists is taken over.
#[derive(Debug)]
pub struct OutputLock {
    path: PathBuf,
}

impl OutputLock {
    /// Lock `dir` (created if needed).
    pub fn acquire(dir: &Path) -> Result<OutputLock> {
        if fs::metadata(dir).is_ok_and(|m| !m.is_dir()) {
            return Err(Error::Write {
                path: dir.to_path_buf(),
                source: io::Error::other("it is a file; the output must be a directory"),
            });
        }
        fs::create_dir_all(dir).map_err(|source| Error::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(LOCK_FILE);
        for _ in 0..2 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    let _ = writeln!(f, "{}", std::process::id());
                    return Ok(OutputLock { path });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let pid = fs::read_to_string(&path)
                        .ok()
                        .and_then(|s| s.trim().parse::<u32>().ok());
                    match pid {
                        Some(pid) if process_alive(pid) => {
                            return Err(Error::Locked {
                                dir: dir.to_path_buf(),
                                pid,
                            });
                        }
                        // Stale (its process is gone) or half-written: take it over.
                        _ => {
                            let _ = fs::remove_file(&path);
                        }
                    }
                }
                Err(source) => return Err(Error::Write { path, source }),
            }
        }
        Err(Error::Write {
            path,
            source: io::Error::other("could not take the lock"),
        })
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Whether process `pid` exists (on Linux, by /proc; elsewhere assumed).
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc = Path::new("/proc");
    !proc.exists() || proc.join(pid.to_string()).exists()
}

/// Size and xxh3-64 of a written output: the summary lists them, so a set of outputs mixed
/// from two runs is detected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct OutputFile {
    pub bytes: u64,
    pub xxh3: String,
}

impl OutputFile {
    pub(crate) fn of(path: &Path) -> io::Result<OutputFile> {
        let mut f = File::open(path)?;
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut bytes = 0u64;
        loop {
            let n = io::Read::read(&mut f, &mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            bytes += n as u64;
        }
        Ok(OutputFile {
            bytes,
            xxh3: format!("{:016x}", h.digest()),
        })
    }
}

/// A run id: unique per run (time, process), recorded in the summary.
pub(crate) fn new_run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&nanos.to_le_bytes());
    h.update(&std::process::id().to_le_bytes());
    format!("{:016x}", h.digest())
}

/// Round for output: 4 decimals is plenty for a similarity and keeps lines short.
pub(crate) fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[derive(Serialize)]
struct MemberOut<'a> {
    id: Cow<'a, str>,
    source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
    similarity: f64,
    jaccard: f64,
    containment: f64,
    /// Share of this member's shingles inside the representative, `|M∩K| / |M|`.
    in_keep: f64,
    /// Share of the representative's shingles inside this member, `|M∩K| / |K|`.
    keep_in: f64,
    matched: crate::verify::MatchKind,
    /// `clean` drops this member: the representative covers it.
    drop: bool,
    /// With `--against`: the member is an indexed document (id and source as indexed).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    indexed: bool,
}

#[derive(Serialize)]
struct ClusterOut<'a> {
    cluster: u32,
    kind: ClusterKind,
    size: usize,
    keep: Cow<'a, str>,
    members: Vec<MemberOut<'a>>,
}

/// Write one JSON line per cluster; with `indexed`, the documents of the file `indexed.0` are
/// marked as indexed and named by their index metadata (`indexed.1`, one per line).
pub(crate) fn write_clusters(
    w: &mut impl Write,
    clusters: &[Cluster],
    corpus: &Corpus,
    indexed: Option<(&str, &[crate::index::IndexedMeta])>,
) -> io::Result<()> {
    use rayon::prelude::*;
    // Lines rendered in parallel, a run of clusters per buffer, and written in order.
    const CLUSTERS_PER_BUFFER: usize = 512;
    for run in clusters.chunks(CLUSTERS_PER_BUFFER * rayon::current_num_threads() * 4) {
        let buffers: Vec<Vec<u8>> = run
            .par_chunks(CLUSTERS_PER_BUFFER)
            .map(|part| {
                let mut buf = Vec::new();
                for c in part {
                    write_cluster(&mut buf, c, corpus, indexed)?;
                }
                Ok(buf)
            })
            .collect::<io::Result<_>>()?;
        for b in buffers {
            w.write_all(&b)?;
        }
    }
    Ok(())
}

/// One cluster's JSON line (see [`write_clusters`]).
fn write_cluster(
    w: &mut Vec<u8>,
    c: &Cluster,
    corpus: &Corpus,
    indexed: Option<(&str, &[crate::index::IndexedMeta])>,
) -> io::Result<()> {
    let members: Vec<MemberOut> = c
        .members
        .iter()
        .map(|m| {
            let d = &corpus.docs[m.doc.0 as usize];
            let from_index = indexed
                .filter(|(path, _)| corpus.path_of(d) == *path)
                .and_then(|(_, metas)| metas.get((d.line as usize).checked_sub(1)?));
            MemberOut {
                id: match from_index {
                    Some(meta) => Cow::Borrowed(meta.id.as_str()),
                    None => corpus.id(d),
                },
                source: from_index.map_or(corpus.path_of(d), |meta| meta.source.as_str()),
                line: (d.line > 0 && from_index.is_none()).then_some(d.line),
                indexed: from_index.is_some(),
                similarity: round4(m.score.jaccard),
                jaccard: round4(m.score.jaccard),
                containment: round4(m.score.containment()),
                in_keep: round4(m.score.b_in_a),
                keep_in: round4(m.score.a_in_b),
                matched: m.matched,
                drop: m.drop,
            }
        })
        .collect();
    let out = ClusterOut {
        cluster: c.id.0,
        kind: c.kind,
        size: c.members.len(),
        keep: members[0].id.clone(),
        members,
    };
    serde_json::to_writer(&mut *w, &out)?;
    w.write_all(b"\n")
}

/// Sources listed per boilerplate line at most.
pub(crate) const MAX_LISTED_SOURCES: usize = 20;

#[derive(Serialize)]
struct SourceCount<'a> {
    source: &'a str,
    docs: u64,
}

#[derive(Serialize)]
struct BoilerplateLineOut<'a> {
    text: &'a str,
    normalized: String,
    /// Hash of the normalised line (hex), as `clean --from` uses it.
    hash: String,
    docs: u64,
    max_repeats: u32,
    reasons: Vec<Reason>,
    sources: Vec<SourceCount<'a>>,
    examples: Vec<Cow<'a, str>>,
}

/// Write one JSON line per flagged boilerplate line, in report order.
pub(crate) fn write_boilerplate(
    w: &mut impl Write,
    bp: &Boilerplate,
    corpus: &Corpus,
    profile: Profile,
) -> io::Result<()> {
    for f in &bp.lines {
        let text = f.text.as_str();
        let out = BoilerplateLineOut {
            text,
            normalized: normalize_to_string(text, profile).replace('\n', " "),
            hash: format!("{:016x}", f.hash),
            docs: f.docs,
            max_repeats: f.max_repeats,
            reasons: f.reasons().collect(),
            sources: f
                .outlets
                .iter()
                .take(MAX_LISTED_SOURCES)
                .map(|&(s, n)| SourceCount {
                    source: &corpus.outlets[s as usize],
                    docs: n,
                })
                .collect(),
            examples: f
                .examples
                .iter()
                .map(|e| corpus.id(&corpus.docs[e.0 as usize]))
                .collect(),
        };
        serde_json::to_writer(&mut *w, &out)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// Boilerplate counts for the summary.
#[derive(Clone, Debug, Serialize)]
pub struct BoilerplateOut {
    pub enabled: bool,
    pub min_docs: usize,
    pub lexicon: bool,
    pub excluded_from_shingles: bool,
    /// Distinct flagged lines.
    pub lines: u64,
    pub by_reason: BTreeMap<&'static str, u64>,
    pub documents_affected: u64,
    pub occurrences: u64,
}

impl BoilerplateOut {
    pub fn new(cfg: &BoilerplateConfig, bp: &Boilerplate) -> Self {
        let mut by_reason = BTreeMap::new();
        for f in &bp.lines {
            for r in f.reasons() {
                *by_reason.entry(r.as_str()).or_insert(0) += 1;
            }
        }
        BoilerplateOut {
            enabled: cfg.enabled,
            min_docs: cfg.min_docs,
            lexicon: cfg.lexicon,
            excluded_from_shingles: cfg.excludes_lines(),
            lines: bp.lines.len() as u64,
            by_reason,
            documents_affected: bp.docs_affected,
            occurrences: bp.occurrences,
        }
    }
}

/// Every input document, accounted for: `read = kept + duplicates + skipped`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DocumentCounts {
    pub read: u64,
    pub kept: u64,
    /// Cluster members their representative covers (`"drop": true`): what `clean` drops.
    pub duplicates: u64,
    pub skipped: u64,
    /// Kept documents with no tokens after normalisation (never clustered).
    pub empty: u64,
}

/// `summary.json`'s `against`.
#[derive(Clone, Debug, Serialize)]
pub struct AgainstOut {
    pub index: String,
    pub index_documents: u64,
    /// Indexed documents scanned with the new ones (those their band keys hit).
    pub indexed_linked: u64,
    /// New documents in a cluster with an indexed one.
    pub new_linked: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct FileCounts {
    pub read: u64,
    pub skipped: u64,
    pub mapped: u64,
    pub compressed: u64,
    /// Bytes on disk.
    pub bytes_on_disk: u64,
    /// Bytes of (decompressed) input data.
    pub bytes: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ClusterCounts {
    pub total: u64,
    pub exact: u64,
    pub near: u64,
    pub documents_in_clusters: u64,
    pub largest: u64,
    /// Members in their cluster by containment (not Jaccard).
    pub by_containment: u64,
    /// What the chaining guard did: every member is similar to its representative.
    pub chaining_guard: crate::cluster::ChainStats,
}

/// The effective options of a run.
#[derive(Clone, Debug, Serialize)]
pub struct OptionsOut {
    pub threshold: f64,
    pub containment: Option<f64>,
    pub shingle: ShingleKind,
    pub ngram: usize,
    pub num_perm: usize,
    pub bands: usize,
    pub rows: usize,
    pub seed: u64,
    pub normalization: Profile,
    pub keep: KeepPolicy,
    pub verify: Verify,
    pub format: FormatChoice,
    pub text_field: String,
    pub id_field: String,
    pub source_field: Option<String>,
    pub hidden: bool,
    pub max_document_size: u64,
}

impl OptionsOut {
    pub fn new(cfg: &Config) -> Self {
        let banding = cfg.banding();
        OptionsOut {
            threshold: cfg.threshold,
            containment: cfg.containment,
            shingle: cfg.shingle,
            ngram: cfg.ngram,
            num_perm: cfg.num_perm,
            bands: banding.bands,
            rows: banding.rows,
            seed: cfg.seed,
            normalization: cfg.profile,
            keep: cfg.keep,
            verify: cfg.verify,
            format: cfg.input.format,
            text_field: cfg.input.text_field.clone(),
            id_field: cfg.input.id_field.clone(),
            source_field: cfg.input.source_field.clone(),
            hidden: cfg.input.hidden,
            max_document_size: cfg.input.max_document_size,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct LshOut {
    pub bands: usize,
    pub rows: usize,
    /// Probability that a pair exactly at the threshold becomes a candidate.
    pub candidate_probability_at_threshold: f64,
    /// Documents that entered LSH (one per exact group, plus every unique non-empty document).
    pub documents: u64,
    /// The second banding, for containment candidates (absent when containment is off).
    pub containment_bands: Option<usize>,
    pub containment_rows: Option<usize>,
    #[serde(flatten)]
    pub verify: VerifyStats,
}

/// Input files listed individually in the summary at most (all go into the fingerprint).
pub const MAX_LISTED_INPUTS: usize = 1000;

/// One input file's identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct InputFingerprint {
    pub path: String,
    /// The file's canonical path (absolute, links resolved; `-` for standard input): what the
    /// fingerprint covers, so one file named two ways is one input.
    pub canonical: String,
    /// Bytes of (decompressed) data.
    pub bytes: u64,
    /// xxh3-64 of the data, hex.
    pub xxh3: String,
}

impl InputFingerprint {
    pub fn of(f: &crate::input::InputFile) -> Self {
        let canonical = match f.path.as_str() {
            "-" => "-".to_string(),
            p => std::fs::canonicalize(p)
                .map_or_else(|_| p.to_string(), |c| c.to_string_lossy().into_owned()),
        };
        InputFingerprint {
            path: f.path.clone(),
            canonical,
            bytes: f.data.len() as u64,
            xxh3: format!("{:016x}", f.content_xxh3()),
        }
    }
}

/// What the inputs were: `clean --from` checks it before reusing a scan.
#[derive(Clone, Debug, Serialize)]
pub struct InputsOut {
    /// The input paths as given (what `neardup report` reads again).
    pub arguments: Vec<String>,
    pub files: u64,
    /// xxh3-64 over every file's canonical path, size and hash (in canonical path order), hex.
    pub fingerprint: String,
    pub list: Vec<InputFingerprint>,
}

impl InputsOut {
    pub fn new(corpus: &Corpus) -> Self {
        use rayon::prelude::*;
        let all: Vec<InputFingerprint> =
            corpus.files.par_iter().map(InputFingerprint::of).collect();
        Self::from_list(all)
    }

    /// From every input file's fingerprint, in input order.
    pub fn from_list(all: Vec<InputFingerprint>) -> Self {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        let mut order: Vec<&InputFingerprint> = all.iter().collect();
        order.sort_by(|a, b| a.canonical.cmp(&b.canonical));
        for f in order {
            h.update(f.canonical.as_bytes());
            h.update(&[0]);
            h.update(&f.bytes.to_le_bytes());
            h.update(f.xxh3.as_bytes());
        }
        InputsOut {
            arguments: Vec::new(),
            files: all.len() as u64,
            fingerprint: format!("{:016x}", h.digest()),
            list: all.into_iter().take(MAX_LISTED_INPUTS).collect(),
        }
    }
}

/// Most problems listed individually in the summary (all are counted).
pub const MAX_LISTED_PROBLEMS: usize = 1000;

/// Everything `summary.json` says.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub tool: &'static str,
    pub version: &'static str,
    /// Unique per run.
    pub run_id: String,
    /// The other outputs of this run, with their sizes and hashes: `clean --from` accepts
    /// only files that match (a set mixed from two runs is refused). `summary.json` is written
    /// last.
    pub outputs: BTreeMap<&'static str, OutputFile>,
    pub inputs: InputsOut,
    pub documents: DocumentCounts,
    /// With `--against`: the index and how many of its documents the new ones hit (read from
    /// the index and scanned with them; `documents` counts the new inputs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub against: Option<AgainstOut>,
    /// Problems where the input yielded less than it holds (files or records skipped, streams
    /// cut short); any makes the exit code 2.
    pub input_lost: u64,
    /// Skipped documents and files by reason; repaired documents (invalid UTF-8) by reason too.
    pub problems_by_kind: BTreeMap<&'static str, u64>,
    /// The first problems, each naming file and line.
    pub problems: Vec<Problem>,
    pub files: FileCounts,
    pub clusters: ClusterCounts,
    pub options: OptionsOut,
    pub lsh: LshOut,
    pub boilerplate: BoilerplateOut,
    /// Milliseconds per stage.
    pub timings_ms: BTreeMap<&'static str, u64>,
    pub seconds: f64,
    pub mb_per_s: f64,
    pub docs_per_s: f64,
}

/// Write `summary.json`.
pub(crate) fn write_summary(w: &mut impl Write, summary: &Summary) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, summary)?;
    w.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `atomic_write` reports is the size and hash of the file as it lands, whether the
    /// bytes pass through the buffer in small writes or go past it in one big one.
    #[test]
    fn an_atomic_write_describes_exactly_the_file_it_leaves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let described = atomic_write(&path, |w| {
            for i in 0..1000 {
                writeln!(w, "line {i}")?;
            }
            w.write_all(&big)?;
            w.write_all(b"tail\n")
        })
        .unwrap();
        let on_disk = OutputFile::of(&path).unwrap();
        assert_eq!(described, on_disk);
        assert_eq!(on_disk.bytes, fs::metadata(&path).unwrap().len());
        assert!(on_disk.bytes > big.len() as u64);
        // Nothing left beside it.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        // A failed fill leaves the old file as it was and no temporary file.
        let err = atomic_write(&path, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("boom"))
        });
        assert!(err.is_err());
        assert_eq!(OutputFile::of(&path).unwrap(), on_disk);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
