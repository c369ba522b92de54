//! Tests of planning and stripping.

use super::strip::*;
use super::*;
use crate::boilerplate::Reason;
use crate::normalize::{Normalizer, Profile};
use crate::shingle::LineTokens;

fn hash(s: &str) -> u64 {
    let mut l = LineTokens::new(5, false);
    Normalizer::new(Profile::Full).run(s, &mut l);
    l.line_hash()
}

fn rules(r: &[(&str, StripRule)]) -> Vec<(u64, StripRule)> {
    let mut v: Vec<(u64, StripRule)> = r.iter().map(|&(t, r)| (hash(t), r)).collect();
    v.sort_unstable();
    v
}

/// Strip raw bytes with every template line at an edge in most documents.
fn strip_raw(
    raw: &[u8],
    kind: RawKind,
    r: &[(u64, StripRule)],
    inner: bool,
) -> (Option<Vec<u8>>, Vec<RemovedLine>) {
    let mut st = Stripper::new(Profile::Full, 5);
    let (mut removed, mut kept) = (Vec::new(), 0);
    let out = st.strip(raw, kind, r, &|_| true, inner, &mut removed, &mut kept);
    (out, removed)
}

/// Strip `text` (a text file).
fn strip(text: &str, r: &[(u64, StripRule)], inner: bool) -> (Option<String>, Vec<RemovedLine>) {
    let (out, removed) = strip_raw(text.as_bytes(), RawKind::Text, r, inner);
    (out.map(|b| String::from_utf8(b).unwrap()), removed)
}

fn texts(removed: &[RemovedLine]) -> Vec<(u32, &str)> {
    removed
        .iter()
        .filter(|r| !r.blank)
        .map(|r| (r.line, r.text.as_str()))
        .collect()
}

#[test]
fn furniture_goes_from_the_top_and_bottom_blocks_but_the_same_line_in_the_body_stays() {
    let r = rules(&[("site name", StripRule::Edge), ("share", StripRule::Edge)]);
    let text = "Site Name:\nFirst  paragraph.\r\n\nSite Name\nSecond paragraph.\nSHARE";
    let (out, removed) = strip(text, &r, false);
    assert_eq!(
        out.unwrap(),
        "First  paragraph.\r\n\nSite Name\nSecond paragraph."
    );
    assert_eq!(texts(&removed), vec![(1, "Site Name:"), (6, "SHARE")]);
    // With --strip-inner the body's copy goes too.
    let (out, _) = strip(text, &r, true);
    assert_eq!(out.unwrap(), "First  paragraph.\r\n\nSecond paragraph.");
    assert!(strip("nothing to do", &r, false).0.is_none());
}

#[test]
fn blank_lines_of_a_stripped_block_go_with_it_and_are_listed() {
    let r = rules(&[
        ("site", StripRule::Edge),
        ("read more", StripRule::Anywhere),
    ]);
    let (out, removed) = strip(
        "site\n\nsite\n\n\nBody one.\n\nRead more\n\nBody two.\n",
        &r,
        false,
    );
    assert_eq!(out.unwrap(), "Body one.\n\nBody two.\n");
    assert_eq!(
        texts(&removed),
        vec![(1, "site"), (3, "site"), (8, "Read more")]
    );
    // Every line that went is listed: 3 flagged, 4 blank.
    assert_eq!(removed.len(), 7);
    assert_eq!(removed.iter().filter(|r| r.blank).count(), 4);
}

