"""The durable write queue: writes accepted now (by the API), applied later, in order, by one writer.

A request validates its documents and enqueues them (one committed row) before it answers, so an
accepted write survives any crash, and the processes that serve searches never encode or save.
The writer (`apply_pending`, run by `manage.py writer`) holds the instance's write lock, the one
`manage.py index` takes, and applies the queued jobs in id order: consecutive upserts share one
save; a delete saves at once. A job is marked done, with its counts and the index version that
holds it, only after that save, so "done" means "searchable".

A job found `running` by a writer that holds the lock was left by a writer that died: it is applied
again. That is safe because an upsert skips documents whose content hash is unchanged (a re-run
reports them as unchanged) and a second delete deletes nothing. A job that took its writer down
MAX_ATTEMPTS times is marked failed rather than taking every later writer down too.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select, update

from .readers import Record
from .schema import WriteJob
from .search_index import SearchIndex
from .store import Store

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
PENDING = (QUEUED, RUNNING)
MAX_ATTEMPTS = 3
RUN_SECONDS = 10.0  # a writer saves and releases the lock at least this often while jobs keep coming
KEEP_FINISHED = timedelta(days=7)  # finished jobs (without their payload) stay readable this long

log = logging.getLogger(__name__)


@dataclass
class JobStatus:
    """A job as its submitter sees it."""

    id: int
    kind: str
    collection: str
    status: str
    documents: int
    submitted_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    result: dict | None
    error: str | None

    @property
    def finished(self) -> bool:
        return self.status in (DONE, FAILED)

    def as_json(self) -> dict:
        body = {"job": self.id, "kind": self.kind, "collection": self.collection, "status": self.status,
                "documents": self.documents, "submitted_at": _iso(self.submitted_at)}
        for name in ("started_at", "finished_at"):
            if getattr(self, name) is not None:
                body[name] = _iso(getattr(self, name))
        if self.result is not None:
            body["result"] = self.result
        if self.error is not None:
            body["error"] = self.error
        return body


def _iso(moment: datetime) -> str:
    # SQLite hands back naive datetimes; every one stored here is UTC.
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).isoformat()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def enqueue_upsert(store: Store, collection: str, records: Sequence[Record]) -> JobStatus:
    """Queue validated `records` for `collection`; committed when this returns."""
    payload = [[r.external_id, r.title, r.text, r.metadata] for r in records]
    return _enqueue(store, "upsert", collection, payload, len(records))


def enqueue_delete(store: Store, collection: str, external_id: str) -> JobStatus:
    return _enqueue(store, "delete", collection, {"id": external_id}, 1)


def _enqueue(store: Store, kind: str, collection: str, payload: object, documents: int) -> JobStatus:
    job = WriteJob(kind=kind, collection=collection, status=QUEUED, documents=documents, attempts=0,
                   payload=json.dumps(payload, ensure_ascii=False), created_at=_now())
    with store.session.begin() as session:
        session.add(job)
        session.flush()
        return _status(job)


def job_status(store: Store, job_id: int) -> JobStatus | None:
    with store.session() as session:
        job = session.get(WriteJob, job_id)
        return _status(job) if job is not None else None


def _status(job: WriteJob) -> JobStatus:
    return JobStatus(job.id, job.kind, job.collection, job.status, job.documents, job.created_at, job.started_at,
                     job.finished_at, job.result, job.error)


def has_pending(store: Store) -> bool:
    """Whether a writer has work: the writer's poll, one indexed lookup."""
    with store.session() as session:
        return session.scalar(select(WriteJob.id).where(WriteJob.status.in_(PENDING)).limit(1)) is not None


def apply_pending(index: SearchIndex, should_stop: Callable[[], bool] = lambda: False) -> int:
    """Apply the queued jobs in order (those queued meanwhile too, for up to RUN_SECONDS), saving once
    per run of upserts; returns how many jobs finished. The caller holds `open_for_writing`."""
    store, finished, unsaved, last = index.store, 0, [], 0
    deadline = time.monotonic() + RUN_SECONDS
    while time.monotonic() < deadline and not should_stop():
        job = _claim_next(store, after=last)
        if job is None:
            break
        last = job.id
        result = _apply(index, job)
        if result is None:
            finished += 1
            continue
        unsaved.append((job.id, result))
        # A delete has saved (the upserts before it too). A job run again after its writer died is
        # saved on its own, so that the jobs beside it never share its fate.
        if job.kind == "delete" or job.attempts > 1:
            finished += _finish(store, unsaved, version=index.version if job.kind == "delete" else index.save())
            unsaved = []
    if unsaved:
        finished += _finish(store, unsaved, version=index.save())
    _prune(store)
    return finished


def _apply(index: SearchIndex, job: WriteJob) -> dict | None:
    """Apply one job without saving (except a delete, which saves); its counts, or None if it failed
    (and is marked so)."""
    if job.attempts > MAX_ATTEMPTS:
        _finish(index.store, [(job.id, None)], error=f"its writer stopped {MAX_ATTEMPTS} times while applying it (see the writer's log)")
        return None
    try:
        if job.kind == "delete":
            external_id = json.loads(job.payload)["id"]
            return {"id": external_id, "deleted": index.delete([external_id], job.collection)}
        # Validated when enqueued, and no more text than one request body: one upsert, one transaction.
        records = [Record(eid, title, text, metadata, f"job {job.id}") for eid, title, text, metadata in json.loads(job.payload)]
        return asdict(index.upsert(records, job.collection, save=False))
    except Exception as error:  # noqa: BLE001 - recorded on the job for its submitter; the writer goes on
        log.exception("job %d (%s into %r) failed", job.id, job.kind, job.collection)
        _finish(index.store, [(job.id, None)], error=f"{type(error).__name__}: {error}")
        index.sync()  # the in-memory index may be half-changed: make it hold exactly what the store committed
        return None


def _claim_next(store: Store, after: int) -> WriteJob | None:
    """The oldest pending job after `after`, marked running (one more attempt)."""
    with store.session.begin() as session:
        job = session.scalars(select(WriteJob).where(WriteJob.status.in_(PENDING), WriteJob.id > after)
                              .order_by(WriteJob.id).limit(1)).first()
        if job is not None:
            if job.status == RUNNING:
                log.warning("job %d was left running by a writer that stopped: applying it again", job.id)
            job.status, job.attempts, job.started_at = RUNNING, job.attempts + 1, _now()
        return job


def _finish(store: Store, outcomes: list[tuple[int, dict | None]], version: int | None = None, error: str | None = None) -> int:
    """Mark jobs done (with their result and the index version holding them) or failed; returns how many."""
    with store.session.begin() as session:
        for job_id, result in outcomes:
            session.execute(update(WriteJob).where(WriteJob.id == job_id).values(
                status=FAILED if error else DONE, error=error, payload=None, finished_at=_now(),
                result=None if error else result | {"index_version": version}))
    return len(outcomes)


def _prune(store: Store) -> None:
    with store.session.begin() as session:
        session.execute(delete(WriteJob).where(WriteJob.status.in_((DONE, FAILED)), WriteJob.finished_at < _now() - KEEP_FINISHED))
