//! Staged runs (`neardup stage …`, what the Ray driver schedules) give byte-identical results to
//! `neardup scan` of the same inputs, for any number of shards, with resumption and bad input.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use common::{fixture, neardup, summary};
use serde_json::Value;

/// A corpus exercising every kind of document reference: text files, JSON Lines (escaped and
/// plain texts, numeric ids, a repeated id across files), a compressed file, and bad records.
fn mixed_corpus(root: &Path) -> PathBuf {
    let dir = root.join("in");
    fs::create_dir_all(dir.join("news")).unwrap();
    for e in fs::read_dir(fixture("news")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "txt") {
            fs::copy(&p, dir.join("news").join(p.file_name().unwrap())).unwrap();
        }
    }
    fs::copy(fixture("jsonl/wire.jsonl"), dir.join("wire.jsonl")).unwrap();
    fs::copy(fixture("bad/records.jsonl"), dir.join("records.jsonl")).unwrap();
    fs::copy(
        fixture("bad/invalid_utf8.txt"),
        dir.join("invalid_utf8.txt"),
    )
    .unwrap();
    fs::copy(
        fixture("bad/truncated.jsonl.gz"),
        dir.join("truncated.jsonl.gz"),
    )
    .unwrap();
    // The wire stories again under the same ids, compressed: duplicate ids across shards.
    let wire = fs::read(fixture("jsonl/wire.jsonl")).unwrap();
    let mut z =
        zstd::stream::Encoder::new(fs::File::create(dir.join("wire2.jsonl.zst")).unwrap(), 3)
            .unwrap();
    z.write_all(&wire).unwrap();
    z.finish().unwrap();
    dir
}

fn scan(input: &Path, out: &Path, extra: &[&str]) {
    let mut c = neardup();
    c.arg("scan")
        .arg(input)
        .arg("-o")
        .arg(out)
        .arg("-q")
        .args(extra);
    let code = c.output().unwrap().status.code();
    assert!(matches!(code, Some(0) | Some(2)), "scan exit {code:?}");
}

fn stage(args: &[&str], work: &Path) -> std::process::Output {
    let mut c = neardup();
    c.arg("stage").args(args).arg("--work").arg(work).arg("-q");
    c.output().unwrap()
}

fn plan(work: &Path, shards: usize, input: &Path, extra: &[&str]) -> Value {
    plan_ranges(work, shards, 1, input, extra)
}

fn plan_ranges(work: &Path, shards: usize, ranges: usize, input: &Path, extra: &[&str]) -> Value {
    let mut c = neardup();
    c.args([
        "stage",
        "plan",
        "-q",
        "--shards",
        &shards.to_string(),
        "--parts",
        "3",
        "--key-ranges",
        &ranges.to_string(),
    ])
    .arg("--work")
    .arg(work)
    .arg("--")
    .arg(input)
    .args(extra);
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Summary fields that must agree (everything but timings and speeds).
fn stable_summary(dir: &Path) -> Value {
    let mut s = summary(dir);
    for k in ["timings_ms", "seconds", "mb_per_s", "docs_per_s", "run_id"] {
        s.as_object_mut().unwrap().remove(k);
    }
    s
}

fn assert_same(reference: &Path, staged: &Path) {
    for name in ["clusters.jsonl", "boilerplate.jsonl"] {
        let a = fs::read(reference.join(name)).unwrap();
        let b = fs::read(staged.join(name)).unwrap();
        assert!(a == b, "{name} differs from the local scan");
    }
    assert_eq!(stable_summary(reference), stable_summary(staged));
}

/// Every task by hand, as a driver runs them: the phases `stage plan` printed, in order.
fn run_by_hand(work: &Path, p: &Value, out: &Path) -> i32 {
    let phases = p["phases"].as_array().expect("plan prints its phases");
    let names: Vec<&str> = phases.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "sketch",
            "boilerplate",
            "signatures",
            "exact",
            "buckets",
            "verify",
            "components"
        ]
    );
    let mut code = None;
    for f in phases {
        let tasks = f["tasks"].as_u64().unwrap();
        for i in 0..tasks {
            let mut args = vec![f["name"].as_str().unwrap().to_string()];
            if let Some(index) = f["index"].as_str() {
                args.extend([index.to_string(), i.to_string()]);
            }
            if f["output"] == true {
                args.extend(["-o".to_string(), out.display().to_string()]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let o = stage(&args, work);
            if f["output"] == true {
                code = o.status.code();
            } else {
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            }
        }
    }
    code.expect("the output phase ran")
}

#[test]
fn three_shards_by_hand_match_a_local_scan_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let input = mixed_corpus(tmp.path());
    scan(&input, &tmp.path().join("ref"), &[]);
    let work = tmp.path().join("work");
    let p = plan_ranges(&work, 3, 4, &input, &[]);
    assert_eq!(p["shards"], 3);
    // The Jaccard bands at 0.5 plus the containment banding, each in 4 key ranges.
    assert!(p["bands"].as_u64().unwrap() > 16, "{p}");
    assert_eq!(p["buckets"], p["bands"].as_u64().unwrap() * 4);
    let code = run_by_hand(&work, &p, &tmp.path().join("staged"));
    assert_eq!(code, 2, "skipped records make the exit code 2, as for scan");
    assert_same(&tmp.path().join("ref"), &tmp.path().join("staged"));
    // With --strict the first problem is fatal and nothing is written, as for scan.
    let strict = tmp.path().join("work-strict");
    let p = plan(&strict, 2, &input, &["--strict"]);
    let code = run_by_hand(&strict, &p, &tmp.path().join("strict-out"));
    assert_eq!(code, 2);
    assert!(!tmp.path().join("strict-out/clusters.jsonl").exists());
    // `clean --from` accepts a staged run's output as its own scan's.
    for from in ["ref", "staged"] {
        let mut c = neardup();
        c.arg("clean")
            .arg(&input)
            .arg("--from")
            .arg(tmp.path().join(from));
        c.arg("-o")
            .arg(tmp.path().join(format!("clean-{from}")))
            .arg("-q");
        assert_eq!(
            c.output().unwrap().status.code(),
            Some(2),
            "skipped records: exit 2"
        );
    }
    let removed = |d: &str| fs::read(tmp.path().join(d).join(".neardup/removed.jsonl")).unwrap();
    assert_eq!(removed("clean-ref"), removed("clean-staged"));
    assert!(!removed("clean-staged").is_empty());
    // The fixtures' syndicated copies really clustered, and duplicate ids were renamed.
    let s = stable_summary(&tmp.path().join("staged"));
    assert!(s["clusters"]["total"].as_u64().unwrap() >= 2, "{s}");
    assert!(
        s["problems_by_kind"]["duplicate_id"].as_u64().unwrap() >= 1,
        "{s}"
    );
}

