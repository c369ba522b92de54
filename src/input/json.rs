//! JSON Lines records: locating the text, id and source fields without copying, unescaping
//! strings, and spans of repaired records.

use std::borrow::Cow;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

/// Undo JSON string escapes of `raw` (the inside of a valid JSON string) into `out`.
pub(crate) fn unescape_json_into(raw: &str, out: &mut String) {
    out.clear();
    let bytes = raw.as_bytes();
    let mut i = 0;
    let mut plain = 0;
    while i < bytes.len() {
        // Plain runs are found with memchr (SIMD), not byte by byte.
        match memchr::memchr(b'\\', &bytes[i..]) {
            Some(p) => i += p,
            None => break,
        }
        out.push_str(&raw[plain..i]);
        let esc = bytes.get(i + 1).copied().unwrap_or(b'\\');
        i += 2;
        match esc {
            b'n' => out.push('\n'),
            b't' => out.push('\t'),
            b'r' => out.push('\r'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'u' => {
                let hi = hex4(bytes, i);
                i += 4;
                let c = match hi {
                    Some(h @ 0xD800..=0xDBFF)
                        if bytes.get(i) == Some(&b'\\') && bytes.get(i + 1) == Some(&b'u') =>
                    {
                        match hex4(bytes, i + 2) {
                            Some(l @ 0xDC00..=0xDFFF) => {
                                i += 6;
                                char::from_u32(0x10000 + ((h - 0xD800) << 10) + (l - 0xDC00))
                            }
                            _ => None,
                        }
                    }
                    Some(h) => char::from_u32(h),
                    None => None,
                };
                out.push(c.unwrap_or('\u{FFFD}'));
            }
            other => out.push(other as char), // \" \\ \/
        }
        i = i.min(bytes.len());
        plain = i;
    }
    out.push_str(&raw[plain..]);
}

/// The lines of the inside of a JSON string, still escaped: the text between the escapes that
/// unescape to a line break (`\n`, `\u000a`), as splitting the unescaped text at `'\n'` would
/// cut it (no escape straddles a cut, so each piece unescapes on its own to its line).
pub(crate) fn json_raw_lines(raw: &[u8]) -> JsonRawLines<'_> {
    JsonRawLines {
        raw,
        pos: 0,
        done: false,
    }
}

/// Iterator of [`json_raw_lines`].
pub(crate) struct JsonRawLines<'a> {
    raw: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Iterator for JsonRawLines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.done {
            return None;
        }
        let (raw, start) = (self.raw, self.pos);
        let mut i = start;
        while let Some(p) = memchr::memchr(b'\\', &raw[i..]) {
            let at = i + p;
            let len = match raw.get(at + 1) {
                Some(b'n') => 2,
                Some(b'u')
                    if raw
                        .get(at + 2..at + 6)
                        .is_some_and(|h| h.eq_ignore_ascii_case(b"000a")) =>
                {
                    6
                }
                Some(b'u') => {
                    i = (at + 6).min(raw.len());
                    continue;
                }
                _ => {
                    i = (at + 2).min(raw.len());
                    continue;
                }
            };
            self.pos = at + len;
            return Some(&raw[start..at]);
        }
        self.done = true;
        Some(&raw[start..])
    }
}

/// The inside of a JSON string as a `String`, unescaped if it has escapes.
pub(super) fn decode_json_str(raw: &str, escaped: bool) -> String {
    let mut s = String::new();
    if escaped {
        unescape_json_into(raw, &mut s);
    } else {
        s.push_str(raw);
    }
    s
}

pub(super) fn hex4(bytes: &[u8], at: usize) -> Option<u32> {
    let s = bytes.get(at..at + 4)?;
    let s = std::str::from_utf8(s).ok()?;
    u32::from_str_radix(s, 16).ok()
}

/// The inside of the text field's JSON string in the raw bytes of a record that is not valid
/// UTF-8 (a repaired record): the record is decoded lossily and parsed as the reader did, and the
/// span is mapped back to the raw bytes (each U+FFFD the decoding put in stands for one invalid
/// sequence). `None` when the record has no string text field.
pub(crate) fn raw_text_span(line: &[u8], text_field: &str) -> Option<std::ops::Range<usize>> {
    let fixed = String::from_utf8_lossy(line);
    let rec = parse_record(&fixed, text_field, "\u{0}", None).ok()?;
    let Some(Field::String { start, len, .. }) = rec.text else {
        return None;
    };
    Some(lossy_to_raw(line, start)..lossy_to_raw(line, start + len))
}

/// The raw offset of byte `offset` of `String::from_utf8_lossy(raw)`.
pub(super) fn lossy_to_raw(raw: &[u8], offset: usize) -> usize {
    let (mut fixed, mut pos) = (0, 0);
    for chunk in raw.utf8_chunks() {
        let valid = chunk.valid().len();
        if offset <= fixed + valid {
            return pos + (offset - fixed);
        }
        fixed += valid;
        pos += valid;
        if !chunk.invalid().is_empty() {
            // One U+FFFD (3 bytes) for the invalid sequence; an offset never falls inside it.
            fixed += 3;
            pos += chunk.invalid().len();
            if offset <= fixed {
                return pos;
            }
        }
    }
    pos
}

