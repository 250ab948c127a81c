"""The index run's progress bar, its updates captured in place of tqdm (no timing involved)."""

import gzip
import json

import pytest
from sqlalchemy import func, select

import indexer.progress
from indexer.ingest import IndexConfig, index_paths
from indexer.progress import count_records
from indexer.search_index import SearchIndex
from indexer.schema import Document
from samples import SENTENCES


class Recorder:
    """Stands in for tqdm: keeps every position the bar is moved to and the postfix it shows."""

    bars: list["Recorder"] = []
    probe = staticmethod(lambda: None)  # what else to note at each update

    def __init__(self, total=None, disable=False, **options):
        self.total, self.n, self.updates, self.postfix, self.closed = total, 0, [], {}, False
        Recorder.bars.append(self)

    def update(self, count):
        self.n += count
        self.updates.append((self.n, Recorder.probe()))

    def set_postfix(self, refresh=True, **values):
        self.postfix = values

    def refresh(self):
        pass

    def close(self):
        self.closed = True


@pytest.fixture
def recorder(monkeypatch):
    monkeypatch.setattr(Recorder, "bars", [])
    monkeypatch.setattr(indexer.progress, "tqdm", Recorder)
    return Recorder


def test_bar_moves_while_the_first_transaction_encodes(tmp_path, tiny_checkpoint, recorder, monkeypatch):
    """Regression: the bar moved only when a whole transaction (2,000 documents) had committed."""
    docs = [{"id": f"d{i}", "title": f"T{i}", "text": " ".join(SENTENCES[i:i + 2])} for i in range(6)]
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps(d) + "\n" for d in docs) + "\nnot json\n")  # a blank line, a bad one
    index = SearchIndex.open(tmp_path / "instance", model=tiny_checkpoint)

    def committed_documents():
        with index.store.session() as session:
            return session.scalar(select(func.count()).select_from(Document))

    monkeypatch.setattr(recorder, "probe", staticmethod(committed_documents))
    report = index_paths(index, [source], IndexConfig(batch_docs=100, encode_batch_size=4), show_progress=True)
    (bar,) = recorder.bars
    assert report.read == 6 and report.bad == 1 and report.chunks >= 12
    before_commit = [n for n, documents in bar.updates if documents == 0]
    assert len(before_commit) >= 3 and before_commit == sorted(set(before_commit)) and before_commit[-1] <= 6
    assert bar.n == 7 and bar.total == 7 and bar.closed  # the line count (8) was an estimate: 100% at the end
    assert bar.postfix["passages"] == report.chunks and bar.postfix["bad"] == 1


def test_no_bar_work_when_progress_is_off(tmp_path, tiny_checkpoint, recorder):
    source = tmp_path / "docs.jsonl"
    source.write_text(json.dumps({"id": "a", "text": "the pen is red"}) + "\n")
    index_paths(SearchIndex.open(tmp_path / "instance", model=tiny_checkpoint), [source], IndexConfig(), show_progress=False)
    (bar,) = recorder.bars
    assert bar.total is None  # nothing was counted


def test_records_are_counted_by_lines_where_a_line_is_a_record(tmp_path):
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text('{"id": 1}\n{"id": 2}\n{"id": 3}')  # no newline after the last
    packed = tmp_path / "b.jsonl.gz"
    packed.write_bytes(gzip.compress(b'{"id": 1}\n{"id": 2}\n'))
    table = tmp_path / "c.csv"
    table.write_text("id,text\n1,a\n2,b\n")
    (tmp_path / "folder").mkdir()
    assert count_records([jsonl, packed, table]) == 7
    assert count_records([jsonl, tmp_path / "folder"]) is None
    assert count_records([tmp_path / "missing.jsonl"]) is None  # the reader names the problem
