//! Input that yields less than it holds is named, counted and turns the exit code to 2, in every
//! subcommand; input that only looks odd (a BOM, a compression the name does not say) is read in
//! full. Each case is one row of the README's "Bad input and exit codes" table.

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;

use common::{json_lines, neardup, summary};
use predicates::prelude::*;

fn records(from: usize, to: usize) -> Vec<u8> {
    (from..to)
        .map(|i| format!("{{\"id\":{i},\"text\":\"record {i} alpha beta gamma delta epsilon\"}}\n"))
        .collect::<String>()
        .into_bytes()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// `neardup scan INPUT -o OUT -q` → (exit code, summary.json, stderr).
fn scan(input: &Path, out: &Path, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let o = neardup()
        .args(["scan", "-q", "-o"])
        .arg(out)
        .arg(input)
        .args(extra)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    (o.status.code().unwrap(), summary(out), err)
}

#[test]
fn clean_of_a_missing_path_exits_2_like_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.jsonl");
    fs::write(&good, records(0, 3)).unwrap();
    neardup()
        .args(["clean", "-q", "-o"])
        .arg(tmp.path().join("out"))
        .arg(&good)
        .arg(tmp.path().join("missing"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing"));
    let s: serde_json::Value =
        serde_json::from_slice(&fs::read(tmp.path().join("out/.neardup/summary.json")).unwrap())
            .unwrap();
    assert_eq!(s["documents"]["input_lost"], 1);
    assert_eq!(s["documents"]["kept"], 3);
}

#[test]
fn a_gzip_stream_cut_in_its_second_member_is_lost_input() {
    let tmp = tempfile::tempdir().unwrap();
    let first = gzip(&records(0, 1000));
    let mut bytes = first.clone();
    bytes.extend(gzip(&records(1000, 2000)));
    // Both members read in full.
    let whole = tmp.path().join("whole.jsonl.gz");
    fs::write(&whole, &bytes).unwrap();
    let (code, s, _) = scan(&whole, &tmp.path().join("a"), &[]);
    assert_eq!((code, s["documents"]["read"].as_u64()), (0, Some(2000)));
    // Cut 30 bytes into the second member: the first member's records are kept, the loss named.
    let cut = tmp.path().join("cut.jsonl.gz");
    fs::write(&cut, &bytes[..first.len() + 30]).unwrap();
    let (code, s, err) = scan(&cut, &tmp.path().join("b"), &[]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(s["documents"]["read"], 1000);
    assert_eq!(s["input_lost"], 1);
    assert_eq!(s["problems_by_kind"]["corrupt_compressed"], 1);
    assert!(err.contains("cut.jsonl.gz"), "{err}");
    // clean says the same.
    neardup()
        .args(["clean", "-q", "-o"])
        .arg(tmp.path().join("c"))
        .arg(&cut)
        .assert()
        .code(2);
}

#[test]
fn compression_is_told_by_the_bytes_and_a_wrong_name_is_said() {
    let tmp = tempfile::tempdir().unwrap();
    // Plain JSON Lines named .gz, and gzip named .jsonl: every record read either way.
    let plain_gz = tmp.path().join("plain.jsonl.gz");
    fs::write(&plain_gz, records(0, 5)).unwrap();
    let (code, s, err) = scan(&plain_gz, &tmp.path().join("a"), &[]);
    assert_eq!(code, 0);
    assert_eq!(s["documents"]["read"], 5);
    assert!(
        err.contains("the name says gzip but the bytes are not compressed"),
        "{err}"
    );
    let gz_named = tmp.path().join("packed.jsonl");
    fs::write(&gz_named, gzip(&records(0, 7))).unwrap();
    let (code, s, err) = scan(&gz_named, &tmp.path().join("b"), &[]);
    assert_eq!(code, 0);
    assert_eq!(s["documents"]["read"], 7);
    assert!(err.contains("the bytes are gzip; read as gzip"), "{err}");
    assert_eq!(s["problems_by_kind"]["compression_mismatch"], 1);
    assert_eq!(s["input_lost"], 0);
}

#[test]
fn gzip_on_standard_input_is_cleaned_into_a_gzip_file_named_so() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let input = records(0, 4);
    neardup()
        .args(["clean", "-q", "-o"])
        .arg(&out)
        .arg("-")
        .write_stdin(gzip(&input))
        .assert()
        .success();
    assert!(!out.join("stdin.jsonl").exists());
    let mut d = flate2::read::GzDecoder::new(fs::File::open(out.join("stdin.jsonl.gz")).unwrap());
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut d, &mut got).unwrap();
    assert_eq!(got, input);
}

#[test]
fn a_nul_byte_inside_one_record_skips_that_record_only() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("nul.jsonl");
    let mut bytes = b"{\"id\":0,\"text\":\"a\x00b c d e\"}\n".to_vec();
    bytes.extend(records(1, 4));
    fs::write(&f, bytes).unwrap();
    let (code, s, err) = scan(&f, &tmp.path().join("out"), &[]);
    assert_eq!(code, 2);
    assert_eq!(s["documents"]["read"], 4);
    assert_eq!(s["documents"]["skipped"], 1);
    assert!(
        err.contains("nul.jsonl:1: invalid JSON: control character"),
        "{err}"
    );
    // A file that is mostly NUL bytes is still binary, whatever its name.
    let b = tmp.path().join("image.jsonl");
    fs::write(&b, [0u8, 1, 2, 0, 0, 9, b'\n', 0, 0, 7].repeat(100)).unwrap();
    let (code, s, _) = scan(&b, &tmp.path().join("b"), &[]);
    assert_eq!(code, 2);
    assert_eq!(s["problems_by_kind"]["binary"], 1);
}

