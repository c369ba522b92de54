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
    /// Score of the pair (representative, member): `a` is the representative.
    pub score: Score,
    pub matched: MatchKind,
    /// The representative covers this member, so `clean` drops it: Jaccard at or above the
    /// threshold, or the member inside the representative at or above the containment
    /// threshold ([`Score::a_covers_b`]). Always false for the representative itself.
    pub drop: bool,
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
pub(crate) struct UnionFind {
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
pub(crate) fn exact_groups(exact: &[u128], tokens: &[u32]) -> ExactGroups {
    let mut keyed: Vec<(u128, u32)> = (0..exact.len() as u32)
        .filter(|&d| tokens[d as usize] > 0)
        .map(|d| (exact[d as usize], d))
        .collect();
    keyed.par_sort_unstable();
    let mut out = ExactGroups::default();
    for group in keyed.chunk_by(|x, y| x.0 == y.0) {
        out.lsh_members.push(group[0].1);
        if group.len() > 1 {
            out.groups.push(group.iter().map(|&(_, d)| d).collect());
        }
    }
    out.groups.sort_unstable_by_key(|g| g[0]);
    out.lsh_members.sort_unstable();
    out
}

/// Connected components (of two or more documents) of exact groups and verified edges, each
/// sorted, in order of their first document.
pub(crate) fn components(n: usize, groups: &ExactGroups, edges: &[Edge]) -> Vec<Vec<u32>> {
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
    /// Documents contained in a centre that were kept out of its cluster because they share
    /// nothing with the cluster's other parts (the other story of a page carrying two).
    pub parts_split_off: u64,
    /// Documents holding a centre that holds less than they do (the centre is a piece of them)
    /// that were kept out of its cluster because they do not match the biggest such document:
    /// two articles quoting one statement or one shared paragraph.
    pub containers_split_off: u64,
    /// Members that match their cluster's centre but not the kept representative (`matched`
    /// is `via_centre`).
    pub members_not_matching_representative: u64,
    /// Members the representative does not cover: `clean` keeps them.
    pub members_not_covered: u64,
    /// Of the members the representative covers by shingles, those whose numbers it lacks
    /// (see [`crate::verify::numbers_covered`]): `clean` keeps them too.
    pub numbers_not_covered: u64,
}

/// Two parts of one centre are parts of one story when the smaller has at least this share of its
/// shingles in the larger: a teaser and an edited excerpt of one article share far more, two
/// unrelated stories of one roundup page share next to nothing.
pub const PART_OVERLAP: f64 = 0.1;

/// Candidates for the representative of one cluster, besides its centre (the fuller versions).
const MAX_REPRESENTATIVE_CANDIDATES: usize = 4;

/// What is left of a component after a round is scored against a new centre as it stands while
/// it has at most this many documents (finding copies that LSH did not propose); a bigger rest
/// is first split into the parts that verified matches still connect. Every round scores the
/// whole rest against its centre, so a rest that lost its only connection — thousands of
/// otherwise unrelated articles that each quote one statement in full, joined through the
/// statement — would otherwise cost a score for nearly every pair of them, one round per
/// document.
pub const RESCORE_REST_UP_TO: usize = 32;

/// Clusters from components, guarded against chaining and against pages that carry two stories.
///
/// In each component the document with the most verified matches (ties: `keep` priority) is a
/// centre and takes every remaining document that `criterion` matches *directly* with it; the
/// rest form the next round (star clustering), split first into the parts verified matches
/// connect when it has more than [`RESCORE_REST_UP_TO`] documents. So every member is similar
/// to its cluster's centre, never only through a chain of others. Members that are only a
/// *part* of the centre (inside it by containment, but not covering it) make the centre suspect
/// of carrying several stories: then every member must also overlap the centre's biggest part,
/// the anchor, by [`PART_OVERLAP`] (measured, or certain because together they hold more than
/// the whole centre), so a page carrying two unrelated stories takes the copies of one of them,
/// never both.
///
/// The kept representative is a member that *covers* every other member
/// ([`Score::a_covers_b`]): the centre, or a fuller version of it (an article over its teaser);
/// `keep` decides among those that qualify. When none covers all, the one covering most is kept,
/// and the members it does not cover are marked as not dropped. Every member is scored against
/// the representative. `score` gives exact or estimated scores of pairs `(a, b)`, oriented;
/// `known` are scores already verified, reused.
pub(crate) fn center_clusters(
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
        .map(|e| {
            if e.a <= e.b {
                (e.a, e.b, e.score)
            } else {
                (e.b, e.a, e.score.swapped())
            }
        })
        .collect();
    known.sort_unstable_by_key(|&(a, b, _)| (a, b));
    let lookup = |a: u32, b: u32| {
        let key = (a.min(b), a.max(b));
        known
            .binary_search_by_key(&key, |&(x, y, _)| (x, y))
            .ok()
            .map(|i| {
                if a <= b {
                    known[i].2
                } else {
                    known[i].2.swapped()
                }
            })
    };
    let same = |a: u32, b: u32| exact[a as usize] == exact[b as usize];
    // Oriented scores of `pairs`: identical copies and known pairs without work, the rest in one
    // call to `score`.
    // (The lookups run in parallel: tens of thousands of binary searches per call.)
    let mut scores_of = |pairs: &[(u32, u32)]| -> crate::Result<Vec<Score>> {
        let found: Vec<Option<Score>> = pairs
            .par_iter()
            .map(|&(a, b)| {
                if same(a, b) {
                    Some(Score::IDENTICAL)
                } else {
                    lookup(a, b)
                }
            })
            .collect();
        let need: Vec<(u32, u32)> = pairs
            .iter()
            .zip(&found)
            .filter(|(_, f)| f.is_none())
            .map(|(&p, _)| p)
            .collect();
        let mut fresh = score(&need)?.into_iter();
        Ok(found
            .into_iter()
            .map(|f| f.unwrap_or_else(|| fresh.next().unwrap_or(Score::NONE)))
            .collect())
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
        .into_par_iter()
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
    // A part of `centre`: a member that does not cover it (`a_in_b`: share of the centre in d).
    let is_part = |d: u32, s: &Score, centre: u32| {
        criterion
            .containment
            .is_some_and(|cthr| !same(centre, d) && s.a_in_b < cthr)
    };
    // Two members holding shares `x` and `y` of the centre's shingles share at least
    // `x + y - 1` of them (pigeonhole): when that is already PART_OVERLAP of the smaller share,
    // they overlap in the centre and need no check (an edited copy and a heavy excerpt of one
    // article that share few shingles with each other, each much of the article).
    let overlap_certain = |x: f64, y: f64| x + y - 1.0 >= PART_OVERLAP * x.min(y);
    // A container of the centre (`s` scores (centre, d)): the centre lies inside `d` at the
    // containment threshold, while `d` is neither inside the centre nor a Jaccard match — the
    // centre is a piece of it (a teaser, a shared paragraph, a statement quoted in full).
    let is_container = |s: &Score| {
        criterion
            .containment
            .is_some_and(|c| s.a_in_b >= c && s.b_in_a < c && s.jaccard < criterion.jaccard)
    };
    // A document's verified matches: those after it in `known`, those before it in `before`
    // (built the first time a rest is split).
    let mut before: Vec<(u32, u32)> = Vec::new();
    let mut first_round = true;
    // Built clusters: the centre first, each member with its score from the centre.
    let mut built: Vec<Vec<(u32, Score)>> = Vec::new();
    while !active.is_empty() {
        let pairs: Vec<(u32, u32)> = active
            .iter()
            .flat_map(|c| c[1..].iter().map(move |&d| (c[0], d)))
            .collect();
        let mut from_centre = scores_of(&pairs)?.into_iter();
        // Members matching their centre, per component, and the anchor each must also match.
        let mut matched: Vec<Vec<(u32, Score)>> = Vec::with_capacity(active.len());
        let mut rest: Vec<Vec<u32>> = Vec::with_capacity(active.len());
        let mut anchor_pairs = Vec::new();
        let mut anchors: Vec<Option<(u32, f64)>> = Vec::with_capacity(active.len());
        let mut bigs: Vec<Option<u32>> = Vec::with_capacity(active.len());
        let mut container_pairs = Vec::new();
        for c in &active {
            let centre = c[0];
            let mut m = vec![(centre, Score::IDENTICAL)];
            let mut r = Vec::new();
            for &d in &c[1..] {
                let s = from_centre.next().unwrap_or(Score::NONE);
                if same(centre, d) || criterion.matches(&s).is_some() {
                    m.push((d, s));
                } else {
                    r.push(d);
                }
            }
            let anchor = m[1..]
                .iter()
                .filter(|(d, s)| is_part(*d, s, centre))
                .max_by(|x, y| x.1.a_in_b.total_cmp(&y.1.a_in_b).then(y.0.cmp(&x.0)))
                .map(|&(d, s)| (d, s.a_in_b));
            if let Some((a, share)) = anchor {
                anchor_pairs.extend(
                    m[1..]
                        .iter()
                        .filter(|(d, s)| *d != a && !overlap_certain(s.a_in_b, share))
                        .map(|&(d, _)| (a, d)),
                );
            }
            // The biggest container, when the centre lies inside two or more members.
            let containers: Vec<u32> = m[1..]
                .iter()
                .filter(|(_, s)| is_container(s))
                .map(|&(d, _)| d)
                .collect();
            let big = (containers.len() > 1)
                .then(|| {
                    containers
                        .iter()
                        .copied()
                        .max_by_key(|&d| (tokens[d as usize], std::cmp::Reverse(d)))
                })
                .flatten();
            if let Some(b) = big {
                container_pairs.extend(containers.iter().filter(|&&d| d != b).map(|&d| (b, d)));
            }
            anchors.push(anchor);
            bigs.push(big);
            matched.push(m);
            rest.push(r);
        }
        let mut from_anchor = scores_of(&anchor_pairs)?.into_iter();
        let mut from_big = scores_of(&container_pairs)?.into_iter();
        let mut next = Vec::new();
        for ((((mut members, anchor), big), mut r), comp) in matched
            .into_iter()
            .zip(anchors)
            .zip(bigs)
            .zip(rest)
            .zip(&active)
        {
            if anchor.is_some() || big.is_some() {
                let centre = members[0].0;
                let mut kept = Vec::with_capacity(members.len());
                let mut split = false;
                for (d, s) in members {
                    // Copies and parts of one story share much of it; two stories of one page
                    // share next to nothing. One score per member that needed one, in order.
                    let fits_part = match anchor {
                        Some((a, share)) => {
                            d == centre
                                || d == a
                                || overlap_certain(s.a_in_b, share)
                                || from_anchor.next().unwrap_or(Score::NONE).containment()
                                    >= PART_OVERLAP
                        }
                        None => true,
                    };
                    // Two documents that each hold the centre share that piece; they are one
                    // story only if they match each other.
                    let fits_container = match big {
                        Some(b) if d != b && is_container(&s) => criterion
                            .matches(&from_big.next().unwrap_or(Score::NONE))
                            .is_some(),
                        _ => true,
                    };
                    if fits_part && fits_container {
                        kept.push((d, s));
                    } else {
                        if fits_part {
                            stats.containers_split_off += 1;
                        } else {
                            stats.parts_split_off += 1;
                        }
                        r.push(d);
                        split = true;
                    }
                }
                if split {
                    // The rest keeps the component's order (centres by degree, then priority).
                    let out: std::collections::HashSet<u32> = r.iter().copied().collect();
                    r = comp.iter().copied().filter(|d| out.contains(d)).collect();
                }
                members = kept;
            }
            if first_round && !r.is_empty() {
                stats.components_split += 1;
                stats.documents_split_off += r.len() as u64;
            }
            if members.len() > 1 {
                built.push(members);
            } else {
                stats.documents_left_alone += 1;
            }
            if r.len() > RESCORE_REST_UP_TO {
                if before.is_empty() {
                    before = known.iter().map(|&(a, b, _)| (b, a)).collect();
                    before.sort_unstable();
                }
                let matches_of = |d: u32| {
                    let after = known.partition_point(|e| e.0 < d);
                    let after = known[after..]
                        .iter()
                        .take_while(move |e| e.0 == d)
                        .map(|e| e.1);
                    let first = before.partition_point(|e| e.0 < d);
                    let earlier = before[first..]
                        .iter()
                        .take_while(move |e| e.0 == d)
                        .map(|e| e.1);
                    after.chain(earlier)
                };
                for part in connected_parts(&r, exact, matches_of) {
                    match part.len() {
                        1 => stats.documents_left_alone += 1,
                        _ => next.push(part),
                    }
                }
                continue;
            }
            match r.len() {
                0 => {}
                1 => stats.documents_left_alone += 1,
                _ => next.push(r),
            }
        }
        active = next;
        first_round = false;
    }
    // The representative: candidates are the centre, the `keep` choice and the biggest members,
    // each only if it covers the centre (a representative must cover every member).
    let candidates: Vec<Vec<u32>> = built
        .par_iter()
        .map(|m| {
            let centre = m[0].0;
            let covers_centre = |&(d, s): &(u32, Score)| {
                d == centre || same(centre, d) || s.swapped().a_covers_b(criterion)
            };
            let mut by_priority: Vec<u32> =
                m.iter().filter(|x| covers_centre(x)).map(|x| x.0).collect();
            by_priority.sort_by_key(|&d| priority(d));
            let mut by_size = by_priority.clone();
            by_size.sort_by_key(|&d| (std::cmp::Reverse(tokens[d as usize]), d));
            let mut c: Vec<u32> = Vec::with_capacity(MAX_REPRESENTATIVE_CANDIDATES + 2);
            for d in by_priority
                .iter()
                .take(1)
                .chain(std::iter::once(&centre))
                .chain(&by_size)
            {
                if c.len() > MAX_REPRESENTATIVE_CANDIDATES {
                    break;
                }
                if !c.iter().any(|&x| same(x, *d)) {
                    c.push(*d);
                }
            }
            c
        })
        .collect();
    let pairs: Vec<(u32, u32)> = built
        .iter()
        .zip(&candidates)
        .flat_map(|(m, cands)| {
            cands
                .iter()
                .flat_map(move |&k| m.iter().filter(move |x| x.0 != k).map(move |x| (k, x.0)))
        })
        .collect();
    let mut scored = scores_of(&pairs)?.into_iter();
    let mut clusters: Vec<(u32, Vec<Member>)> = Vec::with_capacity(built.len());
    for (m, cands) in built.iter().zip(&candidates) {
        // Per candidate: its scores against every other member (in member order), and how many
        // of them it covers.
        let per_cand: Vec<(u32, Vec<Score>, usize)> = cands
            .iter()
            .map(|&k| {
                let s: Vec<Score> = m
                    .iter()
                    .filter(|x| x.0 != k)
                    .map(|_| scored.next().unwrap_or(Score::NONE))
                    .collect();
                let covered = s.iter().filter(|s| s.a_covers_b(criterion)).count();
                (k, s, covered)
            })
            .collect();
        let all = m.len() - 1;
        let best = per_cand
            .iter()
            .min_by_key(|(k, _, covered)| (covered != &all, all - covered, priority(*k)))
            .expect("the centre is always a candidate");
        let (rep, rep_scores, _) = best;
        let mut members = vec![Member {
            doc: DocId(*rep),
            score: Score::IDENTICAL,
            matched: MatchKind::Representative,
            drop: false,
        }];
        for (&(d, _), &s) in m.iter().filter(|x| x.0 != *rep).zip(rep_scores) {
            let kind = if same(*rep, d) {
                Some(MatchKind::Exact)
            } else {
                criterion.matches(&s)
            };
            if kind.is_none() {
                stats.members_not_matching_representative += 1;
            }
            let drop = s.a_covers_b(criterion);
            if !drop {
                stats.members_not_covered += 1;
                let shingles_only = Score {
                    b_numbers_in_a: true,
                    ..s
                };
                if shingles_only.a_covers_b(criterion) {
                    stats.numbers_not_covered += 1;
                }
            }
            members.push(Member {
                doc: DocId(d),
                score: s,
                matched: kind.unwrap_or(MatchKind::ViaCentre),
                drop,
            });
        }
        members[1..].sort_unstable_by_key(|m| m.doc);
        let first = m.iter().map(|x| x.0).min().unwrap_or(*rep);
        clusters.push((first, members));
    }
    clusters.sort_unstable_by_key(|(first, m)| (*first, m[0].doc));
    let clusters = clusters
        .into_iter()
        .enumerate()
        .map(|(i, (_, members))| {
            let rep = members[0].doc.0;
            let all_same = members.iter().all(|m| same(m.doc.0, rep));
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

/// The parts of `docs` that identical copies and `matches_of` (a document's verified matches,
/// which may lie outside `docs`) connect, each in the order of `docs`, ordered by their first
/// document's place there.
fn connected_parts<I: Iterator<Item = u32>>(
    docs: &[u32],
    exact: &[u128],
    matches_of: impl Fn(u32) -> I,
) -> Vec<Vec<u32>> {
    let place: std::collections::HashMap<u32, u32> = docs
        .iter()
        .enumerate()
        .map(|(i, &d)| (d, i as u32))
        .collect();
    let mut uf = UnionFind::new(docs.len());
    let mut copies: std::collections::HashMap<u128, u32> = std::collections::HashMap::new();
    for (i, &d) in docs.iter().enumerate() {
        let i = i as u32;
        let first = *copies.entry(exact[d as usize]).or_insert(i);
        uf.union(first, i);
        for m in matches_of(d) {
            if let Some(&j) = place.get(&m) {
                uf.union(i, j);
            }
        }
    }
    // Roots are the smallest places: a part is numbered when its first document is met.
    let mut part_of_root = vec![u32::MAX; docs.len()];
    let mut parts: Vec<Vec<u32>> = Vec::new();
    for (i, &d) in docs.iter().enumerate() {
        let root = uf.find(i as u32) as usize;
        if part_of_root[root] == u32::MAX {
            part_of_root[root] = parts.len() as u32;
            parts.push(Vec::new());
        }
        parts[part_of_root[root] as usize].push(d);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sc(j: f64) -> Score {
        Score {
            jaccard: j,
            a_in_b: j,
            b_in_a: j,
            size_a: 100,
            size_b: 100,
            a_numbers_in_b: true,
            b_numbers_in_a: true,
            numbers_agree: true,
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
        assert_eq!(ids(&c), vec![vec![1, 0, 2], vec![3, 4]]);
        // Kept: the centre 1, since 0 (first) does not cover 2; so every member is dropped for
        // a document that covers it.
        assert_eq!(c[0].members[1].matched, MatchKind::Jaccard);
        assert_eq!(c[0].members[2].matched, MatchKind::Jaccard);
        assert!(c[0].members[1..].iter().all(|m| m.drop));
        assert_eq!(stats.members_not_matching_representative, 0);
        assert_eq!((stats.components_split, stats.documents_split_off), (1, 2));
        assert_eq!(stats.documents_left_alone, 0);
    }

    /// Star clustering over documents given as shingle sets, with exact scores, every pair that
    /// matches `criterion` an edge, and containment on at 0.6.
    fn cluster_sets(sets: &[Vec<u64>], keep: KeepPolicy) -> (Vec<Cluster>, ChainStats) {
        let (clusters, stats, _) = cluster_sets_scored(sets, keep);
        (clusters, stats)
    }

    /// [`cluster_sets`], and how many pairs clustering scored.
    fn cluster_sets_scored(
        sets: &[Vec<u64>],
        keep: KeepPolicy,
    ) -> (Vec<Cluster>, ChainStats, usize) {
        let crit = Criterion {
            jaccard: 0.5,
            containment: Some(0.6),
        };
        let score =
            |a: u32, b: u32| crate::verify::score_sets(&sets[a as usize], &sets[b as usize]);
        let n = sets.len() as u32;
        let mut edges = Vec::new();
        for a in 0..n {
            for b in a + 1..n {
                let s = score(a, b);
                if crit.matches(&s).is_some() {
                    edges.push(Edge { a, b, score: s });
                }
            }
        }
        let exact: Vec<u128> = (0..n as u128).collect();
        let tokens: Vec<u32> = sets.iter().map(|s| s.len() as u32).collect();
        let groups = exact_groups(&exact, &tokens);
        let comps = components(sets.len(), &groups, &edges);
        let mut scored = 0;
        let (clusters, stats) = center_clusters(comps, keep, &exact, &tokens, &crit, &edges, |p| {
            scored += p.len();
            Ok(p.iter().map(|&(a, b)| score(a, b)).collect())
        })
        .unwrap();
        (clusters, stats, scored)
    }

    /// A story of 100 shingles starting at `base`, with `edit` of them replaced.
    fn story(base: u64, edit: u64) -> Vec<u64> {
        let mut v: Vec<u64> = (base..base + 100 - edit)
            .chain(9_000_000 + base * 7 + edit..9_000_000 + base * 7 + 2 * edit)
            .collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn a_page_carrying_two_stories_never_merges_their_clusters() {
        // Story A (0..100) and B (1000..1100), two copies of each, and a roundup page with both.
        let a = story(0, 0);
        let b = story(1000, 0);
        let mut roundup: Vec<u64> = a.iter().chain(&b).copied().collect();
        roundup.sort_unstable();
        let sets = vec![
            roundup,
            a.clone(),
            story(0, 5),
            b.clone(),
            story(1000, 5),
            story(0, 8),
            story(1000, 8),
        ];
        let (c, stats) = cluster_sets(&sets, KeepPolicy::First);
        let mut got = ids(&c);
        for g in &mut got {
            g.sort_unstable();
        }
        got.sort();
        // The roundup goes with one story; the other story is a cluster of its own.
        assert_eq!(got.len(), 2, "{got:?}");
        let with_a = got.iter().any(|g| g == &vec![0, 1, 2, 5]);
        let with_b = got.iter().any(|g| g == &vec![0, 3, 4, 6]);
        assert!(with_a || with_b, "{got:?}");
        assert!(
            got.contains(&vec![1, 2, 5]) || got.contains(&vec![3, 4, 6]),
            "{got:?}"
        );
        assert!(stats.parts_split_off >= 3);
        // Nothing is lost: every dropped member is covered by its representative.
        for cl in &c {
            for m in &cl.members[1..] {
                assert!(
                    !m.drop || m.score.jaccard >= 0.5 || m.score.b_in_a >= 0.6,
                    "{cl:?}"
                );
            }
        }
    }

    #[test]
    fn the_fuller_version_is_kept_over_its_teaser() {
        // A teaser (the first 40 shingles) comes first in input order; the article and an
        // edited copy follow.
        let article = story(0, 0);
        let teaser: Vec<u64> = article[..40].to_vec();
        let (c, _) = cluster_sets(&[teaser, article, story(0, 4)], KeepPolicy::First);
        assert_eq!(c.len(), 1);
        // Kept: the article (the first that covers everyone), not the teaser.
        assert_eq!(c[0].keep(), DocId(1));
        assert!(c[0].members[1..].iter().all(|m| m.drop));
        let teaser = c[0].members.iter().find(|m| m.doc == DocId(0)).unwrap();
        assert_eq!(teaser.matched, MatchKind::Containment);
        assert_eq!((teaser.score.b_in_a, teaser.score.a_in_b), (1.0, 0.4));
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

    #[test]
    fn two_articles_quoting_one_piece_are_not_one_story() {
        // 0: a statement of 40 shingles (the centre: both articles hold it); 1 and 2: two
        // articles quoting it in full, otherwise unrelated; 3: a light edit of article 1.
        let piece: Vec<u64> = (0..40).collect();
        let with = |extra: std::ops::Range<u64>| -> Vec<u64> {
            let mut v: Vec<u64> = piece.iter().copied().chain(extra).collect();
            v.sort_unstable();
            v
        };
        let sets = vec![
            piece.clone(),
            with(1000..1100),
            with(2000..2100),
            with(1000..1090),
        ];
        let (c, stats) = cluster_sets(&sets, KeepPolicy::Longest);
        // Article 2 leaves: it matches the statement, not article 1, the biggest holder.
        assert_eq!(ids(&c), vec![vec![1, 0, 3]]);
        assert_eq!(stats.containers_split_off, 1);
        // Holders that match each other are one story: 1 and 3 both stay.
        let (c, stats) = cluster_sets(
            &[sets[0].clone(), sets[1].clone(), sets[3].clone()],
            KeepPolicy::Longest,
        );
        assert_eq!(ids(&c), vec![vec![1, 0, 2]]);
        assert_eq!(stats.containers_split_off, 0);
    }

    /// A statement quoted in full by many otherwise unrelated articles joins them all in one
    /// component. Once the statement's cluster is built, what is left is split by verified
    /// matches instead of scored round after round against a new centre: the same clusters,
    /// with scores linear in the number of articles, not quadratic.
    #[test]
    fn a_statement_quoted_by_many_articles_costs_scores_linear_in_them() {
        let articles = 4 * RESCORE_REST_UP_TO as u64;
        let piece: Vec<u64> = (0..40).collect();
        let mut sets = vec![piece.clone()];
        for i in 0..articles {
            // Article i: the statement and 100 + i shingles of its own (the last is biggest).
            let own = 1000 + i * 1000..1000 + i * 1000 + 100 + i;
            let mut v: Vec<u64> = piece.iter().copied().chain(own).collect();
            v.sort_unstable();
            sets.push(v);
        }
        // Two articles that match each other besides the statement: 1 and a light edit of it.
        let mut edit = sets[1].clone();
        edit.truncate(edit.len() - 5);
        sets.push(edit);
        let n = sets.len() as u32;
        let (c, stats, scored) = cluster_sets_scored(&sets, KeepPolicy::Longest);
        assert_eq!(stats.components, 1);
        // The statement goes with the biggest article; article 1 and its edit are a cluster of
        // their own; every other article is alone.
        let biggest = articles as u32;
        assert_eq!(ids(&c), vec![vec![biggest, 0], vec![1, n - 1]]);
        assert_eq!(stats.documents_left_alone, articles - 2);
        // The statement's round scores each article twice (against the statement and against
        // the biggest article); the rest costs a few more, not one round per article.
        assert!(scored < 3 * n as usize, "{scored} scores for {n} documents");
    }

    #[test]
    fn connected_parts_follow_copies_and_matches_in_the_given_order() {
        // Documents 9, 4, 7, 2, 5: 4 and 2 are copies; 7 matches 5 and 3 (3 is not among them).
        let exact: Vec<u128> = vec![0, 1, 40, 3, 40, 5, 6, 7, 8, 9];
        let matches = |d: u32| -> std::vec::IntoIter<u32> {
            match d {
                7 => vec![5, 3],
                5 => vec![7],
                3 => vec![7],
                _ => vec![],
            }
            .into_iter()
        };
        let parts = connected_parts(&[9, 4, 7, 2, 5], &exact, matches);
        assert_eq!(parts, vec![vec![9], vec![4, 2], vec![7, 5]]);
    }
}
