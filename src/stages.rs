//! Scale-out: the scan as independent stages over a shared work directory.
//!
//! `neardup scan` runs every stage in one process. For dumps that outgrow one machine the same
//! library functions run as separate tasks (`neardup stage …`, scheduled by
//! `distributed/neardup_ray.py`, Slurm or Kubernetes) that exchange fixed-width binary files in
//! a work directory on shared storage. The result is byte-identical to `neardup scan` with the
//! same inputs and options (`clusters.jsonl`, `boilerplate.jsonl`; `summary.json` apart from
//! timings).
//!
//! | stage | tasks | reads | writes |
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
//! markers of what it reads exist, and refuses a work directory planned with other options.
//!
//! Binary files are little-endian arrays of fixed-width records with no header (their length
//! gives the count; `plan.json` carries [`WORK_FORMAT`]):
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

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use memmap2::Mmap;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::boilerplate::{Boilerplate, DocLines, LineEntry};
use crate::config::{Banding, ScanConfig};
use crate::error::{Error, Problem, Result};
use crate::input::{self, Compression, Corpus, Data, Document, Format, IdRef, InputFile, TextRef};
use crate::progress::{NoProgress, Progress};
use crate::report::{InputFingerprint, InputsOut};
use crate::sketch::{self, SketchParams, Sketches};
use crate::verify::{Edge, Score, VerifyStats};
use crate::{Prepared, report};

/// Version of the work-directory layout.
pub const WORK_FORMAT: u32 = 2;
/// Verification partitions when the plan does not say.
pub const DEFAULT_PARTS: usize = 8;

const DOC_BYTES: usize = 40;
const META_BYTES: usize = 24;
const LINE_BYTES: usize = 16;
const KEY_BYTES: usize = 12;
const EDGE_BYTES: usize = 40;

/// One input file of a shard, as discovery found it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlannedFile {
    pub path: PathBuf,
    pub display: String,
    pub id_base: String,
    pub from_dir: bool,
    /// Size on disk when planned.
    pub bytes: u64,
    /// For a big uncompressed JSON Lines file cut across shards: this shard's bytes
    /// `[start, end)`, cut at line starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<(u64, u64)>,
}

/// `plan.json`: what every task of a staged run needs to agree on.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    pub format: u32,
    pub version: String,
    /// The pipeline options, as command-line arguments: every stage rebuilds its configuration
    /// from these, so all tasks run with the same options.
    pub args: Vec<String>,
    /// Input files per shard, contiguous in input order.
    pub shards: Vec<Vec<PlannedFile>>,
    /// Problems found while listing inputs (missing paths, loops).
    pub discovery_problems: Vec<Problem>,
    /// The Jaccard banding, then the containment banding (if any): `buckets` tasks number their
    /// bands across both.
    pub banding: Banding,
    pub containment_banding: Option<Banding>,
    /// Verification partitions.
    pub parts: usize,
    /// Each band's keys are split into this many key ranges; one `buckets` task per (band,
    /// range), so no task holds more than a band's share of every document's key.
    #[serde(default = "one")]
    pub key_ranges: usize,
}

fn one() -> usize {
    1
}

impl Plan {
    /// Bands: the Jaccard bands, then the containment bands.
    pub fn bands(&self) -> usize {
        self.banding.bands + self.containment_banding.map_or(0, |b| b.bands)
    }

    /// `buckets` tasks: task `t` covers band `t / key_ranges`, key range `t % key_ranges`.
    pub fn bucket_tasks(&self) -> usize {
        self.bands() * self.key_ranges
    }

    /// Read `WORK/plan.json`.
    pub fn load(work: &Path) -> Result<Plan> {
        let path = work.join("plan.json");
        let text = fs::read_to_string(&path).map_err(|e| {
            Error::Work(format!(
                "{}: no plan ({e}); run `neardup stage plan` first",
                work.display()
            ))
        })?;
        let plan: Plan = serde_json::from_str(&text)
            .map_err(|e| Error::Work(format!("{}: {e}", path.display())))?;
        if plan.format != WORK_FORMAT {
            return Err(Error::Work(format!(
                "{}: layout version {} (this neardup reads {WORK_FORMAT})",
                path.display(),
                plan.format
            )));
        }
        Ok(plan)
    }

    /// Fingerprint written into every done marker.
    fn fingerprint(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        format!("{:016x}", xxhash_rust::xxh3::xxh3_64(json.as_bytes()))
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
    pub fn open(dir: &Path) -> Result<Work> {
        let plan = Plan::load(dir)?;
        Ok(Work {
            dir: dir.to_path_buf(),
            fingerprint: plan.fingerprint(),
            plan,
        })
    }

    fn shard_dir(&self, shard: usize) -> PathBuf {
        self.dir.join("shards").join(format!("{shard:05}"))
    }

    fn marker(&self, rel: &str) -> PathBuf {
        self.dir.join(format!("{rel}.done"))
    }

    /// Whether `rel` finished for this plan.
    pub fn is_done(&self, rel: &str) -> bool {
        fs::read_to_string(self.marker(rel)).is_ok_and(|s| s.trim() == self.fingerprint)
    }

    fn require(&self, rel: &str, stage: &str) -> Result<()> {
        if self.is_done(rel) {
            Ok(())
        } else {
            Err(Error::Work(format!(
                "{}: {rel} has not finished (run `neardup stage {stage}` for it first)",
                self.dir.display()
            )))
        }
    }

    fn mark_done(&self, rel: &str) -> Result<()> {
        let path = self.marker(rel);
        if let Some(p) = path.parent() {
            fs::create_dir_all(p).map_err(io_err(p))?;
        }
        let fp = self.fingerprint.clone();
        report::atomic_write(&path, |w| {
            use std::io::Write;
            writeln!(w, "{fp}")
        })
    }

    fn check(&self, cfg_bands: Banding, shard: Option<usize>) -> Result<()> {
        if self.plan.banding != cfg_bands {
            return Err(Error::Work(format!(
                "{}: planned with other options",
                self.dir.display()
            )));
        }
        if let Some(s) = shard
            && s >= self.plan.shards.len()
        {
            return Err(Error::Work(format!(
                "{}: shard {s} out of range (the plan has {})",
                self.dir.display(),
                self.plan.shards.len()
            )));
        }
        Ok(())
    }
}

/// Open the work directory for a task: the plan, the task's validated configuration (which
/// must be the plan's), and its banding.
fn begin(
    cfg: &ScanConfig,
    dir: &Path,
    shard: Option<usize>,
) -> Result<(Work, ScanConfig, Banding)> {
    let work = Work::open(dir)?;
    let mut cfg = cfg.clone();
    let banding = cfg.validate()?;
    work.check(banding, shard)?;
    Ok((work, cfg, banding))
}

fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    report::atomic_write(path, |w| {
        use std::io::Write;
        w.write_all(bytes)
    })
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(io_err(path))
}

