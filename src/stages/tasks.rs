//! The tasks of a staged run: each reads the artefacts of earlier phases from the work
//! directory, runs one [`crate::pipeline`] function on its share, and writes its artefacts.
//! [`super::run_in`] skips a finished task and marks one done.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use zerocopy::IntoBytes;

use super::codec::{self, DocRecord, EdgeRecord, KeyRecord, PairRecord};
use super::shards::{FileMeta, MappedSignatures, ShardMeta, map_file, read_file, read_json};
use super::{Task, Work, io_err};
use crate::boilerplate::DocLines;
use crate::config::Verify;
use crate::error::{Error, Result};
use crate::input::{self, Compression};
use crate::lsh::Candidates;
use crate::pipeline::{self, Artefacts, Clustered, Context, ScanOutput, Verified};
use crate::progress::{NoProgress, Progress};
use crate::report::{self, InputFingerprint, InputsOut};
use crate::verify::{Edge, VerifyStats};

fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    report::atomic_write(path, |w| {
        use std::io::Write;
        w.write_all(bytes)
    })
    .map(drop)
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    // Serialising our own structs cannot fail.
    write_bytes(path, &serde_json::to_vec(value).expect("serialises"))
}

fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(io_err(dir))
}

/// `sketch --shard i`: read the shard's files, compute pass-1 signatures and line statistics,
/// and record where every document is so later tasks never parse the input again.
pub(super) fn sketch(
    work: &Work,
    shard: usize,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<()> {
    // Pass 2 and verification run in other processes: no token store.
    let cx = Context::new(work.config(), progress, cancel).without_token_store();
    let out = work.shard_dir(shard);
    create_dir(&out)?;
    let planned = &work.plan.shards[shard];
    let found: Vec<input::Found> = planned
        .iter()
        .map(|f| input::Found {
            path: Some(f.path.clone()),
            display: f.display.clone(),
            id_base: f.id_base.clone(),
            from_dir: f.from_dir,
            rel: None,
        })
        .collect();
    let (files, load_problems, skipped_files, skipped_docs) =
        input::load_found(&found, &cx.cfg.input);
    // Loaded files keep their planned order (a file that failed to load is left out).
    let plan_of = |path: &str| {
        planned
            .iter()
            .find(|p| p.display == path)
            .expect("a loaded file is one of the shard's")
    };
    let ranges: Vec<_> = files
        .iter()
        .map(|f| plan_of(&f.path).range.map(|(a, b)| a as usize..b as usize))
        .collect();
    let corpus = input::build(
        files,
        Vec::new(),
        skipped_files,
        skipped_docs,
        &cx.cfg.input,
        false,
        &ranges,
    );
    let (sketches, lines) = pipeline::sketch(&cx, &corpus)?;
    // Files whose bytes are not on disk as read (compressed) are kept decompressed in the shard.
    let mut files = Vec::with_capacity(corpus.files.len());
    for (k, f) in corpus.files.iter().enumerate() {
        let planned = plan_of(&f.path);
        let range = planned.range;
        // The bytes as indexed: the input itself, or (decompressed, or converted from a
        // container) a copy in the shard.
        let data = if f.compression == Compression::None && f.format != input::Format::Records {
            planned.path.clone()
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
                let newlines = memchr::memchr_iter(b'\n', bytes).count() as u64;
                newlines + u64::from(bytes.last().is_some_and(|&c| c != b'\n'))
            }),
            range,
        });
    }
    let docs: Vec<DocRecord> = corpus
        .docs
        .iter()
        .zip(&corpus.doc_outlet)
        .map(|(d, &s)| DocRecord::new(d, s))
        .collect();
    write_bytes(&out.join("docs.bin"), docs.as_bytes())?;
    write_bytes(
        &out.join("pass1.sig"),
        &codec::encode_u32s(&sketches.signatures),
    )?;
    write_bytes(&out.join("pass1.meta"), &codec::encode_meta(&sketches))?;
    let (counts, bin) = codec::encode_lines(&lines);
    write_bytes(&out.join("lines.count"), &counts)?;
    write_bytes(&out.join("lines.bin"), &bin)?;
    let meta = ShardMeta {
        docs: corpus.docs.len() as u64,
        files,
        outlets: corpus
            .outlets
            .iter()
            .cloned()
            .zip(corpus.outlet_known.iter().copied())
            .collect(),
        owned: corpus.owned.clone(),
        load_problems,
        record_problems: corpus.problems.clone(),
        skipped_documents: corpus.skipped_documents,
        skipped_files: corpus.skipped_files,
    };
    write_json(&out.join("shard.json"), &meta)
}

