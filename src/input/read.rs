//! Reading one file: mapped or read, decompressed, checked for binary content.

use std::fs::File;
use std::io::{self, Read};

use memmap2::Mmap;

use crate::config::{FormatChoice, InputConfig};
use crate::error::{Problem, ProblemKind};

use super::*;

pub(super) fn problem(
    path: &str,
    line: Option<u64>,
    kind: ProblemKind,
    message: impl Into<String>,
) -> Problem {
    Problem {
        path: path.to_string(),
        line,
        kind,
        message: message.into(),
    }
}

/// Bytes at the start of a file that decide whether it is binary.
pub(super) const SNIFF_BYTES: usize = 8192;

/// Whether the first bytes of a file say it is not text: a text file with any NUL byte; a JSON
/// Lines file with NUL bytes in more than half of its lines there (a stray NUL inside a record
/// is that record's problem, not the file's).
pub(super) fn looks_binary(head: &[u8], format: Format) -> bool {
    let head = &head[..head.len().min(SNIFF_BYTES)];
    if memchr::memchr(0, head).is_none() {
        return false;
    }
    match format {
        Format::Text | Format::Html => true,
        Format::Jsonl
        | Format::Records
        | Format::Warc
        | Format::Csv
        | Format::Tsv
        | Format::Parquet => {
            let (mut lines, mut with_nul) = (0, 0);
            for line in head.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                lines += 1;
                with_nul += usize::from(memchr::memchr(0, line).is_some());
            }
            with_nul * 2 > lines
        }
    }
}

/// How decoding a stream ended, when it did not give the data.
pub(super) enum Refused {
    /// Binary content in the first bytes.
    Binary,
    /// A text file over the maximum document size (the bytes decoded when it was stopped).
    TooLarge(u64),
}

/// Decode a (possibly compressed) stream as it arrives: the first [`SNIFF_BYTES`] are checked
/// for binary content before anything more is read, a text file stops at `max_doc` bytes, and a
/// JSON Lines record longer than `max_doc` keeps only its first `max_doc + 1` bytes (it is then
/// skipped as too large when the file is split into records), so memory never grows past the
/// data worth keeping. A fault in the stream keeps what was decoded before it (a problem).
pub(super) fn decode<'a>(
    reader: impl Read + 'a,
    compression: Compression,
    format: Format,
    max_doc: u64,
    display: &str,
    problems: &mut Vec<Problem>,
) -> Result<Vec<u8>, Refused> {
    let mut reader = match decompressing(reader, compression) {
        Ok(r) => r,
        Err(e) => {
            problems.push(problem(
                display,
                None,
                ProblemKind::CorruptCompressed,
                e.to_string(),
            ));
            return Ok(Vec::new());
        }
    };
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    let mut checked = false;
    // Bytes of the JSON Lines record being decoded so far.
    let mut line_len = 0u64;
    let keep = max_doc.saturating_add(1);
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let kind = if compression == Compression::None {
                    ProblemKind::Unreadable
                } else {
                    ProblemKind::CorruptCompressed
                };
                problems.push(problem(
                    display,
                    None,
                    kind,
                    format!("{e}; kept the {} bytes decoded before the fault", out.len()),
                ));
                break;
            }
        };
        let bytes = &chunk[..n];
        match format {
            Format::Text | Format::Html => {
                if (out.len() + n) as u64 > max_doc {
                    return Err(Refused::TooLarge((out.len() + n) as u64));
                }
                out.extend_from_slice(bytes);
            }
            _ => {
                for (k, seg) in bytes.split(|&b| b == b'\n').enumerate() {
                    if k > 0 {
                        out.push(b'\n');
                        line_len = 0;
                    }
                    let room = keep.saturating_sub(line_len).min(seg.len() as u64) as usize;
                    out.extend_from_slice(&seg[..room]);
                    line_len += seg.len() as u64;
                }
            }
        }
        if !checked && out.len() >= SNIFF_BYTES {
            if looks_binary(&out, format) {
                return Err(Refused::Binary);
            }
            checked = true;
        }
    }
    if !checked && looks_binary(&out, format) {
        return Err(Refused::Binary);
    }
    Ok(out)
}

/// The problem for a file refused while decoding.
fn refused(name: &str, r: Refused, max_doc: u64) -> Problem {
    match r {
        Refused::Binary => problem(
            name,
            None,
            ProblemKind::Binary,
            "binary file (NUL bytes in the first 8 KiB); skipped",
        ),
        Refused::TooLarge(bytes) => problem(
            name,
            None,
            ProblemKind::TooLarge,
            format!(
                "a text document of more than {bytes} bytes, over --max-document-size {max_doc}; skipped"
            ),
        ),
    }
}

