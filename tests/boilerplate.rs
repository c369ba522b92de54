//! Boilerplate detection keeps templates out of matching: two different articles in one outlet's
//! template do not cluster, one article in two outlets' templates does.

use std::fs;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use neardup::{NoProgress, ScanConfig};

/// A deterministic pseudo-sentence of `n` words drawn from a 3,000-word vocabulary, capitalised
/// and closed with a full stop like real prose.
fn words(seed: u64, n: usize) -> String {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let s = (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("w{}", x % 3000)
        })
        .collect::<Vec<_>>()
        .join(" ");
    format!("W{}.", &s[1..])
}

/// An outlet's page template: header and footer lines around the article.
fn page(outlet: u64, article: &str) -> String {
    let mut lines = vec![
        format!("Outlet {outlet} News | Home | World | Sport"),
        "Skip to content".to_string(),
        words(1000 + outlet, 30),
        String::new(),
    ];
    lines.extend(article.split('\n').map(str::to_string));
    lines.push(String::new());
    lines.push(words(2000 + outlet, 60));
    lines.push(words(3000 + outlet, 55));
    lines.push(format!(
        "Copyright Outlet {outlet}. Contact: desk{outlet}@example.com"
    ));
    lines.join("\n")
}

/// An article of five sentences, one per line.
fn article(seed: u64) -> String {
    (0..5)
        .map(|i| words(seed * 10 + i, 12))
        .collect::<Vec<_>>()
        .join("\n")
}

fn corpus(dir: &Path) {
    for outlet in [1u64, 2] {
        let d = dir.join(format!("outlet{outlet}"));
        fs::create_dir_all(&d).unwrap();
        // Six different articles per outlet...
        for a in 0..6 {
            fs::write(
                d.join(format!("a{a}.txt")),
                page(outlet, &article(outlet * 100 + a)),
            )
            .unwrap();
        }
        // ...and one wire story both outlets carry.
        fs::write(d.join("wire.txt"), page(outlet, &article(7))).unwrap();
    }
}

fn clusters(boilerplate: bool) -> Vec<Vec<String>> {
    let tmp = tempfile::tempdir().unwrap();
    corpus(tmp.path());
    let mut cfg = ScanConfig::new(vec![tmp.path().to_path_buf()]);
    cfg.boilerplate.enabled = boilerplate;
    let out = neardup::scan(
        &cfg.validate().unwrap(),
        &NoProgress,
        &AtomicBool::new(false),
    )
    .unwrap();
    out.clusters
        .iter()
        .map(|c| {
            c.members
                .iter()
                .map(|m| out.corpus.id(out.corpus.document(m.doc)).into_owned())
                .collect()
        })
        .collect()
}

#[test]
fn template_lines_do_not_make_different_articles_cluster() {
    let with = clusters(true);
    assert_eq!(
        with,
        vec![vec![
            "outlet1/wire.txt".to_string(),
            "outlet2/wire.txt".to_string()
        ]],
        "with boilerplate detection only the shared wire story clusters"
    );
}

#[test]
fn without_boilerplate_detection_the_template_dominates() {
    // The control: the same corpus without detection clusters each outlet's articles by their
    // template and splits the wire story, so the test above really measures the detector.
    let without = clusters(false);
    assert!(without.iter().any(|c| c.len() >= 6), "{without:?}");
    assert!(!without.contains(&vec![
        "outlet1/wire.txt".to_string(),
        "outlet2/wire.txt".to_string()
    ]));
}

#[test]
fn paragraphs_of_a_story_reprinted_many_times_in_one_file_are_not_boilerplate() {
    let tmp = tempfile::tempdir().unwrap();
    let story: Vec<String> = (0..6).map(|i| words(500 + i, 25)).collect();
    let footer = "Send your news tips to the desk at tips@example.com today.";
    let mut lines = Vec::new();
    // Six edited reprints: each drops a different paragraph, merges two others into one line,
    // and adds a line of its own.
    for r in 0..6usize {
        let mut paras: Vec<String> = story
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != r)
            .map(|(_, p)| p.clone())
            .collect();
        let merged = format!("{} {}", paras[0], paras[1]);
        paras.splice(0..2, [merged]);
        paras.insert(0, words(900 + r as u64, 10));
        lines.push(serde_json::json!({"id": format!("r{r}"), "text": paras.join("\n")}));
    }
    // Six different articles with one shared footer line.
    for a in 0..6u64 {
        let text = format!("{}\n{}\n{footer}", words(700 + a, 30), words(800 + a, 30));
        lines.push(serde_json::json!({"id": format!("a{a}"), "text": text}));
    }
    let path = tmp.path().join("one.jsonl");
    let body: Vec<String> = lines.iter().map(|v| v.to_string()).collect();
    fs::write(&path, body.join("\n")).unwrap();
    let out = neardup::scan(
        &ScanConfig::new(vec![path]).validate().unwrap(),
        &NoProgress,
        &AtomicBool::new(false),
    )
    .unwrap();
    let mut buf = String::new();
    let flagged: Vec<String> = out
        .boilerplate
        .lines
        .iter()
        .map(|f| {
            let d = out.corpus.document(f.first.0);
            neardup::boilerplate::raw_line(out.corpus.text(d, &mut buf), f.first.1).to_string()
        })
        .collect();
    assert_eq!(flagged, vec![footer.to_string()]);
    // The reprints still cluster together.
    assert!(out.clusters.iter().any(|c| c.members.len() == 6));
}
