//! An independent check of "the kept document covers the dropped one", written apart from
//! `neardup::verify` (naively, from the documents' shingles in text order), for the audits:
//! `tests/clean_coverage.rs` and `examples/audit_clean.rs` (which includes this file by path).

use std::collections::HashSet;

use neardup::verify::DocSets;

/// How `kept` relates to `member`: Jaccard of the shingle sets, the share of the member's
/// shingles inside `kept`, the share of the member's tokens inside a shingle `kept` also has,
/// and how many of the member's distinct numbers `kept` lacks.
pub struct Relation {
    pub jaccard: f64,
    pub shingles_inside: f64,
    pub tokens_inside: f64,
    pub numbers_missing: usize,
    pub numbers: usize,
    pub size: usize,
}

pub fn relation(member: &DocSets, kept: &DocSets) -> Relation {
    let k: HashSet<u64> = kept.shingles.iter().copied().collect();
    let m: HashSet<u64> = member.shingles.iter().copied().collect();
    let inter = m.intersection(&k).count();
    let union = m.len() + k.len() - inter;
    // Token t of the member is inside when some shingle starting at t-span+1 ..= t is shared.
    let seq: Vec<u64> = member
        .order
        .iter()
        .map(|&i| member.shingles[i as usize])
        .collect();
    let span = member.span as usize;
    let tokens = if seq.is_empty() {
        0
    } else {
        seq.len() + span - 1
    };
    let inside = (0..tokens)
        .filter(|&t| {
            (t.saturating_sub(span - 1)..=t.min(seq.len() - 1)).any(|j| k.contains(&seq[j]))
        })
        .count();
    let kn: HashSet<u64> = kept.numbers.iter().copied().collect();
    Relation {
        jaccard: if union == 0 {
            0.0
        } else {
            inter as f64 / union as f64
        },
        shingles_inside: if m.is_empty() {
            0.0
        } else {
            inter as f64 / m.len() as f64
        },
        tokens_inside: if tokens == 0 {
            0.0
        } else {
            inside as f64 / tokens as f64
        },
        numbers_missing: member.numbers.iter().filter(|n| !kn.contains(n)).count(),
        numbers: member.numbers.len(),
        size: m.len(),
    }
}

impl Relation {
    /// The documented rule (README "clean"): the member's numbers are in the kept document (at
    /// most a quarter missing), and Jaccard ≥ 0.5, or the member is inside the kept one ≥ 0.6
    /// (its shingles, or its tokens less the 0.2 coverage margin) with ≥ 30 shingles.
    pub fn covered(&self) -> bool {
        let inside = self.shingles_inside.max(self.tokens_inside - 0.2);
        self.numbers_missing * 4 <= self.numbers
            && (self.jaccard >= 0.5 || (inside >= 0.6 && self.size >= 30))
    }
}
