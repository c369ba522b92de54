//! `neardup clean`: same shape out as in, every other field untouched, every document accounted
//! for, an audit line for everything removed.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use predicates::prelude::*;
use serde_json::Value;

mod common;
use common::*;

fn report(out: &Path) -> (Value, Vec<Value>) {
    let s = serde_json::from_str(&fs::read_to_string(out.join(".neardup/summary.json")).unwrap())
        .unwrap();
    (s, json_lines(&out.join(".neardup/removed.jsonl")))
}

/// A JSONL corpus: an outlet whose pages share a footer line, one story reprinted, extra fields
/// of every JSON type, CRLF on one line, and a broken record.
fn jsonl_corpus(dir: &Path) -> PathBuf {
    let story = "The port authority said on Monday that container traffic rose eleven percent in \
                 the second quarter as new shipping lines opened routes to the north.";
    let mut lines = Vec::new();
    for i in 0..6 {
        let text = format!(
            "Article number {i} covers a different local matter with its own wording entirely {i}.\n\
             Follow us on the Daily Herald app for more news."
        );
        lines.push(format!(
            r#"{{"meta": {{"n": {i}, "tags": ["a", null, true]}}, "text": {}, "id": "h{i}", "src": "herald"}}"#,
            serde_json::to_string(&text).unwrap()
        ));
    }
    lines.push(format!(
        r#"{{"id": "wire-a", "text": {}, "src": "herald", "score": 1.5e3}}"#,
        serde_json::to_string(&format!(
            "{story}\nFollow us on the Daily Herald app for more news."
        ))
        .unwrap()
    ));
    lines.push(format!(
        r#"{{"id": "wire-b", "text": {}, "src": "gazette"}}"#,
        serde_json::to_string(story).unwrap()
    ));
    lines.push(r#"{"id": "broken", "text": "#.to_string());
    let mut body = lines.join("\n");
    body = body.replacen(
        "\"h1\", \"src\": \"herald\"}\n",
        "\"h1\", \"src\": \"herald\"}\r\n",
        1,
    );
    let p = dir.join("dump.jsonl");
    fs::write(&p, body + "\n").unwrap();
    p
}

#[test]
fn jsonl_clean_keeps_every_other_field_byte_identical_and_accounts_for_every_record() {
    let tmp = tempfile::tempdir().unwrap();
    let input = jsonl_corpus(tmp.path());
    let out = tmp.path().join("clean");
    neardup()
        .args(["clean", "-q", "--source-field", "src", "-o"])
        .arg(&out)
        .arg(&input)
        .assert()
        .code(2) // one broken record was skipped
        .stderr(predicate::str::contains("dump.jsonl:9: invalid JSON"));
    let original = fs::read_to_string(&input).unwrap();
    let cleaned = fs::read_to_string(out.join("dump.jsonl")).unwrap();
    let orig_lines: Vec<&str> = original.split_inclusive('\n').collect();
    let clean_lines: Vec<&str> = cleaned.split_inclusive('\n').collect();
    // 9 records: 1 broken (skipped), wire-b dropped as a duplicate of wire-a, 7 kept.
    assert_eq!(clean_lines.len(), 7);
    for (o, c) in orig_lines.iter().take(7).zip(&clean_lines) {
        let (ov, cv): (Value, Value) = (
            serde_json::from_str(o).unwrap(),
            serde_json::from_str(c).unwrap(),
        );
        // The footer line is gone from the text, the article line stays.
        let ct = cv["text"].as_str().unwrap();
        assert!(!ct.contains("Follow us"), "{ct}");
        assert!(ov["text"].as_str().unwrap().starts_with(ct), "{ct}");
        // Every byte outside the text value is the same.
        let strip_text =
            |s: &str, v: &Value| s.replacen(&serde_json::to_string(&v["text"]).unwrap(), "", 1);
        assert_eq!(strip_text(o, &ov), strip_text(c, &cv));
    }
    assert!(clean_lines[1].ends_with("\r\n"), "CRLF kept");
    let (s, removed) = report(&out);
    let d = &s["documents"];
    assert_eq!(d["read"], 9);
    assert_eq!(d["kept"], 7);
    assert_eq!(d["dropped_duplicates"], 1);
    assert_eq!(d["skipped"], 1);
    assert_eq!(d["lines_stripped"], 7);
    let kinds: Vec<&str> = removed
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "boilerplate").count(), 7);
    let dup = removed.iter().find(|r| r["type"] == "duplicate").unwrap();
    assert_eq!(dup["id"], "wire-b");
    assert_eq!(dup["duplicate_of"], "wire-a");
    assert_eq!(dup["line"], 8);
    let skipped = removed.iter().find(|r| r["type"] == "skipped").unwrap();
    assert_eq!(
        (skipped["line"].as_u64(), skipped["reason"].as_str()),
        (Some(9), Some("invalid_json"))
    );
    // The input was not touched.
    assert_eq!(fs::read_to_string(&input).unwrap(), original);
}