fn map_file(path: &Path) -> Result<Data> {
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

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn le_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

// ---------------------------------------------------------------------------------------------
// plan

/// Stage `plan`: list the inputs, cut them into `shards` contiguous groups of about equal size,
/// and write `WORK/plan.json`. Re-planning a directory with the same plan is a no-op; with a
/// different one, an error.
pub fn plan(
    cfg: &ScanConfig,
    args: Vec<String>,
    shards: usize,
    parts: usize,
    key_ranges: usize,
    dir: &Path,
) -> Result<Plan> {
    let mut cfg = cfg.clone();
    let banding = cfg.validate()?;
    if shards == 0 || parts == 0 || key_ranges == 0 {
        return Err(Error::Config(
            "--shards, --parts and --key-ranges must be at least 1".into(),
        ));
    }
    let mut problems = Vec::new();
    let found = input::discover(&cfg.input, &mut problems);
    let mut files = Vec::with_capacity(found.len());
    let mut total = 0u64;
    for f in &found {
        let Some(path) = &f.path else {
            return Err(Error::Config(
                "standard input cannot be split into shards; give files".into(),
            ));
        };
        let bytes = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        total += bytes.max(1);
        files.push(PlannedFile {
            path: path.clone(),
            display: f.display.clone(),
            id_base: f.id_base.clone(),
            from_dir: f.from_dir,
            bytes,
            range: None,
        });
    }
    // Big uncompressed JSON Lines files are cut into byte ranges of about one shard's share.
    let share = (total / shards as u64).max(MIN_RANGE_BYTES);
    let mut units = Vec::with_capacity(files.len());
    for (f, found) in files.into_iter().zip(&found) {
        if f.bytes > share && input::is_plain_jsonl(found, &cfg.input) {
            for r in line_ranges(&f.path, f.bytes, share)? {
                units.push(PlannedFile {
                    range: Some(r),
                    ..f.clone()
                });
            }
        } else {
            units.push(f);
        }
    }
    // Contiguous groups: shard k takes units until its share of the bytes is reached; ranges of
    // one file that land in one shard are joined.
    let mut groups: Vec<Vec<PlannedFile>> = vec![Vec::new(); shards];
    let mut acc = 0u64;
    for u in units {
        let k = ((acc as u128 * shards as u128) / total.max(1) as u128) as usize;
        let size = u.range.map_or(u.bytes, |(a, b)| b - a);
        acc += size.max(1);
        let group = &mut groups[k.min(shards - 1)];
        match (group.last_mut(), u.range) {
            (Some(last), Some((_, end))) if last.path == u.path && last.range.is_some() => {
                last.range = last.range.map(|(start, _)| (start, end));
            }
            _ => group.push(u),
        }
    }
    for g in &mut groups {
        for f in g.iter_mut() {
            if f.range == Some((0, f.bytes)) {
                f.range = None;
            }
        }
    }
    let plan = Plan {
        format: WORK_FORMAT,
        version: crate::VERSION.to_string(),
        args,
        shards: groups,
        discovery_problems: problems,
        banding,
        containment_banding: cfg.containment_banding(),
        parts,
        key_ranges,
    };
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let path = dir.join("plan.json");
    let json = serde_json::to_string_pretty(&plan).expect("plan serialises");
    if let Ok(old) = fs::read_to_string(&path) {
        if old.trim_end() == json {
            return Ok(plan);
        }
        return Err(Error::Work(format!(
            "{} already holds another plan; use an empty directory",
            dir.display()
        )));
    }
    write_bytes(&path, format!("{json}\n").as_bytes())?;
    Ok(plan)
}

/// Smallest byte range a file is cut into.
const MIN_RANGE_BYTES: u64 = 1 << 20;

/// Cut a file of `len` bytes into ranges of about `share` bytes, each ending just after a newline
/// (the last at the end of the file). Reads only a little after each cut point.
fn line_ranges(path: &Path, len: u64, share: u64) -> Result<Vec<(u64, u64)>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = fs::File::open(path).map_err(io_err(path))?;
    let mut out = Vec::new();
    let mut start = 0u64;
    let mut buf = vec![0u8; 64 << 10];
    while start < len {
        let mut cut = start + share;
        if cut >= len {
            out.push((start, len));
            break;
        }
        f.seek(SeekFrom::Start(cut)).map_err(io_err(path))?;
        let end = loop {
            let n = f.read(&mut buf).map_err(io_err(path))?;
            if n == 0 {
                break len;
            }
            if let Some(p) = buf[..n].iter().position(|&b| b == b'\n') {
                break cut + p as u64 + 1;
            }
            cut += n as u64;
        };
        out.push((start, end));
        start = end;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// shard files

/// `shard.json`: what a shard's `sketch` task read.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct ShardMeta {
    docs: u64,
    files: Vec<FileMeta>,
    /// Sources in order of first appearance in the shard, and whether each is an outlet.
    sources: Vec<(String, bool)>,
    owned: Vec<String>,
    load_problems: Vec<Problem>,
    record_problems: Vec<Problem>,
    skipped_documents: u64,
    skipped_files: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct FileMeta {
    path: String,
    /// The file to map for the data: the input itself, or a decompressed copy in the shard.
    data: PathBuf,
    data_bytes: u64,
    id_base: String,
    from_dir: bool,
    format: Format,
    compression: Compression,
    mapped: bool,
    disk_bytes: u64,
    fingerprint: Option<InputFingerprint>,
    /// The byte range of a file cut across shards, and the lines in it (line numbers of the
    /// shard's documents count from the range's start).
    range: Option<(u64, u64)>,
    lines: u64,
}

fn encode_doc(d: &Document, source: u32, out: &mut Vec<u8>) {
    let (t_tag, t_esc, t_len, t_start) = match d.text {
        TextRef::Raw { start, len } => (0u8, 0u8, len, start),
        TextRef::Json {
            start,
            len,
            escaped,
        } => (1, escaped as u8, len, start),
        TextRef::Owned(i) => (2, 0, i, 0),
    };
    let (i_tag, i_esc, i_len, i_start) = match d.id {
        IdRef::File => (0u8, 0u8, 0u32, 0u64),
        IdRef::Line => (1, 0, 0, 0),
        IdRef::Json {
            start,
            len,
            escaped,
        } => (2, escaped as u8, len, start),
        IdRef::JsonRaw { start, len } => (3, 0, len, start),
        IdRef::Owned(i) => (4, 0, i, 0),
    };
    out.extend_from_slice(&d.file.to_le_bytes());
    out.extend_from_slice(&d.line.to_le_bytes());
    out.extend_from_slice(&[t_tag, t_esc, i_tag, i_esc]);
    out.extend_from_slice(&t_len.to_le_bytes());
    out.extend_from_slice(&t_start.to_le_bytes());
    out.extend_from_slice(&i_len.to_le_bytes());
    out.extend_from_slice(&source.to_le_bytes());
    out.extend_from_slice(&i_start.to_le_bytes());
}

/// Decode one `docs.bin` record (file index as in the shard; owned indices shifted by
/// `owned_base`) and its source index.
fn decode_doc(b: &[u8], owned_base: u32) -> Result<(Document, u32)> {
    let bad = || Error::Work("corrupt docs.bin record".into());
    let (t_len, t_start) = (le_u32(b, 12), le_u64(b, 16));
    let (i_len, i_start) = (le_u32(b, 24), le_u64(b, 32));
    let text = match b[8] {
        0 => TextRef::Raw {
            start: t_start,
            len: t_len,
        },
        1 => TextRef::Json {
            start: t_start,
            len: t_len,
            escaped: b[9] != 0,
        },
        2 => TextRef::Owned(t_len + owned_base),
        _ => return Err(bad()),
    };
    let id = match b[10] {
        0 => IdRef::File,
        1 => IdRef::Line,
        2 => IdRef::Json {
            start: i_start,
            len: i_len,
            escaped: b[11] != 0,
        },
        3 => IdRef::JsonRaw {
            start: i_start,
            len: i_len,
        },
        4 => IdRef::Owned(i_len + owned_base),
        _ => return Err(bad()),
    };
    let doc = Document {
        file: le_u32(b, 0),
        line: le_u32(b, 4),
        text,
        id,
    };
    Ok((doc, le_u32(b, 28)))
}

fn encode_meta(s: &Sketches) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * META_BYTES);
    for d in 0..s.len() {
        out.extend_from_slice(&s.exact[d].to_le_bytes());
        out.extend_from_slice(&s.tokens[d].to_le_bytes());
        out.extend_from_slice(&s.shingles[d].to_le_bytes());
    }
    out
}

