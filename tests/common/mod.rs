//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// The `neardup` binary under test.
pub fn neardup() -> Command {
    Command::cargo_bin("neardup").unwrap()
}

/// A path under `fixtures/`.
pub fn fixture(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(p)
}

/// Every line of a JSON Lines file.
pub fn json_lines(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `clusters.jsonl` of a scan output directory.
pub fn clusters(dir: &Path) -> Vec<Value> {
    json_lines(&dir.join("clusters.jsonl"))
}

/// `summary.json` of a scan output directory.
pub fn summary(dir: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

/// The member ids of one cluster line.
pub fn member_ids(c: &Value) -> Vec<String> {
    c["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

/// Labels for `fixtures/news`: the three `001…` files are one cluster, every other file its own.
pub fn news_labels(dir: &Path) -> PathBuf {
    let labels = dir.join("labels.jsonl");
    let mut l = String::new();
    for e in fs::read_dir(fixture("news")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().to_string();
        let cluster = if name.starts_with("001") {
            "001".to_string()
        } else {
            name.clone()
        };
        l.push_str(&format!(
            "{{\"id\":\"{name}\",\"cluster\":\"{cluster}\"}}\n"
        ));
    }
    fs::write(&labels, l).unwrap();
    labels
}

/// A dataset of `../shared/data`, or `None` (with a note) when it is absent; with
/// `NEARDUP_REQUIRE_DATA=1` (set in CI) its absence is a failure.
pub fn data_dir(name: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(name);
    if p.exists() {
        return Some(p);
    }
    if std::env::var("NEARDUP_REQUIRE_DATA").as_deref() == Ok("1") {
        panic!("{} is missing and NEARDUP_REQUIRE_DATA=1", p.display());
    }
    eprintln!("skipping: {} not found", p.display());
    None
}

/// Every `step`-th record of a zstd-compressed JSONL file (long-window frames), `n` at most.
pub fn sample_zst(path: &Path, n: usize, step: usize) -> Vec<String> {
    let mut d = zstd::stream::read::Decoder::new(File::open(path).unwrap()).unwrap();
    d.window_log_max(27).unwrap();
    BufReader::new(d)
        .lines()
        .step_by(step)
        .take(n)
        .map(|l| l.unwrap())
        .collect()
}