#[test]
fn one_shard_and_more_shards_than_files_match_too() {
    let tmp = tempfile::tempdir().unwrap();
    let input = mixed_corpus(tmp.path());
    let opts = [
        "--threshold",
        "0.6",
        "--keep",
        "longest",
        "--verify",
        "estimate",
    ];
    // A missing input path too: named, counted as a skipped file, exit 2, in both modes.
    let missing = tmp.path().join("missing.jsonl");
    let opts = [&opts[..], &[missing.to_str().unwrap()]].concat();
    scan(&input, &tmp.path().join("ref"), &opts);
    assert_eq!(summary(&tmp.path().join("ref"))["files"]["skipped"], 1);
    for shards in [1, 20] {
        let work = tmp.path().join(format!("work{shards}"));
        let p = plan(&work, shards, &input, &opts);
        assert_eq!(p["shards"], shards as u64);
        let out = tmp.path().join(format!("out{shards}"));
        let mut c = neardup();
        c.args(["stage", "run", "-q", "-o"])
            .arg(&out)
            .arg("--work")
            .arg(&work);
        assert_eq!(c.output().unwrap().status.code(), Some(2));
        assert_same(&tmp.path().join("ref"), &out);
    }
}

#[test]
fn stages_refuse_to_run_before_their_inputs_and_resume_after_a_lost_task() {
    let tmp = tempfile::tempdir().unwrap();
    let input = mixed_corpus(tmp.path());
    scan(&input, &tmp.path().join("ref"), &[]);
    let work = tmp.path().join("work");
    let p = plan(&work, 2, &input, &[]);
    // Boilerplate needs every shard's sketch.
    let o = stage(&["sketch", "--shard", "0"], &work);
    assert!(o.status.success());
    let o = stage(&["boilerplate"], &work);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("sketch --shard 1 has not finished"), "{err}");
    // A task that died after writing some files but before its marker is simply run again.
    let o = stage(&["sketch", "--shard", "1"], &work);
    assert!(o.status.success());
    fs::remove_file(work.join("shards/00001/sketch.done")).unwrap();
    fs::write(work.join("shards/00001/docs.bin"), b"half-written").unwrap();
    assert_eq!(run_by_hand(&work, &p, &tmp.path().join("staged")), 2);
    assert_same(&tmp.path().join("ref"), &tmp.path().join("staged"));
    // A damaged shard file is named, with the record.
    let docs = work.join("shards/00000/docs.bin");
    let mut bytes = fs::read(&docs).unwrap();
    let good = bytes.clone();
    bytes[40 + 8] = 9; // record 1: unknown text tag
    fs::write(&docs, &bytes).unwrap();
    let mut c = neardup();
    c.args(["stage", "components", "-q", "-o"])
        .arg(tmp.path().join("damaged"))
        .arg("--work")
        .arg(&work);
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("shards/00000/docs.bin: record 1: unknown tag"),
        "{err}"
    );
    fs::write(&docs, good).unwrap();
    // Out-of-range tasks and a different plan in the same directory are errors.
    let o = stage(&["sketch", "--shard", "2"], &work);
    assert_eq!(o.status.code(), Some(2));
    let mut c = neardup();
    c.args(["stage", "plan", "-q", "--shards", "5", "--work"])
        .arg(&work)
        .arg("--")
        .arg(&input);
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("another plan"));
    // Tasks read their options from plan.json only, validated again: an edited plan with an
    // impossible option, or one of another layout, is refused by name.
    let plan_path = work.join("plan.json");
    let text = fs::read_to_string(&plan_path).unwrap();
    assert!(text.contains("\"threshold\": 0.5"), "{text}");
    fs::write(
        &plan_path,
        text.replace("\"threshold\": 0.5", "\"threshold\": 1.5"),
    )
    .unwrap();
    let o = stage(&["exact"], &work);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("plan.json") && err.contains("--threshold must be in (0, 1], got 1.5"),
        "{err}"
    );
    fs::write(&plan_path, text.replace("\"format\": 4", "\"format\": 3")).unwrap();
    let err = String::from_utf8_lossy(&stage(&["exact"], &work).stderr).to_string();
    assert!(
        err.contains("layout version 3 (this neardup reads 4)"),
        "{err}"
    );
}

