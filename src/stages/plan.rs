//! `plan.json`: the inputs cut into shards, the validated options, and the task list.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Phase, WORK_FORMAT, io_err};
use crate::config::{BandSet, Config};
use crate::error::{ConfigError, Problem, Result, WorkError};
use crate::input;
use crate::report;

/// Verification partitions when the plan does not say.
pub const DEFAULT_PARTS: usize = 8;

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
    /// The validated options every task runs with.
    pub config: Config,
    /// Input files per shard, contiguous in input order.
    pub shards: Vec<Vec<PlannedFile>>,
    /// Problems found while listing inputs (missing paths, loops).
    pub discovery_problems: Vec<Problem>,
    /// Verification partitions.
    pub parts: usize,
    /// Each band's keys are split into this many key ranges; one `buckets` task per (band,
    /// range), so no task holds more than a band's share of every document's key.
    pub key_ranges: usize,
}

impl Plan {
    /// Bands: the Jaccard bands, then the containment bands (see [`Config::band_sets`]).
    pub fn bands(&self) -> usize {
        self.config
            .band_sets()
            .iter()
            .map(|s| s.banding.bands)
            .sum()
    }

    /// Global band `b` as (band set, band within it).
    pub(super) fn band(&self, b: usize) -> Option<(BandSet, usize)> {
        let mut b = b;
        for set in self.config.band_sets() {
            if b < set.banding.bands {
                return Some((set, b));
            }
            b -= set.banding.bands;
        }
        None
    }

    /// The phases of a staged run in order, with their task counts: the one definition of the
    /// task list.
    pub fn phases(&self) -> Vec<Phase> {
        let phase = |name, tasks, index, whole_corpus| Phase {
            name,
            tasks,
            index,
            whole_corpus,
            output: name == "components",
        };
        let shards = self.shards.len();
        vec![
            phase("sketch", shards, Some("--shard"), false),
            phase("boilerplate", 1, None, true),
            phase("signatures", shards, Some("--shard"), false),
            phase("exact", 1, None, true),
            phase("buckets", self.bucket_tasks(), Some("--task"), false),
            phase("verify", self.parts, Some("--part"), false),
            phase("components", 1, None, true),
        ]
    }

    /// `buckets` tasks: task `t` covers band `t / key_ranges`, key range `t % key_ranges`.
    pub fn bucket_tasks(&self) -> usize {
        self.bands() * self.key_ranges
    }

    /// Read `WORK/plan.json`.
    pub fn load(work: &Path) -> Result<Plan> {
        let path = work.join("plan.json");
        let text = fs::read_to_string(&path).map_err(|source| WorkError::NoPlan {
            dir: work.to_path_buf(),
            source,
        })?;
        // The layout version first: a plan of another version may not parse at all.
        #[derive(Deserialize)]
        struct Version {
            format: u32,
        }
        let corrupt = |e: serde_json::Error| WorkError::Corrupt {
            path: path.clone(),
            what: e.to_string(),
        };
        let v: Version = serde_json::from_str(&text).map_err(corrupt)?;
        if v.format != WORK_FORMAT {
            return Err(WorkError::Layout {
                path,
                found: v.format,
                expected: WORK_FORMAT,
            }
            .into());
        }
        Ok(serde_json::from_str(&text).map_err(corrupt)?)
    }

    /// Fingerprint written into every done marker.
    pub(super) fn fingerprint(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        format!("{:016x}", xxhash_rust::xxh3::xxh3_64(json.as_bytes()))
    }
}

/// Stage `plan`: list the inputs, cut them into `shards` contiguous groups of about equal size,
/// and write `WORK/plan.json`. Re-planning a directory with the same plan is a no-op; with a
/// different one, an error.
pub fn plan(
    cfg: &Config,
    shards: usize,
    parts: usize,
    key_ranges: usize,
    dir: &Path,
) -> Result<Plan> {
    for (option, n) in [
        ("--shards", shards),
        ("--parts", parts),
        ("--key-ranges", key_ranges),
    ] {
        if n == 0 {
            return Err(ConfigError::Range {
                option,
                expected: "at least 1".into(),
                got: "0".into(),
            }
            .into());
        }
    }
    let mut problems = Vec::new();
    let found = input::discover(&cfg.input, &mut problems);
    let mut files = Vec::with_capacity(found.len());
    let mut total = 0u64;
    for f in &found {
        let Some(path) = &f.path else {
            return Err(ConfigError::StdinInStages.into());
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
        config: cfg.clone(),
        shards: groups,
        discovery_problems: problems,
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
        return Err(WorkError::OtherPlan {
            dir: dir.to_path_buf(),
        }
        .into());
    }
    report::atomic_write(&path, |w| {
        use std::io::Write;
        writeln!(w, "{json}")
    })?;
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
