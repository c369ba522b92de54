//! Splitting loaded files into documents: a text file is one, a JSON Lines file one per
//! non-blank line, cut into pieces parsed in parallel.

use std::borrow::Cow;
use std::path::Path;

use rayon::prelude::*;

use crate::config::InputConfig;
use crate::error::{Problem, ProblemKind};

use super::*;

/// Documents, owned strings and problems found in one piece of one file.
#[derive(Default)]
pub(super) struct Piece {
    docs: Vec<Document>,
    owned: Vec<String>,
    /// Distinct outlets of the piece in order of first appearance, and whether each is an
    /// outlet; `doc_outlet[i]` indexes it for `docs[i]`.
    outlets: Vec<(String, bool)>,
    source_ids: std::collections::HashMap<String, u32>,
    doc_outlet: Vec<u32>,
    problems: Vec<Problem>,
    skipped: u64,
    lines: u64,
}

impl Piece {
    /// Record the source of the document just pushed (interned: no allocation for a source
    /// already seen in the piece).
    fn push_source(&mut self, name: Cow<'_, str>, outlet: bool) {
        let id = match self.outlets.last() {
            Some((last, _)) if *last == *name => self.outlets.len() as u32 - 1,
            _ => match self.source_ids.get(name.as_ref()) {
                Some(&id) => id,
                None => {
                    let id = self.outlets.len() as u32;
                    self.source_ids.insert(name.to_string(), id);
                    self.outlets.push((name.into_owned(), outlet));
                    id
                }
            },
        };
        self.doc_outlet.push(id);
    }
}

/// Split loaded files into documents and assemble the corpus; `disambiguate` makes ids unique
/// (a shard of a staged run leaves that to the stage that sees every shard). `ranges[i]`, when
/// given, limits JSON Lines file `i` to those bytes (cut at line starts; line numbers then count
/// from the start of the range).
pub(crate) fn build(
    files: Vec<InputFile>,
    mut problems: Vec<Problem>,
    skipped_files: u64,
    mut skipped_documents: u64,
    cfg: &InputConfig,
    disambiguate: bool,
    ranges: &[Option<std::ops::Range<usize>>],
) -> Corpus {
    // Whole files (a scan, not a staged task's ranges) are fingerprinted alongside their
    // indexing, while their pages are read anyway.
    let fingerprint = disambiguate && ranges.iter().all(Option::is_none);
    let (pieces, ()): (Vec<Vec<Piece>>, ()) = rayon::join(
        || {
            files
                .par_iter()
                .enumerate()
                .map(|(i, f)| index_file(i as u32, f, cfg, ranges.get(i).cloned().flatten()))
                .collect()
        },
        || {
            if fingerprint {
                files.par_iter().for_each(|f| {
                    f.content_xxh3();
                });
            }
        },
    );
    let mut asm = Assembler::new(std::mem::take(&mut problems), skipped_files);
    for (file_pieces, file) in pieces.into_iter().zip(&files) {
        let mut line_base = 0u64;
        for mut p in file_pieces {
            for pr in &mut p.problems {
                if let Some(l) = &mut pr.line {
                    *l += line_base;
                }
                debug_assert_eq!(pr.path, file.path);
            }
            asm.add(p.docs, p.owned, p.outlets, &p.doc_outlet, |d| {
                if d.line > 0 {
                    d.line += line_base as u32;
                }
            });
            asm.corpus.problems.append(&mut p.problems);
            skipped_documents += p.skipped;
            line_base += p.lines;
        }
    }
    asm.corpus.files = files;
    asm.corpus.skipped_documents = skipped_documents;
    let mut corpus = asm.corpus;
    if disambiguate {
        corpus.finish(cfg);
    }
    corpus
}

/// Target size of the pieces a JSON Lines file is cut into for parallel parsing.
pub(super) const PIECE_BYTES: usize = 1 << 20;