fn encode_u32s(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Append a shard's `*.sig` and `*.meta` to `out` (`num_perm` 0: the meta only).
fn read_sketches(dir: &Path, name: &str, num_perm: usize, out: &mut Sketches) -> Result<()> {
    let sig = if num_perm > 0 {
        read_file(&dir.join(format!("{name}.sig")))?
    } else {
        Vec::new()
    };
    let meta = read_file(&dir.join(format!("{name}.meta")))?;
    let n = meta.len() / META_BYTES;
    if meta.len() % META_BYTES != 0 || sig.len() != n * num_perm * 4 {
        return Err(Error::Work(format!(
            "{}: {name}.sig and {name}.meta disagree",
            dir.display()
        )));
    }
    out.signatures.extend(
        sig.chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap())),
    );
    for r in meta.chunks_exact(META_BYTES) {
        out.exact
            .push(u128::from_le_bytes(r[0..16].try_into().unwrap()));
        out.tokens.push(le_u32(r, 16));
        out.shingles.push(le_u32(r, 20));
    }
    Ok(())
}

fn empty_sketches(num_perm: usize) -> Sketches {
    Sketches {
        num_perm,
        signatures: Vec::new(),
        exact: Vec::new(),
        tokens: Vec::new(),
        shingles: Vec::new(),
    }
}

fn encode_lines(lines: &DocLines) -> (Vec<u8>, Vec<u8>) {
    let counts: Vec<u32> = lines
        .offsets
        .windows(2)
        .map(|w| (w[1] - w[0]) as u32)
        .collect();
    let mut bin = Vec::with_capacity(lines.entries.len() * LINE_BYTES);
    for e in &lines.entries {
        bin.extend_from_slice(&e.hash.to_le_bytes());
        bin.extend_from_slice(&e.first_line.to_le_bytes());
        bin.extend_from_slice(&e.tokens.to_le_bytes());
        bin.extend_from_slice(&[e.count, e.flags]);
    }
    (encode_u32s(&counts), bin)
}

