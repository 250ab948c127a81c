"""What BM25's analyzer costs: `terms` over a collection's texts (what indexing, every query and every
feedback text of an expanded search go through), and the BM25 build over an instance's passages
(what every save of the index does). Medians of several rounds; one thread.

    .venv/bin/python bench/analyzer.py --texts ../shared/data/scifact/corpus.jsonl --instance W/http/wikipedia-63300
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from encoder import passage_text  # noqa: E402
from indexer.lexical import LexicalIndex, terms  # noqa: E402
from indexer.search_index import SearchIndex  # noqa: E402
from integrity import timed  # noqa: E402  (bench/integrity.py: the median of a few runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=Path, required=True, help="a JSONL file with a `text` field (a BEIR corpus)")
    parser.add_argument("--limit", type=int, default=2000, help="texts analysed")
    parser.add_argument("--instance", type=Path, help="an instance whose passages BM25 is built over")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with args.texts.open(encoding="utf-8") as lines:
        texts = [json.loads(line)["text"] for line in itertools.islice(lines, args.limit)]
    analysing = timed(lambda: [terms(text) for text in texts], args.rounds)
    print(f"terms(): {analysing / len(texts) * 1e6:.1f} µs a text over {len(texts)} texts of {args.texts}")
    if args.instance:
        index = SearchIndex.open(args.instance)
        passages = [(chunk, passage_text(title, text)) for chunk, title, text in index.store.titled_texts()]
        index.close()
        building = timed(lambda: LexicalIndex.build(iter(passages)), args.rounds)
        print(f"LexicalIndex.build: {building:.2f} s over {len(passages)} passages of {args.instance}")


if __name__ == "__main__":
    main()