#[test]
fn one_big_jsonl_file_cut_into_four_shards_matches_a_local_scan() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/saudinewsnet");
    if !dir.exists() {
        assert!(
            std::env::var("NEARDUP_REQUIRE_DATA").as_deref() != Ok("1"),
            "{} is missing and NEARDUP_REQUIRE_DATA=1",
            dir.display()
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    fs::create_dir(&input).unwrap();
    let mut d =
        zstd::stream::read::Decoder::new(fs::File::open(dir.join("docs.jsonl.zst")).unwrap())
            .unwrap();
    d.window_log_max(27).unwrap();
    // One file (the cut happens at line starts inside it), plus a malformed record in the
    // middle so problem line numbers must come out right across the cuts.
    let mut f = fs::File::create(input.join("dump.jsonl")).unwrap();
    for (i, line) in BufReader::new(d).lines().take(6000).enumerate() {
        writeln!(f, "{}", line.unwrap()).unwrap();
        if i == 4000 {
            writeln!(f, "{{\"id\": \"broken\", \"text\": ").unwrap();
        }
    }
    drop(f);
    let opts = ["--source-field", "source"];
    scan(&input, &tmp.path().join("ref"), &opts);
    let work = tmp.path().join("work");
    let p = plan(&work, 4, &input, &opts);
    let planned: Value =
        serde_json::from_slice(&fs::read(work.join("plan.json")).unwrap()).unwrap();
    let ranges: Vec<&Value> = planned["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s[0]["range"])
        .collect();
    assert_eq!(ranges.len(), 4);
    assert!(ranges.iter().all(|r| r.is_array()), "{ranges:?}");
    assert_eq!(run_by_hand(&work, &p, &tmp.path().join("staged")), 2);
    assert_same(&tmp.path().join("ref"), &tmp.path().join("staged"));
    let s = stable_summary(&tmp.path().join("staged"));
    assert_eq!(s["problems"][0]["line"], 4002, "{}", s["problems"]);
    assert!(
        s["clusters"]["total"].as_u64().unwrap() > 50,
        "{}",
        s["clusters"]
    );
    assert!(
        s["boilerplate"]["lines"].as_u64().unwrap() > 5,
        "{}",
        s["boilerplate"]
    );
}

#[test]
fn html_pages_and_a_warc_crawl_stage_like_a_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let mirror = tmp.path().join("mirror");
    let mut warc = Vec::new();
    // The fixture articles as pages of two sites (each article on both), and as a crawl.
    let mut texts: Vec<String> = fs::read_dir(fixture("news"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .map(|p| fs::read_to_string(p).unwrap())
        .collect();
    texts.sort();
    for (i, text) in texts.iter().enumerate() {
        for site in ["a.example", "b.example"] {
            let body: String = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| format!("<p>{}</p>", l.replace('&', "&amp;").replace('<', "&lt;")))
                .collect();
            let page = format!(
                "<html><head><meta charset=utf-8><title>t{i}</title><script>x<y</script></head><body><ul><li>Home of {site}</li><li>All sections of {site}</li></ul>{body}<footer>Copyright belongs to {site}</footer></body></html>"
            );
            let p = mirror.join(site).join(format!("{i:02}.html"));
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, &page).unwrap();
            let http = format!("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n{page}");
            let rec = format!(
                "WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: https://{site}/{i}\r\nContent-Type: application/http; msgtype=response\r\nContent-Length: {}\r\n\r\n{http}\r\n\r\n",
                http.len()
            );
            let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            z.write_all(rec.as_bytes()).unwrap();
            warc.extend(z.finish().unwrap());
        }
    }
    let crawl = tmp.path().join("crawl.warc.gz");
    fs::write(&crawl, &warc).unwrap();
    for (name, input) in [("html", &mirror), ("warc", &crawl)] {
        let reference = tmp.path().join(format!("ref-{name}"));
        scan(input, &reference, &[]);
        assert!(
            !common::clusters(&reference).is_empty(),
            "{name}: the copies should cluster"
        );
        let work = tmp.path().join(format!("work-{name}"));
        let p = plan(&work, 3, input, &[]);
        let out = tmp.path().join(format!("out-{name}"));
        assert_eq!(run_by_hand(&work, &p, &out), 0);
        assert_same(&reference, &out);
    }
}