#[test]
fn a_byte_order_mark_before_the_first_record_is_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("bom.jsonl");
    let mut bytes = b"\xef\xbb\xbf".to_vec();
    bytes.extend(records(0, 2));
    fs::write(&f, bytes).unwrap();
    let (code, s, err) = scan(&f, &tmp.path().join("out"), &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(s["documents"]["read"], 2);
    assert_eq!(s["documents"]["skipped"], 0);
}

#[test]
fn a_json_array_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("dump.json");
    fs::write(
        &f,
        "[\n  {\"id\": 1, \"text\": \"one\"},\n  {\"id\": 2, \"text\": \"two\"}\n]\n",
    )
    .unwrap();
    let (code, s, err) = scan(&f, &tmp.path().join("out"), &[]);
    assert_eq!(code, 2);
    assert_eq!(s["documents"]["read"], 0);
    assert_eq!(s["problems_by_kind"]["not_json_lines"], 1);
    assert!(
        err.contains("dump.json: a JSON array, not JSON Lines"),
        "{err}"
    );
}

#[test]
fn a_fifo_inside_a_directory_is_counted_not_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("a.txt"), "alpha beta gamma delta").unwrap();
    let fifo = dir.join("pipe.txt");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        return; // no mkfifo on this system
    }
    let (code, s, err) = scan(&dir, &tmp.path().join("out"), &[]);
    assert_eq!(code, 2);
    assert_eq!(s["files"]["skipped"], 1);
    assert_eq!(s["problems_by_kind"]["not_a_file"], 1);
    assert!(err.contains("pipe.txt: not a regular file"), "{err}");
}

