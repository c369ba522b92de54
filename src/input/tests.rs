//! Tests of record parsing and loading.

use super::json::*;
use super::*;
use proptest::strategy::Strategy;
use std::borrow::Cow;

fn field_str(line: &str, f: Option<Field>) -> Option<&str> {
    match f? {
        Field::String { start, len, .. } | Field::Other { start, len, .. } => {
            Some(&line[start..start + len])
        }
    }
}

#[test]
fn parse_record_locates_text_and_id_without_copying() {
    let line = r#"{"id": "a1", "meta": {"x": [1, 2]}, "text": "hello\nworld"}"#;
    let rec = parse_record(line, "text", "id", None).unwrap();
    assert_eq!(field_str(line, rec.text), Some(r"hello\nworld"));
    assert_eq!(field_str(line, rec.id), Some("a1"));
    assert!(matches!(
        rec.text,
        Some(Field::String { escaped: true, .. })
    ));
}

#[test]
fn raw_text_span_finds_the_text_of_a_record_with_invalid_utf8_around_it() {
    let line = b"{\"id\": \"caf\xe9\", \"text\": \"a\xff\\nb\"}";
    let span = raw_text_span(line, "text").unwrap();
    assert_eq!(&line[span], b"a\xff\\nb");
    assert_eq!(raw_text_span(b"{\"id\": 1}", "text"), None);
}

