//! The work directory's binary files: little-endian arrays of fixed-width records with no header
//! (their length gives the count; `plan.json` carries [`super::WORK_FORMAT`]). Records are
//! `zerocopy` structs of unaligned little-endian fields, read in place from the file bytes.

use std::path::Path;

use zerocopy::little_endian::{F64, U16, U32, U64, U128};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::boilerplate::{DocLines, LineEntry};
use crate::error::{Result, WorkError};
use crate::input::{Document, IdRef, TextRef};
use crate::sketch::Sketches;
use crate::verify::{Edge, Score};

/// `docs.bin`: where one document is (40 B).
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub(super) struct DocRecord {
    /// File, as an index in the shard.
    file: U32,
    line: U32,
    /// 0 raw, 1 JSON string, 2 owned.
    text_tag: u8,
    text_escaped: u8,
    /// 0 file, 1 path:line, 2 JSON string, 3 JSON scalar, 4 owned.
    id_tag: u8,
    id_escaped: u8,
    /// Text length, or index of an owned string.
    text_len: U32,
    text_start: U64,
    /// Id length, or index of an owned string.
    id_len: U32,
    /// Index in `shard.json`'s sources.
    source: U32,
    id_start: U64,
}

impl DocRecord {
    pub(super) fn new(d: &Document, source: u32) -> Self {
        let (text_tag, text_escaped, text_len, text_start) = match d.text {
            TextRef::Raw { start, len } => (0u8, false, len, start),
            TextRef::Json {
                start,
                len,
                escaped,
            } => (1, escaped, len, start),
            TextRef::Owned(i) => (2, false, i, 0),
        };
        let (id_tag, id_escaped, id_len, id_start) = match d.id {
            IdRef::File => (0u8, false, 0u32, 0u64),
            IdRef::Line => (1, false, 0, 0),
            IdRef::Json {
                start,
                len,
                escaped,
            } => (2, escaped, len, start),
            IdRef::JsonRaw { start, len } => (3, false, len, start),
            IdRef::Owned(i) => (4, false, i, 0),
        };
        DocRecord {
            file: d.file.into(),
            line: d.line.into(),
            text_tag,
            text_escaped: text_escaped as u8,
            id_tag,
            id_escaped: id_escaped as u8,
            text_len: text_len.into(),
            text_start: text_start.into(),
            id_len: id_len.into(),
            source: source.into(),
            id_start: id_start.into(),
        }
    }

    /// The document (file index as in the shard; owned indices shifted by `owned_base`) and
    /// its source index; `None` for an unknown tag.
    pub(super) fn get(&self, owned_base: u32) -> Option<(Document, u32)> {
        let (t_len, t_start) = (self.text_len.get(), self.text_start.get());
        let (i_len, i_start) = (self.id_len.get(), self.id_start.get());
        let text = match self.text_tag {
            0 => TextRef::Raw {
                start: t_start,
                len: t_len,
            },
            1 => TextRef::Json {
                start: t_start,
                len: t_len,
                escaped: self.text_escaped != 0,
            },
            2 => TextRef::Owned(t_len + owned_base),
            _ => return None,
        };
        let id = match self.id_tag {
            0 => IdRef::File,
            1 => IdRef::Line,
            2 => IdRef::Json {
                start: i_start,
                len: i_len,
                escaped: self.id_escaped != 0,
            },
            3 => IdRef::JsonRaw {
                start: i_start,
                len: i_len,
            },
            4 => IdRef::Owned(i_len + owned_base),
            _ => return None,
        };
        let doc = Document {
            file: self.file.get(),
            line: self.line.get(),
            text,
            id,
        };
        Some((doc, self.source.get()))
    }
}

/// `*.meta`: a document's exact hash and counts (24 B).
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub(super) struct MetaRecord {
    exact: U128,
    tokens: U32,
    pub(super) shingles: U32,
}

