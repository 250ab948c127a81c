"""How long `GET /api/explain` takes for a passage that fills the shipped model's 256 tokens, through the
Flask test client in one process on one thread (a server worker's setting, THREADS=1): routing, the
document lookup, both forward passes, the alignment and the JSON, without the network.

The instance holds demo Wikipedia documents cut to one passage each of the most word pieces a passage
may have (max_length - 2 - TITLE_TOKENS), with titles lengthened to TITLE_TOKENS pieces, so that every
passage is encoded, title first, as 256 tokens; each request explains one of them for one SciFact claim.

    .venv/bin/python bench/explain.py [--requests 200] [--work /tmp/bench-explain]
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from encoder.paths import DEFAULT_MODEL  # noqa: E402
from indexer.demo import demo_files  # noqa: E402
from indexer.ingest import IndexConfig, index_records  # noqa: E402
from indexer.passages import TITLE_TOKENS  # noqa: E402
from indexer.readers import Record  # noqa: E402
from indexer.search_index import SearchIndex  # noqa: E402
from searchapp import create_app  # noqa: E402

DOCUMENTS = 50
SCIFACT_QUERIES = ROOT.parent / "shared" / "data" / "scifact" / "queries.jsonl"


def full_passages(index: SearchIndex) -> list[Record]:
    """Demo documents of exactly one full passage each, with titles of TITLE_TOKENS word pieces."""
    tokenizer = index.encoder.tokenizer
    passage_tokens = index.encoder.max_length - 2 - TITLE_TOKENS
    with gzip.open(demo_files()["wikipedia"], "rt", encoding="utf-8") as lines:
        texts = [json.loads(line)["text"] for line in lines]
    texts = [text for text, spans in zip(texts, tokenizer.token_offsets(texts)) if len(spans) > passage_tokens]
    records = []
    for i, text in enumerate(texts[:DOCUMENTS]):
        spans = tokenizer.token_offsets([text, texts[-1 - i]])
        title = texts[-1 - i][: spans[1][TITLE_TOKENS - 1][1]]
        records.append(Record(f"bench-{i}", title, text[: spans[0][passage_tokens - 1][1]], {}, "bench"))
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--work", type=Path, help="instance folder to build (default: a temporary one)")
    args = parser.parse_args()
    folder = args.work or Path(tempfile.mkdtemp(prefix="bench-explain-"))
    index = SearchIndex.open(folder, model=DEFAULT_MODEL)
    if not index.stats()["documents"]:
        index_records(index, full_passages(index), IndexConfig(collection="bench"))
    index.close()
    client = create_app({"INSTANCE": str(folder), "THREADS": 1}).test_client()
    claims = [json.loads(line)["text"] for line in SCIFACT_QUERIES.open(encoding="utf-8")]
    requests = list(zip(itertools.islice(itertools.cycle(claims), args.requests), itertools.cycle(range(DOCUMENTS))))
    tokenizer = None
    for claim, document in requests[:10]:  # warm-up: the model loads on the first request
        client.get("/api/explain", query_string={"q": claim, "id": f"bench-{document}"})
    wall, inside, tokens = [], [], []
    for claim, document in requests:
        started = time.perf_counter()
        response = client.get("/api/explain", query_string={"q": claim, "id": f"bench-{document}"})
        wall.append((time.perf_counter() - started) * 1000)
        body = response.get_json()
        assert response.status_code == 200, body
        inside.append(body["took_ms"])
        tokenizer = tokenizer or client.application.extensions["search_service"].index.encoder.tokenizer
        tokens.append(len(tokenizer.tokens(body["text"])))
    print(f"{len(requests)} requests, {DOCUMENTS} passages of {min(tokens)}-{max(tokens)} tokens, SciFact claims, one thread\n")
    print("| measured | p50 ms | p95 ms |\n|---|---:|---:|")
    for name, values in (("GET /api/explain (Flask test client)", wall), ("of which the explanation (took_ms)", inside)):
        print(f"| {name} | {statistics.median(values):.1f} | {statistics.quantiles(values, n=20)[-1]:.1f} |")


if __name__ == "__main__":
    main()
