"""Serving for real: the writer process killed mid-job and another finishing the job, and gunicorn
started with gunicorn.conf.py serving a write end to end."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from indexer import jobs
from indexer.readers import Record
from indexer.search_index import SearchIndex
from samples import SENTENCES
from searchapp.writes import stop_handler

from conftest import TOKEN
from search_instance import build_instance

ROOT = Path(__file__).resolve().parents[2]


def start_writer(instance: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "--instance", str(instance), "writer"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for_status(index: SearchIndex, job_id: int, wanted: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while jobs.job_status(index.store, job_id).status != wanted:
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, f"job {job_id} never became {wanted}"
        time.sleep(0.01)


@pytest.mark.commands
def test_a_writer_killed_mid_job_loses_nothing(tmp_path, tiny_checkpoint):
    instance = build_instance(tmp_path / "instance", tiny_checkpoint)
    index = SearchIndex.open(instance)
    big = [Record(f"d{i}", f"T{i}", " ".join(SENTENCES[i % 8:] + SENTENCES[:i % 8]) + f" Number {i}.", {}, "test") for i in range(200)]
    first = jobs.enqueue_upsert(index.store, "bulk", big)
    second = jobs.enqueue_delete(index.store, "notes", "n1")

    writer = start_writer(instance)
    wait_for_status(index, first.id, "running", writer)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert jobs.job_status(index.store, first.id).status == "running"  # killed mid-job

    writer = start_writer(instance)
    try:
        wait_for_status(index, second.id, "done", writer)
        time.sleep(1)  # idle, polling: a SIGTERM handler that set the stop event there used to deadlock
    finally:
        writer.send_signal(signal.SIGTERM)
        output = writer.communicate(timeout=30)[0]  # raises if it does not stop
    assert writer.returncode == 0 and "Traceback" not in output, output
    assert "left running by a writer that stopped" in output
    done = jobs.job_status(index.store, first.id)
    assert done.status == "done" and done.result["added"] + done.result["unchanged"] == 200
    check = subprocess.run([sys.executable, str(ROOT / "manage.py"), "--instance", str(instance), "check"],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    assert index.stats()["collections"]["bulk"] == 200
    index.close()


def test_the_writers_stop_signal_never_waits_for_the_lock_it_interrupted():
    stop = threading.Event()
    handler = stop_handler(stop)

    def interrupted_wait() -> None:
        with stop._cond:  # what the main thread holds between the bytecodes of `stop.wait`
            handler(signal.SIGTERM, None)

    signalled = threading.Thread(target=interrupted_wait, daemon=True)
    signalled.start()
    signalled.join(timeout=10)
    assert not signalled.is_alive()  # `stop.set()` in the handler deadlocked here
    assert stop.wait(10)


def request(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.commands
def test_gunicorn_with_its_conf_applies_api_writes(tmp_path, tiny_checkpoint):
    instance = build_instance(tmp_path / "instance", tiny_checkpoint)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = os.environ | {"SEARCHAPP_INSTANCE": str(instance), "SEARCHAPP_MODEL": str(tiny_checkpoint), "SEARCHAPP_API_TOKEN": TOKEN}
    server = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}",
                               "-w", "1", "searchapp:create_app()"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if request(port, "GET", "/api/health")[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, server.communicate()[0] if server.poll() is not None else "no answer"
            time.sleep(0.1)
        status, queued = request(port, "POST", "/api/documents", {"documents": [{"id": "okapi", "text": "The okapi lives in the forest."}]})
        assert status == 202 and queued["status"] == "queued"
        status, job = request(port, "GET", f"{queued['status_url']}?wait=30")
        assert status == 200 and job["status"] == "done" and job["result"]["added"] == 1, job
        results = request(port, "GET", "/api/search?q=okapi&mode=lexical")[1]["results"]
        assert [r["id"] for r in results] == ["okapi"]
        writers = [int(pid) for pid in Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
                   if "writer" in Path(f"/proc/{pid}/cmdline").read_text()]
        assert len(writers) == 1
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=60)[0]
    assert "started the background writer" in output and "Traceback" not in output, output
    assert "did not stop" not in output  # it stopped on on_exit's SIGTERM, not by a kill
    assert not Path(f"/proc/{writers[0]}").exists() or "State:\tZ" in Path(f"/proc/{writers[0]}/status").read_text()
