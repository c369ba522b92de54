//! What scrapers write: HTML pages of two sites, the same pages in a WARC crawl, CSV and TSV
//! tables, nested JSON fields. Built at test time from real articles (saudinewsnet): the same
//! 40 articles published by two sites with different templates (each with its own header,
//! navigation, share bar and footer, one in windows-1256), plus 5 articles only on each site.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use common::{clusters, json_lines, member_ids, neardup, summary};
use serde_json::Value;

const SHARED: usize = 40;
const ONLY: usize = 5;

/// Site A's furniture lines, as they appear in its pages.
const A_LINES: &[&str] = &[
    "الصفحة الرئيسية",
    "أخبار محلية",
    "اقتصاد وأعمال",
    "رياضة محلية",
    "اتصل بنا",
    "شارك الخبر عبر تويتر وفيسبوك",
    "جميع الحقوق محفوظة لصحيفة الأفق",
];
/// Site B's.
const B_LINES: &[&str] = &[
    "المصدر الإخباري – أخبار على مدار الساعة",
    "الأخبار العاجلة",
    "تقارير خاصة",
    "مقالات الرأي",
    "تابعونا على تويتر",
    "يمنع نقل المحتوى دون إذن المصدر",
];

struct Article {
    title: String,
    paragraphs: Vec<String>,
}

/// Real articles that are not copies of one another: long enough, one outlet, and none in a
/// cluster when their plain texts are scanned.
fn articles(tmp: &Path) -> Option<Vec<Article>> {
    let data = common::data_dir("saudinewsnet")?;
    let mut picked: Vec<(String, Article)> = Vec::new();
    for line in common::sample_zst(&data.join("docs.jsonl.zst"), 3000, 7) {
        let v: Value = serde_json::from_str(&line).unwrap();
        if v["source"] != "alyaum" {
            continue;
        }
        let paragraphs: Vec<String> = v["text"]
            .as_str()
            .unwrap()
            .split('\n')
            .map(|p| p.trim().to_string())
            .filter(|p| p.split_whitespace().count() >= 8)
            .collect();
        let words: usize = paragraphs
            .iter()
            .map(|p| p.split_whitespace().count())
            .sum();
        if paragraphs.len() < 3 || words < 120 {
            continue;
        }
        let title = v["title"].as_str().unwrap_or("").trim().to_string();
        picked.push((
            v["id"].as_str().unwrap().to_string(),
            Article { title, paragraphs },
        ));
        if picked.len() == SHARED + 2 * ONLY + 20 {
            break;
        }
    }
    // Drop any that cluster with another (wire copies the outlet ran twice).
    let plain = tmp.join("plain.jsonl");
    let mut f = fs::File::create(&plain).unwrap();
    for (id, a) in &picked {
        let v = serde_json::json!({"id": id, "text": a.paragraphs.join("\n")});
        writeln!(f, "{v}").unwrap();
    }
    let out = tmp.join("plain-scan");
    neardup()
        .args(["scan", "-q", "-o"])
        .arg(&out)
        .arg(&plain)
        .assert()
        .success();
    let clustered: BTreeSet<String> = clusters(&out).iter().flat_map(member_ids).collect();
    let chosen: Vec<Article> = picked
        .into_iter()
        .filter(|(id, _)| !clustered.contains(id))
        .map(|(_, a)| a)
        .take(SHARED + 2 * ONLY)
        .collect();
    assert_eq!(
        chosen.len(),
        SHARED + 2 * ONLY,
        "not enough distinct articles"
    );
    Some(chosen)
}

