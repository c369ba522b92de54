//! Per-stage benchmarks, each group with a baseline over the same bytes (xxh3-64 of the text), so
//! the numbers read as ratios on a noisy machine: `cargo bench --bench stages`.
//!
//! Input: the Arabic fixture articles plus English text from the JSONL fixture, repeated to
//! ~1 MB. Correctness is asserted inside the timed code where it is cheap.

use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use neardup::config::{Banding, ScanConfig, ShingleKind};
use neardup::normalize::{Normalizer, Profile, TokenSink};
use neardup::pipeline::{self, Context};
use neardup::progress::NoProgress;
use neardup::sketch::{SketchParams, Sketcher, Sketches};
use xxhash_rust::xxh3::xxh3_64;

fn corpus() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/news");
    let mut docs: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    docs.sort();
    let wire = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/jsonl/wire.jsonl"),
    )
    .unwrap();
    for line in wire.lines() {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line)
            && let Some(t) = v["text"].as_str()
        {
            docs.push(t.to_string());
        }
    }
    let mut out = Vec::new();
    let mut bytes = 0;
    let mut i = 0;
    while bytes < 1 << 20 {
        // Vary each copy a little so they are not identical.
        let d = format!("{} {i}", docs[i % docs.len()]);
        bytes += d.len();
        out.push(d);
        i += 1;
    }
    out
}

struct Count(usize);
impl TokenSink for Count {
    fn token(&mut self, _: &str) {
        self.0 += 1;
    }
}

fn params() -> SketchParams {
    SketchParams {
        profile: Profile::Full,
        shingle: ShingleKind::Word,
        ngram: 5,
        num_perm: 128,
        seed: 1,
    }
}

fn bench_stages(c: &mut Criterion) {
    let docs = corpus();
    let bytes: usize = docs.iter().map(|d| d.len()).sum();

    let mut g = c.benchmark_group("normalize");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("baseline_xxh3", |b| {
        b.iter(|| {
            docs.iter()
                .map(|d| xxh3_64(d.as_bytes()))
                .fold(0, |a, h| a ^ h)
        })
    });
    let mut n = Normalizer::new(Profile::Full);
    g.bench_function("normalize_full", |b| {
        b.iter(|| {
            let mut c = Count(0);
            for d in &docs {
                n.run(black_box(d), &mut c);
            }
            assert!(c.0 > bytes / 20);
            c.0
        })
    });
    g.finish();

    let mut g = c.benchmark_group("sketch");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("baseline_xxh3", |b| {
        b.iter(|| {
            docs.iter()
                .map(|d| xxh3_64(d.as_bytes()))
                .fold(0, |a, h| a ^ h)
        })
    });
    let mut sk = Sketcher::new(params());
    let mut sig = vec![0u32; 128];
    g.bench_function("normalize_shingle_minhash", |b| {
        b.iter(|| {
            let mut tokens = 0;
            for d in &docs {
                tokens += sk.sketch(black_box(d), &[], &mut sig).tokens;
            }
            assert!(tokens > 0);
            tokens
        })
    });
    let mut set = Vec::new();
    g.bench_function("shingle_set_for_verify", |b| {
        b.iter(|| {
            let mut total = 0;
            for d in &docs {
                sk.shingle_set(black_box(d), &[], &mut set);
                total += set.len();
            }
            total
        })
    });
    g.finish();

    // LSH over 100k random signatures with 1% planted identical pairs.
    let k = 128;
    let n_docs = 100_000u32;
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut sigs: Vec<u32> = (0..n_docs as usize * k)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u32
        })
        .collect();
    for d in (0..n_docs as usize).step_by(100) {
        let (a, b) = sigs.split_at_mut((d + 1) * k);
        b[..k].copy_from_slice(&a[d * k..]);
    }
    let sketches = Sketches {
        num_perm: k,
        signatures: sigs,
        // Distinct documents, all with tokens: every one takes part in LSH.
        exact: (0..n_docs as u128).collect(),
        tokens: vec![100; n_docs as usize],
        shingles: vec![96; n_docs as usize],
    };
    let mut opts = ScanConfig::new(vec!["-".into()]);
    opts.containment = None;
    opts.banding = Some(Banding { bands: 32, rows: 4 });
    let cfg = opts.validate().unwrap();
    let cancel = AtomicBool::new(false);
    let cx = Context::new(&cfg, &NoProgress, &cancel);
    let groups = pipeline::exact(&cx, &sketches);
    let mut g = c.benchmark_group("lsh");
    g.throughput(Throughput::Elements(n_docs as u64));
    g.bench_function("candidates_100k_docs_32x4", |b| {
        b.iter(|| {
            let p = pipeline::candidates(&cx, &sketches, &groups).unwrap();
            assert!(p.pairs.len() >= 1000);
            p.pairs.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_stages);
criterion_main!(benches);
