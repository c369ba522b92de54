//! End-to-end tests of the `neardup` command on the fixtures and on generated corpora.

use std::fs;
use std::io::Write;

use predicates::prelude::*;
use serde_json::Value;

mod common;
use common::*;

#[test]
fn news_fixture_clusters_the_syndicated_copies_with_their_original_and_nothing_else() {
    let out = tempfile::tempdir().unwrap();
    neardup()
        .args(["scan", "-q", "-o"])
        .arg(out.path())
        .arg(fixture("news"))
        .assert()
        .success();
    let cs = clusters(out.path());
    assert_eq!(cs.len(), 1, "{cs:?}");
    let c = &cs[0];
    assert_eq!(c["kind"], "near");
    assert_eq!(c["size"], 3);
    assert_eq!(c["keep"], "001_b41f992ba022ab64.txt");
    assert_eq!(
        member_ids(c),
        [
            "001_b41f992ba022ab64.txt",
            "001_copy_alkhabar.txt",
            "001_copy_reflowed.txt"
        ]
    );
    for m in c["members"].as_array().unwrap() {
        assert!(m["similarity"].as_f64().unwrap() >= 0.5, "{m}");
        assert!(
            m["source"]
                .as_str()
                .unwrap()
                .ends_with(m["id"].as_str().unwrap())
        );
    }
    let s = summary(out.path());
    assert_eq!(s["documents"]["read"], 7);
    assert_eq!(s["documents"]["kept"], 5);
    assert_eq!(s["documents"]["duplicates"], 2);
    assert_eq!(s["options"]["ngram"], 5);
    assert_eq!(s["options"]["threshold"], 0.5);
    assert!(s["lsh"]["bands"].as_u64().unwrap() * s["lsh"]["rows"].as_u64().unwrap() <= 128);
}

#[test]
fn five_seed_articles_on_one_topic_give_no_cluster() {
    let out = tempfile::tempdir().unwrap();
    let mut cmd = neardup();
    cmd.args(["scan", "-q", "--fail-on-duplicates", "-o"])
        .arg(out.path());
    for e in fs::read_dir(fixture("news")).unwrap() {
        let p = e.unwrap().path();
        if !p.file_name().unwrap().to_string_lossy().contains("copy") {
            cmd.arg(p);
        }
    }
    cmd.assert().code(0);
    assert!(clusters(out.path()).is_empty());
    assert_eq!(summary(out.path())["documents"]["read"], 5);
}

#[test]
fn fail_on_duplicates_exits_1_when_duplicates_exist() {
    let out = tempfile::tempdir().unwrap();
    neardup()
        .args(["scan", "-q", "--fail-on-duplicates", "-o"])
        .arg(out.path())
        .arg(fixture("news"))
        .assert()
        .code(1);
}

#[test]
fn bad_jsonl_records_are_named_counted_and_the_rest_is_processed() {
    let out = tempfile::tempdir().unwrap();
    neardup()
        .args(["scan", "-o"])
        .arg(out.path())
        .arg(fixture("jsonl/wire.jsonl"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "wire.jsonl:4: invalid JSON: EOF while parsing a string at column 46",
        ))
        .stderr(predicate::str::contains("wire.jsonl:6: no \"text\" field"))
        .stderr(predicate::str::contains(
            "wire.jsonl:9: \"text\" is not a string",
        ));
    let s = summary(out.path());
    let d = &s["documents"];
    assert_eq!(d["read"], 9);
    assert_eq!(d["skipped"], 3);
    assert_eq!(d["kept"], 4);
    assert_eq!(d["duplicates"], 2);
    assert_eq!(s["problems_by_kind"]["invalid_json"], 1);
    assert_eq!(s["problems_by_kind"]["missing_text"], 1);
    assert_eq!(s["problems_by_kind"]["text_not_string"], 1);
    let cs = clusters(out.path());
    assert_eq!(cs.len(), 1);
    // The numeric id is kept as written; the wire reprint and the upper-cased copy cluster.
    assert_eq!(member_ids(&cs[0]), ["wire-1", "wire-2", "4"]);
    assert_eq!(cs[0]["members"][1]["line"], 2);
}

#[test]
fn strict_makes_the_first_problem_fatal_and_writes_nothing() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("o");
    neardup()
        .args(["scan", "-q", "--strict", "-o"])
        .arg(&dir)
        .arg(fixture("jsonl/wire.jsonl"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("wire.jsonl:4: invalid JSON"));
    assert!(!dir.join("clusters.jsonl").exists());
}

