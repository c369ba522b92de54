//! Audit a `neardup clean` run: is every dropped document covered by the document it was dropped
//! for, and which lines were stripped?
//!
//! ```sh
//! cargo run --release --example audit_clean -- CLEAN_OUT INPUT... [--source-field F]
//! ```
//!
//! Re-reads the inputs, rebuilds the shingles and numbers of every dropped document and of the
//! document named in its `duplicate_of` (boilerplate lines of `CLEAN_OUT/.neardup/boilerplate.jsonl`
//! left out, as the scan does), and counts the drops that the kept document does not cover by
//! the documented rule, checked by `tests/common/covers.rs` (written apart from the library):
//! split into "the kept one is shorter" (a teaser kept over its article), "nothing shared" and
//! "partial". Then the stripped lines: how many, how many of two
//! words or more, and how many were neither in the top nor the bottom block of their document.
//! Prints one JSON object.

use std::collections::HashMap;
use std::path::PathBuf;

use neardup::ScanConfig;
use neardup::sketch::{SketchParams, Sketcher};
use neardup::verify::DocSets;
use serde_json::{Value, json};

#[path = "../tests/common/covers.rs"]
mod covers;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut cfg_source = None;
    if let Some(i) = args.iter().position(|a| a == "--source-field") {
        cfg_source = Some(args[i + 1].clone());
        args.drain(i..i + 2);
    }
    let out = PathBuf::from(&args[0]);
    let inputs: Vec<PathBuf> = args[1..].iter().map(PathBuf::from).collect();
    let mut cfg = ScanConfig::new(inputs);
    cfg.input.source_field = cfg_source;
    let corpus = neardup::input::load(&cfg.input);
    let report = out.join(".neardup");
    let lines = |name: &str| -> Vec<Value> {
        std::fs::read_to_string(report.join(name))
            .unwrap_or_else(|e| panic!("{}: {e}", report.join(name).display()))
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let mut exclude: Vec<u64> = lines("boilerplate.jsonl")
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
    let mut sk = Sketcher::new(SketchParams::from_config(&cfg));
    let mut set = |d: usize| {
        let mut buf = String::new();
        let text = corpus.text(&corpus.documents()[d], &mut buf).to_string();
        let mut s = DocSets::default();
        sk.doc_sets(&text, &exclude, &mut s);
        s
    };
    let (mut dropped, mut bad, mut teaser, mut unrelated, mut partial) = (0, 0, 0, 0, 0);
    let mut examples = Vec::new();
    let mut stripped: HashMap<String, Vec<(u64, String)>> = HashMap::new();
    for r in lines("removed.jsonl") {
        match r["type"].as_str() {
            Some("duplicate") => {
                dropped += 1;
                let d = by_id[r["id"].as_str().unwrap()];
                let k = by_id[r["duplicate_of"].as_str().unwrap()];
                let (sd, skk) = (set(d), set(k));
                let rel = covers::relation(&sd, &skk);
                let covered = rel.covered();
                if !covered {
                    bad += 1;
                    if rel.jaccard == 0.0 {
                        unrelated += 1;
                    } else if skk.shingles.len() < sd.shingles.len() {
                        teaser += 1;
                    } else {
                        partial += 1;
                    }
                    if examples.len() < 10 {
                        examples.push(json!({"dropped": r["id"], "kept": r["duplicate_of"],
                            "jaccard": rel.jaccard, "shingles_inside": rel.shingles_inside,
                            "tokens_inside": rel.tokens_inside,
                            "numbers_missing": rel.numbers_missing}));
                    }
                }
            }
            Some("boilerplate") => {
                stripped
                    .entry(r["id"].as_str().unwrap().to_string())
                    .or_default()
                    .push((
                        r["text_line"].as_u64().unwrap(),
                        r["text"].as_str().unwrap().to_string(),
                    ));
            }
            _ => {}
        }
    }
    // Stripped lines: words, and whether each is in the document's top or bottom block of
    // stripped (or blank) lines.
    let (mut n_lines, mut multi_word, mut inner, mut inner_multi) = (0, 0, 0, 0);
    let mut inner_examples: Vec<String> = Vec::new();
    for (id, ls) in &stripped {
        let d = by_id[id];
        let mut buf = String::new();
        let text = corpus.text(&corpus.documents()[d], &mut buf);
        let all: Vec<&str> = text.split('\n').collect();
        let gone: std::collections::HashSet<u64> = ls.iter().map(|l| l.0).collect();
        let removable = |i: usize| gone.contains(&(i as u64 + 1)) || all[i].trim().is_empty();
        let top = (0..all.len()).take_while(|&i| removable(i)).count();
        let bottom = (0..all.len()).rev().take_while(|&i| removable(i)).count();
        for (n, t) in ls {
            n_lines += 1;
            let words = t.split_whitespace().count() >= 2;
            multi_word += words as u64;
            let i = *n as usize - 1;
            if i >= top && i < all.len() - bottom {
                inner += 1;
                if words {
                    inner_multi += 1;
                    if inner_examples.len() < 15 {
                        inner_examples.push(t.clone());
                    }
                }
            }
        }
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "dropped": dropped,
            "dropped_not_covered": bad,
            "not_covered_kept_shorter": teaser,
            "not_covered_nothing_shared": unrelated,
            "not_covered_partial": partial,
            "examples": examples,
            "lines_stripped": n_lines,
            "lines_stripped_two_words_or_more": multi_word,
            "lines_stripped_inside_body": inner,
            "lines_stripped_inside_body_two_words_or_more": inner_multi,
            "inner_examples": inner_examples,
        }))
        .unwrap()
    );
}