/// `lines.bin`: one distinct line of a document (16 B).
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub(super) struct LineRecord {
    hash: U64,
    first_line: U32,
    tokens: U16,
    count: u8,
    flags: u8,
}

/// `keys/band-B-R.bin`: a band key and its global document (12 B).
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub(super) struct KeyRecord {
    pub(super) key: U64,
    pub(super) doc: U32,
}

/// `part-P.bin`: a candidate pair, `a < b` (8 B).
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub(super) struct PairRecord {
    pub(super) a: U32,
    pub(super) b: U32,
}

/// `verify/part-P.bin`: an accepted edge with both directions of its score (41 B; `numbers`:
/// bit 0 `a`'s numbers in `b`, bit 1 `b`'s in `a`, bit 2 the numbers agree).
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub(super) struct EdgeRecord {
    a: U32,
    b: U32,
    jaccard: F64,
    a_in_b: F64,
    b_in_a: F64,
    size_a: U32,
    size_b: U32,
    numbers: u8,
}

impl From<&Edge> for EdgeRecord {
    fn from(e: &Edge) -> Self {
        EdgeRecord {
            a: e.a.into(),
            b: e.b.into(),
            jaccard: e.score.jaccard.into(),
            a_in_b: e.score.a_in_b.into(),
            b_in_a: e.score.b_in_a.into(),
            size_a: e.score.size_a.into(),
            size_b: e.score.size_b.into(),
            numbers: u8::from(e.score.a_numbers_in_b)
                | u8::from(e.score.b_numbers_in_a) << 1
                | u8::from(e.score.numbers_agree) << 2,
        }
    }
}

impl From<&EdgeRecord> for Edge {
    fn from(r: &EdgeRecord) -> Self {
        Edge {
            a: r.a.get(),
            b: r.b.get(),
            score: Score {
                jaccard: r.jaccard.get(),
                a_in_b: r.a_in_b.get(),
                b_in_a: r.b_in_a.get(),
                size_a: r.size_a.get(),
                size_b: r.size_b.get(),
                a_numbers_in_b: r.numbers & 1 != 0,
                b_numbers_in_a: r.numbers & 2 != 0,
                numbers_agree: r.numbers & 4 != 0,
            },
        }
    }
}

/// `bytes` (read from `path`) as records of `T`, or an error naming the file.
pub(super) fn records<'a, T>(path: &Path, bytes: &'a [u8]) -> Result<&'a [T]>
where
    T: FromBytes + KnownLayout + Immutable + Unaligned,
{
    <[T]>::ref_from_bytes(bytes).map_err(|_| {
        WorkError::Corrupt {
            path: path.to_path_buf(),
            what: format!(
                "{} bytes is not a whole number of {}-byte records",
                bytes.len(),
                size_of::<T>()
            ),
        }
        .into()
    })
}

/// Signatures as bytes (`*.sig`: `num_perm` × u32 per document).
pub(super) fn encode_u32s(v: &[u32]) -> Vec<u8> {
    v.iter()
        .map(|&x| U32::new(x))
        .collect::<Vec<_>>()
        .as_bytes()
        .to_vec()
}

/// The u32 values of `bytes` (from `path`).
pub(super) fn u32s<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a [U32]> {
    records(path, bytes)
}

/// `*.meta` of `s`.
pub(super) fn encode_meta(s: &Sketches) -> Vec<u8> {
    (0..s.len())
        .map(|d| MetaRecord {
            exact: s.exact[d].into(),
            tokens: s.tokens[d].into(),
            shingles: s.shingles[d].into(),
        })
        .collect::<Vec<_>>()
        .as_bytes()
        .to_vec()
}

/// Append the documents of a `*.meta` to `out`.
pub(super) fn decode_meta(meta: &[MetaRecord], out: &mut Sketches) {
    for r in meta {
        out.exact.push(r.exact.get());
        out.tokens.push(r.tokens.get());
        out.shingles.push(r.shingles.get());
    }
}

