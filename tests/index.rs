//! The incremental index (issue 15): create / add / stats / compact, `scan --against`, and its
//! safety: an add killed half-way, another layout version, a damaged segment, two writers.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{clusters, data_dir, neardup, sample_zst};
use serde_json::Value;

fn stats(idx: &Path) -> Value {
    let out = neardup()
        .args(["index", "stats", "--json"])
        .arg(idx)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `neardup scan -q --against IDX -o OUT INPUT`.
fn scan_against(
    idx: &Path,
    out: impl AsRef<std::ffi::OsStr>,
    input: impl AsRef<std::ffi::OsStr>,
) -> assert_cmd::Command {
    let mut c = neardup();
    c.args(["scan", "-q", "--against"])
        .arg(idx)
        .arg("-o")
        .arg(out)
        .arg(input);
    c
}

fn write_lines(path: &Path, lines: &[String]) {
    fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn record(id: &str, text: &str) -> String {
    serde_json::json!({"id": id, "text": text}).to_string()
}

/// Three different stories, long enough to be compared.
fn stories() -> Vec<String> {
    let base = [
        "The city council approved a new budget for public transport on Tuesday after a long debate about bus routes, fares and the cost of new electric vehicles for the northern districts",
        "Heavy rain flooded several villages in the valley overnight and rescue teams evacuated more than two hundred residents to schools and sports halls while the river kept rising",
        "The national museum opened an exhibition of ancient manuscripts borrowed from libraries abroad, with maps, letters and illuminated books that had never been shown together before",
    ];
    base.iter()
        .map(|s| format!("{s}. {s} again in other words so that the text is long enough."))
        .collect()
}

#[test]
fn create_add_compact_and_scan_against() {
    let tmp = tempfile::tempdir().unwrap();
    let s = stories();
    let old = tmp.path().join("old.jsonl");
    write_lines(&old, &[record("a", &s[0]), record("b", &s[1])]);
    let idx = tmp.path().join("idx");
    neardup()
        .args(["index", "create", "-q"])
        .arg(&idx)
        .arg(&old)
        .assert()
        .success();
    let st = stats(&idx);
    assert_eq!(
        (st["documents"].as_u64(), st["segments"].as_u64()),
        (Some(2), Some(1))
    );
    // Creating it again is refused.
    neardup()
        .args(["index", "create", "-q"])
        .arg(&idx)
        .arg(&old)
        .assert()
        .code(2);

    // Today's crawl: a reprint of `a` with its own header, and a new story.
    let new = tmp.path().join("new.jsonl");
    write_lines(
        &new,
        &[
            record("a-reprint", &format!("Daily Courier\n{}", s[0])),
            record("c", &s[2]),
        ],
    );
    let manifest_before = fs::read(idx.join("MANIFEST.json")).unwrap();
    let out = tmp.path().join("out");
    scan_against(&idx, &out, &new).assert().success();
    let cs = clusters(&out);
    assert_eq!(cs.len(), 1, "{cs:?}");
    let members = cs[0]["members"].as_array().unwrap();
    let indexed: Vec<&Value> = members.iter().filter(|m| m["indexed"] == true).collect();
    assert_eq!(indexed.len(), 1);
    assert_eq!(indexed[0]["id"], "a");
    assert_eq!(indexed[0]["source"], old.to_str().unwrap());
    assert_eq!(indexed[0]["drop"], false);
    let reprint = members.iter().find(|m| m["id"] == "a-reprint").unwrap();
    assert!(reprint.get("indexed").is_none());
    let summary = common::summary(&out);
    assert_eq!(summary["documents"]["read"], 2);
    assert_eq!(summary["against"]["index_documents"], 2);
    assert_eq!(summary["against"]["new_linked"], 1);
    // The index is not modified by --against.
    assert_eq!(
        fs::read(idx.join("MANIFEST.json")).unwrap(),
        manifest_before
    );
    // The indexed documents read back stay with the outputs (hidden), so the report can show
    // every member.
    let linked = common::json_lines(&out.join(".neardup-indexed.jsonl"));
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0]["id"], "a");
    neardup()
        .args(["report", "-q"])
        .arg(&out)
        .assert()
        .success();
    let page = fs::read_to_string(out.join("report.html")).unwrap();
    assert!(page.contains("a-reprint"));

    // Add today's documents: a second segment; compact: one, same documents.
    neardup()
        .args(["index", "add", "-q"])
        .arg(&idx)
        .arg(&new)
        .assert()
        .success();
    let st = stats(&idx);
    assert_eq!(
        (st["documents"].as_u64(), st["segments"].as_u64()),
        (Some(4), Some(2))
    );
    // Tomorrow: a copy of `c` is linked to the document indexed today.
    let tomorrow = tmp.path().join("tomorrow.jsonl");
    write_lines(&tomorrow, &[record("c-copy", &s[2])]);
    neardup()
        .args(["index", "compact", "-q"])
        .arg(&idx)
        .assert()
        .success();
    let st = stats(&idx);
    assert_eq!(
        (st["documents"].as_u64(), st["segments"].as_u64()),
        (Some(4), Some(1))
    );
    let out2 = tmp.path().join("out2");
    scan_against(&idx, &out2, &tomorrow).assert().success();
    let cs = clusters(&out2);
    assert_eq!(cs.len(), 1);
    let ids: Vec<&str> = cs[0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"c") && ids.contains(&"c-copy"), "{ids:?}");
}

