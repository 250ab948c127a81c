"""`manage.py quality`: the operator's labelled query sets from the shell (add, list, run, history), the
same sets, runs and figures as the /quality pages (searchapp/quality_pages.py).

`run` measures in the foreground, in this process, with a progress bar: its runs are created already
claimed, so a background writer never takes them while this process is alive (see indexer/quality_store.py).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from tqdm.auto import tqdm

from encoder.training import format_table
from indexer import quality_store
from indexer.quality import add_labelled, latest_runs, measure
from indexer.reranking import checked_depth
from indexer.retrieval import MODES
from indexer.search_index import store_url
from indexer.store import Store, open_store

from .instance import InstanceSettings

Settings = Callable[[argparse.Namespace], InstanceSettings]
FIGURES = ("ndcg@10", "recall@100", "mrr@10", "p50 ms", "p95 ms", "p99 ms", "queries")


def add_commands(commands: argparse._SubParsersAction, settings: Settings) -> None:
    """Add `quality` and its subcommands; `settings` resolves the instance from the parsed arguments."""
    quality = commands.add_parser("quality", help="labelled query sets measured through the search service (see /quality)")
    subcommands = quality.add_subparsers(dest="quality_command", required=True, metavar="SUBCOMMAND")

    add = subcommands.add_parser("add", help="register a labelled set: BEIR queries and qrels, for one collection")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--collection", required=True, help="the collection its queries are searched in")
    source = add.add_mutually_exclusive_group(required=True)
    source.add_argument("--beir", metavar="DIR", help="a BEIR folder: its queries.jsonl and qrels/SPLIT.tsv")
    source.add_argument("--queries", metavar="FILE", help="a queries.jsonl (with --qrels)")
    add.add_argument("--split", default="test", help="the qrels of a BEIR folder (default: test)")
    add.add_argument("--qrels", metavar="FILE", help="a qrels TSV: query-id, corpus-id, score (with --queries)")
    add.set_defaults(run=lambda args: run_add(args, settings(args)))

    listing = subcommands.add_parser("list", help="the sets, with the latest figures of each mode")
    listing.set_defaults(run=lambda args: print(sets_table(_store(settings(args)))))

    measure_set = subcommands.add_parser("run", help="measure a set now, in the foreground, and print its figures")
    measure_set.add_argument("name", metavar="NAME")
    measure_set.add_argument("--mode", nargs="+", choices=MODES, default=list(MODES), help="modes to run (default: all)")
    measure_set.add_argument("--rerank", type=int, default=0, metavar="N", help="rerank each search's top N documents (default: no reranking)")
    measure_set.add_argument("--quiet", action="store_true", help="no progress bar")
    measure_set.set_defaults(run=lambda args: run_set(args, settings(args)))

    history = subcommands.add_parser("history", help="every run of a set, oldest first")
    history.add_argument("name", metavar="NAME")
    history.set_defaults(run=lambda args: print(history_table(_store(settings(args)), args.name)))


def _store(where: InstanceSettings) -> Store:
    """The instance's store; a missing folder (where it holds the store) is refused rather than made."""
    if where.database_url is None and not Path(where.folder).is_dir():
        raise FileNotFoundError(f"{where.folder}: no such instance folder (index documents first: "
                                f"`manage.py --instance {where.folder} index PATH...`)")
    return open_store(store_url(where.folder, where.database_url))


def run_add(args: argparse.Namespace, where: InstanceSettings) -> None:
    if args.beir:
        queries, qrels = Path(args.beir) / "queries.jsonl", Path(args.beir) / "qrels" / f"{args.split}.tsv"
    elif args.qrels:
        queries, qrels = Path(args.queries), Path(args.qrels)
    else:
        raise ValueError("--queries needs --qrels, the judgements of its queries")
    with queries.open(encoding="utf-8") as query_lines, qrels.open(encoding="utf-8", newline="") as qrels_lines:
        added = add_labelled(_store(where), args.name, args.collection, query_lines, qrels_lines, str(queries), str(qrels))
    print(f"added {added.name!r}: {len(added.qrels)} judged queries for collection {added.collection!r}")


def run_set(args: argparse.Namespace, where: InstanceSettings) -> None:
    store = _store(where)
    labelled = labelled_named(store, args.name)
    rerank = checked_depth(args.rerank)
    service = where.open_service()
    if rerank and (problem := service.reranker.problem):
        raise ValueError(problem)
    figures = {}
    for mode in args.mode:
        run_id = quality_store.add_run(store, labelled, mode, claimed=True, rerank=rerank)
        run = quality_store.run(store, run_id)
        with tqdm(total=len(labelled.qrels), desc=run.label, unit="query", disable=args.quiet) as bar:
            measure(service, store, run, labelled, on_query=bar.update)
        run = quality_store.run(store, run_id)
        if run.error:
            raise ValueError(f"run {run.id} ({run.label}) failed: {run.error}")
        figures[f"{run.label} (run {run.id})"] = run.metrics
    print(f"{labelled.name} on index version {run.index_version}, model {run.model}")
    print(format_table(figures, FIGURES))


def labelled_named(store: Store, name: str) -> quality_store.Labelled:
    """The labelled set of that name, or a ValueError naming the sets there are (for `quality` and `adapt --check`)."""
    labelled = quality_store.labelled_set(store, name)
    if labelled is None:
        known = ", ".join(s.name for s in quality_store.labelled_sets(store)) or "none yet"
        raise ValueError(f"no labelled set named {name!r}; sets: {known} (add one with `manage.py quality add`)")
    return labelled


def sets_table(store: Store) -> str:
    """One row per set and mode: the figures of its latest finished run."""
    rows = {}
    for labelled in quality_store.labelled_sets(store):
        rows[labelled.name] = {"collection": labelled.collection, "queries": len(labelled.qrels)}
        for run in latest_runs(quality_store.runs(store, labelled.name)).values():
            rows[f"{labelled.name} {run.label}"] = run.metrics | {"run": run.id, "index version": run.index_version}
    if not rows:
        return "no labelled sets yet: add one with `manage.py quality add NAME --collection C --beir DIR`"
    return format_table(rows, ("collection", *FIGURES, "run", "index version"))


def history_table(store: Store, name: str) -> str:
    runs = quality_store.runs(store, labelled_named(store, name).name)
    if not runs:
        return f"{name!r} has no runs yet: `manage.py quality run {name}`"
    rows = {f"run {run.id}": (run.metrics or {}) | {"mode": run.label, "status": f"{run.status} {run.done}/{run.total}",
                                                    "index version": run.index_version, "model": run.model} for run in runs}
    return format_table(rows, ("mode", "status", "index version", "model", *FIGURES[:-1]))
