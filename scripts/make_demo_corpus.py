"""Build the bundled demo corpus, `demo/<collection>.jsonl.gz`, from the public data in ../shared/data.

Two collections, so that the collection filter has something to do: the lead paragraphs of
Wikipedia articles (general knowledge) and SciFact abstracts (biomedical research). The selection is
deterministic: the first articles of one dump file that have a real lead section, and every n-th
abstract. See demo/SOURCES.md for where each comes from and under which license.

    python scripts/make_demo_corpus.py [--data ../shared/data] [--out demo]
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

from encoder.training import open_text, read_wikiextractor

LEAD_CHARS = 1500  # the lead section, cut at a paragraph end near this length


def wikipedia_leads(path: Path, count: int, min_chars: int = 400) -> Iterator[dict]:
    """Articles' lead paragraphs (until the first section heading), skipping stubs and lists; read by
    the pretraining corpus reader, with its headings kept since they end the lead."""
    with open_text(path) as lines:
        articles = (a for a in read_wikiextractor(lines, min_words=1) if not a.title.startswith("List of"))
        leads = ((article, _lead(article.paragraphs)) for article in articles)
        for article, text in itertools.islice(((a, t) for a, t in leads if len(t) >= min_chars), count):
            yield {"id": f"wiki-{article.id}", "title": article.title, "text": text,
                   "url": article.url.replace("http://", "https://"), "source": "Wikipedia (English, 2014)"}


def _lead(paragraphs: list[str]) -> str:
    kept: list[str] = []
    for paragraph in paragraphs:
        if paragraph.endswith(".") and len(paragraph) < 60:  # a section heading: the lead is over
            break
        kept.append(paragraph)
        if sum(len(p) for p in kept) >= LEAD_CHARS:
            break
    return "\n\n".join(kept)


def scifact_abstracts(path: Path, count: int) -> Iterator[dict]:
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    step = max(1, len(rows) // count)
    for row in rows[::step][:count]:
        yield {"id": f"scifact-{row['_id']}", "title": row["title"], "text": row["text"],
               "source": "SciFact (Wadden et al., 2020)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "demo"))
    parser.add_argument("--wikipedia", type=int, default=2000)
    parser.add_argument("--scifact", type=int, default=1000)
    args = parser.parse_args()
    data = Path(args.data)
    collections = {
        "wikipedia": wikipedia_leads(data / "wikipedia_en_2014" / "enwiki2014_AI.txt.xz", args.wikipedia),
        "scifact": scifact_abstracts(data / "scifact" / "corpus.jsonl", args.scifact),
    }
    for name, records in collections.items():
        path = Path(args.out) / f"{name}.jsonl.gz"
        # mtime=0: the same input gives the same bytes, so a rebuild shows no change in git.
        with gzip.GzipFile(path, "wb", compresslevel=9, mtime=0) as out:
            count = sum(out.write((json.dumps(r, ensure_ascii=False) + "\n").encode("utf-8")) > 0 for r in records)
        print(f"wrote {path}: {count} documents, {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