pub(super) fn index_file(
    file_idx: u32,
    file: &InputFile,
    cfg: &InputConfig,
    range: Option<std::ops::Range<usize>>,
) -> Vec<Piece> {
    let data: &[u8] = &file.data;
    match file.format {
        Format::Text => {
            let mut piece = Piece::default();
            let text = match std::str::from_utf8(data) {
                Ok(_) => TextRef::Raw {
                    start: 0,
                    len: data.len().min(u32::MAX as usize) as u32,
                },
                Err(e) => {
                    piece.problems.push(problem(
                        &file.path,
                        None,
                        ProblemKind::InvalidUtf8,
                        format!(
                            "invalid UTF-8 at byte {}; replaced with U+FFFD",
                            e.valid_up_to()
                        ),
                    ));
                    piece.owned.push(String::from_utf8_lossy(data).into_owned());
                    TextRef::Owned(0)
                }
            };
            piece.docs.push(Document {
                file: file_idx,
                line: 0,
                text,
                id: IdRef::File,
            });
            let parent = Path::new(&file.path)
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            piece.push_source(Cow::Owned(parent), true);
            vec![piece]
        }
        Format::Html => {
            let mut piece = Piece::default();
            let page = super::html::extract(data, None);
            piece.owned.push(page.text);
            piece.docs.push(Document {
                file: file_idx,
                line: 0,
                text: TextRef::Owned(0),
                id: IdRef::File,
            });
            // The site: the top directory under the argument (a `wget -r` mirror's host), else
            // the file's directory.
            let site = match file.id_base.split_once('/') {
                Some((top, _)) if file.from_dir => top.to_string(),
                _ => Path::new(&file.path)
                    .parent()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            };
            piece.push_source(Cow::Owned(site), true);
            vec![piece]
        }
        Format::Warc | Format::Csv | Format::Tsv | Format::Parquet => {
            unreachable!("containers are converted to records when read")
        }
        Format::Jsonl | Format::Records => {
            // Records converted from a container have fixed field names.
            let records_cfg;
            let cfg = if file.format == Format::Records {
                records_cfg = InputConfig {
                    text_field: super::records::TEXT.into(),
                    id_field: super::records::ID.into(),
                    source_field: Some(super::records::SOURCE.into()),
                    ..cfg.clone()
                };
                &records_cfg
            } else {
                cfg
            };
            // Cut at newlines into ~1 MiB pieces, parse pieces in parallel.
            let range = range.unwrap_or(0..data.len());
            let (mut first, last) = (range.start.min(data.len()), range.end.min(data.len()));
            // A UTF-8 byte order mark before the first record is not part of it.
            if first == 0 && data.starts_with(b"\xef\xbb\xbf") {
                first = 3;
            }
            let mut bounds = vec![first];
            let mut at = first;
            while at < last {
                let target = (at + PIECE_BYTES).min(last);
                let end = if target == last {
                    target
                } else {
                    match memchr::memchr(b'\n', &data[target..last]) {
                        Some(p) => target + p + 1,
                        None => last,
                    }
                };
                bounds.push(end);
                at = end;
            }
            bounds
                .par_windows(2)
                .map(|w| index_jsonl_piece(file_idx, file, w[0], w[1], cfg))
                .collect()
        }
    }
}

