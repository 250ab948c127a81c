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
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from encoder.paths import DEFAULT_MODEL  # noqa: E402
from encoder.training import read_beir, retrieval_metrics  # noqa: E402
from indexer.chunking import passage_text  # noqa: E402
from indexer.evaluation import RANKING_DEPTH, evaluate_beir  # noqa: E402
from indexer.lexical import LexicalIndex  # noqa: E402


def document_bm25(folder: Path) -> dict[str, float]:
    beir = read_beir(folder)
    names = list(beir.corpus)
    started = time.perf_counter()
    index = LexicalIndex.build((key, passage_text(*beir.corpus[name])) for key, name in enumerate(names))
    built = time.perf_counter() - started
    rankings = {query_id: [names[key] for key in index.search(text, RANKING_DEPTH)[0].tolist()]
                for query_id, text in beir.queries.items()}
    return retrieval_metrics(rankings, beir.qrels) | {"build s": built}


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
        documents = document_bm25(folder)
        for unit, found in (("passages (best per document)", passages), ("whole documents", documents)):
            print(f"| {folder.name} | {unit} | {found['ndcg@10']:.2f} | {found['recall@100']:.2f} | {found['mrr@10']:.2f} |")


if __name__ == "__main__":
    main()