#[test]
fn text_tree_keeps_its_layout_and_seed_boilerplate_is_removed_while_the_article_stays() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("in");
    fs::create_dir_all(src.join("outlet/a")).unwrap();
    for e in fs::read_dir(fixture("news")).unwrap() {
        let p = e.unwrap().path();
        fs::copy(&p, src.join("outlet/a").join(p.file_name().unwrap())).unwrap();
    }
    let out = tmp.path().join("out");
    neardup()
        .args(["clean", "-q", "-o"])
        .arg(&out)
        .arg(&src)
        .assert()
        .success();
    let mut written: Vec<String> = walk(&out);
    written.sort();
    assert_eq!(
        written,
        [
            "outlet/a/000_968f1124e8eaa44e.txt",
            "outlet/a/001_b41f992ba022ab64.txt",
            "outlet/a/002_55577ae79ef290c1.txt",
            "outlet/a/003_ccc08362114acaf6.txt",
            "outlet/a/004_881663dc31e09145.txt",
        ]
    );
    let seed = fs::read_to_string(src.join("outlet/a/002_55577ae79ef290c1.txt")).unwrap();
    let clean = fs::read_to_string(out.join("outlet/a/002_55577ae79ef290c1.txt")).unwrap();
    for gone in ["التخطي إلى المحتوى", "الصالح نيوز", "#الجزائر"] {
        assert!(!clean.contains(gone), "{gone} still there");
    }
    // Every article paragraph is still there.
    for para in seed.lines().skip(16).filter(|l| l.trim().len() > 200) {
        assert!(clean.contains(para.trim()), "lost: {}", &para[..60]);
    }
    // Untouched documents are byte-identical.
    assert_eq!(
        fs::read(out.join("outlet/a/000_968f1124e8eaa44e.txt")).unwrap(),
        fs::read(src.join("outlet/a/000_968f1124e8eaa44e.txt")).unwrap()
    );
    let (s, removed) = report(&out);
    assert_eq!(s["documents"]["read"], 7);
    assert_eq!(s["documents"]["kept"], 5);
    assert_eq!(s["documents"]["dropped_duplicates"], 2);
    assert_eq!(
        removed.iter().filter(|r| r["type"] == "duplicate").count(),
        2
    );
}

fn walk(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().to_string());
            }
        }
    }
    out
}