/// The source of a record: the `--source-field` value (a URL gives its host, without `www.`),
/// an outlet; or the file when the field is absent, not one.
pub(super) fn source_name<'a>(
    line: &'a [u8],
    field: Option<Field>,
    file: &'a str,
) -> (Cow<'a, str>, bool) {
    let Some(Field::String {
        start,
        len,
        escaped,
    }) = field
    else {
        return (Cow::Borrowed(file), false);
    };
    // Borrowed from the record unless it has escapes: no allocation per document.
    let name = match String::from_utf8_lossy(&line[start..start + len]) {
        Cow::Borrowed(raw) if !escaped => Cow::Borrowed(url_host(raw).unwrap_or(raw)),
        raw => {
            let value = decode_json_str(&raw, escaped);
            Cow::Owned(url_host(&value).map(str::to_string).unwrap_or(value))
        }
    };
    (name, true)
}

/// The host of an `http(s)://` URL, lower-cased callers aside, without a leading `www.`.
pub(crate) fn url_host(s: &str) -> Option<&str> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))?;
    let end = rest.find(['/', '?', '#', ':']).unwrap_or(rest.len());
    let host = &rest[..end];
    let host = host.rsplit('@').next().unwrap_or(host);
    Some(host.strip_prefix("www.").unwrap_or(host))
}

/// A field found in a record, as offsets into the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Field {
    /// A JSON string: offsets of its inside (between the quotes).
    String {
        start: usize,
        len: usize,
        escaped: bool,
    },
    /// Any other JSON value, as written.
    Other {
        start: usize,
        len: usize,
        null: bool,
    },
}

#[derive(Debug, Default)]
pub(super) struct Record {
    pub(super) text: Option<Field>,
    pub(super) id: Option<Field>,
    pub(super) source: Option<Field>,
}

/// Parse one JSON Lines record, locating the text, id and source fields without copying anything.
pub(super) fn parse_record(
    line: &str,
    text_field: &str,
    id_field: &str,
    source_field: Option<&str>,
) -> Result<Record, String> {
    let mut de = serde_json::Deserializer::from_str(line);
    let found = RecordSeed {
        text_field,
        id_field,
        source_field,
    }
    .deserialize(&mut de)
    .map_err(json_error)?;
    de.end().map_err(json_error)?;
    let base = line.as_ptr() as usize;
    let locate = |raw: &RawValue| -> Field {
        let s = raw.get();
        let start = s.as_ptr() as usize - base;
        if s.starts_with('"') {
            let inner = &s[1..s.len() - 1];
            Field::String {
                start: start + 1,
                len: inner.len(),
                escaped: inner.contains('\\'),
            }
        } else {
            Field::Other {
                start,
                len: s.len(),
                null: s == "null",
            }
        }
    };
    // A dotted name matched by its first segment: follow the rest into the nested objects.
    let resolve = |slot: Option<(&RawValue, usize)>, name: &str| -> Option<Field> {
        let (raw, m) = slot?;
        if m == usize::MAX {
            return Some(locate(raw));
        }
        let segments: Vec<&str> = name.split('.').collect();
        descend(raw, &segments[m..]).map(locate)
    };
    Ok(Record {
        text: resolve(found.text, text_field),
        id: resolve(found.id, id_field),
        source: source_field.and_then(|f| resolve(found.source, f)),
    })
}

pub(super) fn json_error(e: serde_json::Error) -> String {
    let mut s = e.to_string();
    if let Some(i) = s.rfind(" at line ") {
        s.truncate(i);
    }
    format!("{s} at column {}", e.column())
}

pub(super) struct RecordSeed<'a> {
    text_field: &'a str,
    id_field: &'a str,
    source_field: Option<&'a str>,
}

/// The raw JSON values of the text, id and source fields of one record, as found, each with
/// how many segments of its dotted path the key matched (all of them for a top-level key
/// named exactly so; one for the first segment of a nested path).
pub(super) struct RawFields<'de> {
    text: Option<(&'de RawValue, usize)>,
    id: Option<(&'de RawValue, usize)>,
    source: Option<(&'de RawValue, usize)>,
}

/// How a key matches a field name: all of it (`Some(usize::MAX)`), its first dotted segment
/// (`Some(1)`), or not (`None`).
fn key_match(key: &str, field: &str) -> Option<usize> {
    if key == field {
        Some(usize::MAX)
    } else if field.split_once('.').is_some_and(|(first, _)| first == key) {
        Some(1)
    } else {
        None
    }
}

/// Record a match unless a better one (the whole name) is already there.
fn take<'de>(slot: &mut Option<(&'de RawValue, usize)>, m: usize, raw: &'de RawValue) {
    if slot.is_none_or(|(_, had)| had < m) {
        *slot = Some((raw, m));
    }
}

/// Follow the rest of a dotted path (`segments`) down through nested objects.
fn descend<'de>(mut raw: &'de RawValue, segments: &[&str]) -> Option<&'de RawValue> {
    for seg in segments {
        let mut de = serde_json::Deserializer::from_str(raw.get());
        let found = RecordSeed {
            text_field: seg,
            id_field: seg,
            source_field: None,
        }
        .deserialize(&mut de)
        .ok()?;
        raw = found.text?.0;
    }
    Some(raw)
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = RawFields<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = RawFields<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = RawFields {
            text: None,
            id: None,
            source: None,
        };
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let (t, i) = (
                key_match(&key.0, self.text_field),
                key_match(&key.0, self.id_field),
            );
            let s = self.source_field.and_then(|f| key_match(&key.0, f));
            if t.is_none() && i.is_none() && s.is_none() {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let raw = map.next_value::<&'de RawValue>()?;
            if let Some(m) = t {
                take(&mut out.text, m, raw);
            }
            if let Some(m) = i {
                take(&mut out.id, m, raw);
            }
            if let Some(m) = s {
                take(&mut out.source, m, raw);
            }
        }
        Ok(out)
    }
}

/// An object key, borrowed when it has no escapes.
pub(super) struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}
