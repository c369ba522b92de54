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
    // Every pair verified exactly is counted once by its score, the same pairs from both lists;
    // few of them far below the thresholds (chance collisions the estimate could not rule out).
    assert_eq!(
        a.stats.verified_by_score.iter().sum::<u64>(),
        a.stats.verified_exactly
    );
    assert_eq!(a.stats.verified_by_score, b.stats.verified_by_score);
    let below = a.stats.verified_by_score[..4].iter().sum::<u64>();
    let above = a.stats.verified_by_score[5..].iter().sum::<u64>();
    assert!(
        below * 10 < a.stats.verified_exactly && above * 2 > a.stats.verified_exactly,
        "{:?}",
        a.stats.verified_by_score
    );
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

/// A statement quoted in full by hundreds of otherwise unrelated Reuters articles (split over
/// lines differently in each, so the boilerplate stage does not take it) joins them all in one
/// component through itself. Clustering splits what is left after the statement's round by
/// verified matches: the statement pulls in at most one article, every other cluster is one
/// the articles form without it, and copies (real ones, and a light edit of every fourth
/// article) stay together, also those left in the statement's component (fails if the split
/// ignores verified matches).
#[test]
fn reuters_articles_quoting_one_statement_keep_their_own_clusters() {
    let Some(dir) = data_dir("reuters21578") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let lines = sample_zst(&dir.join("docs.jsonl.zst"), 12_000, 1);
    let mut articles: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["text"].as_str().unwrap_or("").split_whitespace().count() > 250)
        .collect();
    assert!(articles.len() > 200, "{} long articles", articles.len());
    // A lightly edited copy of every fourth article (every 25th word changed): copies that
    // must stay together whichever part of the statement's component they end up in.
    let copies: Vec<Value> = articles
        .iter()
        .step_by(4)
        .map(|a| {
            let text: Vec<&str> = a["text"].as_str().unwrap().split(' ').collect();
            let edited: Vec<&str> = (text.iter().enumerate())
                .map(|(i, w)| if i % 25 == 24 { "edited" } else { w })
                .collect();
            serde_json::json!({
                "id": format!("{}~copy", a["id"].as_str().unwrap()),
                "text": edited.join(" "),
            })
        })
        .collect();
    articles.extend(copies);
    let write = |name: &str, docs: &[Value]| {
        let path = tmp.path().join(name);
        let mut f = File::create(&path).unwrap();
        for d in docs {
            writeln!(f, "{d}").unwrap();
        }
        path
    };
    let plain = scan(vec![write("plain.jsonl", &articles)]);
    let statement = "The ministry said in a statement that the agreement would remain in force \
        until the end of the decade and that both governments had agreed to review its terms \
        every two years, adding that talks on a wider trade pact covering agriculture, energy \
        and financial services would resume next month in Geneva after a pause caused by \
        disagreements over tariffs on steel and aluminium imports and farm subsidies.";
    let words: Vec<&str> = statement.split(' ').collect();
    for (i, a) in articles.iter_mut().enumerate() {
        // The statement cut into three lines at places that differ from article to article.
        let (x, y) = (5 + i % 17, 25 + (i * 7) % 23);
        let quoted = [&words[..x], &words[x..y], &words[y..]].map(|w| w.join(" "));
        let text = a["text"].as_str().unwrap().to_string();
        let mut body: Vec<&str> = text.split('\n').collect();
        let at = 1 + i % body.len().max(1);
        body.splice(
            at.min(body.len())..at.min(body.len()),
            quoted.iter().map(String::as_str),
        );
        a["text"] = Value::from(body.join("\n"));
    }
    articles.push(serde_json::json!({"id": "statement", "text": statement}));
    let quoting = scan(vec![write("quoting.jsonl", &articles)]);
    let chains = quoting.summary.clusters.chaining_guard;
    // More than 32 articles left once the statement's cluster is built: the rest is split by
    // verified matches (neardup::cluster::RESCORE_REST_UP_TO), not scored whole.
    assert!(
        chains.containers_split_off > neardup::cluster::RESCORE_REST_UP_TO as u64,
        "the statement did not join enough articles in one component: {chains:?}"
    );
    let before = clusters_by_id(&plain);
    let members = |out: &neardup::ScanOutput, c: &neardup::Cluster| -> Vec<String> {
        c.members
            .iter()
            .map(|m| out.corpus.id(out.corpus.document(m.doc)).into_owned())
            .collect()
    };
    let mut with_statement = 0;
    for c in &quoting.clusters {
        let mut ids = members(&quoting, c);
        if let Some(i) = ids.iter().position(|id| id == "statement") {
            with_statement += 1;
            ids.remove(i);
            if ids.len() == 1 {
                continue;
            }
        }
        let first = before.get(&ids[0]);
        assert!(
            first.is_some() && ids.iter().all(|id| before.get(id) == first),
            "a cluster the articles do not form without the statement: {ids:?}"
        );
    }
    assert_eq!(with_statement, 1);
    // The copies the articles form without the statement stay together with it.
    let after = clusters_by_id(&quoting);
    let mut pairs = 0;
    for c in &plain.clusters {
        let ids = members(&plain, c);
        for id in &ids[1..] {
            let first = after.get(&ids[0]);
            assert!(
                first.is_some() && after.get(id) == first,
                "{} and {id} apart",
                ids[0]
            );
            pairs += 1;
        }
    }
    assert!(pairs > 300, "{pairs} pairs of copies among the articles");
}