#[test]
fn compressed_input_gives_compressed_output_and_dry_run_writes_only_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = fs::read(fixture("jsonl/wire.jsonl")).unwrap();
    let gz = tmp.path().join("w.jsonl.gz");
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut e, &plain).unwrap();
    fs::write(&gz, e.finish().unwrap()).unwrap();
    let zst = tmp.path().join("w2.jsonl.zst");
    fs::write(&zst, zstd::encode_all(&plain[..], 3).unwrap()).unwrap();
    let out = tmp.path().join("out");
    neardup()
        .args(["clean", "-q", "-o"])
        .arg(&out)
        .arg(&gz)
        .arg(&zst)
        .assert()
        .code(2);
    let mut s = String::new();
    flate2::read::GzDecoder::new(fs::File::open(out.join("w.jsonl.gz")).unwrap())
        .read_to_string(&mut s)
        .unwrap();
    let ids: Vec<String> = s
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].to_string())
        .collect();
    // wire-1 kept; wire-2 and the upper-cased copy dropped — and every record of w2 is a
    // duplicate of one in w.jsonl.gz (which comes first), so w2 keeps nothing.
    assert_eq!(ids, ["\"wire-1\"", "\"wire-3\"", "null", "\"esc\""]);
    let z = zstd::decode_all(fs::File::open(out.join("w2.jsonl.zst")).unwrap()).unwrap();
    assert!(z.is_empty(), "{}", String::from_utf8_lossy(&z));
    let dry = tmp.path().join("dry");
    neardup()
        .args(["clean", "-q", "--dry-run", "-o"])
        .arg(&dry)
        .arg(&gz)
        .assert()
        .code(2);
    assert_eq!(walk(&dry), Vec::<String>::new());
    let (s, removed) = report(&dry);
    assert_eq!(s["dry_run"], true);
    assert_eq!(s["documents"]["dropped_duplicates"], 2);
    assert!(removed.iter().any(|r| r["type"] == "duplicate"));
}

#[test]
fn no_dedup_and_no_strip_do_one_without_the_other() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    neardup()
        .args(["clean", "-q", "--no-dedup", "-o"])
        .arg(&a)
        .arg(fixture("news"))
        .assert()
        .success();
    assert_eq!(walk(&a).len(), 7);
    assert!(
        !fs::read_to_string(a.join("002_55577ae79ef290c1.txt"))
            .unwrap()
            .contains("الصالح نيوز")
    );
    let b = tmp.path().join("b");
    neardup()
        .args(["clean", "-q", "--no-strip", "-o"])
        .arg(&b)
        .arg(fixture("news"))
        .assert()
        .success();
    assert_eq!(walk(&b).len(), 5);
    assert_eq!(
        fs::read(b.join("002_55577ae79ef290c1.txt")).unwrap(),
        fs::read(fixture("news/002_55577ae79ef290c1.txt")).unwrap()
    );
}

#[test]
fn clean_from_reuses_a_scan_of_the_same_inputs_and_refuses_another() {
    let tmp = tempfile::tempdir().unwrap();
    let scan = tmp.path().join("scan");
    neardup()
        .args(["scan", "-q", "-o"])
        .arg(&scan)
        .arg(fixture("news"))
        .assert()
        .success();
    let fresh = tmp.path().join("fresh");
    neardup()
        .args(["clean", "-q", "-o"])
        .arg(&fresh)
        .arg(fixture("news"))
        .assert()
        .success();
    let reused = tmp.path().join("reused");
    neardup()
        .args(["clean", "-q", "--from"])
        .arg(&scan)
        .arg("-o")
        .arg(&reused)
        .arg(fixture("news"))
        .assert()
        .success();
    for f in walk(&fresh) {
        assert_eq!(
            fs::read(fresh.join(&f)).unwrap(),
            fs::read(reused.join(&f)).unwrap(),
            "{f}"
        );
    }
    assert_eq!(walk(&fresh).len(), walk(&reused).len());
    assert_eq!(
        fs::read(fresh.join(".neardup/removed.jsonl")).unwrap(),
        fs::read(reused.join(".neardup/removed.jsonl")).unwrap()
    );
    // Different options, or different inputs: refused.
    neardup()
        .args(["clean", "-q", "--threshold", "0.7", "--from"])
        .arg(&scan)
        .arg("-o")
        .arg(tmp.path().join("x"))
        .arg(fixture("news"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("options.threshold"));
    neardup()
        .args(["clean", "-q", "--from"])
        .arg(&scan)
        .arg("-o")
        .arg(tmp.path().join("y"))
        .arg(fixture("news/000_968f1124e8eaa44e.txt"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("different inputs"));
}