#[test]
fn usage_errors_exit_2() {
    neardup().args(["scan", "x"]).assert().code(2);
    neardup()
        .args(["scan", "-o", "/tmp/x", "--threshold", "1.5", "x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--threshold must be in (0, 1]"));
    neardup().args(["frobnicate"]).assert().code(2);
}

#[test]
fn help_documents_exit_codes() {
    neardup()
        .args(["scan", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("130"))
        .stdout(predicate::str::contains("--fail-on-duplicates"));
}

fn compress_gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn gzip_zstd_and_stdin_inputs_give_the_same_clusters_as_plain_jsonl() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = fs::read(fixture("jsonl/wire.jsonl")).unwrap();
    fs::write(tmp.path().join("w.jsonl.gz"), compress_gz(&plain)).unwrap();
    fs::write(
        tmp.path().join("w.jsonl.zst"),
        zstd::encode_all(&plain[..], 19).unwrap(),
    )
    .unwrap();
    let ids = |args: &[&str], stdin: Option<Vec<u8>>| {
        let out = tempfile::tempdir().unwrap();
        let mut cmd = neardup();
        cmd.args(["scan", "-q", "-o"]).arg(out.path()).args(args);
        if let Some(s) = stdin {
            cmd.write_stdin(s);
        }
        cmd.assert().code(2);
        let cs = clusters(out.path());
        assert_eq!(summary(out.path())["documents"]["skipped"], 3);
        cs.iter().map(member_ids).collect::<Vec<_>>()
    };
    let want = ids(&[fixture("jsonl/wire.jsonl").to_str().unwrap()], None);
    assert_eq!(want, [["wire-1", "wire-2", "4"]]);
    let gz = tmp.path().join("w.jsonl.gz");
    let zst = tmp.path().join("w.jsonl.zst");
    assert_eq!(ids(&[gz.to_str().unwrap()], None), want);
    assert_eq!(ids(&[zst.to_str().unwrap()], None), want);
    assert_eq!(ids(&["-"], Some(plain.clone())), want);
    assert_eq!(ids(&["-"], Some(compress_gz(&plain))), want);
}

#[test]
fn the_summary_fingerprints_each_input_by_the_hash_of_its_bytes() {
    // A plain file, a compressed one (its decompressed bytes) and a directory of text files:
    // each listed with the xxh3-64 of exactly its bytes, however the read stage got them.
    let tmp = tempfile::tempdir().unwrap();
    let plain = fs::read(fixture("jsonl/wire.jsonl")).unwrap();
    let gz = tmp.path().join("w.jsonl.gz");
    fs::write(&gz, compress_gz(&plain)).unwrap();
    let out = tempfile::tempdir().unwrap();
    neardup()
        .args(["scan", "-q", "-o"])
        .arg(out.path())
        .arg(fixture("jsonl/wire.jsonl"))
        .arg(&gz)
        .arg(fixture("news"))
        .assert()
        // wire.jsonl holds bad records on purpose (skipped, named, counted): input was lost.
        .code(2);
    let list = summary(out.path())["inputs"]["list"].clone();
    let list = list.as_array().unwrap();
    let news = fs::read_dir(fixture("news")).unwrap().count();
    assert_eq!(list.len(), 2 + news);
    for f in list {
        let path = f["path"].as_str().unwrap();
        let bytes = if path.ends_with(".gz") {
            plain.clone()
        } else {
            fs::read(path).unwrap()
        };
        let want = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes));
        assert_eq!(f["xxh3"], want.as_str(), "{path}");
        assert_eq!(f["bytes"], bytes.len() as u64, "{path}");
    }
}

/// A generated corpus: `n` base articles from a word list, each with 0–3 edited copies.
fn synthetic_jsonl(n: usize, seed: u64) -> String {
    let vocab: Vec<String> = (0..5000).map(|i| format!("w{i:04}")).collect();
    let mut x = seed;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out = String::new();
    let mut id = 0;
    for _ in 0..n {
        let words: Vec<&str> = (0..120)
            .map(|_| vocab[(next() % 5000) as usize].as_str())
            .collect();
        let copies = next() % 4;
        for c in 0..=copies {
            let mut w = words.clone();
            for _ in 0..(c * 2) {
                let i = (next() % w.len() as u64) as usize;
                w[i] = "edited";
            }
            let mut text = w.join(" ") + ".";
            if id % 3 == 0 {
                text.push_str("\nSubscribe to the Example Daily newsletter today.");
            }
            out.push_str(&format!(
                "{{\"id\":\"d{id}\",\"text\":{}}}\n",
                serde_json::to_string(&text).unwrap()
            ));
            id += 1;
        }
    }
    out
}

