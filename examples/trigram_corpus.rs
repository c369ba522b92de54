//! Write a corpus of realistic news-like documents for the containment scaling benchmark
//! (`benches/containment_scaling.py`): the Python generator's model, ~50× faster, so that
//! 10^7 documents take minutes instead of an hour.
//!
//! Usage: `cargo run --release --example trigram_corpus -- SOURCE_JSONL OUT_JSONL N [SEED]`
//!
//! A word trigram model of the source articles (the `text` field of each JSON line) writes every
//! document, so common phrases recur at their real rates (what makes unrelated articles collide
//! in LSH), with lengths drawn from the real ones (capped at 400 words). Related documents come
//! at a fixed rate whatever the size: one in ten is an edited copy of an earlier one (a tenth of
//! its words replaced by words of another), one in twenty a teaser (the first third of an
//! earlier one plus a sentence of its own). Earlier documents are a reservoir of 20,000.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};

/// SplitMix64: a small, good-enough generator (the benchmark needs no more).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (((self.next() >> 11) as u128 * n as u128) >> 53) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The trigram model as a walk: `follow` holds every trigram's third word `c`, grouped by the
/// pair `(a, b)` before it, with the group of the pair `(b, c)` that comes next (empty when no
/// trigram starts with it); `starts` holds the groups of the articles' first pairs. One random
/// access per word written.
#[derive(Clone, Copy)]
struct Step {
    word: u32,
    next: (u32, u32),
}

struct Model {
    words: Vec<String>,
    follow: Vec<Step>,
    starts: Vec<(u32, u32, (u32, u32))>,
    lengths: Vec<usize>,
}

impl Model {
    fn read(path: &str) -> Model {
        let mut ids: HashMap<String, u32> = HashMap::new();
        let mut words: Vec<String> = Vec::new();
        let (mut follow, mut starts, mut lengths) = (Vec::new(), Vec::new(), Vec::new());
        let file = BufReader::new(File::open(path).expect("open the source"));
        for line in file.lines() {
            let line = line.expect("read the source");
            let value: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
            let Some(text) = value.get("text").and_then(|t| t.as_str()) else {
                continue;
            };
            let doc: Vec<u32> = text
                .split_whitespace()
                .map(|w| {
                    *ids.entry(w.to_string()).or_insert_with(|| {
                        words.push(w.to_string());
                        (words.len() - 1) as u32
                    })
                })
                .collect();
            if doc.len() < 20 {
                continue;
            }
            lengths.push(doc.len().min(400));
            starts.push((doc[0], doc[1]));
            for t in doc.windows(3) {
                follow.push(((t[0] as u64) << 32 | t[1] as u64, t[2]));
            }
        }
        follow.sort_unstable();
        let mut range: HashMap<u64, (u32, u32)> = HashMap::new();
        let mut start = 0u32;
        for group in follow.chunk_by(|x: &(u64, u32), y| x.0 == y.0) {
            let end = start + group.len() as u32;
            range.insert(group[0].0, (start, end));
            start = end;
        }
        let group = |a: u32, b: u32| range.get(&((a as u64) << 32 | b as u64)).copied();
        let follow = follow
            .iter()
            .map(|&(pair, c)| Step {
                word: c,
                next: group(pair as u32, c).unwrap_or((0, 0)),
            })
            .collect();
        let starts = starts
            .iter()
            .map(|&(a, b)| (a, b, group(a, b).unwrap_or((0, 0))))
            .collect();
        Model {
            words,
            follow,
            starts,
            lengths,
        }
    }

    /// A document of `length` words from the model.
    fn write(&self, length: usize, rng: &mut Rng, out: &mut Vec<u32>) {
        let target = out.len() + length;
        let mut group = (0, 0);
        while out.len() < target {
            let (lo, hi) = group;
            if lo == hi {
                let (a, b, next) = self.starts[rng.below(self.starts.len())];
                out.extend([a, b]);
                group = next;
                continue;
            }
            let step = self.follow[lo as usize + rng.below((hi - lo) as usize)];
            out.push(step.word);
            group = step.next;
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: trigram_corpus SOURCE_JSONL OUT_JSONL N [SEED]");
        std::process::exit(2);
    }
    let n: usize = args[3].parse().expect("N: a number of documents");
    let seed: u64 = args
        .get(4)
        .map_or(16, |s| s.parse().expect("SEED: a number"));
    let model = Model::read(&args[1]);
    let mut rng = Rng(seed);
    let tmp = format!("{}.tmp", args[2]);
    let mut out = BufWriter::with_capacity(1 << 20, File::create(&tmp).expect("create output"));
    let mut docs: Vec<Vec<u32>> = Vec::new();
    let mut text = String::new();
    for i in 0..n {
        let r = rng.unit();
        let mut words = Vec::new();
        if !docs.is_empty() && r < 0.1 {
            words = docs[rng.below(docs.len())].clone();
            let vocab = &docs[rng.below(docs.len())];
            for w in words.iter_mut() {
                if rng.unit() < 0.1 {
                    *w = vocab[rng.below(vocab.len())];
                }
            }
        } else if !docs.is_empty() && r < 0.15 {
            let base = &docs[rng.below(docs.len())];
            words.extend_from_slice(&base[..base.len() / 3]);
            model.write(15, &mut rng, &mut words);
        } else {
            let length = model.lengths[rng.below(model.lengths.len())];
            model.write(length, &mut rng, &mut words);
        }
        text.clear();
        for (k, &w) in words.iter().enumerate() {
            if k > 0 {
                text.push(' ');
            }
            text.push_str(&model.words[w as usize]);
        }
        let record = serde_json::json!({"id": i.to_string(), "text": text});
        serde_json::to_writer(&mut out, &record).expect("write");
        out.write_all(b"\n").expect("write");
        if docs.len() < 20_000 {
            docs.push(words);
        } else {
            let slot = rng.below(docs.len());
            docs[slot] = words;
        }
    }
    out.flush().expect("write");
    drop(out);
    std::fs::rename(&tmp, &args[2]).expect("rename the output into place");
}