fn page_a(a: &Article) -> String {
    let body: String = a
        .paragraphs
        .iter()
        .map(|p| format!("<p>{}</p>\n", html_escape(p)))
        .collect();
    format!(
        r#"<!DOCTYPE html>
<html lang="ar" dir="rtl"><head><meta charset="utf-8"><title>{t} | صحيفة الأفق</title>
<style>body {{ font-family: serif }} .nav li {{ display: inline }}</style>
<script>window.dataLayer = []; if (a < b && c > d) {{ track("<p>not text</p>"); }}</script></head>
<body><header><div class="logo"><a href="/">صحيفة الأفق</a></div>
<ul class="nav"><li><a href="/">الصفحة الرئيسية</a></li><li><a href="/local">أخبار محلية</a></li>
<li><a href="/economy">اقتصاد وأعمال</a></li><li><a href="/sport">رياضة محلية</a></li><li><a href="/contact">اتصل بنا</a></li></ul></header>
<main><article><h1>{t}</h1>
<div class="content">{body}</div></article>
<div class="share">شارك الخبر عبر <a>تويتر</a> و<a>فيسبوك</a></div></main>
<!-- ad slot --><footer><p>جميع الحقوق محفوظة لصحيفة الأفق</p></footer></body></html>
"#,
        t = html_escape(&a.title),
    )
}

/// Site B: table layout, <br> paragraphs, a dateline, the last paragraph dropped in every third
/// article, windows-1256.
fn page_b(a: &Article, i: usize) -> Vec<u8> {
    let mut paras = a.paragraphs.clone();
    if i.is_multiple_of(3) && paras.len() > 3 {
        paras.pop();
    }
    paras[0] = format!("الرياض - المصدر: {}", paras[0]);
    let body: String = paras
        .iter()
        .map(|p| format!("{}<br><br>\n", html_escape(p)))
        .collect();
    let page = format!(
        r#"<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1256">
<title>المصدر الإخباري - {t}</title></head>
<body><table width="100%"><tr><td class="banner">المصدر الإخباري &ndash; أخبار على مدار الساعة</td></tr>
<tr><td><a href="/urgent">الأخبار العاجلة</a></td><td><a href="/reports">تقارير خاصة</a></td><td><a href="/opinion">مقالات الرأي</a></td></tr></table>
<div id="story"><h2 class="headline">{t}</h2><span class="body">{body}</span></div>
<div class="follow">تابعونا على تويتر</div>
<div id="copy">يمنع نقل المحتوى دون إذن المصدر</div>
<noscript>فعّل جافاسكربت</noscript></body></html>
"#,
        t = html_escape(&a.title),
    );
    let (bytes, _, _) = encoding_rs::WINDOWS_1256.encode(&page);
    bytes.into_owned()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The two sites as a `wget -r` mirror: `site/…` directories. Returns (root, page paths by
/// (site, index)) where index < SHARED is an article on both sites.
fn sites(tmp: &Path, arts: &[Article]) -> (PathBuf, Vec<(String, usize, PathBuf)>) {
    let root = tmp.join("mirror");
    let mut pages = Vec::new();
    for (i, a) in arts.iter().enumerate() {
        let on_a = i < SHARED + ONLY;
        let on_b = !(SHARED..SHARED + ONLY).contains(&i);
        if on_a {
            let p = root.join(format!("alofq.example/news/{i:03}.html"));
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, page_a(a)).unwrap();
            pages.push(("alofq.example".to_string(), i, p));
        }
        if on_b {
            let p = root.join(format!("almasdar.example/articles/{i:03}.htm"));
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, page_b(a, i)).unwrap();
            pages.push(("almasdar.example".to_string(), i, p));
        }
    }
    (root, pages)
}

/// Clusters as sets of (site, article index), from ids mapped by `key`.
fn partition(out: &Path, key: &dyn Fn(&str) -> (String, usize)) -> Vec<BTreeSet<(String, usize)>> {
    clusters(out)
        .iter()
        .map(|c| member_ids(c).iter().map(|id| key(id)).collect())
        .collect()
}

fn check_partition(p: &[BTreeSet<(String, usize)>]) {
    for c in p {
        // No two pages of one site (different articles, one template) together.
        let sites: BTreeSet<&String> = c.iter().map(|(s, _)| s).collect();
        assert_eq!(sites.len(), c.len(), "one site twice in {c:?}");
        // Only the same article together.
        let arts: BTreeSet<usize> = c.iter().map(|(_, i)| *i).collect();
        assert_eq!(arts.len(), 1, "different articles together: {c:?}");
    }
    // Every shared article's two pages are one cluster.
    let together: BTreeSet<usize> = p
        .iter()
        .filter(|c| c.len() == 2)
        .map(|c| c.iter().next().unwrap().1)
        .collect();
    assert_eq!(together, (0..SHARED).collect::<BTreeSet<_>>());
}