#[test]
fn one_and_two_threads_and_mmap_and_read_give_byte_identical_clusters() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("big.jsonl");
    let data = synthetic_jsonl(2500, 42);
    assert!(
        data.len() > 2 << 20,
        "must be large enough to be memory-mapped"
    );
    fs::write(&input, data).unwrap();
    let run = |extra: &[&str]| {
        let out = tempfile::tempdir().unwrap();
        neardup()
            .args(["scan", "-q", "-o"])
            .arg(out.path())
            .arg(&input)
            .args(extra)
            .assert()
            .success();
        let s = summary(out.path());
        let files =
            ["clusters.jsonl", "boilerplate.jsonl"].map(|f| fs::read(out.path().join(f)).unwrap());
        (files, s)
    };
    let (one, s1) = run(&["-j", "1"]);
    let (two, s2) = run(&["-j", "2"]);
    let (read, s3) = run(&["-j", "2", "--no-mmap"]);
    assert_eq!(s1["files"]["mapped"], 1);
    assert_eq!(s2["files"]["mapped"], 1);
    assert_eq!(s3["files"]["mapped"], 0);
    assert!(s1["clusters"]["total"].as_u64().unwrap() > 1000);
    assert!(
        String::from_utf8_lossy(&one[1]).contains("Subscribe to the Example Daily"),
        "the shared footer is flagged"
    );
    assert_eq!(one, two);
    assert_eq!(one, read);
}

#[test]
fn output_directory_inside_an_input_directory_is_never_read() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    fs::create_dir(&input).unwrap();
    fs::write(input.join("a.txt"), "one two three four five six seven").unwrap();
    fs::write(input.join("b.txt"), "one two three four five six seven").unwrap();
    fs::write(
        input.join(".hidden.txt"),
        "one two three four five six seven",
    )
    .unwrap();
    let out = input.join("out");
    for _ in 0..2 {
        neardup()
            .args(["scan", "-q", "-o"])
            .arg(&out)
            .arg(&input)
            .assert()
            .success();
        let s = summary(&out);
        // a.txt and b.txt only: not the hidden file, not our own outputs.
        assert_eq!(s["documents"]["read"], 2);
        assert_eq!(s["clusters"]["exact"], 1);
    }
    neardup()
        .args(["scan", "-q", "--hidden", "-o"])
        .arg(&out)
        .arg(&input)
        .assert()
        .success();
    assert_eq!(summary(&out)["documents"]["read"], 3);
}

#[test]
fn same_file_given_twice_is_read_once() {
    let out = tempfile::tempdir().unwrap();
    let f = fixture("news/001_b41f992ba022ab64.txt");
    neardup()
        .args(["scan", "-q", "-o"])
        .arg(out.path())
        .arg(&f)
        .arg(&f)
        .assert()
        .success();
    assert_eq!(summary(out.path())["documents"]["read"], 1);
}