/// Append a shard's lines to `out`.
fn read_lines(dir: &Path, out: &mut DocLines) -> Result<()> {
    let counts = read_file(&dir.join("lines.count"))?;
    let bin = read_file(&dir.join("lines.bin"))?;
    if out.offsets.is_empty() {
        out.offsets.push(0);
    }
    let mut total = 0usize;
    for c in counts.chunks_exact(4) {
        total += le_u32(c, 0) as usize;
        out.offsets.push(out.entries.len() + total);
    }
    if bin.len() != total * LINE_BYTES {
        return Err(Error::Work(format!(
            "{}: lines.count and lines.bin disagree",
            dir.display()
        )));
    }
    out.entries
        .extend(bin.chunks_exact(LINE_BYTES).map(|r| LineEntry {
            hash: le_u64(r, 0),
            first_line: le_u32(r, 8),
            tokens: u16::from_le_bytes([r[12], r[13]]),
            count: r[14],
            flags: r[15],
        }));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// stage 2: sketch (pass 1)

/// Stage `sketch --shard i`: read the shard's files, compute pass-1 signatures and line
/// statistics, and record where every document is so later stages never parse the input again.
pub fn sketch_shard(
    cfg: &ScanConfig,
    dir: &Path,
    shard: usize,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<()> {
    let (work, cfg, _) = begin(cfg, dir, Some(shard))?;
    let rel = format!("shards/{shard:05}/sketch");
    if work.is_done(&rel) {
        return Ok(());
    }
    let out = work.shard_dir(shard);
    fs::create_dir_all(&out).map_err(io_err(&out))?;
    let found: Vec<input::Found> = work.plan.shards[shard]
        .iter()
        .map(|f| input::Found {
            path: Some(f.path.clone()),
            display: f.display.clone(),
            id_base: f.id_base.clone(),
            from_dir: f.from_dir,
        })
        .collect();
    let (files, load_problems, skipped_files, skipped_docs) = input::load_found(&found, &cfg.input);
    let planned = |path: &str| {
        work.plan.shards[shard]
            .iter()
            .find(|p| p.display == path)
            .ok_or_else(|| Error::Work(format!("{path}: not in the plan")))
    };
    let ranges = files
        .iter()
        .map(|f| {
            let r = planned(&f.path)?.range;
            Ok(r.map(|(a, b)| a as usize..b as usize))
        })
        .collect::<Result<Vec<_>>>()?;
    let corpus = input::build(
        files,
        Vec::new(),
        skipped_files,
        skipped_docs,
        &cfg.input,
        false,
        &ranges,
    );
    let params = SketchParams::from_config(&cfg);
    let (sketches, lines) = if cfg.boilerplate.enabled {
        sketch::compute_with_lines(&corpus, params, progress, cancel)?
    } else {
        let s = sketch::compute(&corpus, params, &[], progress, cancel)?;
        let lines = DocLines {
            offsets: vec![0; corpus.docs.len() + 1],
            entries: Vec::new(),
        };
        (s, lines)
    };
    // Files whose bytes are not on disk as read (compressed) are kept decompressed in the shard.
    let mut files = Vec::with_capacity(corpus.files.len());
    for (k, f) in corpus.files.iter().enumerate() {
        let range = planned(&f.path)?.range;
        let data = if f.compression == Compression::None {
            planned(&f.path)?.path.clone()
        } else {
            let p = out.join(format!("file-{k:05}.data"));
            write_bytes(&p, &f.data)?;
            p
        };
        files.push(FileMeta {
            path: f.path.clone(),
            data: fs::canonicalize(&data).unwrap_or(data),
            data_bytes: f.data.len() as u64,
            id_base: f.id_base.clone(),
            from_dir: f.from_dir,
            format: f.format,
            compression: f.compression,
            mapped: f.mapped,
            disk_bytes: f.disk_bytes,
            // A file cut into ranges is fingerprinted once, by the shard with its first bytes.
            fingerprint: match range {
                Some((start, _)) if start > 0 => None,
                _ => Some(InputFingerprint::of(f)),
            },
            lines: range.map_or(0, |(a, b)| {
                let bytes = &f.data[a as usize..b as usize];
                let newlines = bytes.iter().filter(|&&c| c == b'\n').count() as u64;
                newlines + u64::from(bytes.last().is_some_and(|&c| c != b'\n'))
            }),
            range,
        });
    }
    let mut docs = Vec::with_capacity(corpus.docs.len() * DOC_BYTES);
    for (d, &s) in corpus.docs.iter().zip(&corpus.doc_source) {
        encode_doc(d, s, &mut docs);
    }
    write_bytes(&out.join("docs.bin"), &docs)?;
    write_bytes(&out.join("pass1.sig"), &encode_u32s(&sketches.signatures))?;
    write_bytes(&out.join("pass1.meta"), &encode_meta(&sketches))?;
    let (counts, bin) = encode_lines(&lines);
    write_bytes(&out.join("lines.count"), &counts)?;
    write_bytes(&out.join("lines.bin"), &bin)?;
    let meta = ShardMeta {
        docs: corpus.docs.len() as u64,
        files,
        sources: corpus
            .sources
            .iter()
            .cloned()
            .zip(corpus.source_is_outlet.iter().copied())
            .collect(),
        owned: corpus.owned.clone(),
        load_problems,
        record_problems: corpus.problems.clone(),
        skipped_documents: corpus.skipped_documents,
        skipped_files: corpus.skipped_files,
    };
    let json = serde_json::to_vec(&meta).expect("shard meta serialises");
    write_bytes(&out.join("shard.json"), &json)?;
    work.mark_done(&rel)
}

fn read_shard_meta(work: &Work, shard: usize) -> Result<ShardMeta> {
    let path = work.shard_dir(shard).join("shard.json");
    let bytes = read_file(&path)?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Work(format!("{}: {e}", path.display())))
}

/// The corpus of `shards`, rebuilt from the shard files without parsing any input: the inputs
/// (or decompressed copies) are mapped, documents come from `docs.bin`. With `full` (every
/// shard) ids are made unique across shards, as a single scan does. Also returns each input
/// file's fingerprint.
fn open_corpus(
    work: &Work,
    shards: std::ops::Range<usize>,
    full: bool,
) -> Result<(Corpus, Vec<InputFingerprint>)> {
    let mut corpus = Corpus {
        files: Vec::new(),
        docs: Vec::new(),
        owned: Vec::new(),
        sources: Vec::new(),
        source_is_outlet: Vec::new(),
        doc_source: Vec::new(),
        problems: if full {
            work.plan.discovery_problems.clone()
        } else {
            Vec::new()
        },
        skipped_documents: 0,
        skipped_files: 0,
    };
    let mut source_ids: std::collections::HashMap<String, u32> = Default::default();
    // For a file cut into ranges: lines before the next range, and where the last range ended.
    let mut cont = (0u64, 0u64);
    let mut record_problems = Vec::new();
    let mut prints = Vec::new();
    for s in shards {
        work.require(
            &format!("shards/{s:05}/sketch"),
            &format!("sketch --shard {s}"),
        )?;
        let mut meta = read_shard_meta(work, s)?;
        let owned_base = corpus.owned.len() as u32;
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
                    return Err(Error::Work(format!("{}: ranges do not join", f.path)));
                }
                file_map.push((corpus.files.len() as u32 - 1, start_line as u32));
                cont = (start_line + f.lines, f.range.map_or(0, |r| r.1));
                continue;
            }
            cont = (f.lines, f.range.map_or(0, |r| r.1));
            file_map.push((corpus.files.len() as u32, 0));
            let data = map_file(&f.data)?;
            if data.len() as u64 != f.data_bytes {
                return Err(Error::Work(format!(
                    "{}: changed since it was sketched ({} bytes, now {})",
                    f.data.display(),
                    f.data_bytes,
                    data.len()
                )));
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
            });
        }
        let local: Vec<u32> = meta
            .sources
            .iter()
            .map(|(name, outlet)| {
                let next = corpus.sources.len() as u32;
                *source_ids.entry(name.clone()).or_insert_with(|| {
                    corpus.sources.push(name.clone());
                    corpus.source_is_outlet.push(*outlet);
                    next
                })
            })
            .collect();
        let docs = read_file(&work.shard_dir(s).join("docs.bin"))?;
        if docs.len() as u64 != meta.docs * DOC_BYTES as u64 {
            return Err(Error::Work(format!(
                "{}: {} bytes, expected {} documents × {DOC_BYTES}",
                work.shard_dir(s).join("docs.bin").display(),
                docs.len(),
                meta.docs
            )));
        }
        let docs_path = work.shard_dir(s).join("docs.bin");
        for (i, r) in docs.chunks_exact(DOC_BYTES).enumerate() {
            let corrupt =
                |what: &str| Error::Work(format!("{}: record {i}: {what}", docs_path.display()));
            let (mut d, src) = decode_doc(r, owned_base).map_err(|_| corrupt("unknown tag"))?;
            let &(file, line_base) = file_map
                .get(d.file as usize)
                .ok_or_else(|| corrupt("file index out of range"))?;
            d.file = file;
            if d.line > 0 {
                d.line += line_base;
            }
            corpus.docs.push(d);
            corpus.doc_source.push(
                *local
                    .get(src as usize)
                    .ok_or_else(|| corrupt("source index out of range"))?,
            );
        }
        for p in &mut meta.record_problems {
            let at = meta.files.iter().position(|f| f.path == p.path);
            if let (Some(line), Some(i)) = (&mut p.line, at) {
                *line += file_map[i].1 as u64;
            }
        }
        corpus.owned.extend(meta.owned);
        corpus.problems.extend(meta.load_problems);
        record_problems.extend(meta.record_problems);
        corpus.skipped_documents += meta.skipped_documents;
        corpus.skipped_files += meta.skipped_files;
    }
    corpus.problems.extend(record_problems);
    if full {
        corpus.skipped_files += input::unusable_paths(&work.plan.discovery_problems);
        corpus.disambiguate_ids();
    }
    Ok((corpus, prints))
}

