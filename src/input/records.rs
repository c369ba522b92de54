//! Container formats read as records: WARC (crawls), CSV and TSV (tables).
//!
//! Each is converted, as it streams, into JSON Lines held in memory with fixed fields (`id`,
//! `text`, `source`, and `title` when there is one), which the JSON Lines reader then indexes
//! like any other: documents stay spans, `clean` splices its cuts into these records and writes
//! them out as JSON Lines. Only the extracted text is kept, never the raw HTML of a crawl.

use std::io::{BufRead, BufReader, Read};

use serde::Serialize;

use super::html;
use crate::error::{Problem, ProblemKind};

/// The text field of converted records.
pub const TEXT: &str = "text";
/// The id field of converted records.
pub const ID: &str = "id";
/// The outlet field of converted records (a URL gives its host).
pub const SOURCE: &str = "source";

#[derive(Serialize)]
struct Record<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    title: &'a str,
    text: &'a str,
}

fn push_record(out: &mut Vec<u8>, r: &Record) {
    // Serialising our own plain struct cannot fail.
    serde_json::to_writer(&mut *out, r).expect("serialises");
    out.push(b'\n');
}

fn problem(path: &str, line: Option<u64>, kind: ProblemKind, message: String) -> Problem {
    Problem {
        path: path.to_string(),
        line,
        kind,
        message,
    }
}

/// Read a WARC stream (already decompressed): every `response` record with an HTML or text
/// payload, and every WET `conversion` record, becomes a record with the target URI as id and
/// source (its host is the outlet). Other records (request, metadata, warcinfo, resource,
/// revisit, non-text responses) are counted in one warning; a record cut short is a problem
/// (the stream's tail is lost). `max_doc` caps one payload.
pub fn warc(reader: impl Read, path: &str, max_doc: u64, problems: &mut Vec<Problem>) -> Vec<u8> {
    let mut r = BufReader::with_capacity(1 << 16, reader);
    let mut out = Vec::new();
    let mut skipped: std::collections::BTreeMap<String, u64> = Default::default();
    let mut line = String::new();
    let mut number = 0u64;
    let mut block = Vec::new();
    loop {
        // Version line, after any blank lines between records.
        line.clear();
        match r.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) if line.trim().is_empty() => continue,
            Ok(_) => {}
            Err(e) => {
                problems.push(problem(
                    path,
                    Some(number + 1),
                    ProblemKind::CorruptCompressed,
                    format!("{e}; records after {number} lost"),
                ));
                break;
            }
        }
        number += 1;
        if !line.starts_with("WARC/") {
            problems.push(problem(
                path,
                Some(number),
                ProblemKind::InvalidRecord,
                format!(
                    "not a WARC record (starts {:?}); the rest of the file skipped",
                    line.trim_end().chars().take(20).collect::<String>()
                ),
            ));
            break;
        }
        // Headers.
        let (mut kind, mut uri, mut length, mut content_type) =
            (String::new(), String::new(), None::<u64>, String::new());
        loop {
            line.clear();
            match r.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                let v = v.trim();
                match k.trim().to_ascii_lowercase().as_str() {
                    "warc-type" => kind = v.to_ascii_lowercase(),
                    "warc-target-uri" => uri = v.trim_matches(['<', '>']).to_string(),
                    "content-length" => length = v.parse().ok(),
                    "content-type" => content_type = v.to_ascii_lowercase(),
                    _ => {}
                }
            }
        }
        let Some(length) = length else {
            problems.push(problem(
                path,
                Some(number),
                ProblemKind::InvalidRecord,
                "WARC record without Content-Length; the rest of the file skipped".into(),
            ));
            break;
        };
        block.clear();
        let got = (&mut r).take(length).read_to_end(&mut block);
        if got.is_err() || (block.len() as u64) < length {
            problems.push(problem(
                path,
                Some(number),
                ProblemKind::InvalidRecord,
                format!(
                    "WARC record cut short ({} of {length} bytes); skipped",
                    block.len()
                ),
            ));
            break;
        }
        let wanted = match kind.as_str() {
            "response" => content_type.starts_with("application/http"),
            "conversion" => true,
            _ => false,
        };
        if !wanted {
            *skipped.entry(format!("{kind} records")).or_default() += 1;
            continue;
        }
        // A response: HTTP headers, then the payload.
        let (payload, http_type) = if kind == "response" {
            match memchr::memmem::find(&block, b"\r\n\r\n")
                .map(|p| (p, 4))
                .or_else(|| memchr::memmem::find(&block, b"\n\n").map(|p| (p, 2)))
            {
                Some((p, sep)) => {
                    let head = String::from_utf8_lossy(&block[..p]);
                    let ct = head
                        .lines()
                        .find_map(|h| {
                            let (k, v) = h.split_once(':')?;
                            k.trim()
                                .eq_ignore_ascii_case("content-type")
                                .then(|| v.trim().to_string())
                        })
                        .unwrap_or_default();
                    (&block[p + sep..], ct)
                }
                None => (&block[..0], String::new()),
            }
        } else {
            (&block[..], "text/plain".to_string())
        };
        let lower = http_type.to_ascii_lowercase();
        let is_html = lower.starts_with("text/html") || lower.starts_with("application/xhtml");
        if !(is_html || lower.starts_with("text/plain")) {
            *skipped
                .entry(format!(
                    "responses of type {}",
                    lower.split(';').next().unwrap_or("none").trim()
                ))
                .or_default() += 1;
            continue;
        }
        if payload.len() as u64 > max_doc {
            problems.push(problem(
                path,
                Some(number),
                ProblemKind::TooLarge,
                format!(
                    "{uri}: a payload of {} bytes, over --max-document-size; skipped",
                    payload.len()
                ),
            ));
            continue;
        }
        let page = if is_html {
            html::extract(payload, html::header_charset(&http_type))
        } else {
            html::Page {
                title: String::new(),
                text: String::from_utf8_lossy(payload).into_owned(),
            }
        };
        push_record(
            &mut out,
            &Record {
                id: &uri,
                source: Some(&uri),
                title: &page.title,
                text: &page.text,
            },
        );
    }
    if !skipped.is_empty() {
        let list: Vec<String> = skipped.iter().map(|(k, n)| format!("{n} {k}")).collect();
        problems.push(problem(
            path,
            None,
            ProblemKind::NotADocument,
            format!("skipped {} (not pages)", list.join(", ")),
        ));
    }
    out
}