#[test]
fn decompression_stops_early_on_binary_and_oversized_documents() {
    let tmp = tempfile::tempdir().unwrap();
    // 64 MiB of zeros in a 64 KiB gzip: refused as binary from its first bytes.
    let zeros = tmp.path().join("zeros.txt.gz");
    fs::write(&zeros, gzip(&vec![0u8; 64 << 20])).unwrap();
    let (code, s, _) = scan(&zeros, &tmp.path().join("a"), &[]);
    assert_eq!(code, 2);
    assert_eq!(s["problems_by_kind"]["binary"], 1);
    // A text bomb over --max-document-size: skipped and counted (decoding stops there).
    let bomb = tmp.path().join("bomb.txt.gz");
    fs::write(&bomb, gzip(&b"word ".repeat(4 << 20))).unwrap();
    let (code, s, err) = scan(&bomb, &tmp.path().join("b"), &["--max-document-size", "1M"]);
    assert_eq!(code, 2);
    assert_eq!(s["problems_by_kind"]["too_large"], 1);
    assert_eq!(s["documents"]["skipped"], 1);
    assert!(err.contains("over --max-document-size 1048576"), "{err}");
    // One oversized record among good ones, compressed and not: that record only.
    let mut bytes = records(0, 3);
    bytes.extend(format!("{{\"id\":99,\"text\":\"{}\"}}\n", "x ".repeat(3000)).into_bytes());
    bytes.extend(records(3, 5));
    for (name, data) in [("big.jsonl", bytes.clone()), ("big.jsonl.gz", gzip(&bytes))] {
        let f = tmp.path().join(name);
        fs::write(&f, data).unwrap();
        let out = tmp.path().join(format!("out-{name}"));
        let (code, s, err) = scan(&f, &out, &["--max-document-size", "4K"]);
        assert_eq!(code, 2, "{name}");
        assert_eq!(s["documents"]["read"], 6, "{name}");
        assert_eq!(s["documents"]["skipped"], 1, "{name}");
        assert!(
            err.contains(&format!("{name}:4: a record of more than")),
            "{err}"
        );
    }
    // Documents are spans of at most 4 GiB: a larger limit is refused, never truncated.
    neardup()
        .args(["scan", "-q", "--max-document-size", "5G", "-o"])
        .arg(tmp.path().join("d"))
        .arg(&bomb)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--max-document-size must be in 1..=4294967295 bytes, got 5368709120",
        ));
    // Sizes are checked like every option.
    neardup()
        .args(["scan", "-q", "--max-document-size", "5X", "-o"])
        .arg(tmp.path().join("c"))
        .arg(&bomb)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a size"));
}

#[test]
fn oversized_records_are_audited_by_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("big.jsonl");
    let mut bytes = records(0, 2);
    bytes.extend(format!("{{\"id\":99,\"text\":\"{}\"}}\n", "y ".repeat(3000)).into_bytes());
    fs::write(&f, bytes).unwrap();
    let out = tmp.path().join("out");
    neardup()
        .args(["clean", "-q", "--max-document-size", "4K", "-o"])
        .arg(&out)
        .arg(&f)
        .assert()
        .code(2);
    let audit = json_lines(&out.join(".neardup/removed.jsonl"));
    assert!(
        audit
            .iter()
            .any(|a| a["type"] == "skipped" && a["line"] == 3 && a["reason"] == "too_large"),
        "{audit:?}"
    );
    assert_eq!(
        fs::read_to_string(out.join("big.jsonl"))
            .unwrap()
            .lines()
            .count(),
        2
    );
}