fn doc_counts(work: &Work) -> Result<Vec<u64>> {
    (0..work.plan.shards.len())
        .map(|s| {
            work.require(
                &format!("shards/{s:05}/sketch"),
                &format!("sketch --shard {s}"),
            )?;
            Ok(read_shard_meta(work, s)?.docs)
        })
        .collect()
}

fn load_boilerplate(work: &Work) -> Result<Boilerplate> {
    work.require("boilerplate", "boilerplate")?;
    let path = work.dir.join("boilerplate.json");
    let bytes = read_file(&path)?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Work(format!("{}: {e}", path.display())))
}

// ---------------------------------------------------------------------------------------------
// stage 3: boilerplate

/// Stage `boilerplate`: flag boilerplate lines over every shard's line statistics (one task).
pub fn boilerplate(cfg: &ScanConfig, dir: &Path) -> Result<()> {
    let (work, cfg, _) = begin(cfg, dir, None)?;
    if work.is_done("boilerplate") {
        return Ok(());
    }
    let n = work.plan.shards.len();
    let bp = if cfg.boilerplate.enabled {
        let (corpus, _) = open_corpus(&work, 0..n, false)?;
        let mut lines = DocLines::default();
        for s in 0..n {
            read_lines(&work.shard_dir(s), &mut lines)?;
        }
        if lines.offsets.is_empty() {
            lines.offsets.push(0);
        }
        // Pass-1 signatures stay in the mapped shard files; detection reads a sample of them.
        let sigs = MappedSignatures::open(&work, "pass1", cfg.num_perm)?;
        crate::boilerplate::detect(
            &corpus,
            &lines,
            &sigs,
            &cfg.boilerplate,
            cfg.profile,
            cfg.seed,
        )
    } else {
        Boilerplate::default()
    };
    let json = serde_json::to_vec(&bp).expect("boilerplate serialises");
    write_bytes(&work.dir.join("boilerplate.json"), &json)?;
    work.mark_done("boilerplate")
}

// ---------------------------------------------------------------------------------------------
// stage 4: signatures (pass 2) and band keys

/// The band tasks of a plan: `(banding, band within it, seed)` for global band `b`.
fn band_of(plan: &Plan, cfg: &ScanConfig, b: usize) -> Result<(Banding, usize, u64)> {
    if b < plan.banding.bands {
        return Ok((plan.banding, b, cfg.seed));
    }
    match plan.containment_banding {
        Some(cb) if b - plan.banding.bands < cb.bands => Ok((
            cb,
            b - plan.banding.bands,
            cfg.seed ^ crate::CONTAINMENT_SALT,
        )),
        _ => Err(Error::Work(format!(
            "band {b} out of range (the plan has {})",
            plan.bands()
        ))),
    }
}

