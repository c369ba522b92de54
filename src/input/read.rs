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

/// Read a whole (possibly compressed) stream; a fault keeps what was decoded before it.
pub(super) fn read_stream(
    reader: impl Read,
    compression: Compression,
    display: &str,
    problems: &mut Vec<Problem>,
) -> Vec<u8> {
    let mut buf = Vec::new();
    let result = match compression {
        Compression::None => { reader }.read_to_end(&mut buf),
        Compression::Gzip => flate2::read::MultiGzDecoder::new(reader).read_to_end(&mut buf),
        Compression::Zstd => match zstd::stream::read::Decoder::new(reader) {
            Ok(mut d) => {
                // Allow long-window frames (zstd --long=27 and beyond).
                let _ = d.window_log_max(31);
                d.read_to_end(&mut buf)
            }
            Err(e) => Err(e),
        },
    };
    if let Err(e) = result {
        let kind = if compression == Compression::None {
            ProblemKind::Unreadable
        } else {
            ProblemKind::CorruptCompressed
        };
        problems.push(problem(
            display,
            None,
            kind,
            format!("{e}; kept the {} bytes decoded before the fault", buf.len()),
        ));
    }
    buf
}

/// Open, map or read, and decompress one file.
pub(super) fn load_file(found: &Found, cfg: &InputConfig) -> (Option<InputFile>, Vec<Problem>) {
    let mut problems = Vec::new();
    let name = found.display.as_str();
    let (mut compression, stem) = split_compression(name);
    let mut format = format_of(stem, cfg.format);
    let (data, disk_bytes, mapped) = match &found.path {
        None => {
            // stdin: JSON Lines unless told otherwise; compression by magic bytes.
            if cfg.format == FormatChoice::Auto {
                format = Format::Jsonl;
            }
            let mut raw = Vec::new();
            if let Err(e) = io::stdin().lock().read_to_end(&mut raw) {
                problems.push(problem(name, None, ProblemKind::Unreadable, e.to_string()));
                return (None, problems);
            }
            compression = sniff_compression(&raw);
            let disk = raw.len() as u64;
            let data = if compression == Compression::None {
                raw
            } else {
                read_stream(&raw[..], compression, name, &mut problems)
            };
            (Data::Owned(data), disk, false)
        }
        Some(path) => {
            let file = match File::open(path) {
                Ok(f) => f,
                Err(e) => {
                    problems.push(problem(name, None, ProblemKind::Unreadable, e.to_string()));
                    return (None, problems);
                }
            };
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            if compression != Compression::None {
                let data = read_stream(&file, compression, name, &mut problems);
                (Data::Owned(data), len, false)
            } else if !cfg.no_mmap && len >= cfg.mmap_min_bytes && len > 0 {
                // SAFETY: the map is read-only and private to this process. If another process
                // truncates the file while it is mapped, reading past the new end raises SIGBUS;
                // that is the documented contract (README "Bad input"): inputs must not be
                // modified during a run. Small files are read instead of mapped, and the length
                // is checked against the metadata below.
                match unsafe { Mmap::map(&file) } {
                    Ok(m) if m.len() as u64 == len => (Data::Mapped(m), len, true),
                    _ => (
                        Data::Owned(read_stream(&file, Compression::None, name, &mut problems)),
                        len,
                        false,
                    ),
                }
            } else {
                let data = read_stream(&file, Compression::None, name, &mut problems);
                (Data::Owned(data), len, false)
            }
        }
    };
    let head = &data[..data.len().min(8192)];
    if head.contains(&0) {
        problems.push(problem(
            name,
            None,
            ProblemKind::Binary,
            "binary file (NUL bytes in the first 8 KiB); skipped",
        ));
        return (None, problems);
    }
    (
        Some(InputFile {
            path: found.display.clone(),
            id_base: found.id_base.clone(),
            from_dir: found.from_dir,
            format,
            compression,
            mapped,
            disk_bytes,
            data,
        }),
        problems,
    )
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