/// Read a CSV (or, with `delimiter` b'\t', TSV) table with a header row: each row is a record
/// with the text column `text_field`, the id column `id_field` (else the row number) and the
/// outlet column `source_field`. A row that does not parse, or lacks the text column, is a
/// problem naming its line.
#[allow(clippy::too_many_arguments)]
pub fn csv(
    reader: impl Read,
    delimiter: u8,
    path: &str,
    text_field: &str,
    id_field: &str,
    source_field: Option<&str>,
    problems: &mut Vec<Problem>,
) -> Vec<u8> {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(reader);
    let mut out = Vec::new();
    let headers = match rdr.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            problems.push(problem(
                path,
                Some(1),
                ProblemKind::InvalidRecord,
                format!("no header row: {e}"),
            ));
            return out;
        }
    };
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (text_col, id_col) = (col(text_field), col(id_field));
    let source_col = source_field.and_then(col);
    if let (Some(f), None) = (source_field, source_col) {
        problems.push(problem(
            path,
            Some(1),
            ProblemKind::MissingSourceField,
            format!("no \"{f}\" column in the header; the outlet of every row is the file"),
        ));
    }
    let Some(text_col) = text_col else {
        problems.push(problem(
            path,
            Some(1),
            ProblemKind::MissingText,
            format!("no \"{text_field}\" column in the header; file skipped"),
        ));
        return out;
    };
    let mut row = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut row) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line());
                problems.push(problem(
                    path,
                    line,
                    ProblemKind::InvalidRecord,
                    format!("{e}; row skipped"),
                ));
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
                continue;
            }
        }
        let line = row.position().map_or(0, |p| p.line());
        let Some(text) = row.get(text_col) else {
            problems.push(problem(
                path,
                Some(line),
                ProblemKind::MissingText,
                format!("no \"{text_field}\" value; row skipped"),
            ));
            continue;
        };
        let number = line.to_string();
        push_record(
            &mut out,
            &Record {
                id: id_col.and_then(|c| row.get(c)).unwrap_or(&number),
                source: source_col.and_then(|c| row.get(c)),
                title: "",
                text,
            },
        );
    }
    out
}