/// Stage `signatures --shard i`: re-sketch the shard's documents that carry boilerplate without
/// it (pass 2), write the final signatures and, per band, the shard's sorted band keys.
pub fn signatures_shard(
    cfg: &ScanConfig,
    dir: &Path,
    shard: usize,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<()> {
    let (work, cfg, _) = begin(cfg, dir, Some(shard))?;
    let rel = format!("shards/{shard:05}/signatures");
    if work.is_done(&rel) {
        return Ok(());
    }
    let bp = load_boilerplate(&work)?;
    let base: u64 = doc_counts(&work)?[..shard].iter().sum();
    let sd = work.shard_dir(shard);
    let mut sketches = empty_sketches(cfg.num_perm);
    read_sketches(&sd, "pass1", cfg.num_perm, &mut sketches)?;
    if cfg.boilerplate.excludes_lines() && !bp.hashes.is_empty() {
        let (corpus, _) = open_corpus(&work, shard..shard + 1, false)?;
        let mut lines = DocLines::default();
        read_lines(&sd, &mut lines)?;
        let affected = bp.affected_docs(&lines);
        sketch::resketch(
            &corpus,
            SketchParams::from_config(&cfg),
            &bp.hashes,
            &mut sketches,
            &affected,
            progress,
            cancel,
        )?;
    }
    write_bytes(&sd.join("final.sig"), &encode_u32s(&sketches.signatures))?;
    write_bytes(&sd.join("final.meta"), &encode_meta(&sketches))?;
    let keys_dir = sd.join("keys");
    fs::create_dir_all(&keys_dir).map_err(io_err(&keys_dir))?;
    let k = cfg.num_perm;
    let docs: Vec<u32> = (0..sketches.len() as u32)
        .filter(|&d| sketches.tokens[d as usize] > 0)
        .collect();
    for b in 0..work.plan.bands() {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
        let (banding, band, seed) = band_of(&work.plan, &cfg, b)?;
        let mut keys: Vec<(u64, u32)> = docs
            .par_iter()
            .map(|&d| {
                let sig = &sketches.signatures[d as usize * k..][..k];
                let row = &sig[band * banding.rows..][..banding.rows];
                (
                    crate::lsh::band_key(row, seed, band),
                    (base + d as u64) as u32,
                )
            })
            .collect();
        keys.par_sort_unstable();
        // Sorted by key, so each key range is one slice.
        let ranges = work.plan.key_ranges;
        let mut at = 0;
        for r in 0..ranges {
            let end = at + keys[at..].partition_point(|&(key, _)| key_range(key, ranges) == r);
            let mut bytes = Vec::with_capacity((end - at) * KEY_BYTES);
            for &(key, d) in &keys[at..end] {
                bytes.extend_from_slice(&key.to_le_bytes());
                bytes.extend_from_slice(&d.to_le_bytes());
            }
            write_bytes(&keys_dir.join(format!("band-{b:03}-{r:03}.bin")), &bytes)?;
            at = end;
        }
    }
    work.mark_done(&rel)
}

/// Every shard's `NAME.sig`, mapped: signatures read on demand instead of loaded.
struct MappedSignatures {
    num_perm: usize,
    /// First global document of each shard, and one past the last.
    starts: Vec<u64>,
    maps: Vec<Data>,
}

impl MappedSignatures {
    fn open(work: &Work, name: &str, num_perm: usize) -> Result<Self> {
        let counts = doc_counts(work)?;
        let mut starts = vec![0u64];
        let mut maps = Vec::with_capacity(counts.len());
        for (s, &n) in counts.iter().enumerate() {
            let path = work.shard_dir(s).join(format!("{name}.sig"));
            let m = map_file(&path)?;
            if m.len() as u64 != n * num_perm as u64 * 4 {
                return Err(Error::Work(format!("{}: wrong length", path.display())));
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

impl crate::sketch::Signatures for MappedSignatures {
    fn num_perm(&self) -> usize {
        self.num_perm
    }
    fn copy_signature(&self, d: u32, out: &mut [u32]) {
        let s = self.starts.partition_point(|&x| x <= d as u64) - 1;
        let l = (d as u64 - self.starts[s]) as usize;
        let row = &self.maps[s][l * self.num_perm * 4..][..self.num_perm * 4];
        for (o, c) in out.iter_mut().zip(row.chunks_exact(4)) {
            *o = u32::from_le_bytes(c.try_into().unwrap());
        }
    }
}

/// Final signatures and shingle counts of the documents `docs` (sorted global indices), in that
/// order, copied from the mapped shard files: memory in proportion to `docs`, not the corpus.
fn sparse_signatures(work: &Work, docs: &[u32], num_perm: usize) -> Result<(Vec<u32>, Vec<u32>)> {
    let counts = doc_counts(work)?;
    let mut sigs = Vec::with_capacity(docs.len() * num_perm);
    let mut sizes = Vec::with_capacity(docs.len());
    let (mut base, mut i) = (0u64, 0usize);
    for (s, &n) in counts.iter().enumerate() {
        let end = docs[i..].partition_point(|&d| (d as u64) < base + n) + i;
        if end > i {
            work.require(
                &format!("shards/{s:05}/signatures"),
                &format!("signatures --shard {s}"),
            )?;
            let dir = work.shard_dir(s);
            let sig = map_file(&dir.join("final.sig"))?;
            let meta = map_file(&dir.join("final.meta"))?;
            if sig.len() as u64 != n * num_perm as u64 * 4
                || meta.len() as u64 != n * META_BYTES as u64
            {
                return Err(Error::Work(format!(
                    "{}: final.sig and final.meta disagree",
                    dir.display()
                )));
            }
            for &d in &docs[i..end] {
                let l = (d as u64 - base) as usize;
                let row = &sig[l * num_perm * 4..][..num_perm * 4];
                sigs.extend(
                    row.chunks_exact(4)
                        .map(|c| u32::from_le_bytes(c.try_into().unwrap())),
                );
                sizes.push(le_u32(&meta[l * META_BYTES..], 20));
            }
        }
        base += n;
        i = end;
    }
    Ok((sigs, sizes))
}

/// The key range of a band key (ranges split the key space evenly; monotone in the key).
fn key_range(key: u64, ranges: usize) -> usize {
    ((key as u128 * ranges as u128) >> 64) as usize
}

fn load_final(work: &Work, num_perm: usize) -> Result<Sketches> {
    let mut s = empty_sketches(num_perm);
    for shard in 0..work.plan.shards.len() {
        work.require(
            &format!("shards/{shard:05}/signatures"),
            &format!("signatures --shard {shard}"),
        )?;
        read_sketches(&work.shard_dir(shard), "final", num_perm, &mut s)?;
    }
    Ok(s)
}

// ---------------------------------------------------------------------------------------------
// stage 5: buckets

fn part_of(p: (u32, u32), parts: usize) -> usize {
    let x = (p.0 as u64) << 32 | p.1 as u64;
    (xxhash_rust::xxh3::xxh3_64(&x.to_le_bytes()) % parts as u64) as usize
}

/// Stage `exact`: group exact duplicates over every shard's final hashes (one task) and write
/// `members.bin`, a bit per document (little-endian bit order): set for the documents that take
/// part in LSH, one per exact group plus every unique document with tokens.
pub fn exact(cfg: &ScanConfig, dir: &Path) -> Result<()> {
    let (work, _, _) = begin(cfg, dir, None)?;
    if work.is_done("exact") {
        return Ok(());
    }
    // Exact hashes and token counts only.
    let sketches = load_final(&work, 0)?;
    let groups = crate::cluster::exact_groups(&sketches.exact, &sketches.tokens);
    let mut bits = vec![0u8; sketches.len().div_ceil(8)];
    for &d in &groups.lsh_members {
        bits[d as usize / 8] |= 1 << (d % 8);
    }
    write_bytes(&work.dir.join("members.bin"), &bits)?;
    work.mark_done("exact")
}

/// Stage `buckets --task t`: merge every shard's keys of band `t / key_ranges` in key range
/// `t % key_ranges`, keep the documents `exact` chose (one per exact group, as a single scan
/// does), and write the candidate pairs split into the plan's parts.
pub fn buckets(cfg: &ScanConfig, dir: &Path, task: usize, cancel: &AtomicBool) -> Result<()> {
    let (work, cfg, _) = begin(cfg, dir, None)?;
    if task >= work.plan.bucket_tasks() {
        return Err(Error::Work(format!(
            "buckets task {task} out of range (the plan has {})",
            work.plan.bucket_tasks()
        )));
    }
    let (band, range) = (task / work.plan.key_ranges, task % work.plan.key_ranges);
    band_of(&work.plan, &cfg, band)?;
    let rel = format!("buckets/task-{task:05}");
    if work.is_done(&rel) {
        return Ok(());
    }
    work.require("exact", "exact")?;
    let member = read_file(&work.dir.join("members.bin"))?;
    let is_member = |d: u32| {
        member
            .get(d as usize / 8)
            .is_some_and(|b| b >> (d % 8) & 1 == 1)
    };
    let mut keys: Vec<(u64, u32)> = Vec::new();
    for s in 0..work.plan.shards.len() {
        let path = work
            .shard_dir(s)
            .join("keys")
            .join(format!("band-{band:03}-{range:03}.bin"));
        let bytes = read_file(&path)?;
        keys.extend(
            bytes
                .chunks_exact(KEY_BYTES)
                .map(|r| (le_u64(r, 0), le_u32(r, 8)))
                .filter(|&(_, d)| is_member(d)),
        );
    }
    if cancel.load(Ordering::Relaxed) {
        return Err(Error::Interrupted);
    }
    keys.par_sort_unstable();
    let mut pairs = Vec::new();
    crate::lsh::bucket_pairs(&keys, &mut pairs);
    drop(keys);
    pairs.par_sort_unstable();
    pairs.dedup();
    let parts = work.plan.parts;
    let mut out: Vec<Vec<u8>> = vec![Vec::new(); parts];
    for p in pairs {
        let o = &mut out[part_of(p, parts)];
        o.extend_from_slice(&p.0.to_le_bytes());
        o.extend_from_slice(&p.1.to_le_bytes());
    }
    let bdir = work.dir.join(&rel);
    fs::create_dir_all(&bdir).map_err(io_err(&bdir))?;
    for (p, bytes) in out.iter().enumerate() {
        write_bytes(&bdir.join(format!("part-{p:03}.bin")), bytes)?;
    }
    work.mark_done(&rel)
}

// ---------------------------------------------------------------------------------------------
// stage 6: verify

/// Stage `verify --part p`: the candidate pairs of part `p` from every band, deduplicated and
/// verified (exactly, on re-derived shingle sets, unless `--verify estimate`).
pub fn verify_part(
    cfg: &ScanConfig,
    dir: &Path,
    part: usize,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<()> {
    let (work, cfg, _) = begin(cfg, dir, None)?;
    if part >= work.plan.parts {
        return Err(Error::Work(format!(
            "part {part} out of range (the plan has {})",
            work.plan.parts
        )));
    }
    let rel = format!("verify/part-{part:03}");
    if work.is_done(&rel) {
        return Ok(());
    }
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    for t in 0..work.plan.bucket_tasks() {
        let brel = format!("buckets/task-{t:05}");
        work.require(&brel, &format!("buckets --task {t}"))?;
        let bytes = read_file(&work.dir.join(&brel).join(format!("part-{part:03}.bin")))?;
        pairs.extend(bytes.chunks_exact(8).map(|r| (le_u32(r, 0), le_u32(r, 4))));
    }
    pairs.par_sort_unstable();
    pairs.dedup();
    let bp = load_boilerplate(&work)?;
    // Signatures of the documents in these pairs only, read from the mapped shard files.
    let mut need: Vec<u32> = pairs.iter().flat_map(|&(a, b)| [a, b]).collect();
    need.par_sort_unstable();
    need.dedup();
    let (sigs, sizes) = sparse_signatures(&work, &need, cfg.num_perm)?;
    let k = cfg.num_perm;
    let at = |d: u32| need.binary_search(&d).expect("document of a pair");
    let estimate = |a: u32, b: u32| {
        let (ia, ib) = (at(a), at(b));
        crate::verify::estimate_score(
            &sigs[ia * k..][..k],
            &sigs[ib * k..][..k],
            sizes[ia],
            sizes[ib],
        )
    };
    let (corpus, _) = open_corpus(&work, 0..work.plan.shards.len(), false)?;
    let exclude: &[u64] = if cfg.boilerplate.excludes_lines() {
        &bp.hashes
    } else {
        &[]
    };
    let verifier = crate::verify::Verifier {
        corpus: &corpus,
        params: SketchParams::from_config(&cfg),
        exclude,
        cancel,
    };
    let (edges, stats) =
        verifier.verify_candidates(&pairs, &estimate, &cfg.criterion(), cfg.verify, progress)?;
    let mut bytes = Vec::with_capacity(edges.len() * EDGE_BYTES);
    for e in &edges {
        bytes.extend_from_slice(&e.a.to_le_bytes());
        bytes.extend_from_slice(&e.b.to_le_bytes());
        bytes.extend_from_slice(&e.score.jaccard.to_le_bytes());
        bytes.extend_from_slice(&e.score.a_in_b.to_le_bytes());
        bytes.extend_from_slice(&e.score.b_in_a.to_le_bytes());
        bytes.extend_from_slice(&e.score.size_a.to_le_bytes());
        bytes.extend_from_slice(&e.score.size_b.to_le_bytes());
    }
    let vdir = work.dir.join("verify");
    fs::create_dir_all(&vdir).map_err(io_err(&vdir))?;
    write_bytes(&vdir.join(format!("part-{part:03}.bin")), &bytes)?;
    let json = serde_json::to_vec(&stats).expect("stats serialise");
    write_bytes(&vdir.join(format!("part-{part:03}.json")), &json)?;
    work.mark_done(&rel)
}

// ---------------------------------------------------------------------------------------------
// stage 7: components

/// Stage `components`: every verified edge and exact group into clusters (star clustering as
/// in a single scan), then `clusters.jsonl`, `boilerplate.jsonl` and `summary.json` in `out`.
pub fn components(
    cfg: &ScanConfig,
    dir: &Path,
    out: &Path,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<crate::ScanOutput> {
    let started = Instant::now();
    let (work, cfg, banding) = begin(cfg, dir, None)?;
    let mut edges = Vec::new();
    let mut stats = VerifyStats::default();
    for p in 0..work.plan.parts {
        let rel = format!("verify/part-{p:03}");
        work.require(&rel, &format!("verify --part {p}"))?;
        let bytes = read_file(&work.dir.join(format!("{rel}.bin")))?;
        edges.extend(bytes.chunks_exact(EDGE_BYTES).map(|r| Edge {
            a: le_u32(r, 0),
            b: le_u32(r, 4),
            score: Score {
                jaccard: f64::from_le_bytes(r[8..16].try_into().unwrap()),
                a_in_b: f64::from_le_bytes(r[16..24].try_into().unwrap()),
                b_in_a: f64::from_le_bytes(r[24..32].try_into().unwrap()),
                size_a: le_u32(r, 32),
                size_b: le_u32(r, 36),
            },
        }));
        let path = work.dir.join(format!("{rel}.json"));
        let s: VerifyStats = serde_json::from_slice(&read_file(&path)?)
            .map_err(|e| Error::Work(format!("{}: {e}", path.display())))?;
        stats.candidate_pairs += s.candidate_pairs;
        stats.rejected_by_estimate += s.rejected_by_estimate;
        stats.verified_exactly += s.verified_exactly;
        stats.accepted += s.accepted;
    }
    edges.par_sort_unstable_by_key(|e| (e.a, e.b));
    let bp = load_boilerplate(&work)?;
    // Exact verification scores centres on the texts: signatures are needed only for estimates.
    let num_perm = match cfg.verify {
        crate::config::Verify::Exact => 0,
        crate::config::Verify::Estimate => cfg.num_perm,
    };
    let sketches = load_final(&work, num_perm)?;
    let (corpus, prints) = open_corpus(&work, 0..work.plan.shards.len(), true)?;
    crate::strict_check(&cfg, &corpus)?;
    if corpus.docs.len() != sketches.len() {
        return Err(Error::Work(
            "shards disagree on their document counts".into(),
        ));
    }
    let groups = crate::cluster::exact_groups(&sketches.exact, &sketches.tokens);
    let mut prep = Prepared {
        corpus,
        boilerplate: bp,
        sketches,
        groups,
        params: SketchParams::from_config(&cfg),
        exclude_boilerplate: cfg.boilerplate.excludes_lines(),
        timings: Default::default(),
        started,
        inputs: Some(InputsOut::from_list(prints)),
    };
    let containment_banding = work.plan.containment_banding;
    let m = crate::cluster_edges(
        &mut prep,
        &cfg,
        &edges,
        stats,
        containment_banding,
        progress,
        cancel,
    )?;
    let mut output = crate::finish(prep, &cfg, banding, m);
    crate::write_outputs(&mut output, out, &NoProgress)?;
    Ok(output)
}

/// Run every stage of a planned work directory in order in this process (what the Ray driver
/// does across machines): for one machine, for resuming, and for tests.
pub fn run_all(
    cfg: &ScanConfig,
    dir: &Path,
    out: &Path,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<crate::ScanOutput> {
    let work = Work::open(dir)?;
    let (shards, tasks, parts) = (
        work.plan.shards.len(),
        work.plan.bucket_tasks(),
        work.plan.parts,
    );
    for s in 0..shards {
        sketch_shard(cfg, dir, s, progress, cancel)?;
    }
    boilerplate(cfg, dir)?;
    for s in 0..shards {
        signatures_shard(cfg, dir, s, progress, cancel)?;
    }
    exact(cfg, dir)?;
    for t in 0..tasks {
        buckets(cfg, dir, t, cancel)?;
    }
    for p in 0..parts {
        verify_part(cfg, dir, p, progress, cancel)?;
    }
    components(cfg, dir, out, progress, cancel)
}