#[test]
fn two_sites_of_html_pages_cluster_by_article_and_their_templates_are_flagged() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(arts) = articles(tmp.path()) else {
        return;
    };
    let (root, pages) = sites(tmp.path(), &arts);
    let out = tmp.path().join("out");
    neardup()
        .args(["scan", "-q", "-o"])
        .arg(&out)
        .arg(&root)
        .assert()
        .success();
    let by_id: HashMap<String, (String, usize)> = pages
        .iter()
        .map(|(s, i, p)| {
            let id = p
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (id, (s.clone(), *i))
        })
        .collect();
    check_partition(&partition(&out, &|id| by_id[id].clone()));
    // Both templates' furniture is flagged, per site (the outlet is the mirror's host directory).
    let flagged: BTreeSet<String> = json_lines(&out.join("boilerplate.jsonl"))
        .iter()
        .map(|l| l["text"].as_str().unwrap().to_string())
        .collect();
    for line in A_LINES.iter().chain(B_LINES) {
        assert!(flagged.contains(*line), "{line:?} not flagged: {flagged:?}");
    }
    let s = summary(&out);
    assert_eq!(s["documents"]["read"], (2 * SHARED + 2 * ONLY) as u64);
    assert_eq!(s["documents"]["duplicates"], SHARED as u64);

    // clean writes the kept pages' text as JSON Lines, furniture stripped, titles apart.
    let cleaned = tmp.path().join("cleaned");
    neardup()
        .args(["clean", "-q", "-o"])
        .arg(&cleaned)
        .arg(&root)
        .assert()
        .success();
    let kept = json_lines(&cleaned.join("pages.jsonl"));
    assert_eq!(kept.len(), SHARED + 2 * ONLY);
    for p in &kept {
        let text = p["text"].as_str().unwrap();
        for line in A_LINES.iter().chain(B_LINES) {
            assert!(
                !text.lines().any(|l| l == *line),
                "{line:?} left in {}",
                p["id"]
            );
        }
        assert!(!text.contains("not text") && !text.contains("جافاسكربت"));
        assert!(p["title"].as_str().unwrap().len() > 10, "{p}");
        assert!(text.split_whitespace().count() > 80, "{p}");
    }
}