#[test]
fn clean_from_refuses_a_scan_made_with_other_options_and_accepts_another_spelling_of_a_path() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    fs::create_dir(&dir).unwrap();
    // Five records and a copy of each under another id: five clusters.
    let mut wire = records(0, 5);
    wire.extend(
        String::from_utf8(records(0, 5))
            .unwrap()
            .replace("{\"id\":", "{\"id\":10")
            .into_bytes(),
    );
    fs::write(dir.join("wire.jsonl"), &wire).unwrap();
    let scan_out = tmp.path().join("scan");
    // Scanned by a relative path (from the temp dir) ...
    neardup()
        .current_dir(tmp.path())
        .args(["scan", "-q", "-o", "scan", "in/wire.jsonl"])
        .assert()
        .success();
    // ... cleaned by the absolute one: the same input.
    let direct = tmp.path().join("direct");
    neardup()
        .args(["clean", "-q", "-o"])
        .arg(&direct)
        .arg(dir.join("wire.jsonl"))
        .assert()
        .success();
    let reused = tmp.path().join("reused");
    neardup()
        .args(["clean", "-q", "--from"])
        .arg(&scan_out)
        .arg("-o")
        .arg(&reused)
        .arg(dir.join("wire.jsonl"))
        .assert()
        .success();
    let cleaned = fs::read(direct.join("wire.jsonl")).unwrap();
    assert_eq!(cleaned, fs::read(reused.join("wire.jsonl")).unwrap());
    assert_eq!(cleaned.iter().filter(|&&b| b == b'\n').count(), 5);
    // --source-field changes results: recorded, and a difference is refused.
    neardup()
        .args(["clean", "-q", "--source-field", "source", "--from"])
        .arg(&scan_out)
        .arg("-o")
        .arg(tmp.path().join("other"))
        .arg(dir.join("wire.jsonl"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "options.source_field was null, now \"source\"",
        ));
}

#[test]
fn a_source_field_no_record_has_is_a_warning_with_a_count() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("a.jsonl");
    fs::write(&f, records(0, 6)).unwrap();
    let (code, s, err) = scan(&f, &tmp.path().join("out"), &["--source-field", "sourcee"]);
    assert_eq!(code, 0);
    assert_eq!(s["problems_by_kind"]["missing_source_field"], 1);
    assert_eq!(s["options"]["source_field"], "sourcee");
    assert!(
        err.contains("a.jsonl: 6 of 6 records have no \"sourcee\" string field"),
        "{err}"
    );
}

#[test]
fn an_output_directory_at_or_above_the_inputs_reads_them_and_only_skips_its_own_files() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    fs::create_dir(&data).unwrap();
    fs::write(data.join("dump.jsonl"), records(0, 4)).unwrap();
    // The file named, and the directory holding it, with -o the same directory.
    for arg in [data.join("dump.jsonl"), data.clone()] {
        let (code, s, err) = scan(&arg, &data, &[]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(s["documents"]["read"], 4, "{arg:?}");
    }
    // clean must not write over its inputs: refused before reading.
    for out in [data.clone(), tmp.path().to_path_buf()] {
        neardup()
            .args(["clean", "-q", "-o"])
            .arg(&out)
            .arg(&data)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("holds the input"));
    }
    assert_eq!(fs::read(data.join("dump.jsonl")).unwrap(), records(0, 4));
}

#[test]
fn a_bad_output_or_clashing_inputs_fail_before_anything_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.jsonl");
    fs::write(&input, records(0, 3)).unwrap();
    let file = tmp.path().join("taken");
    fs::write(&file, "x").unwrap();
    for cmd in ["scan", "clean"] {
        neardup()
            .args([cmd, "-o"])
            .arg(&file)
            .arg(&input)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("it is a file"))
            // no progress or summary: nothing was read
            .stderr(predicate::str::contains("Reading").not());
    }
    // Two inputs with one relative name under two directories.
    for d in ["a", "b"] {
        fs::create_dir(tmp.path().join(d)).unwrap();
        fs::write(tmp.path().join(d).join("x.txt"), "alpha beta gamma").unwrap();
    }
    neardup()
        .args(["clean", "-q", "-o"])
        .arg(tmp.path().join("out"))
        .arg(tmp.path().join("a"))
        .arg(tmp.path().join("b"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("would both be written to"));
    assert!(!tmp.path().join("out/x.txt").exists());
}

