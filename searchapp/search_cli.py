"""`manage.py search` and `manage.py eval-retrieval`: the instance searched from the shell, and a BEIR
set's judged queries sent through the same search service, with the settings' search options
(`BM25_UNIT`, `QUERY_EXPANSION`, reranking) unless a flag says otherwise."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from encoder.training import format_table
from encoder.training.commands import write_results
from indexer.evaluation import evaluate_beir
from indexer.expansion import expands
from indexer.reranking import checked_depth
from indexer.retrieval import BM25_UNITS, MODES

from .instance import InstanceSettings
from .terminal import format_results, search_params

Settings = Callable[[argparse.Namespace], InstanceSettings]
BM25_UNIT_OPTIONS = {"choices": BM25_UNITS, "help": "what BM25 ranks in lexical and hybrid modes (default: the BM25_UNIT setting)"}
EXPANSION_OPTIONS = {"action": argparse.BooleanOptionalAction,
                     "help": "expand BM25's queries by the words of its top texts, in every mode or none "
                             "(default: the QUERY_EXPANSION setting, which expands hybrid searches only)"}


def add_commands(commands: argparse._SubParsersAction, settings: Settings) -> None:
    """Add `eval-retrieval` and `search`; `settings` resolves the instance, and these commands' search
    options (`--bm25-unit`, `--expansion`), from the parsed arguments."""
    retrieval = commands.add_parser("eval-retrieval", help="nDCG@10, Recall@100, MRR@10 and latency on a BEIR folder, through the search service")
    retrieval.add_argument("beir_dir", metavar="BEIR_DIR")
    retrieval.add_argument("--mode", nargs="+", choices=MODES, default=list(MODES), help="modes to evaluate (default: all)")
    retrieval.add_argument("--model")
    retrieval.add_argument("--bm25-unit", **BM25_UNIT_OPTIONS)
    retrieval.add_argument("--expansion", **EXPANSION_OPTIONS)
    retrieval.add_argument("--rerank", type=int, default=0, metavar="N", help="rerank each search's top N documents (default: none)")
    retrieval.add_argument("--work", help="instance folder to index into and keep (default: a temporary one)")
    retrieval.add_argument("--split", default="test", help="judged queries (qrels/SPLIT.tsv): choose settings on dev or train, never test")
    retrieval.add_argument("--json", help="also write the results to this JSON file")
    retrieval.set_defaults(run=lambda args: eval_retrieval(args, settings(args)))

    find = commands.add_parser("search", help="search the instance from the shell, as the web UI and /api do")
    find.add_argument("query", metavar="QUERY")
    find.add_argument("--mode", metavar="|".join(MODES), help="default: the SEARCH_MODE setting (hybrid unless set)")
    find.add_argument("--k", default="10", help="results to show (default 10)")
    find.add_argument("--offset", default="0", help="results to skip, for the next page")
    find.add_argument("--collection", help="only this collection")
    find.add_argument("--bm25-unit", **BM25_UNIT_OPTIONS)
    find.add_argument("--expansion", **EXPANSION_OPTIONS)
    find.add_argument("--filter", action="append", default=[], metavar="FIELD=VALUE",
                      help="only documents whose metadata FIELD is VALUE (repeat a field for any of several values)")
    find.add_argument("--rerank", action=argparse.BooleanOptionalAction, help="rerank the top RERANK_DEPTH (default: the RERANK setting)")
    find.add_argument("--json", action="store_true", help="print the JSON of GET /api/search")
    find.set_defaults(run=lambda args: search(args, settings(args)))


def eval_retrieval(args: argparse.Namespace, where: InstanceSettings) -> None:
    results = evaluate_beir(Path(args.beir_dir), where.default_model, modes=args.mode, work=Path(args.work) if args.work else None,
                            show_progress=True, bm25=where.bm25_unit, rerank=checked_depth(args.rerank), reranker=where.reranker(),
                            split=args.split, expansion=where.query_expansion)
    print(format_table(results, ["ndcg@10", "recall@100", "mrr@10", "p50 ms", "p99 ms", "queries", "documents"]))
    write_results(args.json, {"model": str(where.model), "dataset": Path(args.beir_dir).name, "split": args.split, "bm25": where.bm25_unit,
                              "query_expansion": where.query_expansion, "reranker": where.reranker_folder if args.rerank else None,
                              "rerank": args.rerank, "results": results})


def search(args: argparse.Namespace, where: InstanceSettings) -> None:
    """The instance searched as the app searches it (same service, same parameter rules), read-only."""
    mode = args.mode or where.search_mode
    params = search_params(args.query, mode, args.k, args.offset, args.collection, args.filter, where.bm25_unit,
                           where.rerank if args.rerank is None else args.rerank, where.rerank_depth, expands(where.query_expansion, mode))
    results = where.open_service().search(params.query, params.mode, params.k, params.offset, params.filters, params.bm25,
                                          params.rerank, params.expand)
    if args.json:
        print(json.dumps(results.as_json() | {"k": params.k, "offset": params.offset}, ensure_ascii=False, indent=2))
    else:
        print(format_results(results, params.offset, bold=sys.stdout.isatty(), width=min(100, shutil.get_terminal_size().columns)))