fn gzip_member(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn the_same_pages_in_a_warc_crawl_give_the_same_clusters_with_uris_and_hosts() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(arts) = articles(tmp.path()) else {
        return;
    };
    let (root, pages) = sites(tmp.path(), &arts);
    // One gzip member per record, as crawlers write them; requests and a warcinfo too.
    let mut warc = Vec::new();
    let record = |kind: &str, uri: &str, ctype: &str, block: &[u8]| {
        let mut r = format!(
            "WARC/1.0\r\nWARC-Type: {kind}\r\nWARC-Target-URI: {uri}\r\nWARC-Record-ID: <urn:uuid:{}>\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
            uri.len(),
            block.len()
        )
        .into_bytes();
        r.extend_from_slice(block);
        r.extend_from_slice(b"\r\n\r\n");
        gzip_member(&r)
    };
    warc.extend(record(
        "warcinfo",
        "",
        "application/warc-fields",
        b"software: test\r\n",
    ));
    let mut by_uri = HashMap::new();
    for (site, i, path) in &pages {
        let rel = path
            .strip_prefix(root.join(site))
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let uri = format!("https://{site}/{rel}");
        let charset = if site == "alofq.example" {
            "utf-8"
        } else {
            "windows-1256"
        };
        let mut http =
            format!("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset={charset}\r\n\r\n")
                .into_bytes();
        http.extend(fs::read(path).unwrap());
        warc.extend(record(
            "request",
            &uri,
            "application/http; msgtype=request",
            b"GET / HTTP/1.1\r\n\r\n",
        ));
        warc.extend(record(
            "response",
            &uri,
            "application/http; msgtype=response",
            &http,
        ));
        by_uri.insert(uri, (site.clone(), *i));
    }
    let crawl = tmp.path().join("crawl.warc.gz");
    fs::write(&crawl, &warc).unwrap();
    let out = tmp.path().join("out");
    neardup()
        .args(["scan", "-q", "-o"])
        .arg(&out)
        .arg(&crawl)
        .assert()
        .success();
    check_partition(&partition(&out, &|id| by_uri[id].clone()));
    let s = summary(&out);
    assert_eq!(s["documents"]["read"], pages.len() as u64);
    // Requests and the warcinfo are counted, not lost.
    assert_eq!(s["problems_by_kind"]["not_a_document"], 1);
    assert_eq!(s["input_lost"], 0);
    let flagged: Vec<Value> = json_lines(&out.join("boilerplate.jsonl"));
    let sources: BTreeSet<String> = flagged
        .iter()
        .flat_map(|l| l["sources"].as_array().unwrap().clone())
        .map(|s| s["source"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        sources,
        ["alofq.example", "almasdar.example"]
            .map(String::from)
            .into()
    );
    // A crawl cut short: the records before the cut are kept, the loss is exit 2.
    let cut = tmp.path().join("cut.warc.gz");
    fs::write(&cut, &warc[..warc.len() / 2]).unwrap();
    let o = neardup()
        .args(["scan", "-q", "-o"])
        .arg(tmp.path().join("cut-out"))
        .arg(&cut)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let s = summary(&tmp.path().join("cut-out"));
    assert!(s["documents"]["read"].as_u64().unwrap() > 10);
}

#[test]
fn csv_and_tsv_tables_match_their_json_lines_twin() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(arts) = articles(tmp.path()) else {
        return;
    };
    let jsonl = tmp.path().join("t.jsonl");
    let csv = tmp.path().join("t.csv");
    let tsv = tmp.path().join("t.tsv");
    let mut j = fs::File::create(&jsonl).unwrap();
    let mut c = csv::Writer::from_path(&csv).unwrap();
    let mut t = csv::WriterBuilder::new()
        .delimiter(b'\t')
        .from_path(&tsv)
        .unwrap();
    c.write_record(["id", "site", "text"]).unwrap();
    t.write_record(["id", "site", "text"]).unwrap();
    for (i, a) in arts.iter().enumerate() {
        for copy in 0..(1 + usize::from(i < 10)) {
            let id = format!("{i}-{copy}");
            let site = if copy == 0 { "a.example" } else { "b.example" };
            let text = a.paragraphs.join("\n");
            writeln!(
                j,
                "{}",
                serde_json::json!({"id": id, "site": site, "text": text})
            )
            .unwrap();
            c.write_record([&id, site, &text]).unwrap();
            t.write_record([&id, site, &text]).unwrap();
        }
    }
    drop((j, c, t));
    let run = |input: &Path, name: &str| {
        let out = tmp.path().join(name);
        neardup()
            .args(["scan", "-q", "--source-field", "site", "-o"])
            .arg(&out)
            .arg(input)
            .assert()
            .success();
        clusters(&out).iter().map(member_ids).collect::<Vec<_>>()
    };
    let want = run(&jsonl, "j");
    assert_eq!(want.len(), 10);
    assert_eq!(run(&csv, "c"), want);
    assert_eq!(run(&tsv, "t"), want);
}