fn small_index(tmp: &Path) -> std::path::PathBuf {
    let s = stories();
    let old = tmp.join("old.jsonl");
    write_lines(&old, &[record("a", &s[0]), record("b", &s[1])]);
    let idx = tmp.join("idx");
    neardup()
        .args(["index", "create", "-q"])
        .arg(&idx)
        .arg(&old)
        .assert()
        .success();
    idx
}

#[test]
fn another_layout_version_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let idx = small_index(tmp.path());
    let m = idx.join("MANIFEST.json");
    let text = fs::read_to_string(&m).unwrap();
    fs::write(&m, text.replacen("\"format\": 1", "\"format\": 9", 1)).unwrap();
    let out = neardup()
        .args(["index", "stats"])
        .arg(&idx)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("MANIFEST.json") && err.contains("layout version 9 (this neardup reads 1)"),
        "{err}"
    );
}

#[test]
fn a_damaged_segment_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let idx = small_index(tmp.path());
    let texts = idx.join("seg-000001/texts.bin");
    let mut bytes = fs::read(&texts).unwrap();
    bytes.truncate(bytes.len() / 2);
    fs::write(&texts, bytes).unwrap();
    let new = tmp.path().join("new.jsonl");
    write_lines(&new, &[record("x", &stories()[0])]);
    let out = neardup()
        .args(["scan", "-q", "--against"])
        .arg(&idx)
        .arg("-o")
        .arg(tmp.path().join("out"))
        .arg(&new)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("seg-000001/texts.bin") && err.contains("damaged segment"),
        "{err}"
    );
}

#[test]
fn a_second_writer_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let idx = small_index(tmp.path());
    // A live writer holds the lock (this test process stands in for it).
    fs::write(
        idx.join(".neardup.lock"),
        format!("{}\n", std::process::id()),
    )
    .unwrap();
    let new = tmp.path().join("new.jsonl");
    write_lines(&new, &[record("x", &stories()[2])]);
    let out = neardup()
        .args(["index", "add", "-q"])
        .arg(&idx)
        .arg(&new)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&std::process::id().to_string()), "{err}");
    assert_eq!(stats(&idx)["documents"], 2);
}

