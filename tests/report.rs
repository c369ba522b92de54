//! `neardup report`: the page is built from a scan (or a clean) and checked in a real headless
//! browser (Debian's `chromium`, loading the file from file://): it runs without a console
//! message, renders 50 clusters to a page, opens the first with its shared passages marked, and
//! shows what clean removed. `NEARDUP_REQUIRE_BROWSER=1` (set in CI, which installs chromium)
//! makes a missing browser a failure.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::neardup;
use predicates::prelude::*;

fn browser() -> Option<&'static str> {
    for b in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some(b);
        }
    }
    assert!(
        std::env::var("NEARDUP_REQUIRE_BROWSER").as_deref() != Ok("1"),
        "no chromium and NEARDUP_REQUIRE_BROWSER=1"
    );
    eprintln!("skipping the browser checks: no chromium");
    None
}

/// The page as the browser rendered it, and what the browser logged.
fn render(browser: &str, page: &Path) -> (String, String) {
    let o = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
        ])
        .arg(format!("file://{}", page.canonicalize().unwrap().display()))
        .output()
        .unwrap();
    assert!(o.status.success());
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// 60 stories, each printed twice (the second with a footer), and 10 printed once.
fn corpus(dir: &Path) -> std::path::PathBuf {
    let f = dir.join("news.jsonl");
    let mut lines = String::new();
    for i in 0..70 {
        let words: Vec<String> = (0..60)
            .map(|k| format!("w{}", (i * 7919 + k * 104_729) % 100_003))
            .collect();
        let text = words.join(" ");
        lines.push_str(&serde_json::json!({"id": format!("s{i}"), "text": text}).to_string());
        lines.push('\n');
        if i < 60 {
            let copy = format!("{text}\nRead more at the Gazette");
            lines.push_str(
                &serde_json::json!({"id": format!("s{i}-copy"), "text": copy}).to_string(),
            );
            lines.push('\n');
        }
    }
    fs::write(&f, lines).unwrap();
    f
}

#[test]
fn the_report_renders_in_a_browser_paginated_with_shared_passages_marked() {
    let tmp = tempfile::tempdir().unwrap();
    let input = corpus(tmp.path());
    let out = tmp.path().join("out");
    neardup()
        .args(["scan", "-q", "-o"])
        .arg(&out)
        .arg(&input)
        .assert()
        .success();
    neardup()
        .arg("report")
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains("60 clusters"));
    let page = out.join("report.html");
    let html = fs::read_to_string(&page).unwrap();
    // Self-contained: nothing fetched from anywhere.
    for needle in ["http://", "https://", "<link", " src="] {
        assert!(!html.contains(needle), "{needle} in the page");
    }
    let Some(b) = browser() else {
        return;
    };
    let (dom, log) = render(b, &page);
    assert!(
        dom.contains("data-ready=\"1\""),
        "the script did not finish"
    );
    assert!(!log.contains("CONSOLE"), "console output: {log}");
    assert_eq!(dom.matches("class=\"cluster\"").count(), 50, "first page");
    assert!(dom.contains("page 1 of 2 · 60 clusters"));
    // The first cluster is open: its member beside the kept text, the shared words marked.
    assert!(dom.contains("<mark>w"), "no shared passage marked");
    assert!(dom.contains("Jaccard"));
}

#[test]
fn a_clean_report_shows_what_was_removed_and_changed_inputs_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let input = corpus(tmp.path());
    let out = tmp.path().join("cleaned");
    neardup()
        .args(["clean", "-q", "-o"])
        .arg(&out)
        .arg(&input)
        .assert()
        .success();
    let dir = out.join(".neardup");
    neardup().arg("report").arg(&dir).assert().success();
    if let Some(b) = browser() {
        let (dom, log) = render(b, &dir.join("report.html"));
        assert!(!log.contains("CONSOLE"), "console output: {log}");
        assert!(
            dom.contains("id=\"clean-section\">"),
            "clean section hidden"
        );
        assert!(dom.contains("dropped as duplicates"));
        assert!(dom.contains("copy of s"), "no dropped duplicate listed");
    }
    // The inputs changed since: refused, not a report of other texts.
    fs::write(&input, "{\"id\":\"x\",\"text\":\"something else\"}\n").unwrap();
    neardup()
        .arg("report")
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "the inputs changed since this scan",
        ));
}
