"""Quality runs: the operator's labelled queries sent through the live search service, one mode a run.

Each query goes through `SearchService.search` at `evaluation.RANKING_DEPTH`, restricted to the set's
collection (its top `Run.rerank` documents reranked, for a reranked run), and is scored with `encoder.training.retrieval_metrics`, as `manage.py eval-retrieval`
does; a run's figures are the means of its queries' (so the same numbers, on the same data and mode).

Background runs (DESIGN): a run is a row queued in the database, and the background writer
(`manage.py writer`, nice 10, one thread; `searchapp.writes.run_writer`) works on it when no write is
pending, so searches keep the cores and writes keep their turn. Each query's result is committed as
it is done, with the run's progress and a heartbeat, so the page shows progress, a run the writer
pauses for a write resumes at its next query, and one left running by a process that died (no
heartbeat for `STALE_AFTER`) is taken up again by the next writer. That reuses the one background
process the deployment already has, rather than a second queue or a thread in each web worker
(which gunicorn may kill or restart at any time).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from encoder.checkpoint import WEIGHTS_FILE
from encoder.training import read_judged, retrieval_metrics

from . import quality_store
from .checksums import record
from .evaluation import RANKING_DEPTH, latency_percentiles
from .quality_store import Labelled, QueryOutcome, Run
from .ranking import DocumentScope, Filters
from .retrieval import DenseRetriever
from .search import MIN_CANDIDATES, SearchService
from .search_index import SearchIndex
from .store import Store
from .validation import COLLECTION_PATTERN, COLLECTION_RULE, MAX_COLLECTION_CHARS, checked_collection
from .vector_index import VectorIndex

TOP_KEPT = 10  # result ids kept per query: what the worst-queries view shows
METRIC_FIELDS = {"ndcg@10": "ndcg", "recall@100": "recall", "mrr@10": "mrr"}  # retrieval_metrics' name -> QueryOutcome's


def add_labelled(store: Store, name: str, collection: str, queries: Iterable[str], qrels: Iterable[str],
                 queries_name: str, qrels_name: str) -> Labelled:
    """Read a BEIR queries.jsonl and qrels TSV (their lines, and the names a bad line's message gives
    them) and store them as a new set. The set's name follows the collection-name rule: it is part of
    the /quality pages' URLs."""
    if len(name) > MAX_COLLECTION_CHARS or not COLLECTION_PATTERN.fullmatch(name):
        raise ValueError(f"set name {name[:80]!r} is not valid: use {COLLECTION_RULE}")
    checked_collection(collection)
    texts, judged = read_judged(queries, qrels, queries_name, qrels_name)
    if not judged:
        raise ValueError(f"{qrels_name}: no query has a relevant document (a grade above 0): nothing to measure")
    return quality_store.add_set(store, name, collection, texts, judged)


def model_identity(model: Path) -> str:
    """The checkpoint's folder name and the start of its weights' SHA-256: what tells two models
    apart in a run's history even when a folder is retrained in place."""
    weights = Path(model) / WEIGHTS_FILE
    return f"{Path(model).name} sha256:{record(weights).sha256[:12]}" if weights.is_file() else Path(model).name


def measure(service: SearchService, store: Store, run: Run, labelled: Labelled,
            should_stop: Callable[[], bool] = lambda: False, on_query: Callable[[], None] = lambda: None) -> bool:
    """Work on a run the caller has claimed: search the queries it has no result for yet, storing each
    as it is done, then its aggregate figures. Returns whether it finished (False: `should_stop` said
    to pause first). A failure that is no query's fault (an unknown collection, a damaged index)
    marks the run failed with the message."""
    service.refresh()
    quality_store.record_identity(store, run.id, service.index.loaded_version, model_identity(service.index.model))
    measured = {outcome.query_id for outcome in quality_store.outcomes(store, run.id)}
    filters = Filters(collection=labelled.collection)
    try:
        for query_id in labelled.qrels:
            if query_id in measured:
                continue
            if should_stop():
                return False
            found = service.search(labelled.queries[query_id], mode=run.mode, k=RANKING_DEPTH, filters=filters, rerank=run.rerank)
            ranking = [hit.id for hit in found.hits]
            scores = retrieval_metrics({query_id: ranking}, {query_id: labelled.qrels[query_id]})
            quality_store.record_outcome(store, run.id, QueryOutcome(
                query_id, *(scores[name] for name in METRIC_FIELDS), found.took_ms, ranking[:TOP_KEPT]))
            on_query()
    except Exception as error:  # noqa: BLE001 - recorded on the run for the operator, whoever started it
        quality_store.finish(store, run.id, error=f"{type(error).__name__}: {error}")
        return True
    quality_store.finish(store, run.id, metrics=summary(quality_store.outcomes(store, run.id)))
    return True


def dense_ndcg(index: SearchIndex, vectors: VectorIndex, labelled: Labelled) -> float:
    """nDCG@10 (x100) of dense search over `vectors`, each query encoded by their model, on the set's queries
    in its collection: what `adapt --check` compares for the vectors served and the ones it made, before
    switching. One round of a search for RANKING_DEPTH documents (no widening), the same for both."""
    encoder, rankings = index.query_encoder(vectors), {}
    for query_id in labelled.qrels:
        scope = DocumentScope(index.store, Filters(collection=labelled.collection))
        chunks = DenseRetriever(index, scope).chunks_near(encoder.encode([labelled.queries[query_id]]), max(MIN_CANDIDATES, 2 * RANKING_DEPTH), vectors)
        shown = scope.best_per_document(chunks).ids[:RANKING_DEPTH]
        passages = index.store.passages(shown)
        rankings[query_id] = [passages[chunk].external_id for chunk in shown.tolist() if chunk in passages]
    return retrieval_metrics(rankings, labelled.qrels)["ndcg@10"]


def summary(outcomes: Iterable[QueryOutcome]) -> dict[str, float]:
    """A run's figures from its queries': each metric's mean (x100, as `retrieval_metrics` averages
    them), latency percentiles and the query count."""
    outcomes = list(outcomes)
    means = {name: float(np.mean([getattr(o, field) for o in outcomes])) for name, field in METRIC_FIELDS.items()}
    return means | latency_percentiles([o.latency_ms for o in outcomes]) | {"queries": len(outcomes)}


def work_on_waiting_runs(store: Store, open_service: Callable[[], SearchService], should_stop: Callable[[], bool]) -> int:
    """The background writer's turn: claim waiting runs one after another and measure them until none
    is left or `should_stop` (a write is pending, or the writer is stopping); a paused run goes back
    to the queue. Returns how many runs finished. `open_service` is called only when a run waits, so
    a writer that never runs one never loads a second copy of the model."""
    finished = 0
    while not should_stop() and (claimed := quality_store.claim_next(store)) is not None:
        labelled = quality_store.labelled_set(store, claimed.set_name)  # a set is never deleted
        if measure(open_service(), store, claimed, labelled, should_stop):
            finished += 1
        else:
            quality_store.release(store, claimed.id)
    return finished



def latest_runs(runs: Iterable[Run]) -> dict[str, Run]:
    """What was measured (`Run.label`: the mode, reranked or not) -> its latest run (of `runs`, oldest
    first) that finished with figures."""
    return {run.label: run for run in runs if run.metrics is not None}