/// `boilerplate`: flag boilerplate lines over every shard's line statistics (one task).
pub(super) fn boilerplate(work: &Work, progress: &dyn Progress, cancel: &AtomicBool) -> Result<()> {
    let cx = Context::new(work.config(), progress, cancel);
    let n = work.plan.shards.len();
    let (corpus, _) = work.corpus(0..n, false)?;
    let mut lines = DocLines::default();
    if cx.cfg.boilerplate.enabled {
        for s in 0..n {
            work.read_lines(s, &mut lines)?;
        }
    }
    if lines.offsets.is_empty() {
        lines = DocLines::empty(corpus.docs.len());
    }
    // Pass-1 signatures stay in the mapped shard files; detection reads a sample of them.
    let sigs = MappedSignatures::open(work, "pass1", cx.cfg.num_perm)?;
    let bp = pipeline::boilerplate(&cx, &corpus, &lines, &sigs);
    write_json(&work.dir.join("boilerplate.json"), &bp)
}

/// `signatures --shard i`: re-sketch the shard's documents that carry boilerplate without it
/// (pass 2), write the final signatures and, per band, the shard's sorted band keys.
pub(super) fn signatures(
    work: &Work,
    shard: usize,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<()> {
    let cx = Context::new(work.config(), progress, cancel);
    let k = cx.cfg.num_perm;
    let bp = work.boilerplate()?;
    let base: u64 = work.doc_counts()?[..shard].iter().sum();
    let sd = work.shard_dir(shard);
    let mut sketches = crate::Sketches::empty(k);
    work.read_sketches(shard, "pass1", k, &mut sketches)?;
    if !cx.exclude(&bp).is_empty() {
        let (corpus, _) = work.corpus(shard..shard + 1, false)?;
        let mut lines = DocLines::default();
        work.read_lines(shard, &mut lines)?;
        pipeline::resketch(&cx, &corpus, &bp, &lines, &mut sketches)?;
    }
    write_bytes(
        &sd.join("final.sig"),
        &codec::encode_u32s(&sketches.signatures),
    )?;
    write_bytes(&sd.join("final.meta"), &codec::encode_meta(&sketches))?;
    let keys_dir = sd.join("keys");
    create_dir(&keys_dir)?;
    let docs: Vec<u32> = (0..sketches.len() as u32)
        .filter(|&d| sketches.tokens[d as usize] > 0)
        .collect();
    let mut keys = Vec::with_capacity(docs.len());
    for b in 0..work.plan.bands() {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
        let (set, band) = work.plan.band(b).expect("band of the plan");
        crate::lsh::band_keys(
            &sketches.signatures,
            k,
            set,
            band,
            &docs,
            base as u32,
            &mut keys,
        );
        keys.par_sort_unstable();
        // Sorted by key, so each key range is one slice.
        let ranges = work.plan.key_ranges;
        let mut at = 0;
        for r in 0..ranges {
            let end = at + keys[at..].partition_point(|&(key, _)| key_range(key, ranges) == r);
            let records: Vec<KeyRecord> = keys[at..end]
                .iter()
                .map(|&(key, d)| KeyRecord {
                    key: key.into(),
                    doc: d.into(),
                })
                .collect();
            write_bytes(
                &keys_dir.join(format!("band-{b:03}-{r:03}.bin")),
                records.as_bytes(),
            )?;
            at = end;
        }
    }
    Ok(())
}

/// The key range of a band key (ranges split the key space evenly; monotone in the key).
fn key_range(key: u64, ranges: usize) -> usize {
    ((key as u128 * ranges as u128) >> 64) as usize
}

/// The verification part of a candidate pair.
fn part_of(p: (u32, u32), parts: usize) -> usize {
    let x = (p.0 as u64) << 32 | p.1 as u64;
    (xxhash_rust::xxh3::xxh3_64(&x.to_le_bytes()) % parts as u64) as usize
}

/// `exact`: group exact duplicates over every shard's final hashes (one task) and write
/// `members.bin`, a bit per document (little-endian bit order): set for the documents that take
/// part in LSH, one per exact group plus every unique document with tokens.
pub(super) fn exact(work: &Work, progress: &dyn Progress, cancel: &AtomicBool) -> Result<()> {
    let cx = Context::new(work.config(), progress, cancel);
    // Exact hashes and token counts only.
    let sketches = work.final_sketches(0)?;
    let groups = pipeline::exact(&cx, &sketches);
    let mut bits = vec![0u8; sketches.len().div_ceil(8)];
    for &d in &groups.lsh_members {
        bits[d as usize / 8] |= 1 << (d % 8);
    }
    write_bytes(&work.dir.join("members.bin"), &bits)
}

/// `buckets --task t`: merge every shard's keys of band `t / key_ranges` in key range
/// `t % key_ranges`, keep the documents `exact` chose (one per exact group, as a single scan
/// does), and write the candidate pairs split into the plan's parts.
pub(super) fn buckets(work: &Work, task: usize, cancel: &AtomicBool) -> Result<()> {
    let (band, range) = (task / work.plan.key_ranges, task % work.plan.key_ranges);
    work.require(Task::Exact)?;
    let member = read_file(&work.dir.join("members.bin"))?;
    let is_member = |d: u32| {
        member
            .get(d as usize / 8)
            .is_some_and(|b| b >> (d % 8) & 1 == 1)
    };
    let mut keys: Vec<(u64, u32)> = Vec::new();
    for s in 0..work.plan.shards.len() {
        work.require(Task::Signatures { shard: s })?;
        let path = work
            .shard_dir(s)
            .join("keys")
            .join(format!("band-{band:03}-{range:03}.bin"));
        let bytes = read_file(&path)?;
        let records: &[KeyRecord] = codec::records(&path, &bytes)?;
        keys.extend(
            records
                .iter()
                .map(|r| (r.key.get(), r.doc.get()))
                .filter(|&(_, d)| is_member(d)),
        );
    }
    if cancel.load(Ordering::Relaxed) {
        return Err(Error::Interrupted);
    }
    keys.par_sort_unstable();
    let mut pairs = Vec::new();
    let given = crate::lsh::bucket_pairs(&keys, &mut pairs);
    drop(keys);
    pairs.par_sort_unstable();
    pairs.dedup();
    let mut counts = BucketCounts::default();
    let (set, _) = work.plan.band(band).expect("band of the plan");
    if set.containment {
        // Only the plausible pairs go on, as in a scan (see `pipeline::plausible`).
        let cx = Context::new(work.config(), &NoProgress, cancel);
        let sigs = PairSignatures::read(work, &pairs, cx.cfg.num_perm)?;
        let keep = pipeline::plausible(&cx, |a, b| sigs.estimate(a, b));
        pairs.retain(|&(a, b)| keep(a, b));
        counts = BucketCounts {
            collisions: given,
            implausible: given - pairs.len() as u64,
        };
    }
    let parts = work.plan.parts;
    let mut out: Vec<Vec<PairRecord>> = vec![Vec::new(); parts];
    for p in pairs {
        out[part_of(p, parts)].push(PairRecord {
            a: p.0.into(),
            b: p.1.into(),
        });
    }
    let bdir = work.dir.join(Task::Buckets { task }.marker());
    create_dir(&bdir)?;
    for (p, records) in out.iter().enumerate() {
        write_bytes(&bdir.join(format!("part-{p:03}.bin")), records.as_bytes())?;
    }
    write_json(&bdir.join(BUCKET_COUNTS), &counts)
}

/// What one buckets task of the containment banding counted, for the summary.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct BucketCounts {
    collisions: u64,
    implausible: u64,
}

