"""Whole-document dense retrieval with exact search, outside the search service: the model's own
retrieval quality, with no chunking, grouping or index in between.

`manage.py eval-retrieval` measures what users get (through `SearchService`); this measures the
encoder alone, as the training issues report it, so the two together show what the query path
costs or adds.

    .venv/bin/python bench/exact_retrieval.py BEIR_DIR... [--model DIR] [--split dev]

`--split dev` on NFCorpus's dev folder (scripts/prepare_gpu_data.py writes it) gives the figure the
fine-tuning recipe selects models by (`encoder.training.selection.DevSets`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from encoder import Encoder  # noqa: E402
from encoder.paths import DEFAULT_MODEL  # noqa: E402
from encoder.training import evaluate_retrieval, format_table  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("beir_dirs", nargs="+", metavar="BEIR_DIR")
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--split", default="test", help="the judged queries, qrels/SPLIT.tsv (default: test)")
    args = parser.parse_args()
    encoder = Encoder.load(args.model)
    results = {Path(folder).name: evaluate_retrieval(encoder, Path(folder), show_progress=True, split=args.split) for folder in args.beir_dirs}
    print(format_table(results, ["ndcg@10", "recall@100", "mrr@10", "queries", "documents"]))


if __name__ == "__main__":
    main()
