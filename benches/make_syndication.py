#!/usr/bin/env python3
"""Build a labelled syndication benchmark from real articles (deterministic, seeded).

Usage: make_syndication.py {ar,en} DATA_DIR OUT_DIR [--bases N] [--distractors N] [--seed S]

ar: articles from ../shared/data/saudinewsnet (one outlet, alriyadh, so the pool holds few
    real reprints of its own); en: reuters21578 bodies.
Picks base articles (>= 120 words), makes copies with the transformations real syndication
applies, mixes in other articles of the pool as distractors (leaving out pool articles that share
>= 10 % of a base's word 5-grams: real reprints the labels would not know), and writes
  OUT_DIR/docs.jsonl    {"id", "text", "transform"}
  OUT_DIR/labels.jsonl  {"id", "cluster", "transform"}   (cluster = base id; distractors alone)

Transformations (each copy tagged with the one applied):
  header_footer  another outlet's header and footer lines around the article
  variants       ar: harakat, tatweel, letter variants (ا/أ, ه/ة, ي/ى); en: case and quote changes
  reflow         lines joined and re-wrapped at a random width
  edits          about 4 % of the words replaced, one sentence dropped
  teaser         only the first 35-50 % of the words (a truncated reprint)
  embedded       the article inside a longer page, between two unrelated articles
  heavy          header_footer + variants + reflow + 8 % edits + truncation to 70 %
"""
import argparse
import json
import random
import re
import subprocess
import textwrap

TRANSFORMS = ["header_footer", "variants", "reflow", "edits", "teaser", "embedded", "heavy"]

HEADERS = {
    "ar": [
        ["صحيفة الخبر | الرئيسية | محليات | رياضة", "آخر تحديث: الثلاثاء"],
        ["موقع النبأ الإخباري", "أخبار عاجلة"],
        ["جريدة الوطن اليوم – الصفحة الأولى"],
        ["التخطي إلى المحتوى", "بوابة الأخبار"],
    ],
    "en": [
        ["Daily Herald | Home | World | Business", "Updated 10:42 GMT"],
        ["The Morning Post - Top Stories"],
        ["Skip to content", "Metro News Online"],
        ["WORLD NEWS NETWORK", "Breaking"],
    ],
}
FOOTERS = {
    "ar": [
        ["جميع الحقوق محفوظة © 2015", "تابعونا على تويتر وفيسبوك"],
        ["اقرأ أيضاً: أخبار ذات صلة", "شارك الخبر"],
        ["للاشتراك في النشرة البريدية اضغط هنا"],
    ],
    "en": [
        ["(c) 2015 Daily Herald. All rights reserved.", "Follow us on Twitter"],
        ["Share this article", "Related stories"],
        ["Subscribe to our newsletter"],
    ],
}
HARAKAT = ["\u064e", "\u064f", "\u0650", "\u0651", "\u0652", "\u064b"]


def load(lang, data):
    if lang == "ar":
        path, keep = f"{data}/saudinewsnet/docs.jsonl.zst", lambda d: d.get("source") == "alriyadh"
    else:
        path, keep = f"{data}/reuters21578/docs.jsonl.zst", lambda d: True
    raw = subprocess.run(["zstd", "-dc", "--long=27", path], capture_output=True, check=True).stdout
    out = []
    for line in raw.decode("utf-8").splitlines():
        d = json.loads(line)
        text = re.sub(r"\s*\b(Reuter|REUTER)\s*$", "", d.get("text") or "").strip()
        if keep(d) and len(text.split()) >= 40:
            out.append((d["id"], text))
    return out


def shingles(text):
    """Word 5-grams of a simply normalised text (independent of neardup's normaliser)."""
    t = re.sub("[\u064b-\u065f\u0670\u0640]", "", text.lower())
    t = t.translate(str.maketrans("أإآىة", "ااايه"))
    w = re.findall(r"\w+", t)
    return {tuple(w[i : i + 5]) for i in range(max(1, len(w) - 4))}


def related_to(bases, pool, share=0.1):
    """Ids of pool articles sharing at least `share` of a base's (or their own) 5-grams with
    some base: real reprints in the pool, which must not serve as distractors."""
    index = {}
    base_sh = {}
    for bid, text in bases:
        base_sh[bid] = shingles(text)
        for s in base_sh[bid]:
            index.setdefault(s, []).append(bid)
    out = set()
    for pid, text in pool:
        sh = shingles(text)
        counts = {}
        for s in sh:
            for b in index.get(s, ()):
                counts[b] = counts.get(b, 0) + 1
        if any(c >= share * min(len(sh), len(base_sh[b])) for b, c in counts.items()):
            out.add(pid)
    return out