/// File of a buckets task's [`BucketCounts`].
const BUCKET_COUNTS: &str = "counts.json";

/// The signatures and shingle counts of the documents of some pairs, read from the mapped
/// shard files (the rest are never read).
struct PairSignatures {
    docs: Vec<u32>,
    sigs: Vec<u32>,
    sizes: Vec<u32>,
    k: usize,
}

impl PairSignatures {
    fn read(work: &Work, pairs: &[(u32, u32)], k: usize) -> Result<Self> {
        let mut docs: Vec<u32> = pairs.iter().flat_map(|&(a, b)| [a, b]).collect();
        docs.par_sort_unstable();
        docs.dedup();
        let (sigs, sizes) = work.sparse_signatures(&docs, k)?;
        Ok(PairSignatures {
            docs,
            sigs,
            sizes,
            k,
        })
    }

    /// The MinHash estimate of a pair of the documents read.
    fn estimate(&self, a: u32, b: u32) -> crate::verify::Score {
        let at = |d: u32| self.docs.binary_search(&d).expect("document of a pair");
        let (ia, ib, k) = (at(a), at(b), self.k);
        crate::verify::estimate_score(
            &self.sigs[ia * k..][..k],
            &self.sigs[ib * k..][..k],
            self.sizes[ia],
            self.sizes[ib],
        )
    }
}