#[test]
fn an_add_killed_half_way_leaves_the_index_as_it_was() {
    let Some(dir) = data_dir("saudinewsnet") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let idx = small_index(tmp.path());
    let manifest = fs::read(idx.join("MANIFEST.json")).unwrap();
    let big = tmp.path().join("big.jsonl");
    write_lines(&big, &sample_zst(&dir.join("docs.jsonl.zst"), 31_030, 1));
    // Kill `index add` at several points of its run; each time the index is what it was.
    for delay_ms in [30u64, 150, 400] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_neardup"))
            .args(["index", "add", "-q", "-j", "1"])
            .arg(&idx)
            .arg(&big)
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let status = child.wait().unwrap();
        if status.success() {
            // It finished before the kill: the index has the new segment, whole.
            assert_eq!(stats(&idx)["documents"], 2 + 31_030);
            return;
        }
        assert_eq!(fs::read(idx.join("MANIFEST.json")).unwrap(), manifest);
        assert_eq!(stats(&idx)["documents"], 2);
        let _ = fs::remove_file(idx.join(".neardup.lock"));
    }
    // The next writer sweeps what the killed ones left and succeeds.
    neardup()
        .args(["index", "add", "-q"])
        .arg(&idx)
        .arg(&big)
        .assert()
        .success();
    assert_eq!(stats(&idx)["documents"], 2 + 31_030);
    let leftovers: Vec<_> = fs::read_dir(&idx)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        .collect();
    assert!(leftovers.is_empty());
}

/// On a real split, a new document is linked to an indexed one when a full scan of both puts
/// it with an old one, and vice versa (the README gives the figures on the whole corpus).
#[test]
fn scan_against_agrees_with_a_full_scan_on_a_real_split() {
    let Some(dir) = data_dir("saudinewsnet") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let lines = sample_zst(&dir.join("docs.jsonl.zst"), 8000, 1);
    let (old_lines, new_lines) = lines.split_at(5000);
    let (old, new) = (tmp.path().join("old.jsonl"), tmp.path().join("new.jsonl"));
    write_lines(&old, old_lines);
    write_lines(&new, new_lines);
    let old_ids: std::collections::HashSet<String> = old_lines
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let idx = tmp.path().join("idx");
    neardup()
        .args(["index", "create", "-q"])
        .arg(&idx)
        .arg(&old)
        .assert()
        .success();
    let (full, against) = (tmp.path().join("full"), tmp.path().join("against"));
    neardup()
        .args(["scan", "-q", "-o"])
        .arg(&full)
        .arg(&old)
        .arg(&new)
        .assert()
        .success();
    scan_against(&idx, &against, &new).assert().success();
    // New documents in a cluster with an old one.
    let linked = |dir: &Path, is_old: &dyn Fn(&Value) -> bool| {
        let mut out = std::collections::HashSet::new();
        for c in clusters(dir) {
            let ms = c["members"].as_array().unwrap();
            if ms.iter().any(is_old) {
                out.extend(
                    ms.iter()
                        .filter(|m| !is_old(m))
                        .map(|m| m["id"].as_str().unwrap().to_string()),
                );
            }
        }
        out
    };
    let f = linked(&full, &|m| old_ids.contains(m["id"].as_str().unwrap()));
    let a = linked(&against, &|m| m["indexed"] == true);
    let both = f.intersection(&a).count() as f64;
    assert!(f.len() >= 50, "only {} linked in the full scan", f.len());
    assert!(
        both / f.len() as f64 >= 0.98,
        "{both} of {} full-scan links",
        f.len()
    );
    assert!(
        both / a.len() as f64 >= 0.98,
        "{both} of {} --against links",
        a.len()
    );
}