#[test]
fn seed_002_site_name_title_skip_link_and_hashtag_line_are_flagged_as_boilerplate() {
    let out = tempfile::tempdir().unwrap();
    neardup()
        .args(["scan", "-q", "-o"])
        .arg(out.path())
        .arg(fixture("news"))
        .assert()
        .success();
    let lines: Vec<Value> = fs::read_to_string(out.path().join("boilerplate.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let find = |text: &str| {
        lines
            .iter()
            .find(|l| l["text"].as_str().unwrap().trim() == text)
            .unwrap_or_else(|| panic!("{text} not flagged: {lines:?}"))
    };
    let skip = find("التخطي إلى المحتوى");
    assert_eq!(skip["reasons"], serde_json::json!(["known"]));
    let site = find("الصالح نيوز :");
    assert_eq!(site["max_repeats"], 6);
    let title = find("الجزائر تحاول التقرب من واشنطن في مناكفة للمغرب ورسالة لروسيا");
    // The hashtag line normalises to the title, so it is the same flagged line.
    assert_eq!(
        title["reasons"],
        serde_json::json!(["hashtags", "repeated"])
    );
    assert_eq!(
        title["examples"],
        serde_json::json!(["002_55577ae79ef290c1.txt"])
    );
    assert_eq!(lines.len(), 3, "nothing else in the seeds is boilerplate");
    let s = summary(out.path());
    assert_eq!(s["boilerplate"]["documents_affected"], 1);
    assert_eq!(s["boilerplate"]["excluded_from_shingles"], true);
}

#[test]
fn a_teaser_clusters_with_its_article_by_containment_and_not_without_it() {
    let tmp = tempfile::tempdir().unwrap();
    let article = fs::read_to_string(fixture("news/001_b41f992ba022ab64.txt")).unwrap();
    let lines: Vec<&str> = article.lines().collect();
    let teaser = lines[..lines.len() / 3].join("\n") + "\nRead the full story on our site.";
    fs::write(tmp.path().join("article.txt"), &article).unwrap();
    fs::write(tmp.path().join("teaser.txt"), teaser).unwrap();
    fs::copy(
        fixture("news/004_881663dc31e09145.txt"),
        tmp.path().join("other.txt"),
    )
    .unwrap();
    let out = tmp.path().join("out");
    neardup()
        .args(["scan", "-q", "--keep", "longest", "-o"])
        .arg(&out)
        .arg(tmp.path())
        .assert()
        .success();
    let cs = clusters(&out);
    assert_eq!(cs.len(), 1, "{cs:?}");
    assert_eq!(member_ids(&cs[0]), ["article.txt", "teaser.txt"]);
    let teaser_member = &cs[0]["members"][1];
    assert_eq!(teaser_member["matched"], "containment");
    assert!(teaser_member["jaccard"].as_f64().unwrap() < 0.5);
    assert!(teaser_member["containment"].as_f64().unwrap() >= 0.7);
    neardup()
        .args(["scan", "-q", "--no-containment", "-o"])
        .arg(&out)
        .arg(tmp.path())
        .assert()
        .success();
    assert!(clusters(&out).is_empty());
}

#[test]
fn eval_scores_a_scan_against_labels_as_json() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    neardup()
        .args(["scan", "-q", "-o"])
        .arg(&out)
        .arg(fixture("news"))
        .assert()
        .success();
    let labels = news_labels(tmp.path());
    let o = neardup()
        .args(["eval", "--json", "--truth"])
        .arg(&labels)
        .arg(out.join("clusters.jsonl"))
        .output()
        .unwrap();
    assert!(o.status.success());
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["true_pairs"], 3);
    assert_eq!(r["correct_pairs"], 3);
    assert_eq!(r["f1"], 1.0);
    assert_eq!(r["adjusted_rand_index"], 1.0);
    neardup()
        .args(["eval", "--truth"])
        .arg(tmp.path().join("missing.jsonl"))
        .arg(out.join("clusters.jsonl"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing.jsonl"));
    // A malformed label line is a data error naming the file and line, not an option error.
    let bad = tmp.path().join("bad_labels.jsonl");
    fs::write(&bad, "{\"id\": \"a\", \"cluster\": 1}\n{\"id\": \n").unwrap();
    neardup()
        .args(["eval", "--truth"])
        .arg(&bad)
        .arg(out.join("clusters.jsonl"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad_labels.jsonl:2: invalid JSON"))
        .stderr(predicate::str::contains("invalid options").not());
}

#[test]
fn tune_sweeps_settings_and_recommends_one_that_reaches_the_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let labels = news_labels(tmp.path());
    let o = neardup()
        .args([
            "tune",
            "-q",
            "--json",
            "--thresholds",
            "0.5,0.99",
            "--containments",
            "off,0.6",
            "--truth",
        ])
        .arg(&labels)
        .arg(fixture("news"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    // At 0.99 without containment the edited copies are missed; at 0.5 they are found.
    let f1 = |t: f64, c: Value| {
        rows.iter()
            .find(|x| x["threshold"] == t && x["containment"] == c)
            .unwrap()["eval"]["f1"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(f1(0.5, Value::Null), 1.0);
    assert!(f1(0.99, Value::Null) < 1.0);
    let best = &rows[r["recommended"].as_u64().unwrap() as usize];
    assert_eq!(best["eval"]["f1"], 1.0);
    assert_eq!(r["s_curve"].as_array().unwrap().len(), 10);
}

#[test]
fn generate_writes_completions_and_a_man_page() {
    let bash = neardup().args(["generate", "bash"]).output().unwrap();
    assert!(bash.status.success());
    assert!(String::from_utf8_lossy(&bash.stdout).contains("_neardup()"));
    let man = neardup().args(["generate", "man"]).output().unwrap();
    assert!(String::from_utf8_lossy(&man.stdout).contains(".TH neardup 1"));
    neardup().args(["generate", "nope"]).assert().code(2);
    // A page per subcommand, and generate is listed in the help.
    let dir = tempfile::tempdir().unwrap();
    neardup()
        .args(["generate", "man", "--dir"])
        .arg(dir.path())
        .assert()
        .success();
    for page in [
        "neardup.1",
        "neardup-scan.1",
        "neardup-clean.1",
        "neardup-report.1",
    ] {
        let text = fs::read_to_string(dir.path().join(page)).unwrap();
        assert!(text.contains(".TH"), "{page}");
    }
    neardup()
        .arg("--help")
        .assert()
        .stdout(predicates::str::contains("generate"));
}
