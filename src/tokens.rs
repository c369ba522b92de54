//! Pass 1's token hashes, kept for pass 2 and verification so that neither normalises a text
//! again.
//!
//! Normalising is most of the cost of sketching a text. Pass 2 (a document sketched again
//! without its boilerplate lines) and exact verification (a document's shingle set) used to
//! normalise the whole text a second and third time; on whole books that is most of the run.
//! Pass 1 already has every line's token hashes in hand, so it writes them down, and the later
//! passes shingle straight from them: the same hashes in the same order give the same
//! signatures, exact hashes and shingle sets, byte for byte.
//!
//! The hashes (8 bytes a token, about the size of the text itself) go to an unnamed temporary
//! file in the system's temporary directory (`TMPDIR`, else `/tmp`), not to memory: the run's
//! memory stays where it was, the operating system's page cache serves the reads while there
//! is room, and the file disappears with the process however it ends. The file takes at most
//! half of the free space of its file system; a document that does not fit, a write that
//! fails, or a system without positional file I/O simply has no record, and its text is
//! normalised again as before (same result, only slower). Word shingles only: character
//! shingles need the normalised characters, which are not kept.
//!
//! A document's record, in 64-bit words, one entry per non-empty line in text order: a header
//! (`numbers << 32 | tokens`), the hashes of the line's numbers
//! ([`crate::verify::push_numbers`]), then its token hashes. With its numbers there, a record
//! stands in for the text entirely: the later passes neither validate nor unescape it again.

use std::fs::File;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use crate::shingle::LineTokens;

/// Records of pass-1 token hashes, by document (see the module documentation).
pub(crate) struct TokenStore {
    file: File,
    /// Next free byte of the file.
    next: AtomicU64,
    /// Bytes the file may take.
    limit: u64,
    /// A write failed: nothing more is written (records already written stay valid).
    failed: AtomicBool,
    /// Per document: the record's first word in the file, and its length in words (0: none).
    at: Vec<AtomicU64>,
    words: Vec<AtomicU32>,
}

impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenStore")
            .field("bytes", &self.next.load(Ordering::Relaxed))
            .field("limit", &self.limit)
            .finish()
    }
}

impl TokenStore {
    /// A store for `docs` documents in the system's temporary directory; `None` where that is not
    /// possible (no temporary directory, no space, no positional I/O).
    pub fn create(docs: usize) -> Option<TokenStore> {
        let dir = std::env::temp_dir();
        let limit = free_bytes(&dir)? / 2;
        Self::create_in(&dir, docs, limit)
    }

    /// A store in `dir` that takes at most `limit` bytes.
    pub fn create_in(dir: &std::path::Path, docs: usize, limit: u64) -> Option<TokenStore> {
        if !cfg!(unix) || limit == 0 {
            return None;
        }
        let file = tempfile::tempfile_in(dir).ok()?;
        Some(TokenStore {
            file,
            next: AtomicU64::new(0),
            limit,
            failed: AtomicBool::new(false),
            at: (0..docs).map(|_| AtomicU64::new(0)).collect(),
            words: (0..docs).map(|_| AtomicU32::new(0)).collect(),
        })
    }

    /// Store the records of consecutive documents `first..first + ends.len()`: `buf` holds them
    /// one after another, record `j` ending at word `ends[j]`. A block that does not fit, or
    /// whose write fails, leaves its documents without records.
    pub fn put(&self, first: usize, ends: &[usize], buf: &[u64]) {
        if buf.is_empty() || self.failed.load(Ordering::Relaxed) {
            return;
        }
        let bytes = (buf.len() * 8) as u64;
        let start = self.next.fetch_add(bytes, Ordering::Relaxed);
        if start.saturating_add(bytes) > self.limit {
            return;
        }
        if write_at(&self.file, as_bytes(buf), start).is_err() {
            self.failed.store(true, Ordering::Relaxed);
            return;
        }
        let mut from = 0;
        for (j, &end) in ends.iter().enumerate() {
            let len = end - from;
            if len > 0 && len <= u32::MAX as usize {
                self.at[first + j].store(start / 8 + from as u64, Ordering::Relaxed);
                self.words[first + j].store(len as u32, Ordering::Relaxed);
            }
            from = end;
        }
    }

    /// Document `d`'s record read into `buf`; `None` when it has none (or reading fails).
    pub fn get<'b>(&self, d: usize, buf: &'b mut Vec<u64>) -> Option<&'b [u64]> {
        let words = self.words.get(d)?.load(Ordering::Relaxed) as usize;
        if words == 0 {
            return None;
        }
        let at = self.at[d].load(Ordering::Relaxed);
        buf.clear();
        buf.resize(words, 0);
        read_at(&self.file, as_bytes_mut(buf), at * 8).ok()?;
        Some(&buf[..])
    }
}