pub(super) fn index_jsonl_piece(
    file_idx: u32,
    file: &InputFile,
    start: usize,
    end: usize,
    cfg: &InputConfig,
) -> Piece {
    let data: &[u8] = &file.data;
    let mut piece = Piece::default();
    let mut pos = start;
    while pos < end {
        let nl = memchr::memchr(b'\n', &data[pos..end]);
        let line_end = nl.map_or(end, |p| pos + p);
        piece.lines += 1;
        let line_no = piece.lines;
        let mut line = &data[pos..line_end];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        let line_start = pos;
        pos = line_end + 1;
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        if line.len() as u64 > cfg.max_document_size {
            piece.skipped += 1;
            piece.problems.push(problem(
                &file.path,
                Some(line_no),
                ProblemKind::TooLarge,
                format!(
                    "a record of more than {} bytes, over --max-document-size; skipped",
                    cfg.max_document_size
                ),
            ));
            continue;
        }
        // Validate UTF-8 once, fast; serde_json then parses a `&str` without validating again.
        let Ok(line_str) = simdutf8::basic::from_utf8(line) else {
            repair_record(file_idx, file, line, line_no, cfg, &mut piece);
            continue;
        };
        match parse_record(
            line_str,
            &cfg.text_field,
            &cfg.id_field,
            cfg.source_field.as_deref(),
        ) {
            Ok(rec) => {
                let base = line_start as u64;
                let text = match rec.text {
                    Some(t) => t,
                    None => {
                        piece.skipped += 1;
                        piece.problems.push(problem(
                            &file.path,
                            Some(line_no),
                            ProblemKind::MissingText,
                            format!("no \"{}\" field; record skipped", cfg.text_field),
                        ));
                        continue;
                    }
                };
                let (t_start, t_len, escaped) = match text {
                    Field::String {
                        start,
                        len,
                        escaped,
                    } => (start, len, escaped),
                    Field::Other { .. } => {
                        piece.skipped += 1;
                        piece.problems.push(problem(
                            &file.path,
                            Some(line_no),
                            ProblemKind::TextNotString,
                            format!("\"{}\" is not a string; record skipped", cfg.text_field),
                        ));
                        continue;
                    }
                };
                let id = match rec.id {
                    None => IdRef::Line,
                    Some(Field::String {
                        start,
                        len,
                        escaped,
                    }) => IdRef::Json {
                        start: base + start as u64,
                        len: len as u32,
                        escaped,
                    },
                    Some(Field::Other { start, len, null }) => {
                        if null {
                            IdRef::Line
                        } else {
                            IdRef::JsonRaw {
                                start: base + start as u64,
                                len: len as u32,
                            }
                        }
                    }
                };
                piece.docs.push(Document {
                    file: file_idx,
                    line: line_no as u32,
                    text: TextRef::Json {
                        start: base + t_start as u64,
                        len: t_len as u32,
                        escaped,
                    },
                    id,
                });
                let (name, outlet) = source_name(line, rec.source, &file.path);
                piece.push_source(name, outlet);
            }
            Err(e) => {
                piece.skipped += 1;
                piece.problems.push(problem(
                    &file.path,
                    Some(line_no),
                    ProblemKind::InvalidJson,
                    format!("invalid JSON: {e}; record skipped"),
                ));
            }
        }
    }
    piece
}

/// A record with invalid UTF-8: decode lossily, parse again, keep text and id as owned strings.
pub(super) fn repair_record(
    file_idx: u32,
    file: &InputFile,
    line: &[u8],
    line_no: u64,
    cfg: &InputConfig,
    piece: &mut Piece,
) {
    let fixed = String::from_utf8_lossy(line).into_owned();
    let rec = match parse_record(
        &fixed,
        &cfg.text_field,
        &cfg.id_field,
        cfg.source_field.as_deref(),
    ) {
        Ok(r) => r,
        Err(e) => {
            piece.skipped += 1;
            piece.problems.push(problem(
                &file.path,
                Some(line_no),
                ProblemKind::InvalidJson,
                format!("invalid JSON: {e}; record skipped"),
            ));
            return;
        }
    };
    let Some(Field::String {
        start,
        len,
        escaped,
    }) = rec.text
    else {
        piece.skipped += 1;
        let (kind, what) = if rec.text.is_none() {
            (ProblemKind::MissingText, "no")
        } else {
            (ProblemKind::TextNotString, "non-string")
        };
        piece.problems.push(problem(
            &file.path,
            Some(line_no),
            kind,
            format!("{what} \"{}\" field; record skipped", cfg.text_field),
        ));
        return;
    };
    piece.problems.push(problem(
        &file.path,
        Some(line_no),
        ProblemKind::InvalidUtf8,
        "invalid UTF-8; replaced with U+FFFD",
    ));
    let text_idx = piece.owned.len() as u32;
    piece
        .owned
        .push(decode_json_str(&fixed[start..start + len], escaped));
    let id = match rec.id {
        None | Some(Field::Other { null: true, .. }) => IdRef::Line,
        Some(Field::String {
            start,
            len,
            escaped,
        }) => {
            piece
                .owned
                .push(decode_json_str(&fixed[start..start + len], escaped));
            IdRef::Owned(piece.owned.len() as u32 - 1)
        }
        Some(Field::Other { start, len, .. }) => {
            piece.owned.push(fixed[start..start + len].to_string());
            IdRef::Owned(piece.owned.len() as u32 - 1)
        }
    };
    piece.docs.push(Document {
        file: file_idx,
        line: line_no as u32,
        text: TextRef::Owned(text_idx),
        id,
    });
    let (name, outlet) = source_name(fixed.as_bytes(), rec.source, &file.path);
    piece.push_source(name, outlet);
}