/// Read a Parquet file: each row is a record with the string columns `text_field`, `id_field`
/// (else the row number) and `source_field`; row groups are decoded in parallel and written in
/// order. A row group that does not decode is a problem (its rows are lost).
#[cfg(feature = "parquet")]
pub fn parquet(
    file: &std::path::Path,
    path: &str,
    text_field: &str,
    id_field: &str,
    source_field: Option<&str>,
    problems: &mut Vec<Problem>,
) -> Vec<u8> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;
    use rayon::prelude::*;

    // One reader per task: a `File`'s clones share one offset, so tasks must not share it.
    let open = || {
        std::fs::File::open(file)
            .map_err(parquet::errors::ParquetError::from)
            .and_then(SerializedFileReader::new)
    };
    let reader = match open() {
        Ok(r) => r,
        Err(e) => {
            problems.push(problem(
                path,
                None,
                ProblemKind::InvalidRecord,
                format!("not a readable Parquet file: {e}; skipped"),
            ));
            return Vec::new();
        }
    };
    let meta = reader.metadata();
    let groups = meta.num_row_groups();
    // First row number of each group (ids of rows without an id column).
    let mut first = Vec::with_capacity(groups);
    let mut n = 0u64;
    for g in 0..groups {
        first.push(n);
        n += meta.row_group(g).num_rows().max(0) as u64;
    }
    let schema = meta.file_metadata().schema_descr();
    if !schema.columns().iter().any(|c| c.name() == text_field) {
        problems.push(problem(
            path,
            None,
            ProblemKind::MissingText,
            format!("no \"{text_field}\" column; file skipped"),
        ));
        return Vec::new();
    }
    let parts: Vec<(Vec<u8>, Vec<Problem>)> = (0..groups)
        .into_par_iter()
        .map(|g| {
            let mut out = Vec::new();
            let mut probs = Vec::new();
            let rows = open().and_then(|reader| {
                reader
                    .get_row_group(g)
                    .and_then(|rg| rg.get_row_iter(None).map(|it| it.collect::<Vec<_>>()))
            });
            let rows = match rows {
                Ok(r) => r,
                Err(e) => {
                    probs.push(problem(
                        path,
                        None,
                        ProblemKind::InvalidRecord,
                        format!("row group {g} does not decode: {e}; its rows are lost"),
                    ));
                    return (out, probs);
                }
            };
            for (k, row) in rows.into_iter().enumerate() {
                let number = first[g] + k as u64 + 1;
                let row = match row {
                    Ok(r) => r,
                    Err(e) => {
                        probs.push(problem(
                            path,
                            Some(number),
                            ProblemKind::InvalidRecord,
                            format!("{e}; row skipped"),
                        ));
                        continue;
                    }
                };
                let (mut text, mut id, mut source) = (None, None, None);
                for (name, f) in row.get_column_iter() {
                    let value = match f {
                        Field::Str(s) => Some(s.clone()),
                        Field::Null => None,
                        other => Some(other.to_string()),
                    };
                    if name == text_field {
                        text = Some(value);
                    } else if name == id_field {
                        id = value;
                    } else if Some(name.as_str()) == source_field {
                        source = value;
                    }
                }
                let Some(Some(text)) = text else {
                    probs.push(problem(
                        path,
                        Some(number),
                        ProblemKind::MissingText,
                        format!("no \"{text_field}\" value; row skipped"),
                    ));
                    continue;
                };
                let number = number.to_string();
                push_record(
                    &mut out,
                    &Record {
                        id: id.as_deref().unwrap_or(&number),
                        source: source.as_deref(),
                        title: "",
                        text: &text,
                    },
                );
            }
            (out, probs)
        })
        .collect();
    let mut out = Vec::new();
    for (bytes, mut probs) in parts {
        out.extend(bytes);
        problems.append(&mut probs);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warc_record(kind: &str, uri: &str, content_type: &str, block: &[u8]) -> Vec<u8> {
        let mut r = format!(
            "WARC/1.0\r\nWARC-Type: {kind}\r\nWARC-Target-URI: {uri}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            block.len()
        )
        .into_bytes();
        r.extend_from_slice(block);
        r.extend_from_slice(b"\r\n\r\n");
        r
    }

    #[test]
    fn warc_responses_become_records_and_the_rest_is_counted() {
        let page = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<title>T</title><p>Hello <b>world</b></p>";
        let mut w = warc_record(
            "warcinfo",
            "",
            "application/warc-fields",
            b"software: x\r\n",
        );
        w.extend(warc_record(
            "request",
            "http://a.example/1",
            "application/http; msgtype=request",
            b"GET /1 HTTP/1.1\r\n\r\n",
        ));
        w.extend(warc_record(
            "response",
            "http://a.example/1",
            "application/http; msgtype=response",
            page,
        ));
        w.extend(warc_record(
            "response",
            "http://a.example/logo.png",
            "application/http; msgtype=response",
            b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n\r\n\x89PNG",
        ));
        w.extend(warc_record(
            "conversion",
            "http://b.example/2",
            "text/plain",
            b"plain words\nsecond line",
        ));
        let mut problems = Vec::new();
        let out = warc(&w[..], "x.warc", 1 << 20, &mut problems);
        let lines: Vec<serde_json::Value> = out
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["id"], "http://a.example/1");
        assert_eq!(lines[0]["title"], "T");
        assert_eq!(lines[0]["text"], "Hello world");
        assert_eq!(lines[1]["text"], "plain words\nsecond line");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].kind, ProblemKind::NotADocument);
        assert!(
            problems[0].message.contains("1 request records"),
            "{}",
            problems[0].message
        );
        assert!(
            problems[0]
                .message
                .contains("1 responses of type image/png")
        );
        // Cut short: the record is a problem.
        let mut problems = Vec::new();
        let cut = &w[..w.len() - 30];
        let out = warc(cut, "x.warc", 1 << 20, &mut problems);
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        assert!(
            problems
                .iter()
                .any(|p| p.kind == ProblemKind::InvalidRecord && p.message.contains("cut short"))
        );
    }

    #[test]
    fn csv_rows_become_records() {
        let data = "id,text,site\n1,\"hello, world\",a.example\n2,\"multi\nline\",b\n3\n";
        let mut problems = Vec::new();
        let out = csv(
            data.as_bytes(),
            b',',
            "t.csv",
            "text",
            "id",
            Some("site"),
            &mut problems,
        );
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "{\"id\":\"1\",\"source\":\"a.example\",\"text\":\"hello, world\"}\n{\"id\":\"2\",\"source\":\"b\",\"text\":\"multi\\nline\"}\n"
        );
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, Some(5));
        let mut problems = Vec::new();
        csv(
            "a\tb\n".as_bytes(),
            b'\t',
            "t.tsv",
            "text",
            "id",
            None,
            &mut problems,
        );
        assert_eq!(problems[0].kind, ProblemKind::MissingText);
        // A --source-field the header lacks: a warning, not silence.
        let mut problems = Vec::new();
        let data = "id,text\n1,x\n";
        csv(
            data.as_bytes(),
            b',',
            "t.csv",
            "text",
            "id",
            Some("site"),
            &mut problems,
        );
        assert_eq!(problems[0].kind, ProblemKind::MissingSourceField);
    }
}
