"""What `manage.py adapt` costs before it trains: the instance's documents streamed from its store as
`adapt` streams them, sampled (`--max-documents`, 0 for all), cut into span pairs and tokenised, then one
training step. Prints the documents, pairs and seconds; run it under `/usr/bin/time -v` for the peak RSS.
Nothing is switched: the checkpoint goes to --out.

    /usr/bin/time -v .venv/bin/python bench/adapt_cost.py W/http/wikipedia-100000 --out W/adapt-cost [--max-documents 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from encoder.training.adapt import AdaptConfig, adapt  # noqa: E402
from indexer.adaptation import documents_of  # noqa: E402
from indexer.search_index import SearchIndex  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("instance", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--max-documents", type=int, default=AdaptConfig.max_documents)
    args = parser.parse_args()
    index = SearchIndex.open(args.instance)
    started = time.perf_counter()
    documents = documents_of(index)  # as `manage.py adapt` reads them
    config = AdaptConfig(init_checkpoint=str(index.model), output_dir=str(args.out), max_steps=1, max_documents=args.max_documents)
    result = adapt(config, documents, iter(()), show_progress=False)
    print(f"{result.documents} of {result.collection_documents} documents, {result.pairs} pairs, "
          f"{time.perf_counter() - started:.1f} s to the end of one step")
    index.close()


if __name__ == "__main__":
    main()
