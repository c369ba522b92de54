//! HTML pages as text: the visible text in lines that keep the block structure.
//!
//! The page is decoded (charset from the HTTP header when there is one, else a byte order
//! mark, else `<meta charset>` / `<meta http-equiv=Content-Type>` in the first 1,024 bytes, else
//! UTF-8 when it is valid and windows-1252 when not, as browsers do) and tokenized by
//! `html5ever` (the WHATWG tokenizer: entities decoded, script and style contents read as raw
//! text). Every block element (p, div, li, h1–h6, tr, td, br, …) ends a line, so a menu, a
//! footer or a share bar becomes lines of its own that boilerplate detection can flag per site;
//! runs of white space inside a line become one space. `<script>`, `<style>`, `<noscript>`,
//! `<template>`, `<svg>`, `<iframe>` and comments are dropped; `<title>` is kept apart.

use std::cell::{Cell, RefCell};

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

/// The text of one page.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// `<title>`, white space collapsed (empty when absent).
    pub title: String,
    /// Visible text, one line per block, no empty lines.
    pub text: String,
}

/// Elements whose content is never text.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "svg", "iframe", "object", "head",
];

/// Elements that start and end a line of text.
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "caption",
    "center",
    "dd",
    "details",
    "dialog",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "legend",
    "li",
    "main",
    "menu",
    "nav",
    "ol",
    "option",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
];

struct Sink {
    /// Depth inside skipped elements.
    skip: Cell<u32>,
    in_title: Cell<bool>,
    in_pre: Cell<u32>,
    title: RefCell<String>,
    line: RefCell<String>,
    text: RefCell<String>,
}

impl Sink {
    fn end_line(&self) {
        let mut line = self.line.borrow_mut();
        let trimmed = line.trim();
        if !trimmed.is_empty() {
            let mut text = self.text.borrow_mut();
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(trimmed);
        }
        line.clear();
    }

    fn chars(&self, s: &StrTendril) {
        if self.in_title.get() {
            push_collapsed(&mut self.title.borrow_mut(), s);
            return;
        }
        if self.skip.get() > 0 {
            return;
        }
        if self.in_pre.get() > 0 {
            for (i, part) in s.split('\n').enumerate() {
                if i > 0 {
                    self.end_line();
                }
                push_collapsed(&mut self.line.borrow_mut(), part);
            }
        } else {
            push_collapsed(&mut self.line.borrow_mut(), s);
        }
    }
}

