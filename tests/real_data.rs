//! Tests on small samples of the real evaluation data in `../shared/data` (never copied into the
//! repository). When the data is absent (a clone outside the workplace) these tests print a note
//! and pass, unless `NEARDUP_REQUIRE_DATA=1` (set in CI), in which case they fail.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use neardup::{NoProgress, ScanConfig};

mod common;
use common::{data_dir, sample_zst};
use serde_json::Value;

fn scan(paths: Vec<PathBuf>) -> neardup::ScanOutput {
    scan_with(ScanConfig::new(paths))
}

fn scan_with(cfg: ScanConfig) -> neardup::ScanOutput {
    neardup::scan(
        &cfg.validate().unwrap(),
        &NoProgress,
        &AtomicBool::new(false),
    )
    .unwrap()
}

/// The first-seen raw text of every flagged boilerplate line.
fn flagged(out: &neardup::ScanOutput) -> Vec<String> {
    let mut buf = String::new();
    out.boilerplate
        .lines
        .iter()
        .map(|f| {
            let d = out.corpus.document(f.first.0);
            neardup::boilerplate::raw_line(out.corpus.text(d, &mut buf), f.first.1).to_string()
        })
        .collect()
}

fn sample_file(
    dir: &Path,
    name: &str,
    n: usize,
    step: usize,
    tmp: &Path,
) -> (PathBuf, Vec<String>) {
    let lines = sample_zst(&dir.join("docs.jsonl.zst"), n, step);
    let path = tmp.join(name);
    let mut f = File::create(&path).unwrap();
    for l in &lines {
        writeln!(f, "{l}").unwrap();
    }
    (path, lines)
}

#[test]
fn reuters_sample_flags_the_reuter_sign_off_and_not_wrapped_sentence_pieces() {
    let Some(dir) = data_dir("reuters21578") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (path, _) = sample_file(&dir, "reuters.jsonl", 5000, 1, tmp.path());
    let out = scan(vec![path]);
    let texts = flagged(&out);
    assert_eq!(
        texts[0],
        "Reuter",
        "most frequent flagged line: {:?}",
        &texts[..5]
    );
    // REUTER normalises to the same line.
    assert!(!texts.iter().any(|t| t == "REUTER"));
    assert!(out.boilerplate.lines[0].docs > 3000);
    for piece in ["said.", "company said.", "he said."] {
        assert!(!texts.iter().any(|t| t == piece), "{piece} flagged");
    }
}

#[test]
fn saudinewsnet_sample_flags_wire_sign_off_contact_footer_and_bylines_per_outlet() {
    let Some(dir) = data_dir("saudinewsnet") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (path, _) = sample_file(&dir, "snn.jsonl", 12000, 3, tmp.path());
    let mut cfg = ScanConfig::new(vec![path]);
    cfg.input.source_field = Some("source".into());
    let out = scan_with(cfg);
    let texts = flagged(&out);
    for want in [
        "// انتهى //",
        "للتواصل مع الكاتب ارسل رسالة SMS",
        "عين اليوم – متابعات",
    ] {
        assert!(texts.iter().any(|t| t == want), "{want} not flagged");
    }
    // Flagged lines are short furniture, not article paragraphs.
    let long = out
        .boilerplate
        .lines
        .iter()
        .filter(|f| f.tokens > 30)
        .count();
    assert!(
        long * 20 < texts.len(),
        "{long} long lines flagged of {}",
        texts.len()
    );
}

fn clusters_by_id(out: &neardup::ScanOutput) -> HashMap<String, u32> {
    let mut m = HashMap::new();
    for c in &out.clusters {
        for mem in &c.members {
            let d = out.corpus.document(mem.doc);
            m.insert(out.corpus.id(d).into_owned(), c.id.0);
        }
    }
    m
}