#[test]
fn clean_against_drops_what_an_indexed_document_covers_and_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let idx = small_index(tmp.path());
    let s = stories();
    let new = tmp.path().join("new.jsonl");
    write_lines(
        &new,
        &[
            record("a-reprint", &format!("Daily Courier\n{}", s[0])),
            record("c", &s[2]),
        ],
    );
    let out = tmp.path().join("clean");
    neardup()
        .args(["clean", "-q", "--against"])
        .arg(&idx)
        .arg("-o")
        .arg(&out)
        .arg(&new)
        .assert()
        .success();
    // Only the new input is written, without the reprint.
    let names: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(names, ["new.jsonl"]);
    let kept: Vec<Value> = common::json_lines(&out.join("new.jsonl"));
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["id"], "c");
    let removed: Vec<Value> = common::json_lines(&out.join(".neardup/removed.jsonl"));
    let drop = removed.iter().find(|r| r["type"] == "duplicate").unwrap();
    assert_eq!(
        (&drop["id"], &drop["duplicate_of"]),
        (&"a-reprint".into(), &"a".into())
    );
    let summary = common::summary(&out.join(".neardup"));
    let d = &summary["documents"];
    assert_eq!(
        (
            d["read"].as_u64(),
            d["kept"].as_u64(),
            d["dropped_duplicates"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(stats(&idx)["documents"], 2);
}

/// Lines flagged when the index was built stay flagged for new documents, even when today's
/// crawl has them once: the navigation block an indexed page and a new page with another story
/// share does not make them duplicates. Scanned without the index's knowledge (the same two
/// pages alone), the lines are flagged nowhere and the pages cluster.
#[test]
fn the_index_boilerplate_stays_boilerplate_for_new_documents() {
    let tmp = tempfile::tempdir().unwrap();
    // Eight menu lines of ten capitalised words (not pieces of a hard-wrapped sentence).
    let nav = (0..8)
        .map(|l| {
            (0..10)
                .map(|i| format!("Menu{l}x{i}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n");
    // Indexed pages: long stories (the pages are not copies of each other); the new page: a
    // short one, most of it the menu.
    let story = |k: usize, words: usize| {
        let w: Vec<String> = (0..words).map(|i| format!("word{k}x{i}")).collect();
        format!("Story {}.", w.join(" "))
    };
    let old = tmp.path().join("old.jsonl");
    let olds: Vec<String> = (0..6)
        .map(|k| record(&format!("old{k}"), &format!("{nav}\n{}", story(k, 150))))
        .collect();
    write_lines(&old, &olds);
    let idx = tmp.path().join("idx");
    neardup()
        .args(["index", "create", "-q"])
        .arg(&idx)
        .arg(&old)
        .assert()
        .success();
    let new = tmp.path().join("new.jsonl");
    write_lines(&new, &[record("new", &format!("{nav}\n{}", story(99, 12)))]);
    let out = tmp.path().join("out");
    scan_against(&idx, &out, &new).assert().success();
    assert!(clusters(&out).is_empty(), "{:?}", clusters(&out));
    // Without the index: one old page and the new one, the line in two documents only.
    let pair = tmp.path().join("pair.jsonl");
    write_lines(
        &pair,
        &[
            olds[0].clone(),
            record("new", &format!("{nav}\n{}", story(99, 12))),
        ],
    );
    let plain = tmp.path().join("plain");
    neardup()
        .args(["scan", "-q", "-o"])
        .arg(&plain)
        .arg(&pair)
        .assert()
        .success();
    assert_eq!(clusters(&plain).len(), 1);
}

#[test]
fn options_given_with_against_are_overridden_by_the_index_and_said() {
    let tmp = tempfile::tempdir().unwrap();
    let idx = small_index(tmp.path());
    let new = tmp.path().join("new.jsonl");
    write_lines(&new, &[record("c", &stories()[2])]);
    let out = scan_against(&idx, tmp.path().join("out"), &new)
        .args(["--threshold", "0.7"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--against uses the index's options: threshold: 0.5 (given 0.7)"),
        "{err}"
    );
    // The index's options are what ran.
    let summary = common::summary(&tmp.path().join("out"));
    assert_eq!(summary["options"]["threshold"], 0.5);
}

#[test]
fn an_index_is_not_created_from_inputs_that_yield_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let idx = tmp.path().join("idx");
    let out = neardup()
        .args(["index", "create", "-q"])
        .arg(&idx)
        .arg(tmp.path().join("missing.jsonl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nothing indexed") && err.contains("missing.jsonl"),
        "{err}"
    );
    assert!(!idx.join("MANIFEST.json").exists());
    // So creating it once the input is there works.
    let old = tmp.path().join("missing.jsonl");
    write_lines(&old, &[record("a", &stories()[0])]);
    neardup()
        .args(["index", "create", "-q"])
        .arg(&idx)
        .arg(&old)
        .assert()
        .success();
    assert_eq!(stats(&idx)["documents"], 1);
}