/// Open, map or read, and decompress one file (compression told by its first bytes).
pub(super) fn load_file(found: &Found, cfg: &InputConfig) -> (Option<InputFile>, Vec<Problem>) {
    let mut problems = Vec::new();
    let name = found.display.as_str();
    let max_doc = cfg.max_document_size;
    let (named, stem) = split_compression(name);
    let mut format = format_of(stem, cfg.format);
    let (data, compression, disk_bytes, mapped) = match &found.path {
        None => {
            // stdin: JSON Lines unless told otherwise; compression by magic bytes.
            if cfg.format == FormatChoice::Auto {
                format = Format::Jsonl;
            }
            let mut stdin = io::stdin().lock();
            let mut head = [0u8; 4];
            let n = read_head(&mut stdin, &mut head);
            let compression = sniff_compression(&head[..n]);
            let counted = CountingReader::new(io::Read::chain(&head[..n], stdin));
            let disk = counted.count.clone();
            match decode(counted, compression, format, max_doc, name, &mut problems) {
                Ok(data) => (Data::Owned(data), compression, disk.get(), false),
                Err(r) => {
                    problems.push(refused(name, r, max_doc));
                    return (None, problems);
                }
            }
        }
        Some(path) => {
            let mut file = match File::open(path) {
                Ok(f) => f,
                Err(e) => {
                    problems.push(problem(name, None, ProblemKind::Unreadable, e.to_string()));
                    return (None, problems);
                }
            };
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            let mut head = [0u8; 4];
            let n = read_head(&mut file, &mut head);
            let compression = sniff_compression(&head[..n]);
            if compression != named {
                let what = |c: Compression| match c {
                    Compression::None => "not compressed",
                    Compression::Gzip => "gzip",
                    Compression::Zstd => "zstd",
                };
                problems.push(problem(
                    name,
                    None,
                    ProblemKind::CompressionMismatch,
                    format!(
                        "the name says {} but the bytes are {}; read as {}",
                        what(named),
                        what(compression),
                        what(compression)
                    ),
                ));
            }
            if compression == Compression::None && format.is_whole_file() && len > max_doc {
                problems.push(refused(name, Refused::TooLarge(len), max_doc));
                return (None, problems);
            }
            if format == Format::Parquet {
                // Parquet needs random access: read from the file itself.
                drop(file);
                #[cfg(feature = "parquet")]
                let records = super::records::parquet(
                    path,
                    name,
                    &cfg.text_field,
                    &cfg.id_field,
                    cfg.source_field.as_deref(),
                    &mut problems,
                );
                #[cfg(not(feature = "parquet"))]
                {
                    let _ = path;
                    problems.push(problem(
                        name,
                        None,
                        ProblemKind::InvalidRecord,
                        "Parquet input needs neardup built with the `parquet` feature; skipped",
                    ));
                    return (None, problems);
                }
                #[cfg(feature = "parquet")]
                return (
                    Some(loaded(
                        found,
                        Format::Records,
                        Compression::None,
                        false,
                        len,
                        Data::Owned(records),
                    )),
                    problems,
                );
            }
            if matches!(format, Format::Warc | Format::Csv | Format::Tsv) {
                // Containers stream through a converter; only the records' text is kept.
                let stream = io::Read::chain(&head[..n], &file);
                let reader = match decompressing(stream, compression) {
                    Ok(r) => r,
                    Err(e) => {
                        problems.push(problem(
                            name,
                            None,
                            ProblemKind::CorruptCompressed,
                            e.to_string(),
                        ));
                        return (None, problems);
                    }
                };
                let reader = FaultNoting::new(reader);
                let fault = reader.fault.clone();
                let records = match format {
                    Format::Warc => super::records::warc(reader, name, max_doc, &mut problems),
                    _ => super::records::csv(
                        reader,
                        if format == Format::Tsv { b'\t' } else { b',' },
                        name,
                        &cfg.text_field,
                        &cfg.id_field,
                        cfg.source_field.as_deref(),
                        &mut problems,
                    ),
                };
                if let Some(e) = fault.take() {
                    let kind = if compression == Compression::None {
                        ProblemKind::Unreadable
                    } else {
                        ProblemKind::CorruptCompressed
                    };
                    if !problems.iter().any(|p| p.kind == kind) {
                        problems.push(problem(
                            name,
                            None,
                            kind,
                            format!("{e}; the records before it were kept"),
                        ));
                    }
                }
                return (
                    Some(loaded(
                        found,
                        Format::Records,
                        compression,
                        false,
                        len,
                        Data::Owned(records),
                    )),
                    problems,
                );
            }
            let mappable = compression == Compression::None
                && !cfg.no_mmap
                && len >= cfg.mmap_min_bytes
                && len > 0;
            // SAFETY: the map is read-only and private to this process. If another process
            // truncates the file while it is mapped, reading past the new end raises SIGBUS;
            // that is the documented contract (README "Bad input"): inputs must not be modified
            // during a run. Small files are read instead of mapped, and the length is checked
            // against the metadata below.
            let map = mappable
                .then(|| unsafe { Mmap::map(&file) }.ok())
                .flatten()
                .filter(|m| m.len() as u64 == len);
            match map {
                Some(m) => {
                    note_mapped(path, len);
                    if looks_binary(&m, format) {
                        problems.push(refused(name, Refused::Binary, max_doc));
                        return (None, problems);
                    }
                    (Data::Mapped(m), compression, len, true)
                }
                None => {
                    let rest = io::Read::chain(&head[..n], &file);
                    match decode(rest, compression, format, max_doc, name, &mut problems) {
                        Ok(data) => (Data::Owned(data), compression, len, false),
                        Err(r) => {
                            problems.push(refused(name, r, max_doc));
                            return (None, problems);
                        }
                    }
                }
            }
        }
    };
    // A whole-file JSON array (`[ {...}, {...} ]`), not a line that merely starts with `[`.
    if format == Format::Jsonl
        && data.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
        && data.iter().rev().find(|b| !b.is_ascii_whitespace()) == Some(&b']')
    {
        problems.push(problem(
            name,
            None,
            ProblemKind::NotJsonLines,
            "a JSON array, not JSON Lines (one object per line); skipped (convert it with `jq -c '.[]'`)",
        ));
        return (None, problems);
    }
    (
        Some(loaded(found, format, compression, mapped, disk_bytes, data)),
        problems,
    )
}