#[test]
fn saudinewsnet_sample_every_exact_body_group_lies_inside_one_cluster() {
    let Some(dir) = data_dir("saudinewsnet") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (input, lines) = sample_file(&dir, "snn.jsonl", 6000, 1, tmp.path());
    let ids: HashSet<String> = lines
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let out = scan(vec![input]);
    assert_eq!(out.summary.documents.read, 6000);
    let cluster_of = clusters_by_id(&out);
    let mut checked = 0;
    for line in fs::read_to_string(dir.join("exact_body_dup_groups.jsonl"))
        .unwrap()
        .lines()
    {
        let g: Value = serde_json::from_str(line).unwrap();
        let members: Vec<&str> = g["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        if !members.iter().all(|id| ids.contains(*id)) {
            continue;
        }
        let cs: HashSet<Option<&u32>> = members.iter().map(|id| cluster_of.get(*id)).collect();
        assert_eq!(cs.len(), 1, "group {} split: {cs:?}", g["group"]);
        assert!(!cs.contains(&None), "group {} not clustered", g["group"]);
        checked += 1;
    }
    assert!(checked >= 50, "only {checked} groups inside the sample");
    // Cross-outlet syndication is found: some cluster spans two outlets.
    let source_of: HashMap<String, String> = lines
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["id"].as_str().unwrap().to_string(),
                v["source"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut outlets: HashMap<u32, HashSet<&str>> = HashMap::new();
    for (id, c) in &cluster_of {
        outlets
            .entry(*c)
            .or_default()
            .insert(source_of[id].as_str());
    }
    assert!(outlets.values().filter(|s| s.len() > 1).count() >= 20);
}

#[test]
fn clough_stevenson_clusters_are_precise_at_the_defaults() {
    let Some(dir) = data_dir("clough-stevenson") else {
        return;
    };
    let out = scan(vec![dir.join("docs.jsonl")]);
    let mut truth = HashMap::new();
    for line in fs::read_to_string(dir.join("labels.jsonl"))
        .unwrap()
        .lines()
    {
        let v: Value = serde_json::from_str(line).unwrap();
        truth.insert(
            v["id"].as_str().unwrap().to_string(),
            v["cluster"].as_str().unwrap().to_string(),
        );
    }
    let mut pairs = 0;
    let mut correct = 0;
    for c in &out.clusters {
        let ids: Vec<String> = c
            .members
            .iter()
            .map(|m| out.corpus.id(out.corpus.document(m.doc)).into_owned())
            .collect();
        for i in 0..ids.len() {
            for j in i + 1..ids.len() {
                pairs += 1;
                correct += (truth[&ids[i]] == truth[&ids[j]]) as usize;
            }
        }
    }
    assert!(pairs >= 5, "only {pairs} predicted pairs");
    assert_eq!(correct, pairs, "a predicted pair crosses two tasks");
}

/// Issue 17: real template families of reuters21578 stay apart, real copies stay together.
/// Two companies' dividend notices (`Qtly div 28 cts vs 28 cts prior / Pay April 20 / Record
/// March 31` vs `… Pay April one / Record March 13`) and two weeks' USSR grain-shipment or two
/// days' money-market reports share their wording and differ in their figures; they were
/// clusters before numbers decided matches. The whole corpus is scanned, since what is a
/// template line depends on it.
#[test]
fn reuters_template_siblings_are_apart_and_real_copies_together() {
    let Some(dir) = data_dir("reuters21578") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (path, _) = sample_file(&dir, "reuters.jsonl", usize::MAX, 1, tmp.path());
    let out = scan(vec![path]);
    let cluster_of = clusters_by_id(&out);
    let together = |a: u32, b: u32| {
        let (a, b) = (format!("reuters-{a}"), format!("reuters-{b}"));
        cluster_of.contains_key(&a) && cluster_of.get(&a) == cluster_of.get(&b)
    };
    let siblings = [
        (85, 9992),
        (2772, 5721),
        (866, 1322),
        (2347, 3763),
        (517, 2579),
        (16837, 7077),
        (12711, 10172),
        (12711, 4599),
        (9854, 3638),
    ];
    for (a, b) in siblings {
        assert!(
            !together(a, b),
            "template siblings {a} and {b} in one cluster"
        );
    }
    // A teaser of a rate-cut story, one company's dividend notice sent twice, a car-output
    // story rewritten.
    for (a, b) in [(3092, 3103), (15901, 15930), (19722, 19728)] {
        assert!(together(a, b), "copies {a} and {b} not in one cluster");
    }
}

#[test]
fn saudinewsnet_sample_containment_filter_turns_away_only_pairs_verification_rejects() {
    use neardup::pipeline::{self, Context};
    let Some(dir) = data_dir("saudinewsnet") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (path, _) = sample_file(&dir, "snn.jsonl", 6000, 5, tmp.path());
    let cfg = ScanConfig::new(vec![path]).validate().unwrap();
    let cancel = AtomicBool::new(false);
    let cx = Context::new(&cfg, &NoProgress, &cancel);
    let (corpus, sketches, bp) = pipeline::prepare(&cx, &[]).unwrap();
    let groups = pipeline::exact(&cx, &sketches);
    let estimate = |a, b| sketches.estimate(neardup::DocId(a), neardup::DocId(b));
    let filtered = pipeline::candidates(&cx, &sketches, &groups).unwrap();
    let all =
        pipeline::candidates_with(&cx, &sketches, &groups, neardup::Plausibility::ALL).unwrap();
    // Real news: many of the containment banding's collisions are pairs that merely share a
    // phrase, and the filter keeps them out of the stored candidates.
    assert!(
        filtered.containment_implausible * 3 > filtered.containment_collisions
            && filtered.pairs.len() * 3 < all.pairs.len(),
        "{} of {} collisions turned away; {} pairs stored of {}",
        filtered.containment_implausible,
        filtered.containment_collisions,
        filtered.pairs.len(),
        all.pairs.len()
    );
    assert_eq!(all.containment_implausible, 0);
    assert_eq!(all.containment_collisions, filtered.containment_collisions);
    // Verification accepts exactly the same edges from both lists.
    let a = pipeline::verify(&cx, &corpus, &bp, &filtered, &estimate).unwrap();
    let b = pipeline::verify(&cx, &corpus, &bp, &all, &estimate).unwrap();
    assert!(a.edges.len() > 100, "{} edges", a.edges.len());
    let key = |e: &neardup::Edge| {
        (
            e.a,
            e.b,
            e.score.jaccard.to_bits(),
            e.score.b_in_a.to_bits(),
        )
    };
    assert_eq!(
        a.edges.iter().map(key).collect::<Vec<_>>(),
        b.edges.iter().map(key).collect::<Vec<_>>()
    );
    assert_eq!(a.stats.verified_exactly, b.stats.verified_exactly);
}

/// The normaliser's vector path for runs of unchanged letters gives the scalar path's tokens on
/// real Arabic news and English wire copy, line by line.
#[test]
fn vector_and_scalar_normalisers_agree_on_real_text() {
    use neardup::normalize::{JoinSink, Normalizer, Profile};
    if !Normalizer::new(Profile::Full).uses_vector_path() {
        eprintln!("no AVX2 here: the vector path is not taken");
    }
    let mut lines = 0;
    for name in ["saudinewsnet", "reuters21578"] {
        let Some(dir) = data_dir(name) else {
            return;
        };
        let records = sample_zst(&dir.join("docs.jsonl.zst"), 2000, 3);
        let mut vector = Normalizer::with_vector_path(Profile::Full, true);
        let mut scalar = Normalizer::with_vector_path(Profile::Full, false);
        assert!(!scalar.uses_vector_path());
        for r in &records {
            let v: Value = serde_json::from_str(r).unwrap();
            let text = v["text"].as_str().unwrap();
            for line in text.split('\n') {
                let (mut a, mut b) = (JoinSink::default(), JoinSink::default());
                vector.run_line(line, &mut a);
                scalar.run_line(line, &mut b);
                assert_eq!(a.out, b.out, "{name}: {line:?}");
                lines += 1;
            }
        }
    }
    assert!(lines > 10_000, "{lines} lines");
}
