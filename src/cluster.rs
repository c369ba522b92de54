//! Stages 4 and 6b: exact-duplicate groups, then union-find over verified edges into clusters.
//!
//! Exact duplicates (same hash of the normalised token sequence) are grouped by sorting
//! `(hash, doc)`; only the first document of each group goes on to LSH, since its copies have the
//! same signature. Clusters are the connected components of exact groups plus verified edges.
//! Union-find always makes the smaller document index the root, so components — and every id and
//! order derived from them — are independent of edge order and thread count.

use rayon::prelude::*;

use crate::config::KeepPolicy;
use crate::input::DocId;
use crate::verify::{Criterion, Edge, MatchKind, Score};

/// Index of a cluster in `clusters.jsonl` (clusters ordered by their first document).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct ClusterId(pub u32);

/// Whether all members are identical after normalisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterKind {
    Exact,
    Near,
}

/// A member of a cluster, its similarity to the representative, and why it matches it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Member {
    pub doc: DocId,
    pub score: Score,
    pub matched: MatchKind,
}

/// A cluster of two or more documents; `members[0]` is the kept representative.
#[derive(Clone, Debug, PartialEq)]
pub struct Cluster {
    pub id: ClusterId,
    pub kind: ClusterKind,
    pub members: Vec<Member>,
}

impl Cluster {
    pub fn keep(&self) -> DocId {
        self.members[0].doc
    }
}

/// Union-find with path halving; the root of a set is always its smallest element.
#[derive(Clone, Debug)]
pub struct UnionFind {
    parent: Vec<u32>,
}

impl UnionFind {
    pub fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n as u32).collect(),
        }
    }

    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
    }

    /// Join the sets of `a` and `b`; returns whether they were separate.
    pub fn union(&mut self, a: u32, b: u32) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.parent[hi as usize] = lo;
        true
    }
}

/// Exact-duplicate groups.
#[derive(Debug, Default)]
pub struct ExactGroups {
    /// Groups of 2+ documents with identical normalised text, each sorted, ordered by first doc.
    pub groups: Vec<Vec<u32>>,
    /// Documents that take part in LSH: one per group (its first) plus every unique document,
    /// excluding documents with no tokens. Sorted.
    pub lsh_members: Vec<u32>,
}

/// Group documents by their exact hash; documents with no tokens are left out.
pub fn exact_groups(exact: &[u128], tokens: &[u32]) -> ExactGroups {
    let mut keyed: Vec<(u128, u32)> = (0..exact.len() as u32)
        .filter(|&d| tokens[d as usize] > 0)
        .map(|d| (exact[d as usize], d))
        .collect();
    keyed.par_sort_unstable();
    let mut out = ExactGroups::default();
    let mut i = 0;
    while i < keyed.len() {
        let mut j = i + 1;
        while j < keyed.len() && keyed[j].0 == keyed[i].0 {
            j += 1;
        }
        out.lsh_members.push(keyed[i].1);
        if j - i > 1 {
            out.groups
                .push(keyed[i..j].iter().map(|&(_, d)| d).collect());
        }
        i = j;
    }
    out.groups.sort_unstable_by_key(|g| g[0]);
    out.lsh_members.sort_unstable();
    out
}

/// Connected components (of two or more documents) of exact groups and verified edges, each
/// sorted, in order of their first document.
pub fn components(n: usize, groups: &ExactGroups, edges: &[Edge]) -> Vec<Vec<u32>> {
    let mut uf = UnionFind::new(n);
    for g in &groups.groups {
        for &d in &g[1..] {
            uf.union(g[0], d);
        }
    }
    for e in edges {
        uf.union(e.a, e.b);
    }
    let roots: Vec<u32> = (0..n as u32).map(|d| uf.find(d)).collect();
    let mut size = vec![0u32; n];
    for &r in &roots {
        size[r as usize] += 1;
    }
    let mut comps: Vec<Vec<u32>> = Vec::new();
    let mut comp_of_root: Vec<u32> = vec![u32::MAX; n];
    for d in 0..n as u32 {
        let r = roots[d as usize];
        if size[r as usize] < 2 {
            continue;
        }
        if comp_of_root[r as usize] == u32::MAX {
            comp_of_root[r as usize] = comps.len() as u32;
            comps.push(Vec::with_capacity(size[r as usize] as usize));
        }
        comps[comp_of_root[r as usize] as usize].push(d);
    }
    comps
}