/// The input file `found` as read.
fn loaded(
    found: &Found,
    format: Format,
    compression: Compression,
    mapped: bool,
    disk_bytes: u64,
    data: Data,
) -> InputFile {
    InputFile {
        path: found.display.clone(),
        id_base: found.id_base.clone(),
        from_dir: found.from_dir,
        format,
        compression,
        mapped,
        disk_bytes,
        data,
        rel: found.rel.clone(),
        content_xxh3: std::sync::OnceLock::new(),
    }
}

/// Read up to `buf.len()` bytes (fewer only at the end of the stream).
fn read_head(r: &mut impl Read, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    n
}

/// A reader that counts the bytes read through it (standard input's size on "disk").
struct CountingReader<R> {
    inner: R,
    count: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R> CountingReader<R> {
    fn new(inner: R) -> Self {
        CountingReader {
            inner,
            count: Default::default(),
        }
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

pub(super) fn sniff_compression(raw: &[u8]) -> Compression {
    if raw.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if raw.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Files memory-mapped by this process, with their lengths when mapped: what a SIGBUS handler
/// reports when an input shrank under the map (see [`report_shrunk_mapped_files`]).
static MAPPED: std::sync::Mutex<Vec<(std::ffi::CString, u64)>> = std::sync::Mutex::new(Vec::new());

fn note_mapped(path: &std::path::Path, len: u64) {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        if let (Ok(c), Ok(mut m)) = (
            std::ffi::CString::new(path.as_os_str().as_bytes()),
            MAPPED.lock(),
        ) {
            m.push((c, len));
        }
    }
}

/// For a SIGBUS handler: write to standard error (with `write(2)` and `stat(2)` only, which
/// are async-signal-safe) every mapped input that is now shorter than when it was mapped. Does
/// nothing if the list is being updated at that moment.
///
/// # Safety
/// Only call from a signal handler or a single thread; it reads the list without allocating.
#[cfg(unix)]
pub unsafe fn report_shrunk_mapped_files() {
    let Ok(list) = MAPPED.try_lock() else {
        return;
    };
    for (path, len) in list.iter() {
        // SAFETY: `st` is written by `stat` before it is read; `path` is NUL-terminated.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            let shrunk = libc::stat(path.as_ptr(), &mut st) != 0 || (st.st_size as u64) < *len;
            if shrunk {
                let head = b"neardup: ";
                let tail = b": changed (shrank) while it was read memory-mapped\n";
                let p = path.as_bytes();
                libc::write(2, head.as_ptr().cast(), head.len());
                libc::write(2, p.as_ptr().cast(), p.len());
                libc::write(2, tail.as_ptr().cast(), tail.len());
            }
        }
    }
}

/// `reader` decompressed as `compression` says.
fn decompressing<'a>(
    reader: impl Read + 'a,
    compression: Compression,
) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match compression {
        Compression::None => Box::new(reader),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(reader)),
        Compression::Zstd => {
            let mut d = zstd::stream::read::Decoder::new(reader)?;
            // Allow long-window frames (zstd --long=27 and beyond).
            let _ = d.window_log_max(31);
            Box::new(d)
        }
    })
}

/// A reader that remembers its first error (a converter may stop at it quietly), so the
/// loss is reported once.
struct FaultNoting<R> {
    inner: R,
    fault: std::rc::Rc<std::cell::Cell<Option<io::Error>>>,
}

impl<R> FaultNoting<R> {
    fn new(inner: R) -> Self {
        FaultNoting {
            inner,
            fault: Default::default(),
        }
    }
}

impl<R: Read> Read for FaultNoting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            if e.kind() != io::ErrorKind::Interrupted {
                let old = self.fault.take();
                self.fault
                    .set(old.or_else(|| Some(io::Error::new(e.kind(), e.to_string()))));
            }
        })
    }
}
