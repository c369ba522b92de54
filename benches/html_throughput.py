#!/usr/bin/env python3
"""HTML input speed beside JSON Lines, measured side by side in one run.

Wraps the first N saudinewsnet articles in a news-site HTML template (navigation, share bar,
footer, a script and a style block: the furniture real pages carry), writes them as a `wget -r`
style mirror, writes the same texts as JSON Lines, and times `neardup scan` on both (best of 3,
alternating), printing MB/s of input and the ratio.

    benches/html_throughput.py BINARY [N]   (needs ../shared/data and zstd)
"""
import json, os, shutil, subprocess, sys, tempfile, time

binary = os.path.abspath(sys.argv[1])
n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
here = os.path.dirname(os.path.abspath(__file__))
data = os.path.join(here, "..", "..", "shared", "data", "saudinewsnet", "docs.jsonl.zst")
raw = subprocess.run(["zstd", "-q", "-d", "--long=27", "-c", data], capture_output=True, check=True).stdout
tmp = tempfile.mkdtemp()
site = os.path.join(tmp, "mirror", "alofq.example", "news")
os.makedirs(site)
html_bytes = 0
with open(os.path.join(tmp, "same.jsonl"), "w") as j:
    for i, line in enumerate(raw.decode().splitlines()[:n]):
        d = json.loads(line)
        esc = lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        paras = "".join(f"<p>{esc(p.strip())}</p>\n" for p in d["text"].split("\n") if p.strip())
        page = f"""<!DOCTYPE html><html lang="ar"><head><meta charset="utf-8"><title>{esc(d['title'] or '')} | صحيفة الأفق</title>
<style>body {{ font-family: serif }} .nav li {{ display: inline }}</style><script>window.dataLayer=[];function t(a){{return a<1}}</script></head>
<body><header><div class="logo">صحيفة الأفق</div><ul class="nav"><li><a href="/">الصفحة الرئيسية</a></li><li><a>أخبار محلية</a></li><li><a>اقتصاد</a></li></ul></header>
<main><article><h1>{esc(d['title'] or '')}</h1><div class="content">{paras}</div></article><div class="share">شارك الخبر عبر <a>تويتر</a></div></main>
<footer><p>جميع الحقوق محفوظة لصحيفة الأفق</p></footer></body></html>"""
        b = page.encode()
        html_bytes += len(b)
        open(os.path.join(site, f"{i:06d}.html"), "wb").write(b)
        j.write(json.dumps({"id": d["id"], "text": d["text"]}, ensure_ascii=False) + "\n")
jsonl_bytes = os.path.getsize(os.path.join(tmp, "same.jsonl"))
best = {"html": 1e9, "jsonl": 1e9}
for _ in range(3):
    for kind, arg in [("html", os.path.join(tmp, "mirror")), ("jsonl", os.path.join(tmp, "same.jsonl"))]:
        t = time.perf_counter()
        subprocess.run([binary, "scan", arg, "-o", os.path.join(tmp, "out-" + kind), "-q"], check=True)
        best[kind] = min(best[kind], time.perf_counter() - t)
print(json.dumps({
    "documents": n,
    "html_mb": round(html_bytes / 1e6, 1), "jsonl_mb": round(jsonl_bytes / 1e6, 1),
    "html_s": round(best["html"], 3), "jsonl_s": round(best["jsonl"], 3),
    "html_mb_per_s": round(html_bytes / 1e6 / best["html"], 1),
    "jsonl_mb_per_s": round(jsonl_bytes / 1e6 / best["jsonl"], 1),
    "html_time_over_jsonl": round(best["html"] / best["jsonl"], 2),
}))
shutil.rmtree(tmp)