/// `lines.count` (u32 per document) and `lines.bin` of `lines`.
pub(super) fn encode_lines(lines: &DocLines) -> (Vec<u8>, Vec<u8>) {
    let counts: Vec<u32> = lines
        .offsets
        .windows(2)
        .map(|w| (w[1] - w[0]) as u32)
        .collect();
    let bin: Vec<LineRecord> = lines
        .entries
        .iter()
        .map(|e| LineRecord {
            hash: e.hash.into(),
            first_line: e.first_line.into(),
            tokens: e.tokens.into(),
            count: e.count,
            flags: e.flags,
        })
        .collect();
    (encode_u32s(&counts), bin.as_bytes().to_vec())
}

/// Append a shard's lines to `out`; `false` when counts and entries disagree.
pub(super) fn decode_lines(counts: &[U32], bin: &[LineRecord], out: &mut DocLines) -> bool {
    if out.offsets.is_empty() {
        out.offsets.push(0);
    }
    let base = out.entries.len();
    let mut total = 0usize;
    for c in counts {
        total += c.get() as usize;
        out.offsets.push(base + total);
    }
    out.entries.extend(bin.iter().map(|r| LineEntry {
        hash: r.hash.get(),
        first_line: r.first_line.get(),
        tokens: r.tokens.get(),
        count: r.count,
        flags: r.flags,
    }));
    bin.len() == total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_sizes_are_the_documented_layout() {
        assert_eq!(size_of::<DocRecord>(), 40);
        assert_eq!(size_of::<MetaRecord>(), 24);
        assert_eq!(size_of::<LineRecord>(), 16);
        assert_eq!(size_of::<KeyRecord>(), 12);
        assert_eq!(size_of::<PairRecord>(), 8);
        assert_eq!(size_of::<EdgeRecord>(), 41);
    }

    #[test]
    fn documents_round_trip_through_their_records() {
        let docs = [
            Document {
                file: 3,
                line: 17,
                text: TextRef::Json {
                    start: 1 << 33,
                    len: 99,
                    escaped: true,
                },
                id: IdRef::JsonRaw { start: 5, len: 2 },
            },
            Document {
                file: 0,
                line: 0,
                text: TextRef::Owned(4),
                id: IdRef::Owned(5),
            },
            Document {
                file: 1,
                line: 2,
                text: TextRef::Raw { start: 7, len: 8 },
                id: IdRef::Line,
            },
        ];
        for (i, d) in docs.iter().enumerate() {
            let r = DocRecord::new(d, i as u32 + 10);
            let bytes = r.as_bytes();
            let back = records::<DocRecord>(Path::new("x"), bytes).unwrap()[0];
            let (got, source) = back.get(0).unwrap();
            assert_eq!(got, *d);
            assert_eq!(source, i as u32 + 10);
        }
        // Owned indices are shifted by the base of the shard.
        let (got, _) = DocRecord::new(&docs[1], 0).get(100).unwrap();
        assert_eq!(got.text, TextRef::Owned(104));
        assert_eq!(got.id, IdRef::Owned(105));
    }

    #[test]
    fn a_torn_file_is_an_error_that_names_it() {
        let e = records::<EdgeRecord>(Path::new("w/verify/part-001.bin"), &[0u8; 42]).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("w/verify/part-001.bin") && msg.contains("41-byte records"),
            "{msg}"
        );
    }

    #[test]
    fn edges_round_trip() {
        let e = Edge {
            a: 1,
            b: 9,
            score: Score {
                jaccard: 0.5,
                a_in_b: 0.25,
                b_in_a: 0.75,
                size_a: 40,
                size_b: 12,
                a_numbers_in_b: false,
                b_numbers_in_a: true,
                numbers_agree: true,
            },
        };
        let r = EdgeRecord::from(&e);
        let back = Edge::from(&records::<EdgeRecord>(Path::new("x"), r.as_bytes()).unwrap()[0]);
        assert_eq!(back, e);
    }
}