/// Append one line's entry to a record: `line` normalised from `raw`.
#[inline]
pub(crate) fn push_line(rec: &mut Vec<u64>, line: &LineTokens, raw: &str) {
    let at = rec.len();
    rec.push(line.hashes.len() as u64);
    if line.digits {
        crate::verify::push_numbers(raw, rec);
        rec[at] |= ((rec.len() - at - 1) as u64) << 32;
    }
    rec.extend_from_slice(&line.hashes);
}

/// One line of a record.
pub(crate) struct StoredLine<'a> {
    /// The hashes of the line's numbers.
    pub numbers: &'a [u64],
    pub hashes: &'a [u64],
}

/// The lines of `rec`.
pub(crate) fn lines(rec: &[u64]) -> impl Iterator<Item = StoredLine<'_>> {
    let mut i = 0;
    std::iter::from_fn(move || {
        let header = *rec.get(i)?;
        let (numbers, tokens) = ((header >> 32) as usize, (header & 0xFFFF_FFFF) as usize);
        let numbers_at = i + 1;
        let hashes_at = numbers_at + numbers;
        i = hashes_at + tokens;
        Some(StoredLine {
            numbers: rec.get(numbers_at..hashes_at)?,
            hashes: rec.get(hashes_at..i)?,
        })
    })
}

fn as_bytes(v: &[u64]) -> &[u8] {
    // SAFETY: u64 has no padding and every byte pattern is a valid u8; same memory, same length.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), v.len() * 8) }
}

fn as_bytes_mut(v: &mut [u64]) -> &mut [u8] {
    // SAFETY: as in `as_bytes`; every byte pattern is also a valid u64.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), v.len() * 8) }
}

#[cfg(unix)]
fn write_at(file: &File, buf: &[u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, at)
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, at)
}

#[cfg(not(unix))]
fn write_at(_: &File, _: &[u8], _: u64) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

#[cfg(not(unix))]
fn read_at(_: &File, _: &mut [u8], _: u64) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// Free bytes for an unprivileged user on the file system of `dir`.
#[cfg(unix)]
fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: `path` is a valid C string and `st` a properly sized, writable statvfs.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

#[cfg(not(unix))]
fn free_bytes(_: &std::path::Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(hashes: &[u64], digits: bool) -> LineTokens {
        let mut l = LineTokens::new(1, false);
        l.hashes.extend_from_slice(hashes);
        l.digits = digits;
        l
    }

    #[test]
    fn records_round_trip_with_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::create_in(dir.path(), 3, 1 << 20).unwrap();
        let mut buf = Vec::new();
        push_line(&mut buf, &line(&[1, 2], false), "alpha beta");
        push_line(&mut buf, &line(&[3, 4, 5], true), "Pay 30 April, 1,250.5");
        let first = buf.len();
        // Document 1 has no non-empty line (an empty record); document 2 one line.
        push_line(&mut buf, &line(&[9], false), "x");
        store.put(0, &[first, first, buf.len()], &buf);

        let mut out = Vec::new();
        let rec = store.get(0, &mut out).unwrap().to_vec();
        let got: Vec<_> = lines(&rec)
            .map(|l| (l.numbers.to_vec(), l.hashes.to_vec()))
            .collect();
        let mut numbers = Vec::new();
        crate::verify::push_numbers("Pay 30 April, 1,250.5", &mut numbers);
        assert_eq!(numbers.len(), 2);
        assert_eq!(got, vec![(vec![], vec![1, 2]), (numbers, vec![3, 4, 5])]);
        assert!(store.get(1, &mut out).is_none());
        assert_eq!(store.get(2, &mut out).unwrap(), &[1, 9]);
    }

    #[test]
    fn no_store_where_the_directory_cannot_take_one() {
        let dir = tempfile::tempdir().unwrap();
        assert!(TokenStore::create_in(&dir.path().join("missing"), 3, 1 << 20).is_none());
        assert!(TokenStore::create_in(dir.path(), 3, 0).is_none());
        assert!(free_bytes(&dir.path().join("missing")).is_none());
    }

    #[test]
    fn a_block_over_the_limit_leaves_its_documents_without_records() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::create_in(dir.path(), 2, 40).unwrap();
        let mut buf = Vec::new();
        push_line(&mut buf, &line(&[1, 2, 3], false), "");
        store.put(0, &[buf.len()], &buf); // 32 bytes: fits
        store.put(1, &[buf.len()], &buf); // 64 in all: over 40
        let mut out = Vec::new();
        assert_eq!(store.get(0, &mut out).unwrap(), &[3, 1, 2, 3]);
        assert!(store.get(1, &mut out).is_none());
    }
}
