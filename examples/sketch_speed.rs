//! The sketch stage's parts on real texts, one thread, for side-by-side work on the hot loop:
//! the normaliser alone, with token hashing, the whole sketch, and verification's sets, in MB/s
//! of text, plus a digest of every document's sketch (exact hash, tokens, signature) so that two
//! builds can be checked to sketch byte for byte alike.
//!
//! `cargo run --release --example sketch_speed -- DOCS.jsonl` (records with a `text` field).

use std::time::Instant;

use neardup::config::ShingleKind;
use neardup::normalize::{Normalizer, Profile, Restart, TokenSink};
use neardup::sketch::{SketchParams, Sketcher};
use neardup::verify::DocSets;

/// Hashes every token (xxh3, as the sketch does); forgets a line it is told to start over.
#[derive(Default)]
struct Tokens {
    hash: bool,
    line: u64,
    all: u64,
}
impl TokenSink for Tokens {
    fn token(&mut self, t: &str) {
        let h = if self.hash {
            xxhash_rust::xxh3::xxh3_64_with_seed(t.as_bytes(), 1)
        } else {
            t.len() as u64
        };
        self.line = self.line.rotate_left(5) ^ h;
    }
    fn line_end(&mut self) {
        self.all = self.all.rotate_left(1) ^ self.line;
        self.line = 0;
    }
}
impl Restart for Tokens {
    fn restart(&mut self) {
        self.line = 0;
    }
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: sketch_speed DOCS.jsonl");
    let docs: Vec<String> = std::fs::read_to_string(path)
        .expect("readable file")
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            v["text"].as_str().map(String::from)
        })
        .collect();
    let mb = docs.iter().map(|d| d.len()).sum::<usize>() as f64 / 1e6;
    let params = SketchParams {
        profile: Profile::Full,
        shingle: ShingleKind::Word,
        ngram: 5,
        num_perm: 128,
        seed: 1,
    };
    let time = |f: &mut dyn FnMut() -> u64| {
        let best = (0..3)
            .map(|_| {
                let t = Instant::now();
                let digest = f();
                (t.elapsed().as_secs_f64(), digest)
            })
            .fold((f64::MAX, 0), |a, b| if b.0 < a.0 { b } else { a });
        (mb / best.0, best.1)
    };
    let mut normalizer = Normalizer::new(Profile::Full);
    for hash in [false, true] {
        let (rate, digest) = time(&mut || {
            let mut sink = Tokens {
                hash,
                ..Default::default()
            };
            for d in &docs {
                for line in d.split('\n') {
                    normalizer.run_line(line, &mut sink);
                }
            }
            sink.all
        });
        let what = if hash { "+ token hashes" } else { "normalise" };
        println!("{what:16} {rate:6.0} MB/s  {digest:016x}");
    }
    let mut sk = Sketcher::new(params);
    let mut sig = vec![0u32; params.num_perm];
    let (rate, digest) = time(&mut || {
        let mut x = 0u64;
        for d in &docs {
            let s = sk.sketch(d, &[], &mut sig);
            let sum = sig.iter().map(|&v| v as u64).sum::<u64>();
            x = x.rotate_left(1) ^ (s.exact as u64) ^ ((s.exact >> 64) as u64) ^ s.tokens as u64;
            x = x.wrapping_mul(31).wrapping_add(sum);
        }
        x
    });
    println!("{:16} {rate:6.0} MB/s  {digest:016x}", "sketch");
    let mut sets = DocSets::default();
    let (rate, digest) = time(&mut || {
        let mut x = 0u64;
        for d in &docs {
            sk.doc_sets(d, &[], &mut sets);
            x = x
                .wrapping_mul(31)
                .wrapping_add(sets.shingles.len() as u64 + sets.numbers.len() as u64);
        }
        x
    });
    println!("{:16} {rate:6.0} MB/s  {digest:016x}", "verify sets");
}
