"""`manage.py adapt` as an operator runs it: train, switch, `check` clean; a run that finds an adapted
model not yet switched to finishes it without training again; an instance with no index is refused."""

from __future__ import annotations

import pytest

import manage
from indexer import adaptation
from search_instance import build_instance

FLAGS = ["--max-steps", "2", "--batch-size", "4", "--span-words", "2", "6", "--pair-rounds", "2", "--temperature", "0.1",
         "--device", "cpu", "--quiet"]


def run(instance, *args):
    return manage.main(["--instance", str(instance), *args])


def test_adapt_trains_switches_and_check_stays_clean(tmp_path, tiny_checkpoint, capsys):
    instance = build_instance(tmp_path / "instance", tiny_checkpoint)
    assert run(instance, "adapt", *FLAGS) == 0
    out = capsys.readouterr().out
    assert "trained " in out and "2 steps" in out and "switched to " in out and "adapted-1" in out
    assert adaptation.read_record(instance / "models" / "adapted-1")["config"]["temperature"] == 0.1
    assert run(instance, "check") == 0
    assert run(instance, "search", "river flood") == 0 and "Floods" in capsys.readouterr().out


def test_an_interrupted_adapt_is_finished_without_training_again(tmp_path, tiny_checkpoint, capsys, monkeypatch):
    instance = build_instance(tmp_path / "instance", tiny_checkpoint)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("searchapp.adapt_cli.switch_to", killed)
    with pytest.raises(KeyboardInterrupt):
        run(instance, "adapt", *FLAGS)
    monkeypatch.undo()
    monkeypatch.setattr(adaptation, "adapt", lambda *args, **kwargs: pytest.fail("trained again"))
    assert run(instance, "adapt", *FLAGS) == 0
    out = capsys.readouterr().out
    assert "without training again" in out and "switched to " in out
    assert run(instance, "check") == 0


def test_adapt_refuses_an_instance_without_an_index(tmp_path, capsys):
    assert run(tmp_path / "nowhere", "adapt", *FLAGS) == 2
    assert "holds no index to adapt" in capsys.readouterr().err
