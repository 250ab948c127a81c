"""The write queue: jobs enqueued, applied in order with one save per run of upserts, failures
recorded, and a job left running by a dead writer applied again."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import update

from indexer import jobs
from indexer.readers import Record
from indexer.search_index import SearchIndex, open_for_writing
from indexer.schema import WriteJob
from samples import SENTENCES


def records(prefix: str, count: int) -> list[Record]:
    return [Record(f"{prefix}{i}", f"Title {i}", SENTENCES[i % len(SENTENCES)] + f" Number {i}.", {"n": i}, "test") for i in range(count)]


@pytest.fixture
def instance(tmp_path, tiny_checkpoint, database_url):
    folder = tmp_path / "instance"
    with open_for_writing(folder, database_url=database_url, model=tiny_checkpoint):
        pass  # saves the empty indexes: version 1
    return folder, database_url


def apply(instance) -> int:
    folder, url = instance
    with open_for_writing(folder, database_url=url) as index:
        return jobs.apply_pending(index)


def agree(index: SearchIndex) -> bool:
    index.refresh()  # load what the writer saved
    return index.check().ok


def queue(instance):
    folder, url = instance
    index = SearchIndex.open(folder, database_url=url)
    return index


def test_jobs_are_queued_then_applied_in_order_with_one_save(instance):
    index = queue(instance)
    first = jobs.enqueue_upsert(index.store, "notes", records("a", 3))
    second = jobs.enqueue_upsert(index.store, "notes", [Record("a0", "Changed", "A new text for a0.", {}, "test")] + records("b", 2))
    assert first.status == "queued" and first.documents == 3 and not first.finished
    assert jobs.has_pending(index.store)
    version = index.version

    assert apply(instance) == 2
    assert not jobs.has_pending(index.store)
    done = [jobs.job_status(index.store, job.id) for job in (first, second)]
    assert [job.status for job in done] == ["done", "done"]
    assert done[0].result | {"chunks": 0} == {"added": 3, "updated": 0, "unchanged": 0, "chunks": 0, "index_version": version + 1}
    assert done[1].result | {"chunks": 0} == {"added": 2, "updated": 1, "unchanged": 0, "chunks": 0, "index_version": version + 1}
    assert done[0].result["chunks"] >= 3
    assert done[1].submitted_at <= done[1].started_at <= done[1].finished_at
    assert done[1].as_json()["finished_at"].endswith("+00:00")
    assert index.version == version + 1  # both upserts in one save
    assert agree(index)
    index.close()


def test_a_delete_saves_with_the_upserts_before_it(instance):
    index = queue(instance)
    jobs.enqueue_upsert(index.store, "notes", records("a", 2))
    removal = jobs.enqueue_delete(index.store, "notes", "a1")
    again = jobs.enqueue_delete(index.store, "notes", "a1")
    assert apply(instance) == 3
    assert jobs.job_status(index.store, removal.id).result == {"id": "a1", "deleted": 1, "index_version": index.version - 1}
    assert jobs.job_status(index.store, again.id).result["deleted"] == 0  # already gone: nothing more to delete
    assert index.stats()["documents"] == 1 and agree(index)
    index.close()


def test_a_failing_job_is_recorded_and_the_others_still_apply(instance, monkeypatch):
    index = queue(instance)
    good = jobs.enqueue_upsert(index.store, "notes", records("a", 2))
    bad = jobs.enqueue_upsert(index.store, "broken", records("b", 2))
    later = jobs.enqueue_upsert(index.store, "notes", records("c", 1))
    original = SearchIndex.upsert

    def failing(index, records, collection, **kwargs):
        if collection == "broken":
            raise OSError("disk full")
        return original(index, records, collection, **kwargs)

    monkeypatch.setattr(SearchIndex, "upsert", failing)
    assert apply(instance) == 3
    statuses = {job.id: jobs.job_status(index.store, job.id) for job in (good, bad, later)}
    assert statuses[bad.id].status == "failed" and statuses[bad.id].error == "OSError: disk full"
    assert statuses[bad.id].result is None
    assert statuses[good.id].status == statuses[later.id].status == "done"
    assert index.stats()["documents"] == 3 and agree(index)
    index.close()


def test_a_job_left_running_by_a_dead_writer_is_applied_again(instance):
    index = queue(instance)
    job = jobs.enqueue_upsert(index.store, "notes", records("a", 4))
    # What a writer killed between its commit and its save leaves: the job running, its documents
    # committed, the saved index without their vectors.
    folder, url = instance
    crashed = SearchIndex.open(folder, database_url=url)
    crashed.upsert(records("a", 4), "notes", save=False)
    crashed.close()
    with index.store.session.begin() as session:
        session.execute(update(WriteJob).where(WriteJob.id == job.id).values(status="running", attempts=1))
    assert jobs.has_pending(index.store)

    assert apply(instance) == 1
    status = jobs.job_status(index.store, job.id)
    assert status.status == "done" and status.result["unchanged"] == 4  # idempotent: nothing encoded twice
    assert agree(index)
    index.close()


def test_a_job_that_keeps_killing_its_writer_is_failed(instance):
    index = queue(instance)
    job = jobs.enqueue_upsert(index.store, "notes", records("a", 1))
    with index.store.session.begin() as session:
        session.execute(update(WriteJob).where(WriteJob.id == job.id).values(status="running", attempts=jobs.MAX_ATTEMPTS))
    assert apply(instance) == 1
    status = jobs.job_status(index.store, job.id)
    assert status.status == "failed" and "stopped 3 times" in status.error
    assert index.stats()["documents"] == 0
    index.close()


def test_finished_jobs_drop_their_payload(instance):
    index = queue(instance)
    job = jobs.enqueue_upsert(index.store, "notes", records("a", 2))
    with index.store.session() as session:
        assert len(json.loads(session.get(WriteJob, job.id).payload)) == 2
    apply(instance)
    with index.store.session() as session:
        assert session.get(WriteJob, job.id).payload is None
    assert jobs.job_status(index.store, 12345) is None
    index.close()
