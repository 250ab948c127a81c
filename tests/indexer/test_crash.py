"""kill -9 during `manage.py index`, for real: a subprocess killed at several points, then resumed."""

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from samples import SENTENCES

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = 1500


def start_indexing(instance: Path, source: Path, model: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "--instance", str(instance), "index", str(source),
         "--model", str(model), "--batch-size", "50", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def committed_documents(instance: Path) -> int:
    try:
        with sqlite3.connect(instance / "search.sqlite3", timeout=1) as connection:
            return connection.execute("SELECT count(*) FROM documents").fetchone()[0]
    except sqlite3.Error:  # not created yet, or busy
        return 0


def kill_when(process: subprocess.Popen, instance: Path, at_least: int, timeout: float = 120) -> int:
    """SIGKILL the indexer once the store holds `at_least` documents; returns the count seen then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        seen = committed_documents(instance)
        if seen >= at_least:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return seen
        time.sleep(0.02)
    raise AssertionError(f"indexer ended or stalled before {at_least} documents: {process.communicate()}")


@pytest.mark.commands
def test_killed_indexing_resumes_without_loss_or_duplicates(tmp_path, tiny_checkpoint):
    source = tmp_path / "docs.jsonl"
    with source.open("w") as handle:
        for i in range(DOCUMENTS):
            text = " ".join(SENTENCES[i % 8:] + SENTENCES[: i % 8]) + f" Document number {i}."
            handle.write(json.dumps({"id": str(i), "title": f"T{i}", "text": text}) + "\n")
    instance = tmp_path / "instance"

    early = start_indexing(instance, source, tiny_checkpoint)  # killed while starting up
    time.sleep(0.5)
    early.send_signal(signal.SIGKILL)
    early.wait()
    seen = [kill_when(start_indexing(instance, source, tiny_checkpoint), instance, n) for n in (1, 400, 900)]
    assert seen[0] < seen[1] < seen[2] < DOCUMENTS  # each run went further: committed work was kept

    final = subprocess.run([sys.executable, str(ROOT / "manage.py"), "--instance", str(instance), "index", str(source), "--quiet"],
                           capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    unchanged = int(final.stdout.split(" unchanged")[0].rsplit(" ", 1)[-1])
    assert unchanged >= seen[2]  # what was committed before the last kill was not encoded again
    check = subprocess.run([sys.executable, str(ROOT / "manage.py"), "--instance", str(instance), "check"],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    with sqlite3.connect(instance / "search.sqlite3") as connection:
        ids = [row[0] for row in connection.execute("SELECT external_id FROM documents")]
    assert sorted(ids, key=int) == [str(i) for i in range(DOCUMENTS)]  # every document, exactly once