#[test]
fn parse_record_reports_column_of_syntax_error() {
    let err = parse_record(r#"{"text": "a" "id": 1}"#, "text", "id", None).unwrap_err();
    assert!(err.contains("column 14"), "{err}");
    assert!(!err.contains("line 1"), "{err}");
}

#[test]
fn parse_record_numeric_id_and_missing_text() {
    let line = r#"{"id": 42, "body": "x"}"#;
    let rec = parse_record(line, "text", "id", None).unwrap();
    assert!(rec.text.is_none());
    assert_eq!(field_str(line, rec.id), Some("42"));
    // A custom text field.
    let rec = parse_record(line, "body", "id", None).unwrap();
    assert_eq!(field_str(line, rec.text), Some("x"));
}

#[test]
fn parse_record_rejects_non_objects_and_trailing_garbage() {
    assert!(parse_record("[1,2]", "text", "id", None).is_err());
    assert!(parse_record(r#"{"text":"a"} x"#, "text", "id", None).is_err());
}

#[test]
fn source_field_is_read_and_urls_give_their_host() {
    let line = r#"{"text": "x", "url": "https://www.example.com:8080/a/b?c=1"}"#;
    let rec = parse_record(line, "text", "id", Some("url")).unwrap();
    assert_eq!(
        source_name(line.as_bytes(), rec.source, "f.jsonl"),
        (Cow::Borrowed("example.com"), true)
    );
    let rec = parse_record(line, "text", "id", Some("outlet")).unwrap();
    assert_eq!(
        source_name(line.as_bytes(), rec.source, "f.jsonl"),
        (Cow::Borrowed("f.jsonl"), false)
    );
    // Escaped values are decoded before the host is taken.
    let line = r#"{"text": "x", "url": "https:\/\/www.Example.org\/a"}"#;
    let rec = parse_record(line, "text", "id", Some("url")).unwrap();
    let (name, outlet) = source_name(line.as_bytes(), rec.source, "f.jsonl");
    assert_eq!((name.as_ref(), outlet), ("Example.org", true));
    assert_eq!(url_host("ftp://x"), None);
}

proptest::proptest! {
    /// Whatever bytes a JSON Lines file holds, loading never panics and every non-blank line
    /// is either one document or one skipped record.
    #[test]
    fn every_non_blank_line_of_arbitrary_bytes_is_a_document_or_a_skip(
        lines in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::collection::vec(proptest::num::u8::ANY, 0..40),
                "[ -~]{0,30}".prop_map(|s| format!("{{\"text\": \"{s}\"}}").into_bytes()),
                "[ -~]{0,30}".prop_map(|s| format!("{{\"id\": 1, \"text\": {s}}}").into_bytes()),
            ],
            0..30,
        )
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        let mut bytes = Vec::new();
        for l in &lines {
            bytes.extend(l.iter().map(|&b| if b == b'\n' { b' ' } else { b }));
            bytes.push(b'\n');
        }
        std::fs::write(&path, &bytes).unwrap();
        let corpus = load(&InputConfig::new(vec![path]));
        if corpus.files.is_empty() {
            // NUL bytes: the whole file is skipped as binary; or it is one JSON array.
            let t = String::from_utf8_lossy(&bytes);
            let array = t.trim().starts_with('[') && t.trim().ends_with(']');
            proptest::prop_assert!(bytes[..bytes.len().min(8192)].contains(&0) || array);
        } else {
            let non_blank = bytes
                .split(|&b| b == b'\n')
                .filter(|l| !l.iter().all(|b| b.is_ascii_whitespace()))
                .count() as u64;
            proptest::prop_assert_eq!(corpus.docs.len() as u64 + corpus.skipped_documents, non_blank);
            let mut buf = String::new();
            for d in &corpus.docs {
                let _ = corpus.text(d, &mut buf);
                let _ = corpus.id(d);
            }
        }
    }
}

#[test]
fn unescape_handles_all_escapes_and_surrogate_pairs() {
    let mut s = String::new();
    unescape_json_into(r#"a\"b\\c\/d\ne\tf\u00e9\ud83d\ude00 \u0627"#, &mut s);
    assert_eq!(s, "a\"b\\c/d\ne\tfé😀 ا");
    unescape_json_into(r"bad \ud800 lone", &mut s);
    assert_eq!(s, "bad \u{FFFD} lone");
}

/// Valid pieces of the inside of a JSON string, escapes that make line breaks among them.
const JSON_PIECES: [&str; 16] = [
    "a",
    "ب",
    " ",
    "n",
    "u000a",
    r"\n",
    r"\u000a",
    r"\u000A",
    r"\\",
    r"\\n",
    r#"\""#,
    r"\t",
    r"\ud83d\ude00",
    r"\ud800",
    r"\/",
    "é",
];

proptest::proptest! {
    /// Splitting the escaped text into lines and unescaping each gives the lines of the
    /// unescaped text: what lets a book's wanted lines be decoded without the rest.
    #[test]
    fn json_raw_lines_unescape_to_the_lines_of_the_text(
        picks in proptest::collection::vec(0..JSON_PIECES.len(), 0..40)
    ) {
        let raw: String = picks.iter().map(|&i| JSON_PIECES[i]).collect();
        let mut whole = String::new();
        unescape_json_into(&raw, &mut whole);
        let want: Vec<&str> = whole.split('\n').collect();
        let got: Vec<String> = json_raw_lines(raw.as_bytes())
            .map(|l| {
                let mut s = String::new();
                unescape_json_into(std::str::from_utf8(l).unwrap(), &mut s);
                s
            })
            .collect();
        proptest::prop_assert_eq!(got, want);
    }
}

/// The wanted lines of a document, decoded one by one, are the lines of its whole text:
/// escaped JSON (breaks written `\n` and `\u000A`, an escaped backslash before an `n` that is
/// no break), a JSON text without escapes, and a plain text file.
#[test]
fn wanted_lines_are_the_lines_of_the_whole_text() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("x.jsonl");
    std::fs::write(
        &jsonl,
        concat!(
            r#"{"text": "  head \"one\"  \n two\\n still two\u000Athree \ud83d\ude00\n\nfive"}"#,
            "\n",
            r#"{"text": "no escapes at all"}"#,
            "\n"
        ),
    )
    .unwrap();
    let txt = dir.path().join("y.txt");
    std::fs::write(&txt, "first\r\n second \n\nfourth\n").unwrap();
    let corpus = load(&InputConfig::new(vec![jsonl, txt]));
    assert_eq!(corpus.docs.len(), 3);
    let mut checked = 0;
    for d in &corpus.docs {
        let mut buf = String::new();
        let lines: Vec<String> = corpus
            .text(d, &mut buf)
            .split('\n')
            .map(|l| l.trim().to_string())
            .collect();
        for wanted in [vec![1], vec![2, 3], vec![1, 3, 5], vec![6, 7]] {
            let mut got = Vec::new();
            corpus.lines_numbered(d, &wanted, &mut String::new(), |k, line| {
                got.push((wanted[k], line.to_string()));
            });
            let want: Vec<(u32, String)> = wanted
                .iter()
                .filter_map(|&n| Some((n, lines.get(n as usize - 1)?.clone())))
                .collect();
            assert_eq!(got, want);
            checked += got.len();
        }
    }
    // The escaped text has five lines (an escaped backslash before `n` is no break).
    let mut buf = String::new();
    assert_eq!(
        corpus.text(&corpus.docs[0], &mut buf).split('\n').count(),
        5
    );
    assert!(checked > 10);
}

#[test]
fn unescape_matches_serde_json_on_arabic_text() {
    let original = "السلام عليكم\n\t\"مرحبا\" \\ end";
    let json = serde_json::to_string(original).unwrap();
    let mut s = String::new();
    unescape_json_into(&json[1..json.len() - 1], &mut s);
    assert_eq!(s, original);
}

#[test]
fn dotted_field_names_reach_into_nested_objects() {
    let line = r#"{"id": 7, "content": {"title": "t", "body": "nested \"text\""}, "metadata": {"url": "https://www.site.example/a"}}"#;
    let rec = parse_record(line, "content.body", "id", Some("metadata.url")).unwrap();
    assert_eq!(field_str(line, rec.text), Some(r#"nested \"text\""#));
    assert!(matches!(
        rec.text,
        Some(Field::String { escaped: true, .. })
    ));
    assert_eq!(
        source_name(line.as_bytes(), rec.source, "f.jsonl"),
        (Cow::Borrowed("site.example"), true)
    );
    // A top-level key named with a dot wins over the nested path.
    let flat = r#"{"content.body": "flat", "content": {"body": "deep"}}"#;
    let rec = parse_record(flat, "content.body", "id", None).unwrap();
    assert_eq!(field_str(flat, rec.text), Some("flat"));
    // Missing on the way down: no field.
    let rec = parse_record(
        r#"{"content": "not an object"}"#,
        "content.body",
        "id",
        None,
    )
    .unwrap();
    assert!(rec.text.is_none());
}