/// How much the chaining guard changed.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct ChainStats {
    /// Connected components of two or more documents.
    pub components: u64,
    /// Components that did not become one cluster.
    pub components_split: u64,
    /// Documents not similar to their component's first representative (re-clustered or alone).
    pub documents_split_off: u64,
    /// Of those, documents similar to no centre: they stay unclustered.
    pub documents_left_alone: u64,
    /// Members that match their cluster's centre but not the kept representative (`matched`
    /// is `via_centre`).
    pub members_not_matching_representative: u64,
}

/// Clusters from components, guarded against chaining. In each component the document with the
/// most verified matches (ties: `keep` priority) is a centre and takes every remaining document
/// that `criterion` matches *directly* with it; the rest form the next round (star clustering).
/// So every member is similar to its cluster's centre, never only through a chain of others.
/// The kept representative is then the `keep` choice among the members, and every member is
/// scored against it (`score` gives exact or estimated scores of pairs; `known` are scores
/// already verified, reused).
pub fn center_clusters(
    comps: Vec<Vec<u32>>,
    keep: KeepPolicy,
    exact: &[u128],
    tokens: &[u32],
    criterion: &Criterion,
    known: &[Edge],
    mut score: impl FnMut(&[(u32, u32)]) -> crate::Result<Vec<Score>>,
) -> crate::Result<(Vec<Cluster>, ChainStats)> {
    let mut known: Vec<(u32, u32, Score)> = known
        .iter()
        .map(|e| (e.a.min(e.b), e.a.max(e.b), e.score))
        .collect();
    known.sort_unstable_by_key(|&(a, b, _)| (a, b));
    let lookup = |a: u32, b: u32| {
        let key = (a.min(b), a.max(b));
        known
            .binary_search_by_key(&key, |&(x, y, _)| (x, y))
            .ok()
            .map(|i| known[i].2)
    };
    // Verified matches per document (edges), for choosing centres.
    let mut degree = vec![0u32; exact.len()];
    for &(a, b, _) in &known {
        degree[a as usize] += 1;
        degree[b as usize] += 1;
    }
    let priority = |d: u32| match keep {
        KeepPolicy::First => (0, d),
        KeepPolicy::Longest => (u32::MAX - tokens[d as usize], d),
    };
    let mut stats = ChainStats {
        components: comps.len() as u64,
        ..Default::default()
    };
    let mut active: Vec<Vec<u32>> = comps
        .into_iter()
        .map(|mut c| {
            // Exact copies count as matches too.
            let mut copies: std::collections::HashMap<u128, u32> = std::collections::HashMap::new();
            for &d in &c {
                *copies.entry(exact[d as usize]).or_default() += 1;
            }
            let deg = |d: u32| degree[d as usize] + copies[&exact[d as usize]] - 1;
            c.sort_by_cached_key(|&d| (std::cmp::Reverse(deg(d)), priority(d)));
            c
        })
        .collect();
    let mut first_round = true;
    let mut built: Vec<Vec<u32>> = Vec::new();
    let zero = Score {
        jaccard: 0.0,
        containment: 0.0,
        min_size: 0,
    };
    while !active.is_empty() {
        let mut pairs = Vec::new();
        for c in &active {
            let center = c[0];
            for &d in &c[1..] {
                if exact[d as usize] != exact[center as usize] && lookup(center, d).is_none() {
                    pairs.push((center, d));
                }
            }
        }
        let scored = score(&pairs)?;
        let mut fresh = scored.into_iter();
        let mut next = Vec::new();
        for c in active {
            let center = c[0];
            let mut members = vec![center];
            let mut rest = Vec::new();
            for &d in &c[1..] {
                let matched = exact[d as usize] == exact[center as usize] || {
                    let s = match lookup(center, d) {
                        Some(s) => s,
                        None => fresh.next().unwrap_or(zero),
                    };
                    criterion.matches(&s).is_some()
                };
                if matched {
                    members.push(d);
                } else {
                    rest.push(d);
                }
            }
            if first_round && !rest.is_empty() {
                stats.components_split += 1;
                stats.documents_split_off += rest.len() as u64;
            }
            if members.len() > 1 {
                built.push(members);
            } else {
                stats.documents_left_alone += 1;
            }
            match rest.len() {
                0 => {}
                1 => stats.documents_left_alone += 1,
                _ => next.push(rest),
            }
        }
        active = next;
        first_round = false;
    }
    // The kept representative of each cluster, and every member's score against it.
    for m in &mut built {
        m.sort_by_key(|&d| priority(d));
    }
    let mut pairs = Vec::new();
    for m in &built {
        for &d in &m[1..] {
            if exact[d as usize] != exact[m[0] as usize] && lookup(m[0], d).is_none() {
                pairs.push((m[0], d));
            }
        }
    }
    let mut fresh = score(&pairs)?.into_iter();
    let mut clusters: Vec<(u32, Vec<Member>)> = built
        .into_iter()
        .map(|m| {
            let rep = m[0];
            let mut members = vec![Member {
                doc: DocId(rep),
                score: Score::IDENTICAL,
                matched: MatchKind::Exact,
            }];
            for &d in &m[1..] {
                let (s, kind) = if exact[d as usize] == exact[rep as usize] {
                    (Score::IDENTICAL, Some(MatchKind::Exact))
                } else {
                    let s = lookup(rep, d).unwrap_or_else(|| fresh.next().unwrap_or(zero));
                    (s, criterion.matches(&s))
                };
                if kind.is_none() {
                    stats.members_not_matching_representative += 1;
                }
                members.push(Member {
                    doc: DocId(d),
                    score: s,
                    matched: kind.unwrap_or(MatchKind::ViaCentre),
                });
            }
            members[1..].sort_unstable_by_key(|m| m.doc);
            (*m.iter().min().unwrap_or(&rep), members)
        })
        .collect();
    clusters.sort_unstable_by_key(|(first, m)| (*first, m[0].doc));
    let clusters = clusters
        .into_iter()
        .enumerate()
        .map(|(i, (_, members))| {
            let rep = members[0].doc.0 as usize;
            let all_same = members
                .iter()
                .all(|m| exact[m.doc.0 as usize] == exact[rep]);
            Cluster {
                id: ClusterId(i as u32),
                kind: if all_same {
                    ClusterKind::Exact
                } else {
                    ClusterKind::Near
                },
                members,
            }
        })
        .collect();
    Ok((clusters, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sc(j: f64) -> Score {
        Score {
            jaccard: j,
            containment: j,
            min_size: 100,
        }
    }

    fn edge(a: u32, b: u32) -> Edge {
        Edge {
            a,
            b,
            score: sc(0.9),
        }
    }

    const HALF: Criterion = Criterion {
        jaccard: 0.5,
        containment: None,
    };

    fn ids(c: &[Cluster]) -> Vec<Vec<u32>> {
        c.iter()
            .map(|c| c.members.iter().map(|m| m.doc.0).collect())
            .collect()
    }

    #[test]
    fn union_find_root_is_smallest_and_union_is_idempotent() {
        let mut uf = UnionFind::new(6);
        assert!(uf.union(4, 2));
        assert!(uf.union(5, 4));
        assert!(!uf.union(2, 5));
        assert_eq!(uf.find(5), 2);
        assert_eq!(uf.find(3), 3);
    }

    #[test]
    fn exact_groups_skip_empty_docs_and_pick_first_for_lsh() {
        let exact = [7, 9, 7, 0, 0, 9, 11];
        let tokens = [5, 5, 5, 0, 0, 5, 5];
        let g = exact_groups(&exact, &tokens);
        assert_eq!(g.groups, vec![vec![0, 2], vec![1, 5]]);
        assert_eq!(g.lsh_members, vec![0, 1, 6]);
    }

    #[test]
    fn components_join_exact_groups_and_edges_in_any_order() {
        let exact = [1, 2, 1, 3, 4, 5];
        let tokens = [10; 6];
        let g = exact_groups(&exact, &tokens);
        let a = components(6, &g, &[edge(3, 1), edge(4, 5)]);
        let b = components(6, &g, &[edge(5, 4), edge(1, 3)]);
        assert_eq!(a, vec![vec![0, 2], vec![1, 3], vec![4, 5]]);
        assert_eq!(a, b);
    }

    #[test]
    fn a_chain_does_not_pull_unrelated_documents_into_a_cluster() {
        // A chain 0~1 (0.8), 1~2 (0.6), 2~3 (0.8), 3~4 (0.8); nothing else is similar.
        let exact = [1, 2, 3, 4, 5];
        let tokens = [10; 5];
        let pair_score = |a: u32, b: u32| match (a.min(b), a.max(b)) {
            (0, 1) => 0.8,
            (1, 2) => 0.6,
            (2, 3) | (3, 4) => 0.8,
            _ => 0.1,
        };
        let edges: Vec<Edge> = [(0, 1), (1, 2), (2, 3), (3, 4)]
            .iter()
            .map(|&(a, b)| Edge {
                a,
                b,
                score: sc(pair_score(a, b)),
            })
            .collect();
        let (c, stats) = center_clusters(
            vec![vec![0, 1, 2, 3, 4]],
            KeepPolicy::First,
            &exact,
            &tokens,
            &HALF,
            &edges,
            |p| Ok(p.iter().map(|&(a, b)| sc(pair_score(a, b))).collect()),
        )
        .unwrap();
        // Centre 1 (two matches, first) takes 0 and 2; 3 and 4 form their own cluster. Without
        // the guard, union-find would put all five in one cluster.
        assert_eq!(ids(&c), vec![vec![0, 1, 2], vec![3, 4]]);
        // Kept: 0 (first). 2 matches the centre 1, not 0 itself, and says so.
        assert_eq!(c[0].members[1].matched, MatchKind::Jaccard);
        assert_eq!(c[0].members[2].matched, MatchKind::ViaCentre);
        assert_eq!(stats.members_not_matching_representative, 1);
        assert_eq!((stats.components_split, stats.documents_split_off), (1, 2));
        assert_eq!(stats.documents_left_alone, 0);
    }

    #[test]
    fn exact_copies_are_exact_clusters_and_keep_longest_picks_the_representative() {
        let exact = [1, 1, 2];
        let tokens = [10, 10, 30];
        let edges = [
            Edge {
                a: 0,
                b: 2,
                score: sc(0.7),
            },
            Edge {
                a: 1,
                b: 2,
                score: sc(0.7),
            },
        ];
        let run = |keep| {
            center_clusters(
                vec![vec![0, 1, 2]],
                keep,
                &exact,
                &tokens,
                &HALF,
                &edges,
                |p| Ok(p.iter().map(|_| sc(0.7)).collect()),
            )
            .unwrap()
            .0
        };
        let first = run(KeepPolicy::First);
        assert_eq!(ids(&first), vec![vec![0, 1, 2]]);
        assert_eq!(first[0].members[1].matched, MatchKind::Exact);
        assert_eq!(first[0].kind, ClusterKind::Near);
        assert_eq!(run(KeepPolicy::Longest)[0].keep(), DocId(2));
        let only_copies = center_clusters(
            vec![vec![0, 1]],
            KeepPolicy::First,
            &exact,
            &tokens,
            &HALF,
            &[],
            |_| Ok(vec![]),
        )
        .unwrap()
        .0;
        assert_eq!(only_copies[0].kind, ClusterKind::Exact);
    }
}
