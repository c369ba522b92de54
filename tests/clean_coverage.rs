//! `clean` never loses content (issue 11): every dropped document is covered by the kept
//! document named in its `duplicate_of`, checked on real data by rebuilding both shingle sets
//! independently of the report; only page furniture is stripped; a page carrying two stories
//! never merges them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use neardup::sketch::{SketchParams, Sketcher};
use neardup::verify::DocSets;
use neardup::{NoProgress, ScanConfig};
use serde_json::Value;

mod common;
#[path = "common/covers.rs"]
mod covers;
use common::{data_dir, fixture, json_lines, neardup, sample_zst};

/// Run `clean` through the library into `out`; returns the scan configuration used.
fn clean(inputs: Vec<PathBuf>, source_field: Option<&str>, out: &Path) -> ScanConfig {
    let mut cfg = ScanConfig::new(inputs);
    cfg.input.source_field = source_field.map(str::to_string);
    let clean_cfg = neardup::CleanConfig {
        against: None,
        out: out.to_path_buf(),
        dedup: true,
        strip: true,
        strip_inner: false,
        dry_run: false,
    };
    neardup::clean(
        &cfg.clone().validate().unwrap(),
        &clean_cfg,
        None,
        &NoProgress,
        &AtomicBool::new(false),
    )
    .unwrap();
    cfg
}

/// What a clean run removed, read back from its report.
struct Removed {
    /// (dropped id, kept id).
    drops: Vec<(String, String)>,
    /// Per document id: (1-based line, text) of every stripped non-blank line.
    lines: HashMap<String, Vec<(usize, String)>>,
}

fn removed(out: &Path) -> Removed {
    let mut r = Removed {
        drops: Vec::new(),
        lines: HashMap::new(),
    };
    for a in json_lines(&out.join(".neardup/removed.jsonl")) {
        match a["type"].as_str() {
            Some("duplicate") => r.drops.push((
                a["id"].as_str().unwrap().into(),
                a["duplicate_of"].as_str().unwrap().into(),
            )),
            Some("boilerplate") if a.get("blank").is_none() => r
                .lines
                .entry(a["id"].as_str().unwrap().into())
                .or_default()
                .push((
                    a["text_line"].as_u64().unwrap() as usize,
                    a["text"].as_str().unwrap().into(),
                )),
            _ => {}
        }
    }
    r
}

/// Assert that every drop of the clean run in `out` is covered by its kept document, by the
/// documented rule checked independently ([`covers::Relation::covered`]) on shingles and
/// numbers rebuilt here from the inputs (boilerplate lines left out, as the scan does).
/// Returns the number of drops checked.
fn assert_every_drop_covered(cfg: &ScanConfig, out: &Path) -> usize {
    let corpus = neardup::input::load(&cfg.input);
    let mut exclude: Vec<u64> = json_lines(&out.join(".neardup/boilerplate.jsonl"))
        .iter()
        .map(|b| u64::from_str_radix(b["hash"].as_str().unwrap(), 16).unwrap())
        .collect();
    exclude.sort_unstable();
    let by_id: HashMap<String, usize> = corpus
        .documents()
        .iter()
        .enumerate()
        .map(|(i, d)| (corpus.id(d).into_owned(), i))
        .collect();
    let mut sk = Sketcher::new(SketchParams::from_config(cfg));
    let mut set = |id: &str| {
        let mut buf = String::new();
        let text = corpus
            .text(&corpus.documents()[by_id[id]], &mut buf)
            .to_string();
        let mut s = DocSets::default();
        sk.doc_sets(&text, &exclude, &mut s);
        s
    };
    let r = removed(out);
    for (d, k) in &r.drops {
        let rel = covers::relation(&set(d), &set(k));
        assert!(
            rel.covered(),
            "{d} dropped for {k}, which does not cover it: Jaccard {:.3}, shingles inside {:.3}, \
             tokens inside {:.3}, {} of {} numbers missing",
            rel.jaccard,
            rel.shingles_inside,
            rel.tokens_inside,
            rel.numbers_missing,
            rel.numbers
        );
    }
    r.drops.len()
}