#[test]
fn data_lines_sentences_and_wrapped_first_lines_are_never_stripped() {
    let r = rules(&[
        (
            "Pay April 30",
            StripRule::of([Reason::Template], "Pay April 30", "pay april 30", false),
        ),
        (
            "Terms were not disclosed.",
            StripRule::of(
                [Reason::Common],
                "Terms were not disclosed.",
                "terms were not disclosed",
                false,
            ),
        ),
        ("U.S. Trade Representative Clayton", StripRule::Edge),
        ("Reuter", StripRule::Edge),
    ]);
    let text = "U.S. Trade Representative Clayton\nYeutter today said the talks with\n\
                    the European Community on farm trade\nwould go on.\n\
                    Terms were not disclosed.\n    Pay April 30\n Reuter\n";
    let (out, removed) = strip(text, &r, false);
    assert_eq!(texts(&removed), vec![(7, " Reuter")]);
    assert_eq!(out.unwrap(), text.replace(" Reuter\n", ""));
    // The end of a wrapped sentence stays too.
    let r = rules(&[("year.", StripRule::Edge), ("Reuter", StripRule::Edge)]);
    let (_, removed) = strip("Results are expected later this\nyear.\nReuter", &r, false);
    assert_eq!(texts(&removed), vec![(3, "Reuter")]);
}

#[test]
fn a_title_repeated_in_the_page_goes_everywhere_a_refrain_stays() {
    let r = rules(&[
        ("the title", StripRule::Title),
        ("the refrain", StripRule::Title),
    ]);
    let (out, _) = strip(
        "The title\nThe title\nBody starts.\nThe refrain\nMore body.\nThe refrain\nThe title\nEnd.\nThe refrain",
        &r,
        false,
    );
    assert_eq!(
        out.unwrap(),
        "Body starts.\nThe refrain\nMore body.\nThe refrain\nEnd.\nThe refrain"
    );
}

#[test]
fn a_long_document_is_not_a_page_only_lexicon_lines_go() {
    let r = rules(&[
        ("opening formula", StripRule::Edge),
        ("share", StripRule::Anywhere),
    ]);
    let mut book = String::from("Opening formula\n");
    for i in 0..MAX_PAGE_LINES {
        book.push_str(&format!("Line {i} of the book.\n"));
    }
    book.push_str("Share\n");
    let (out, removed) = strip(&book, &r, false);
    assert_eq!(texts(&removed), vec![(MAX_PAGE_LINES as u32 + 2, "Share")]);
    assert!(out.unwrap().starts_with("Opening formula\n"));
}

#[test]
fn json_lines_are_cut_out_of_the_raw_escaped_bytes() {
    // `\n` and `\u000a` end lines; `\\n` is a backslash and an n; other escapes stay as written.
    let raw = br#"Site\nBody \u0627 \"q\" a\\nb\u000ASite"#;
    let mut lines = Vec::new();
    raw_lines(raw, RawKind::Json, &mut lines);
    assert_eq!(lines.len(), 3);
    let r = rules(&[("site", StripRule::Edge)]);
    let (out, removed) = strip_raw(raw, RawKind::Json, &r, false);
    let out = out.unwrap();
    assert_eq!(out, br#"Body \u0627 \"q\" a\\nb"#.to_vec());
    assert_eq!(texts(&removed), vec![(1, "Site"), (3, "Site")]);
}

#[test]
fn invalid_utf8_outside_the_removed_lines_is_kept_byte_for_byte() {
    let r = rules(&[("site", StripRule::Edge)]);
    let raw = b"Site\nUn caf\xe9 au lait.\n";
    let (out, removed) = strip_raw(raw, RawKind::Text, &r, false);
    let out = out.unwrap();
    assert_eq!(texts(&removed), vec![(1, "Site")]);
    assert_eq!(out, b"Un caf\xe9 au lait.\n".to_vec());
}

#[test]
fn strip_rule_follows_the_reasons_and_the_text() {
    assert_eq!(
        StripRule::of(
            [Reason::Known, Reason::Template],
            "Share 2",
            "share 2",
            false
        ),
        StripRule::Anywhere
    );
    assert_eq!(
        StripRule::of([Reason::Repeated, Reason::Template], "Site", "site", false),
        StripRule::TitleEdge
    );
    assert_eq!(
        StripRule::of([Reason::Repeated], "Title", "title", false),
        StripRule::Title
    );
    assert_eq!(
        StripRule::of(
            [Reason::Common],
            "It gave no details.",
            "it gave no details",
            false
        ),
        StripRule::Never
    );
    assert_eq!(
        StripRule::of([Reason::Common], "More...", "more", false),
        StripRule::Edge
    );
}
