"""The quality runs' SQL: labelled sets, runs and their per-query results (tables in indexer/schema.py).

A run is claimed by one process at a time with a conditional UPDATE (queued, or running with a
heartbeat older than STALE_AFTER: its process died), which both SQLite and PostgreSQL make atomic, so
the background writer and a foreground `manage.py quality run` never work on the same run at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from .reranking import search_label
from .schema import LabelledSet, QualityRun, QueryResult
from .store import Store

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STALE_AFTER = timedelta(minutes=2)  # far longer than one query takes: a run this quiet has lost its process


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Labelled:
    """A labelled set as stored: judged queries (id -> text) and qrels (id -> {document id: grade})."""

    id: int
    name: str
    collection: str
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    created_at: datetime


@dataclass(frozen=True)
class Run:
    id: int
    set_name: str
    mode: str
    rerank: int  # documents the reranker rescored in each search; 0: not reranked
    status: str
    index_version: int | None
    model: str | None
    done: int
    total: int
    metrics: dict | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in (DONE, FAILED)

    @property
    def label(self) -> str:
        """How the pages and the command line name what was measured: the mode, and its reranking."""
        return search_label(self.mode, self.rerank)


@dataclass(frozen=True)
class QueryOutcome:
    """One query of a run: metrics x100, latency in ms, the ids of its first results."""

    query_id: str
    ndcg: float
    recall: float
    mrr: float
    latency_ms: float
    top_ids: list[str]


def add_set(store: Store, name: str, collection: str, queries: dict[str, str], qrels: dict[str, dict[str, int]]) -> Labelled:
    """Store a new set; a name already taken is a ValueError (a set's runs must stay comparable, so a
    set is never replaced: add it under another name)."""
    row = LabelledSet(name=name, collection=collection, queries=queries, qrels=qrels, created_at=_now())
    try:
        with store.session.begin() as session:
            session.add(row)
    except IntegrityError:
        raise ValueError(f"a labelled set named {name!r} exists already: choose another name") from None
    return _labelled(row)


def labelled_sets(store: Store) -> list[Labelled]:
    with store.session() as session:
        return [_labelled(row) for row in session.scalars(select(LabelledSet).order_by(LabelledSet.name))]


def labelled_set(store: Store, name: str) -> Labelled | None:
    with store.session() as session:
        row = session.scalar(select(LabelledSet).where(LabelledSet.name == name))
        return _labelled(row) if row is not None else None


def _labelled(row: LabelledSet) -> Labelled:
    return Labelled(row.id, row.name, row.collection, row.queries, row.qrels, row.created_at)


def add_run(store: Store, labelled: Labelled, mode: str, claimed: bool = False, rerank: int = 0) -> int:
    """A new run of the set in `mode`, its top `rerank` documents reranked (0: none): queued for the
    background writer, or `claimed` by the caller, which starts it at once."""
    now = _now()
    row = QualityRun(set_id=labelled.id, mode=mode, rerank=rerank, status=RUNNING if claimed else QUEUED, done=0, total=len(labelled.qrels),
                     created_at=now, started_at=now if claimed else None, heartbeat=now if claimed else None)
    with store.session.begin() as session:
        session.add(row)
        session.flush()
        return row.id


def claim_next(store: Store) -> Run | None:
    """The oldest run waiting for a process (queued, or left running by one that died), now this one's."""
    while True:
        with store.session() as session:
            candidate = session.scalar(select(QualityRun.id).where(_claimable()).order_by(QualityRun.id).limit(1))
        if candidate is None:
            return None
        with store.session.begin() as session:
            now = _now()
            claimed = session.execute(update(QualityRun).where(QualityRun.id == candidate, _claimable()).values(
                status=RUNNING, heartbeat=now, started_at=func.coalesce(QualityRun.started_at, now))).rowcount
        if claimed:
            return run(store, candidate)


def _claimable():
    return or_(QualityRun.status == QUEUED, (QualityRun.status == RUNNING) & (QualityRun.heartbeat < _now() - STALE_AFTER))


def has_waiting(store: Store) -> bool:
    """Whether a run waits for a process: the background writer's poll."""
    with store.session() as session:
        return session.scalar(select(QualityRun.id).where(_claimable()).limit(1)) is not None


def release(store: Store, run_id: int) -> None:
    """Hand a running run back to the queue (its finished queries stay): the writer pauses it for writes."""
    with store.session.begin() as session:
        session.execute(update(QualityRun).where(QualityRun.id == run_id, QualityRun.status == RUNNING).values(status=QUEUED))


def record_identity(store: Store, run_id: int, index_version: int, model: str) -> None:
    """The index version and model a run measures, as found when it starts (kept when it resumes)."""
    with store.session.begin() as session:
        session.execute(update(QualityRun).where(QualityRun.id == run_id, QualityRun.index_version.is_(None))
                        .values(index_version=index_version, model=model))


def record_outcome(store: Store, run_id: int, outcome: QueryOutcome) -> None:
    """One query's result, the run's progress and heartbeat with it, in one transaction."""
    with store.session.begin() as session:
        session.add(QueryResult(run_id=run_id, query_id=outcome.query_id, ndcg=outcome.ndcg, recall=outcome.recall,
                                mrr=outcome.mrr, latency_ms=outcome.latency_ms, top_ids=outcome.top_ids))
        session.execute(update(QualityRun).where(QualityRun.id == run_id).values(done=QualityRun.done + 1, heartbeat=_now()))


def finish(store: Store, run_id: int, metrics: dict | None = None, error: str | None = None) -> None:
    with store.session.begin() as session:
        session.execute(update(QualityRun).where(QualityRun.id == run_id).values(
            status=FAILED if error else DONE, metrics=metrics, error=error, finished_at=_now()))


def outcomes(store: Store, run_id: int) -> list[QueryOutcome]:
    """A run's per-query results, in the order they were run."""
    with store.session() as session:
        rows = session.scalars(select(QueryResult).where(QueryResult.run_id == run_id).order_by(QueryResult.id))
        return [QueryOutcome(r.query_id, r.ndcg, r.recall, r.mrr, r.latency_ms, r.top_ids) for r in rows]


def run(store: Store, run_id: int) -> Run | None:
    found = runs(store, ids=[run_id])
    return found[0] if found else None


def runs(store: Store, set_name: str | None = None, ids: Sequence[int] | None = None, active_only: bool = False) -> list[Run]:
    """Runs, oldest first: of one set, with these ids, or every one (only those not finished, if asked)."""
    statement = select(QualityRun, LabelledSet.name).join(LabelledSet, QualityRun.set_id == LabelledSet.id).order_by(QualityRun.id)
    if set_name is not None:
        statement = statement.where(LabelledSet.name == set_name)
    if ids is not None:
        statement = statement.where(QualityRun.id.in_(list(ids)))
    if active_only:
        statement = statement.where(QualityRun.status.in_((QUEUED, RUNNING)))
    with store.session() as session:
        return [Run(r.id, name, r.mode, r.rerank, r.status, r.index_version, r.model, r.done, r.total, r.metrics, r.error,
                    r.created_at, r.started_at, r.finished_at) for r, name in session.execute(statement)]

