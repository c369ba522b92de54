//! The JSON Lines reader on arbitrary bytes: never panics, and every non-blank line is either
//! one document or one skipped record.
#![no_main]
use libfuzzer_sys::fuzz_target;
use neardup::config::InputConfig;
use neardup::input::{Format, load_bytes};

fuzz_target!(|data: &[u8]| {
    let cfg = InputConfig::new(Vec::new());
    let corpus = load_bytes("fuzz.jsonl", data.to_vec(), Format::Jsonl, &cfg);
    let non_blank = data
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(|b| b.is_ascii_whitespace()))
        .count() as u64;
    assert_eq!(corpus.len() as u64 + corpus.skipped_documents(), non_blank);
    let mut buf = String::new();
    for d in corpus.documents() {
        let _ = corpus.text(d, &mut buf);
        let _ = corpus.id(d);
    }
});