/// Append `s` with every run of white space as one space (none at the start of `out`).
fn push_collapsed(out: &mut String, s: &str) {
    for c in s.chars() {
        if c.is_whitespace() {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
}

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        match token {
            Token::CharacterTokens(s) => self.chars(&s),
            Token::TagToken(tag) => {
                let name: &str = &tag.name;
                let start = tag.kind == TagKind::StartTag;
                if name == "title" {
                    self.in_title.set(start && !tag.self_closing);
                    return if start && !tag.self_closing {
                        TokenSinkResult::RawData(RawKind::Rcdata)
                    } else {
                        TokenSinkResult::Continue
                    };
                }
                if SKIPPED.contains(&name) {
                    if start && !tag.self_closing {
                        self.skip.set(self.skip.get() + 1);
                        return match name {
                            "script" => TokenSinkResult::RawData(RawKind::ScriptData),
                            "style" | "noscript" | "iframe" => {
                                TokenSinkResult::RawData(RawKind::Rawtext)
                            }
                            _ => TokenSinkResult::Continue,
                        };
                    } else if !start {
                        self.skip.set(self.skip.get().saturating_sub(1));
                    }
                    return TokenSinkResult::Continue;
                }
                if name == "pre" {
                    let d = self.in_pre.get();
                    self.in_pre
                        .set(if start { d + 1 } else { d.saturating_sub(1) });
                }
                if BLOCKS.contains(&name) {
                    self.end_line();
                } else if self.skip.get() == 0 && !self.line.borrow().ends_with(' ') {
                    // An inline element boundary is not a word boundary ("<b>ab</b>cd" is
                    // "abcd"), except for images and inputs, which stand for something.
                    if matches!(name, "img" | "input" | "button") {
                        self.line.borrow_mut().push(' ');
                    }
                }
            }
            Token::EOFToken => self.end_line(),
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

/// The text of an HTML page; `charset` from an HTTP `Content-Type` header, if any.
pub fn extract(bytes: &[u8], charset: Option<&str>) -> Page {
    let decoded = decode(bytes, charset);
    let sink = Sink {
        skip: Cell::new(0),
        in_title: Cell::new(false),
        in_pre: Cell::new(0),
        title: RefCell::new(String::new()),
        line: RefCell::new(String::new()),
        text: RefCell::new(String::new()),
    };
    let tok = Tokenizer::new(sink, TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(&decoded));
    while let html5ever::TokenizerResult::Script(()) = tok.feed(&input) {}
    tok.end();
    let sink = tok.sink;
    sink.end_line();
    Page {
        title: sink.title.into_inner().trim().to_string(),
        text: sink.text.into_inner(),
    }
}

/// Decode a page: the HTTP charset, a byte order mark, a `<meta>` charset in the first 1,024
/// bytes, else UTF-8 if valid, else windows-1252.
fn decode<'a>(bytes: &'a [u8], charset: Option<&str>) -> std::borrow::Cow<'a, str> {
    let label = charset
        .map(str::to_string)
        .or_else(|| meta_charset(&bytes[..bytes.len().min(1024)]));
    let enc = label
        .and_then(|l| encoding_rs::Encoding::for_label(l.trim().as_bytes()))
        .unwrap_or(encoding_rs::UTF_8);
    if let Some((bom, _)) = encoding_rs::Encoding::for_bom(bytes) {
        return bom.decode_with_bom_removal(bytes).0;
    }
    if enc == encoding_rs::UTF_8 && std::str::from_utf8(bytes).is_err() {
        // Not UTF-8 after all, and nothing said what it is: what browsers assume.
        return encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0;
    }
    enc.decode_without_bom_handling(bytes).0
}

/// The charset a `<meta>` tag declares: `<meta charset="x">` or
/// `<meta http-equiv="Content-Type" content="text/html; charset=x">`.
fn meta_charset(head: &[u8]) -> Option<String> {
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();
    let mut at = 0;
    while let Some(p) = memchr::memmem::find(&lower[at..], b"<meta") {
        let start = at + p;
        let end = memchr::memchr(b'>', &lower[start..]).map_or(lower.len(), |e| start + e);
        let tag = &lower[start..end];
        if let Some(c) = memchr::memmem::find(tag, b"charset=") {
            let rest = &tag[c + 8..];
            let rest = rest
                .strip_prefix(b"\"")
                .or(rest.strip_prefix(b"'"))
                .unwrap_or(rest);
            let len = rest
                .iter()
                .position(|&b| matches!(b, b'"' | b'\'' | b';' | b' ' | b'/' | b'>'))
                .unwrap_or(rest.len());
            if len > 0 {
                return Some(String::from_utf8_lossy(&rest[..len]).into_owned());
            }
        }
        at = end;
    }
    None
}

/// The charset of an HTTP `Content-Type` value (`text/html; charset=ISO-8859-1`).
pub fn header_charset(content_type: &str) -> Option<&str> {
    let lower = content_type.to_ascii_lowercase();
    let at = lower.find("charset=")?;
    let v = content_type[at + 8..].trim_start_matches(['"', '\'']);
    let end = v.find([';', '"', '\'', ' ']).unwrap_or(v.len());
    (end > 0).then(|| &v[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_lines_and_scripts_styles_comments_are_dropped() {
        let page = extract(
            br#"<!doctype html><html><head><title>  Rain &amp; wind </title>
            <style>p { color: red }</style><script>if (a<b) { document.write("<p>x</p>") }</script>
            </head><body><nav><ul><li><a href="/">Home</a></li><li>Sport</li></ul></nav>
            <!-- a comment --><h1>Storm  hits
            the coast</h1><p>First <b>para</b>graph&nbsp;here.<br>Second line</p>
            <noscript>enable js</noscript><footer>&copy; 2015 Site</footer></body></html>"#,
            None,
        );
        assert_eq!(page.title, "Rain & wind");
        assert_eq!(
            page.text,
            "Home\nSport\nStorm hits the coast\nFirst paragraph here.\nSecond line\n© 2015 Site"
        );
    }

    #[test]
    fn charset_from_the_header_or_meta_or_by_validity() {
        // "café" in ISO-8859-1.
        let latin = b"<html><body><p>caf\xe9</p></body></html>";
        assert_eq!(extract(latin, Some("ISO-8859-1")).text, "café");
        assert_eq!(extract(latin, None).text, "café"); // not UTF-8: windows-1252
        let meta = b"<html><head><meta charset=\"windows-1256\"></head><body><p>\xc7\xe1</p></body></html>";
        assert_eq!(extract(meta, None).text, "ال");
        let http_equiv =
            b"<meta http-equiv=Content-Type content='text/html; charset=iso-8859-1'><p>caf\xe9";
        assert_eq!(extract(http_equiv, None).text, "café");
        assert_eq!(extract("<p>ملف</p>".as_bytes(), None).text, "ملف");
        assert_eq!(header_charset("text/html; charset=UTF-8"), Some("UTF-8"));
        assert_eq!(header_charset("text/html"), None);
    }

    #[test]
    fn pre_keeps_its_lines() {
        let page = extract(b"<pre>a  b\nc\n\nd</pre><p>e</p>", None);
        assert_eq!(page.text, "a b\nc\nd\ne");
    }
}
