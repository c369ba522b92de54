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
use crate::verify::{Edge, Score};

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

/// A member of a cluster and its similarity to the representative.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Member {
    pub doc: DocId,
    pub score: Score,
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

/// Connected components of exact groups and edges, as clusters with the representative first
/// (members not yet scored: exact copies of the representative get 1.0, others 0.0 until
/// [`crate::verify`] fills them in).
pub fn build_clusters(
    n: usize,
    groups: &ExactGroups,
    edges: &[Edge],
    exact: &[u128],
    tokens: &[u32],
    keep: KeepPolicy,
) -> Vec<Cluster> {
    let mut uf = UnionFind::new(n);
    for g in &groups.groups {
        for &d in &g[1..] {
            uf.union(g[0], d);
        }
    }
    for e in edges {
        uf.union(e.a, e.b);
    }
    // (root, doc) for every document in a non-trivial component.
    let mut size = vec![0u32; n];
    let roots: Vec<u32> = (0..n as u32).map(|d| uf.find(d)).collect();
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
            comps.push(Vec::new());
        }
        comps[comp_of_root[r as usize] as usize].push(d);
    }
    comps
        .into_iter()
        .enumerate()
        .map(|(i, docs)| {
            let rep = match keep {
                KeepPolicy::First => docs[0],
                KeepPolicy::Longest => *docs
                    .iter()
                    .max_by_key(|&&d| (tokens[d as usize], std::cmp::Reverse(d)))
                    .expect("non-empty component"),
            };
            let all_same = docs
                .iter()
                .all(|&d| exact[d as usize] == exact[rep as usize]);
            let mut members = Vec::with_capacity(docs.len());
            let one = Score {
                jaccard: 1.0,
                containment: 1.0,
            };
            members.push(Member {
                doc: DocId(rep),
                score: one,
            });
            for &d in &docs {
                if d == rep {
                    continue;
                }
                let same = exact[d as usize] == exact[rep as usize];
                members.push(Member {
                    doc: DocId(d),
                    score: if same {
                        one
                    } else {
                        Score {
                            jaccard: 0.0,
                            containment: 0.0,
                        }
                    },
                });
            }
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
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(a: u32, b: u32) -> Edge {
        Edge {
            a,
            b,
            score: Score {
                jaccard: 0.9,
                containment: 0.9,
            },
        }
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
    fn clusters_are_components_with_representative_first_and_stable_ids() {
        let exact = [1, 2, 1, 3, 4, 5];
        let tokens = [10, 10, 10, 30, 10, 10];
        let g = exact_groups(&exact, &tokens);
        let edges = [edge(3, 1), edge(4, 5)];
        let c = build_clusters(6, &g, &edges, &exact, &tokens, KeepPolicy::First);
        let docs: Vec<Vec<u32>> = c
            .iter()
            .map(|c| c.members.iter().map(|m| m.doc.0).collect())
            .collect();
        assert_eq!(docs, vec![vec![0, 2], vec![1, 3], vec![4, 5]]);
        assert_eq!(c[0].kind, ClusterKind::Exact);
        assert_eq!(c[1].kind, ClusterKind::Near);
        // Reversed edge order gives the same clusters.
        let edges_rev = [edge(5, 4), edge(1, 3)];
        assert_eq!(
            build_clusters(6, &g, &edges_rev, &exact, &tokens, KeepPolicy::First),
            c
        );
        // keep=longest picks doc 3 (30 tokens) in the second cluster.
        let l = build_clusters(6, &g, &edges, &exact, &tokens, KeepPolicy::Longest);
        assert_eq!(l[1].keep(), DocId(3));
    }
}