#[test]
fn clean_interrupted_by_sigterm_leaves_the_output_as_it_was() {
    let Some(data) = common::data_dir("saudinewsnet") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("snn.jsonl");
    let lines = common::sample_zst(&data.join("docs.jsonl.zst"), 20_000, 1);
    fs::write(&input, lines.join("\n") + "\n").unwrap();
    let out = tmp.path().join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("earlier.txt"), "from an earlier run").unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("neardup"))
        .args(["clean", "-q", "-j", "1", "-o"])
        .arg(&out)
        .arg(&input)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    // SIGTERM, as `timeout`, systemd and Kubernetes send it.
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let left: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        left,
        ["earlier.txt"],
        "a half-built output or a temp file was left"
    );
}

#[test]
fn clean_never_writes_through_a_symlink_in_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    fs::create_dir_all(input.join("sub")).unwrap();
    fs::write(input.join("sub/a.txt"), "alpha beta gamma delta epsilon").unwrap();
    fs::write(input.join("b.txt"), "one two three four five six").unwrap();
    let out = tmp.path().join("out");
    fs::create_dir(&out).unwrap();
    std::os::unix::fs::symlink(input.join("sub"), out.join("sub")).unwrap();
    std::os::unix::fs::symlink(input.join("b.txt"), out.join("b.txt")).unwrap();
    neardup()
        .args(["clean", "-q", "--no-strip", "-o"])
        .arg(&out)
        .arg(&input)
        .assert()
        .success();
    // The links were replaced by real files; the inputs behind them are untouched.
    assert!(!fs::symlink_metadata(out.join("sub")).unwrap().is_symlink());
    assert!(
        !fs::symlink_metadata(out.join("b.txt"))
            .unwrap()
            .is_symlink()
    );
    assert_eq!(
        fs::read_to_string(input.join("sub/a.txt")).unwrap(),
        "alpha beta gamma delta epsilon"
    );
    assert!(input.join("b.txt").exists());
}

#[cfg(unix)]
#[test]
fn file_names_that_are_not_utf8_are_kept_byte_for_byte() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    fs::create_dir(&input).unwrap();
    let names: [&[u8]; 3] = [b"caf\xe9.txt", b"caf\xe8.txt", b"caf\xea.txt"];
    for (i, n) in names.iter().enumerate() {
        let text = format!("text {i} of file {i} about subject {i} and {i}");
        fs::write(input.join(std::ffi::OsStr::from_bytes(n)), text).unwrap();
    }
    let out = tmp.path().join("out");
    neardup()
        .args(["clean", "-q", "-o"])
        .arg(&out)
        .arg(&input)
        .assert()
        .success();
    let mut got: Vec<Vec<u8>> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().as_bytes().to_vec())
        .filter(|n| !n.starts_with(b"."))
        .collect();
    got.sort();
    let mut want: Vec<Vec<u8>> = names.iter().map(|n| n.to_vec()).collect();
    want.sort();
    assert_eq!(got, want);
    // Their ids are distinct, with the odd bytes escaped.
    let s = summary(&out.join(".neardup"));
    assert_eq!(s["problems_by_kind"].get("duplicate_id"), None, "{s}");
}

#[test]
fn a_second_run_on_the_same_output_is_refused_and_a_stale_lock_taken_over() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.jsonl");
    fs::write(&input, records(0, 3)).unwrap();
    let out = tmp.path().join("out");
    fs::create_dir(&out).unwrap();
    // A live holder: this test process.
    fs::write(
        out.join(".neardup.lock"),
        format!("{}\n", std::process::id()),
    )
    .unwrap();
    for cmd in ["scan", "clean"] {
        neardup()
            .args([cmd, "-q", "-o"])
            .arg(&out)
            .arg(&input)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!(
                "another neardup run (process {}) is writing",
                std::process::id()
            )));
    }
    // A holder that is gone (no such process): taken over; the lock is removed at the end.
    fs::write(out.join(".neardup.lock"), "4194303999\n").unwrap();
    let (code, s, _) = scan(&input, &out, &[]);
    assert_eq!((code, s["documents"]["read"].as_u64()), (0, Some(3)));
    assert!(!out.join(".neardup.lock").exists());
}