/// The text of every record of a JSON Lines sample, by id.
fn texts(lines: &[String]) -> HashMap<String, String> {
    lines
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["id"].as_str().unwrap().to_string(),
                v["text"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn write_sample(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

/// No stripped line is data (has a digit) or a piece of a hard-wrapped sentence (the line after
/// it, or the line itself, starts in lower case after a line that does not end a sentence).
fn assert_only_furniture_stripped(r: &Removed, texts: &HashMap<String, String>) -> usize {
    let mut n = 0;
    for (id, ls) in &r.lines {
        let lines: Vec<&str> = texts[id].split('\n').collect();
        for (no, text) in ls {
            n += 1;
            assert!(
                !text.chars().any(|c| c.is_ascii_digit()),
                "{id}:{no}: data line stripped: {text:?}"
            );
            let starts_lower = |l: &str| {
                l.split_whitespace()
                    .next()
                    .and_then(|w| w.chars().find(|c| c.is_alphabetic()))
                    .is_some_and(|c| c.is_lowercase())
            };
            let open = |l: &str| {
                let t = l.trim_end();
                !t.is_empty() && !t.ends_with(['.', '!', '?', '"'])
            };
            if let Some(next) = lines.get(*no) {
                assert!(
                    !(open(text) && starts_lower(next) && text.chars().any(char::is_lowercase)),
                    "{id}:{no}: first line of a wrapped sentence stripped: {text:?} / {next:?}"
                );
            }
            if *no >= 2 {
                let prev = lines[no - 2];
                assert!(
                    !(open(prev) && starts_lower(text) && prev.chars().any(char::is_lowercase)),
                    "{id}:{no}: end of a wrapped sentence stripped: {prev:?} / {text:?}"
                );
            }
        }
    }
    n
}

#[test]
fn saudinewsnet_sample_every_drop_is_covered_with_and_without_source_field() {
    let Some(dir) = data_dir("saudinewsnet") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let lines = sample_zst(&dir.join("docs.jsonl.zst"), 6000, 1);
    let input = write_sample(tmp.path(), "snn.jsonl", &lines);
    let texts = texts(&lines);
    for (i, field) in [None, Some("source")].into_iter().enumerate() {
        let out = tmp.path().join(format!("out{i}"));
        let cfg = clean(vec![input.clone()], field, &out);
        let drops = assert_every_drop_covered(&cfg, &out);
        assert!(drops > 500, "only {drops} drops");
        let r = removed(&out);
        let stripped = assert_only_furniture_stripped(&r, &texts);
        assert!(stripped > 50, "only {stripped} lines stripped");
        // The scan's own account agrees with what clean did: its duplicates are the drops.
        let summary: Value = serde_json::from_str(
            &std::fs::read_to_string(out.join(".neardup/summary.json")).unwrap(),
        )
        .unwrap();
        let d = &summary["documents"];
        assert_eq!(
            summary["scan"]["documents"]["duplicates"],
            d["dropped_duplicates"]
        );
        assert_eq!(summary["scan"]["documents"]["kept"], d["kept"]);
        assert_eq!(d["dropped_duplicates"].as_u64().unwrap() as usize, drops);
    }
}

#[test]
fn reuters_sample_drops_are_covered_reuter_goes_data_and_wrapped_lines_stay() {
    let Some(dir) = data_dir("reuters21578") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let lines = sample_zst(&dir.join("docs.jsonl.zst"), 6000, 1);
    let input = write_sample(tmp.path(), "reuters.jsonl", &lines);
    let out = tmp.path().join("out");
    let cfg = clean(vec![input], None, &out);
    assert!(assert_every_drop_covered(&cfg, &out) > 100);
    let r = removed(&out);
    assert_only_furniture_stripped(&r, &texts(&lines));
    let reuter = r
        .lines
        .values()
        .flatten()
        .filter(|(_, t)| t.trim().eq_ignore_ascii_case("reuter"))
        .count();
    assert!(
        reuter > 3000,
        "the Reuter sign-off went from only {reuter} documents"
    );
}

#[test]
fn openiti_sample_drops_are_covered_and_no_line_of_a_book_is_stripped() {
    let Some(dir) = data_dir("openiti-versions") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let lines = sample_zst(&dir.join("docs.jsonl.zst"), 60, 1);
    let input = write_sample(tmp.path(), "openiti.jsonl", &lines);
    let out = tmp.path().join("out");
    let cfg = clean(vec![input], None, &out);
    assert!(assert_every_drop_covered(&cfg, &out) >= 5);
    let r = removed(&out);
    let multi_word: Vec<&String> = r
        .lines
        .values()
        .flatten()
        .map(|(_, t)| t)
        .filter(|t| t.split_whitespace().count() >= 2)
        .collect();
    assert!(multi_word.is_empty(), "{multi_word:?}");
}

#[test]
fn a_roundup_of_two_stories_keeps_them_apart_and_clean_loses_neither() {
    let tmp = tempfile::tempdir().unwrap();
    let scan = tmp.path().join("scan");
    neardup()
        .args(["scan", "-q", "-o"])
        .arg(&scan)
        .arg(fixture("composite"))
        .assert()
        .code(0);
    let clusters: Vec<Vec<String>> = json_lines(&scan.join("clusters.jsonl"))
        .iter()
        .map(common::member_ids)
        .collect();
    // Two story clusters; no cluster holds both stories.
    assert_eq!(clusters.len(), 2, "{clusters:?}");
    for c in &clusters {
        let a = c.iter().any(|id| id.starts_with("1_"));
        let b = c.iter().any(|id| id.starts_with("3_"));
        assert!(!(a && b), "a cluster holds both stories: {c:?}");
    }
    // clean: each story's text is still in the cleaned corpus (in the story or the roundup).
    let out = tmp.path().join("clean");
    neardup()
        .args(["clean", "-q", "-o"])
        .arg(&out)
        .arg(fixture("composite"))
        .assert()
        .code(0);
    let kept: String = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    for story in ["1_story_a.txt", "3_story_b.txt"] {
        let text = std::fs::read_to_string(fixture("composite").join(story)).unwrap();
        for para in text.lines().filter(|l| !l.trim().is_empty()) {
            assert!(kept.contains(para), "{story}: lost {para:?}");
        }
    }
    let cfg = ScanConfig::new(vec![fixture("composite")]);
    assert!(assert_every_drop_covered(&cfg, &out) >= 2);
}

#[test]
fn the_audit_trail_is_the_truth_for_records_and_files_with_invalid_utf8() {
    // Six pages of one outlet end with its footer; record 3 has a Latin-1 byte in its id and
    // one in its text, and a text file has one too.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    std::fs::create_dir_all(dir.join("site")).unwrap();
    let footer = "Follow the Daily Herald on every app";
    let mut jsonl = Vec::new();
    for i in 0..6 {
        let id: &[u8] = if i == 3 { b"caf\xe9" } else { b"p" };
        let body: &[u8] = if i == 3 { b"caf\xe9 " } else { b"" };
        jsonl.extend_from_slice(b"{\"id\": \"");
        jsonl.extend_from_slice(id);
        jsonl.extend_from_slice(format!("{i}\", \"text\": \"Story {i} says ").as_bytes());
        jsonl.extend_from_slice(body);
        jsonl.extend_from_slice(
            format!(
                "something of its own, number {i}, about the \\u00e9 harbour.\\n{footer}\"}}\n"
            )
            .as_bytes(),
        );
    }
    std::fs::write(dir.join("dump.jsonl"), &jsonl).unwrap();
    for i in 0..6 {
        let mut page = format!("Page {i} tells a story of its own, number {i}, with ").into_bytes();
        if i == 2 {
            page.extend_from_slice(b"caf\xe9 ");
        }
        page.extend_from_slice(format!("words.\n{footer}\n").as_bytes());
        std::fs::write(dir.join("site").join(format!("{i}.txt")), page).unwrap();
    }
    let out = tmp.path().join("out");
    neardup()
        .args(["clean", "-q", "-o"])
        .arg(&out)
        .arg(&dir)
        .assert()
        .code(0);
    // JSON Lines: the footer (and its `\n` escape) is gone from every record, the repaired one
    // included; every other byte is as it was, the Latin-1 bytes and the `\u00e9` escape too.
    let cleaned = std::fs::read(out.join("dump.jsonl")).unwrap();
    let expected: Vec<u8> = String::from_utf8_lossy(&jsonl)
        .replace(&format!("\\n{footer}"), "")
        .into_bytes();
    assert_eq!(
        String::from_utf8_lossy(&cleaned),
        String::from_utf8_lossy(&expected)
    );
    assert_eq!(cleaned.iter().filter(|&&b| b == 0xe9).count(), 2);
    assert_eq!(cleaned.len(), jsonl.len() - 6 * (footer.len() + 2));
    // The text file keeps its byte, not a U+FFFD.
    let page = std::fs::read(out.join("site/2.txt")).unwrap();
    assert_eq!(
        page,
        b"Page 2 tells a story of its own, number 2, with caf\xe9 words.\n".to_vec()
    );
    // Every removed line is listed, and only those.
    let r = removed(&out);
    let listed: usize = r.lines.values().map(Vec::len).sum();
    assert_eq!(listed, 12);
    assert!(r.lines.values().flatten().all(|(_, t)| t == footer));
}