#[test]
fn nested_json_fields_by_dotted_path() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("nested.jsonl");
    let text = "the same story about the harbour strike told in enough words to match well";
    let mut lines = String::new();
    for (i, host) in ["a.example", "b.example", "c.example"].iter().enumerate() {
        lines.push_str(&format!(
            "{}\n",
            serde_json::json!({"meta": {"id": format!("n{i}"), "url": format!("https://{host}/x")},
                               "content": {"body": format!("{text}\nSubscribe to {host}")}})
        ));
    }
    fs::write(&f, lines).unwrap();
    let out = tmp.path().join("out");
    neardup()
        .args([
            "scan",
            "-q",
            "--text-field",
            "content.body",
            "--id-field",
            "meta.id",
            "--source-field",
            "meta.url",
            "-o",
        ])
        .arg(&out)
        .arg(&f)
        .assert()
        .success();
    let c = clusters(&out);
    assert_eq!(c.len(), 1);
    assert_eq!(member_ids(&c[0]), ["n0", "n1", "n2"]);
    let s = summary(&out);
    assert_eq!(s["options"]["text_field"], "content.body");
    assert_eq!(s["problems_by_kind"].as_object().unwrap().len(), 0, "{s}");
}

/// Write `rows` (id, site, text) as Parquet, in row groups of `group` rows.
#[cfg(feature = "parquet")]
fn write_parquet(path: &Path, rows: &[(String, String, String)], group: usize) {
    use parquet::data_type::{ByteArray, ByteArrayType};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;
    use std::sync::Arc;

    let schema = Arc::new(
        parse_message_type(
            "message doc { required binary id (UTF8); required binary site (UTF8); required binary text (UTF8); }",
        )
        .unwrap(),
    );
    let props = Arc::new(WriterProperties::builder().build());
    let mut w = SerializedFileWriter::new(fs::File::create(path).unwrap(), schema, props).unwrap();
    for chunk in rows.chunks(group) {
        let mut rg = w.next_row_group().unwrap();
        for col in 0..3 {
            let values: Vec<ByteArray> = chunk
                .iter()
                .map(|r| ByteArray::from([&r.0, &r.1, &r.2][col].as_str()))
                .collect();
            let mut c = rg.next_column().unwrap().unwrap();
            c.typed::<ByteArrayType>()
                .write_batch(&values, None, None)
                .unwrap();
            c.close().unwrap();
        }
        rg.close().unwrap();
    }
    w.close().unwrap();
}

#[cfg(feature = "parquet")]
#[test]
fn a_parquet_file_and_its_json_lines_twin_give_the_same_clusters() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(arts) = articles(tmp.path()) else {
        return;
    };
    let mut rows = Vec::new();
    for (i, a) in arts.iter().enumerate() {
        for copy in 0..(1 + usize::from(i % 4 == 0)) {
            let site = if copy == 0 { "a.example" } else { "b.example" };
            rows.push((
                format!("{i}-{copy}"),
                site.to_string(),
                a.paragraphs.join("\n"),
            ));
        }
    }
    let pq = tmp.path().join("t.parquet");
    write_parquet(&pq, &rows, 7); // several row groups, read in parallel, kept in order
    let jsonl = tmp.path().join("t.jsonl");
    let mut j = fs::File::create(&jsonl).unwrap();
    for (id, site, text) in &rows {
        writeln!(
            j,
            "{}",
            serde_json::json!({"id": id, "site": site, "text": text})
        )
        .unwrap();
    }
    let run = |input: &Path, name: &str| {
        let out = tmp.path().join(name);
        neardup()
            .args(["scan", "-q", "--source-field", "site", "-o"])
            .arg(&out)
            .arg(input)
            .assert()
            .success();
        (
            clusters(&out).iter().map(member_ids).collect::<Vec<_>>(),
            fs::read(out.join("boilerplate.jsonl")).unwrap(),
        )
    };
    let want = run(&jsonl, "j");
    assert_eq!(want.0.len(), (SHARED + 2 * ONLY).div_ceil(4));
    assert_eq!(run(&pq, "p"), want);
    // clean writes the rows as JSON Lines records.
    let cleaned = tmp.path().join("cleaned");
    neardup()
        .args(["clean", "-q", "--source-field", "site", "-o"])
        .arg(&cleaned)
        .arg(&pq)
        .assert()
        .success();
    let kept = json_lines(&cleaned.join("t.parquet.jsonl"));
    assert_eq!(kept.len(), rows.len() - want.0.len());
}