#[test]
fn clean_from_refuses_outputs_mixed_from_two_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.jsonl");
    let mut bytes = records(0, 4);
    bytes.extend(records(0, 4));
    fs::write(&input, &bytes).unwrap();
    let first = tmp.path().join("first");
    let second = tmp.path().join("second");
    scan(&input, &first, &[]);
    scan(&input, &second, &["--threshold", "0.9"]);
    assert_ne!(summary(&first)["run_id"], summary(&second)["run_id"]);
    // clusters.jsonl from another run beside this summary: refused, naming the file.
    fs::copy(
        second.join("boilerplate.jsonl"),
        first.join("boilerplate.jsonl"),
    )
    .unwrap();
    fs::write(first.join("clusters.jsonl"), b"").unwrap();
    neardup()
        .args(["clean", "-q", "--from"])
        .arg(&first)
        .arg("-o")
        .arg(tmp.path().join("out"))
        .arg(&input)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "clusters.jsonl: not the file summary.json (run",
        ));
}

#[test]
fn texts_of_emoji_only_are_never_an_exact_cluster() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("emoji.jsonl");
    // Three different emoji-only texts; each emoji carries the variation selector U+FE0F.
    fs::write(
        &f,
        "{\"id\":1,\"text\":\"❤\u{FE0F}\"}\n{\"id\":2,\"text\":\"☀\u{FE0F} ☀\u{FE0F}\"}\n{\"id\":3,\"text\":\"✈\u{FE0F}\"}\n",
    )
    .unwrap();
    let (code, s, _) = scan(&f, &tmp.path().join("out"), &[]);
    assert_eq!(code, 0);
    assert_eq!(s["clusters"]["total"], 0);
    assert_eq!(s["documents"]["empty"], 3);
}

#[test]
fn tune_and_eval_refuse_what_cannot_be_right() {
    let tmp = tempfile::tempdir().unwrap();
    let labels = common::news_labels(tmp.path());
    // No input at all: no score, exit 2.
    neardup()
        .args(["tune", "-q", "--truth"])
        .arg(&labels)
        .arg(tmp.path().join("nonexistent"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "none of the 0 input documents has a label",
        ));
    // Labels that match none of the predicted ids.
    let out = tmp.path().join("out");
    neardup()
        .args(["scan", "-q", "-o"])
        .arg(&out)
        .arg(common::fixture("news"))
        .assert()
        .success();
    let other = tmp.path().join("other.jsonl");
    fs::write(
        &other,
        "{\"id\":\"x\",\"cluster\":1}\n{\"id\":\"y\",\"cluster\":1}\n",
    )
    .unwrap();
    neardup()
        .args(["eval", "--truth"])
        .arg(&other)
        .arg(out.join("clusters.jsonl"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("has a label in"));
    // Every document its own cluster, no duplicates: every setting ties; the default wins.
    let singles = tmp.path().join("singles");
    fs::create_dir(&singles).unwrap();
    let mut l = String::new();
    for i in 0..6 {
        let name = format!("{i}.txt");
        fs::write(
            singles.join(&name),
            format!("document {i} says something of its own about topic {i} only"),
        )
        .unwrap();
        l.push_str(&format!("{{\"id\":\"{name}\",\"cluster\":{i}}}\n"));
    }
    let truth = tmp.path().join("singles.jsonl");
    fs::write(&truth, l).unwrap();
    let o = neardup()
        .args(["tune", "-q", "--json", "--truth"])
        .arg(&truth)
        .arg(&singles)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let best = &r["rows"][r["recommended"].as_u64().unwrap() as usize];
    assert_eq!(
        (best["threshold"].as_f64(), best["containment"].as_f64()),
        (Some(0.5), Some(0.6))
    );
    assert_eq!(r["labelled_in_input"], 6);
}

#[test]
fn messages_say_what_happened() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("a.jsonl");
    let mut bytes = records(0, 3);
    bytes.extend(records(0, 3));
    fs::write(&f, &bytes).unwrap();
    let out = tmp.path().join("out");
    let o = neardup()
        .args(["scan", "-o"])
        .arg(&out)
        .arg(&f)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("pairs accepted"), "{err}");
    // The kept document is the representative, not an "exact" match of itself.
    let c = common::clusters(&out);
    assert_eq!(c[0]["members"][0]["matched"], "representative");
    assert_eq!(c[0]["members"][1]["matched"], "exact");
    // clean -o - is refused, not a directory named "-".
    neardup()
        .current_dir(tmp.path())
        .args(["clean", "-o", "-"])
        .arg(&f)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("clean writes a directory"));
    assert!(!tmp.path().join("-").exists());
    // clean's help lists only the exit codes clean has.
    neardup()
        .args(["clean", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--fail-on-duplicates").not());
}

#[cfg(unix)]
#[test]
fn a_mapped_input_truncated_during_the_run_is_named_and_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("big.jsonl");
    // ~80 MB: mapped, and far from read through when it is cut.
    let mut w = std::io::BufWriter::new(fs::File::create(&f).unwrap());
    for i in 0..600_000u32 {
        writeln!(
            w,
            "{{\"id\":{i},\"text\":\"{} alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho\"}}",
            i.wrapping_mul(2_654_435_761)
        )
        .unwrap();
    }
    drop(w);
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("neardup"))
        .args(["scan", "-q", "-j", "1", "-o"])
        .arg(tmp.path().join("out"))
        .arg(&f)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(600));
    fs::OpenOptions::new()
        .write(true)
        .open(&f)
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("big.jsonl: changed (shrank) while it was read memory-mapped"),
        "{err}"
    );
}