/// `verify --part p`: the candidate pairs of part `p` from every band, deduplicated and
/// verified (exactly, on re-derived shingle sets, unless `--verify estimate`).
pub(super) fn verify(
    work: &Work,
    part: usize,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<()> {
    let cx = Context::new(work.config(), progress, cancel);
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    for t in 0..work.plan.bucket_tasks() {
        let task = Task::Buckets { task: t };
        work.require(task)?;
        let path = work
            .dir
            .join(task.marker())
            .join(format!("part-{part:03}.bin"));
        let bytes = read_file(&path)?;
        let records: &[PairRecord] = codec::records(&path, &bytes)?;
        pairs.extend(records.iter().map(|r| (r.a.get(), r.b.get())));
    }
    pairs.par_sort_unstable();
    pairs.dedup();
    let bp = work.boilerplate()?;
    let sigs = PairSignatures::read(work, &pairs, cx.cfg.num_perm)?;
    let estimate = |a: u32, b: u32| sigs.estimate(a, b);
    let (corpus, _) = work.corpus(0..work.plan.shards.len(), false)?;
    // The containment collisions were counted by the buckets tasks (added up by `components`).
    let candidates = Candidates {
        pairs,
        ..Default::default()
    };
    let verified = pipeline::verify(&cx, &corpus, &bp, &candidates, &estimate)?;
    let records: Vec<EdgeRecord> = verified.edges.iter().map(EdgeRecord::from).collect();
    let vdir = work.dir.join("verify");
    create_dir(&vdir)?;
    write_bytes(
        &vdir.join(format!("part-{part:03}.bin")),
        records.as_bytes(),
    )?;
    write_json(&vdir.join(format!("part-{part:03}.json")), &verified.stats)
}

/// `components`: every verified edge and exact group into clusters (star clustering as in a
/// single scan), then `clusters.jsonl`, `boilerplate.jsonl` and `summary.json` in `out`.
pub(super) fn components(
    work: &Work,
    out: &Path,
    progress: &dyn Progress,
    cancel: &AtomicBool,
) -> Result<ScanOutput> {
    let cx = Context::new(work.config(), progress, cancel);
    let _lock = report::OutputLock::acquire(out)?;
    let mut verified = Verified::default();
    for part in 0..work.plan.parts {
        let task = Task::Verify { part };
        work.require(task)?;
        let path = work.dir.join(format!("{}.bin", task.marker()));
        let bytes = map_file(&path)?;
        let records: &[EdgeRecord] = codec::records(&path, &bytes)?;
        verified.edges.extend(records.iter().map(Edge::from));
        let stats: VerifyStats = read_json(&work.dir.join(format!("{}.json", task.marker())))?;
        verified.stats += stats;
    }
    for task in 0..work.plan.bucket_tasks() {
        let dir = work.dir.join(Task::Buckets { task }.marker());
        let counts: BucketCounts = read_json(&dir.join(BUCKET_COUNTS))?;
        verified.stats.containment_collisions += counts.collisions;
        verified.stats.containment_implausible += counts.implausible;
    }
    verified.edges.par_sort_unstable_by_key(|e| (e.a, e.b));
    let bp = work.boilerplate()?;
    // Exact verification scores centres on the texts: signatures are needed only for estimates.
    let num_perm = match cx.cfg.verify {
        Verify::Exact => 0,
        Verify::Estimate => cx.cfg.num_perm,
    };
    let sketches = work.final_sketches(num_perm)?;
    let (corpus, prints) = work.corpus(0..work.plan.shards.len(), true)?;
    pipeline::strict_check(&cx, &corpus)?;
    if corpus.docs.len() != sketches.len() {
        return Err(crate::error::WorkError::Corrupt {
            path: work.dir.clone(),
            what: "shards disagree on their document counts".into(),
        }
        .into());
    }
    let groups = pipeline::exact(&cx, &sketches);
    let clustered: Clustered = pipeline::cluster(&cx, &corpus, &bp, &sketches, &groups, &verified)?;
    let artefacts = Artefacts {
        corpus,
        boilerplate: bp,
        sketches,
        groups,
        verify: verified.stats,
        clustered,
        inputs: Some(InputsOut::from_list(prints)),
    };
    let mut output = pipeline::output(&cx, artefacts);
    pipeline::write_outputs(&mut output, out, &NoProgress)?;
    Ok(output)
}