def variants(text, lang, rng):
    if lang == "en":
        words = text.split(" ")
        for i in range(len(words)):
            r = rng.random()
            if r < 0.05:
                words[i] = words[i].upper()
            elif r < 0.10:
                words[i] = words[i].lower()
        return " ".join(words).replace('"', "\u201c", 1).replace("'", "\u2019")
    out = []
    for ch in text:
        out.append(ch)
        if "\u0621" <= ch <= "\u064a" and rng.random() < 0.15:
            out.append(rng.choice(HARAKAT))
    t = "".join(out)
    swaps = [("ا", "أ"), ("ة", "ه"), ("ى", "ي"), ("أ", "ا"), ("ي", "ى")]
    for a, b in swaps:
        t = re.sub(a, lambda m: b if rng.random() < 0.2 else a, t)
    return re.sub(r"(\S{4,})", lambda m: m.group(1)[:2] + "\u0640" + m.group(1)[2:] if rng.random() < 0.03 else m.group(1), t)


def reflow(text, rng):
    flat = " ".join(text.split())
    return textwrap.fill(flat, rng.randint(55, 95))


def edits(text, rate, vocab, rng):
    sentences = re.split(r"(?<=[.!?؟])\s+", text)
    if len(sentences) > 3:
        del sentences[rng.randrange(1, len(sentences))]
    words = " ".join(sentences).split(" ")
    for i in range(len(words)):
        if rng.random() < rate:
            words[i] = rng.choice(vocab)
    return " ".join(words)


def truncate(text, frac):
    words = text.split(" ")
    return " ".join(words[: max(20, int(len(words) * frac))])


def wrap(text, lang, rng):
    h = rng.choice(HEADERS[lang])
    f = rng.choice(FOOTERS[lang])
    return "\n".join(h + [""] + [text] + [""] + f)


def transform(kind, text, lang, pool, vocab, rng):
    if kind == "header_footer":
        return wrap(text, lang, rng)
    if kind == "variants":
        return variants(text, lang, rng)
    if kind == "reflow":
        return reflow(text, rng)
    if kind == "edits":
        return edits(text, 0.04, vocab, rng)
    if kind == "teaser":
        return truncate(text, rng.uniform(0.35, 0.5))
    if kind == "embedded":
        # Fillers are used once each, so two embedded pages never share an article.
        a, b = pool.pop(), pool.pop()
        return "\n\n".join([a[1], text, b[1]])
    if kind == "heavy":
        t = edits(text, 0.08, vocab, rng)
        t = truncate(t, 0.7)
        return wrap(reflow(variants(t, lang, rng), rng), lang, rng)
    raise ValueError(kind)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lang", choices=["ar", "en"])
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--bases", type=int, default=300)
    ap.add_argument("--distractors", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=20261122)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    articles = load(a.lang, a.data)
    rng.shuffle(articles)
    long_ones = [x for x in articles if len(x[1].split()) >= 120]
    # Bases unrelated to each other (no base may be a reprint of, or carry text of, another).
    bases = []
    for cand in long_ones:
        if len(bases) == a.bases:
            break
        if not bases or not related_to(bases, [cand]):
            if not related_to([cand], bases):
                bases.append(cand)
    base_ids = {b[0] for b in bases}
    rest = [x for x in articles if x[0] not in base_ids]
    reprints = related_to(bases, rest)
    rest = [x for x in rest if x[0] not in reprints]
    distractors = rest[: a.distractors]
    # Filler for embedded pages: articles that are not reprints of a base or a distractor.
    spare = rest[a.distractors : a.distractors + 1500]
    related = related_to(bases + distractors, spare)
    embed_pool = [x for x in spare if x[0] not in related]
    rng.shuffle(embed_pool)
    vocab = [w for _, t in distractors[:200] for w in t.split()[:50]]
    import os

    os.makedirs(a.out, exist_ok=True)
    docs, labels = [], []
    for bid, text in bases:
        docs.append({"id": bid, "text": text, "transform": "base"})
        labels.append({"id": bid, "cluster": bid, "transform": "base"})
        for kind in rng.sample(TRANSFORMS, 3):
            cid = f"{bid}~{kind}"
            docs.append({"id": cid, "text": transform(kind, text, a.lang, embed_pool, vocab, rng), "transform": kind})
            labels.append({"id": cid, "cluster": bid, "transform": kind})
    for did, text in distractors:
        docs.append({"id": did, "text": text, "transform": "distractor"})
        labels.append({"id": did, "cluster": did, "transform": "distractor"})
    order = list(range(len(docs)))
    rng.shuffle(order)
    with open(f"{a.out}/docs.jsonl", "w") as f:
        for i in order:
            f.write(json.dumps(docs[i], ensure_ascii=False) + "\n")
    with open(f"{a.out}/labels.jsonl", "w") as f:
        for i in order:
            f.write(json.dumps(labels[i], ensure_ascii=False) + "\n")
    print(f"{a.lang}: {len(bases)} bases, {len(docs) - len(bases) - len(distractors)} copies, "
          f"{len(distractors)} distractors ({len(reprints)} real reprints of bases left out)")


if __name__ == "__main__":
    main()
