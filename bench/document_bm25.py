"""BM25 over whole documents (what Lucene does by default) against the engine's BM25 over passages, on
BEIR folders: does ranking a document by its best passage lose to ranking it by all of its text? The
same BM25 (`indexer.lexical`: Lucene's formula, stop words, stemmer, k1 0.9, b 0.4) either way; only
the unit indexed differs. The passage figure is the search service's (`manage.py eval-retrieval
--mode lexical`), so a difference here is the unit's alone. Prints a markdown table.

    .venv/bin/python bench/document_bm25.py ../shared/data/scifact ../shared/data/nfcorpus/beir_test
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from encoder.paths import DEFAULT_MODEL  # noqa: E402
from encoder.training import read_beir, retrieval_metrics  # noqa: E402
from indexer.evaluation import document_bm25_rankings, evaluate_beir  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--work", type=Path, help="instance folders to keep, one per set (default: temporary)")
    args = parser.parse_args()
    print("| set | unit | nDCG@10 | Recall@100 | MRR@10 |\n|---|---|---:|---:|---:|")
    for folder in args.folders:
        with tempfile.TemporaryDirectory() as scratch:
            work = (args.work / folder.name) if args.work else Path(scratch)
            passages = evaluate_beir(folder, DEFAULT_MODEL, modes=["lexical"], work=work)["lexical"]
        beir = read_beir(folder)
        documents = retrieval_metrics(document_bm25_rankings(beir), beir.qrels)
        for unit, found in (("passages (best per document)", passages), ("whole documents", documents)):
            print(f"| {folder.name} | {unit} | {found['ndcg@10']:.2f} | {found['recall@100']:.2f} | {found['mrr@10']:.2f} |")


if __name__ == "__main__":
    main()
