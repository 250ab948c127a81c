"""What a cross-encoder adds on top of hybrid search: each judged query's hybrid top 100 is taken through
`SearchService.search`, as `manage.py eval-retrieval` takes it, then its top N documents are rescored by
each reranker and put first in that order, the rest keeping hybrid's. A document is read as the search
service's reranker reads it: the passage search shows for the query, titled (`--text shown`,
`indexer.reranking.reranked_text`); `--text
start` reads its title and text from the start instead, as `train-reranker --dev` must (no index there),
and the two can differ by points (docs/benchmarks.md, "a CPU reranker blended with its first stage"). nDCG@10, Recall@100 and MRR@10 by
`retrieval_metrics`, x100. The deepest N is scored once per query and the shallower ones reuse its
scores (a pair's score does not depend on the others); the time shown is scoring that deepest N.

    .venv/bin/python bench/rerank_quality.py ../shared/data/scifact ../shared/data/nfcorpus/beir_test \
        --reranker models/reranker [--reranker OTHER ...] [--split test] [--depths 10 20 30 50] [--work /tmp/rerank]

`--work` keeps one instance per folder (named after the folder's last two path parts), so a second run
indexes nothing. Choose between rerankers on dev queries (`--split dev` on a folder whose qrels has
dev.tsv, e.g. the NFCorpus dev folder of scripts/prepare_gpu_data.py), never on test queries.
`--first-stage-weights` adds rows that blend each reranker's scores with hybrid's order
(`encoder.cross_encoder.blended`; by default 0 and the weight the reranker's folder names); with
`--save` (dev queries only) the best at the deepest depth is written into each reranker's config.json,
where search takes it from.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from encoder import CrossEncoder  # noqa: E402
from encoder.paths import DEFAULT_MODEL  # noqa: E402
from encoder.training import read_beir  # noqa: E402
from encoder.training.evaluation import BeirSet  # noqa: E402
from encoder.checkpoint import save_settings  # noqa: E402
from encoder.cross_encoder import FIRST_STAGE_WEIGHT_KEY  # noqa: E402
from encoder.training.rerank_evaluation import Passages, Rankings, best_first_stage_weight, rerank_table, row_name  # noqa: E402
from indexer.evaluation import RANKING_DEPTH, indexed_service  # noqa: E402
from indexer.reranking import reranked_text  # noqa: E402

COLUMNS = {"ndcg@10": "nDCG@10", "recall@100": "Recall@100", "mrr@10": "MRR@10"}  # retrieval_metrics name: shown


def hybrid_candidates(folder: Path, split: str, instance: Path, model: Path, limit: int | None) -> tuple[Rankings, Passages, BeirSet]:
    """(each query's hybrid top RANKING_DEPTH document ids, the passage search shows for each of them,
    titled as the search service's reranker reads it, and the BEIR set), for the first `limit` judged
    queries (all without one)."""
    beir = read_beir(folder, split)
    beir.queries = dict(list(beir.queries.items())[:limit])
    beir.qrels = {qid: beir.qrels[qid] for qid in beir.queries}
    service = indexed_service(folder, instance, model)
    rankings, passages = {}, {}
    for qid, text in beir.queries.items():
        hits = service.search(text, mode="hybrid", k=RANKING_DEPTH).hits
        rankings[qid] = [hit.id for hit in hits]
        # The opening words come from the document's text here, from its first passage in search: the same
        # words wherever a first passage holds 16 of them, as with any model of 128 tokens or more.
        texts = {hit.id: beir.corpus[hit.id][1] for hit in hits}
        passages[qid] = {hit.id: reranked_text(hit.title, texts[hit.id][slice(*hit.passage)], texts[hit.id] if hit.passage[0] > 0 else "")
                         for hit in hits}
    service.index.close()
    return rankings, passages, beir


def row(name: str, metrics: dict[str, float], extra: str = "") -> str:
    return f"| {name} | " + " | ".join(f"{metrics[c]:.2f}" for c in COLUMNS) + f" | {extra} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path, help="BEIR folders")
    parser.add_argument("--reranker", action="append", required=True, help="reranker folder (repeat to compare)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--depths", nargs="+", type=int, default=[10, 20, 30, 50])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="the dense model of the hybrid search, for a new instance (one kept in --work keeps its own)")
    parser.add_argument("--work", type=Path, help="keep the instances here (default: a temporary folder)")
    parser.add_argument("--max-length", type=int, help="reranker input tokens (default: the checkpoint's)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--precision", default="auto", choices=("auto", "float32", "bfloat16"))
    parser.add_argument("--queries", type=int, help="only the first N judged queries of each set (a quick comparison)")
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's choice)")
    parser.add_argument("--first-stage-weights", nargs="+", type=float, help="blends with hybrid's order to measure (default: 0 and the reranker's own)")
    parser.add_argument("--text", choices=("shown", "start"), default="shown",
                        help="what the reranker reads of a document: the passage search shows, titled, as the service's reranker "
                             "does (default), or its title and text from the start, as train-reranker --dev does")
    parser.add_argument("--save", action="store_true", help="write the best blend at the deepest depth into each reranker (dev split only)")
    args = parser.parse_args()
    if args.save and args.split == "test":
        parser.error("--save chooses on dev queries: give --split dev (never tune on test queries)")
    if args.threads:
        torch.set_num_threads(args.threads)
    scorers = {name: CrossEncoder.load(name, precision=args.precision, max_length=args.max_length) for name in args.reranker}
    deepest = max(args.depths)
    with tempfile.TemporaryDirectory(prefix="rerank-quality-") as scratch:
        work = args.work or Path(scratch)
        for folder in args.folders:
            instance = work / "_".join(folder.resolve().parts[-2:])
            rankings, shown, beir = hybrid_candidates(folder, args.split, instance, args.model, args.queries)
            passages = shown if args.text == "shown" else None
            print(f"\n{folder} ({args.split}, {len(beir.queries)} queries, {len(beir.corpus)} documents)\n")
            print("| ranking | " + " | ".join(COLUMNS.values()) + " | rerank ms/query |")
            print("|---|" + "---:|" * (len(COLUMNS) + 1))
            for name, scorer in scorers.items():
                weights = sorted(set(args.first_stage_weights or (0.0, scorer.first_stage_weight)))
                table, ms = rerank_table(scorer, beir, rankings, args.depths, args.batch_size, weights, passages)
                if name == args.reranker[0]:
                    print(row("hybrid", table["first stage"]), flush=True)
                for depth in args.depths:
                    for weight in weights:
                        shown = f"{ms:.0f} (top {deepest}, {scorer.compute_dtype})" if depth == deepest and weight == weights[0] else ""
                        print(row(f"{name}, {row_name(depth, weight).removeprefix('reranked ')}", table[row_name(depth, weight)], shown), flush=True)
                if args.save:
                    chosen = best_first_stage_weight(table, deepest, weights)
                    save_settings(name, {FIRST_STAGE_WEIGHT_KEY: chosen})
                    print(f"saved {FIRST_STAGE_WEIGHT_KEY} {chosen:g} in {name}/config.json (best at top {deepest} on {folder})")


if __name__ == "__main__":
    main()