#[test]
fn clean_from_an_earlier_clean_report_reuses_its_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let first = tmp.path().join("first");
    neardup()
        .args(["clean", "-q", "-o"])
        .arg(&first)
        .arg(common::fixture("news"))
        .assert()
        .success();
    let second = tmp.path().join("second");
    neardup()
        .args(["clean", "-q", "--from"])
        .arg(first.join(".neardup"))
        .arg("-o")
        .arg(&second)
        .arg(common::fixture("news"))
        .assert()
        .success();
    let names = |d: &Path| {
        let mut v: Vec<_> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n != ".neardup")
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&first), names(&second));
    for n in names(&first) {
        assert_eq!(
            fs::read(first.join(&n)).unwrap(),
            fs::read(second.join(&n)).unwrap()
        );
    }
}

#[test]
fn template_twins_whose_numbers_differ_are_not_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("wire.jsonl");
    // Two notices from one template that differ in a date (similar enough by shingles to be
    // duplicates: Jaccard 0.6), and a true repeat of the first.
    let lead = "The board declared its regular quarterly dividend payable to shareholders of \
                record, the company said in a statement issued after the market closed.";
    let a = format!("{lead} Qtly div 25 cts vs 25 cts prior Pay April 30 Record April 16");
    let b = format!("{lead} Qtly div 25 cts vs 25 cts prior Pay May 14 Record April 30");
    fs::write(
        &f,
        format!(
            "{}\n{}\n{}\n",
            serde_json::json!({"id": "combustion", "text": a}),
            serde_json::json!({"id": "knight-ridder", "text": b}),
            serde_json::json!({"id": "combustion-again", "text": a}),
        ),
    )
    .unwrap();
    let out = tmp.path().join("out");
    neardup()
        .args(["clean", "-q", "-o"])
        .arg(&out)
        .arg(&f)
        .assert()
        .success();
    let kept: Vec<String> = json_lines(&out.join("wire.jsonl"))
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kept, ["combustion", "knight-ridder"]);
    // Not even one cluster: the only cluster is the repeat.
    let clusters = common::clusters(&out.join(".neardup"));
    assert_eq!(clusters.len(), 1);
    let ids: Vec<&str> = clusters[0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["combustion", "combustion-again"]);
}
