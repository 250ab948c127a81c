"""`manage.py adapt` as an operator runs it: train, switch, `check` clean; a run that finds an adapted
model not yet switched to finishes it without training again; an instance with no index is refused."""

from __future__ import annotations

from contextlib import closing

import pytest

import manage
from encoder.training.__main__ import main as device_main
from encoder.training.adapt import USEFUL_PASSES
from indexer import adaptation
from searchapp.adapt_cli import short_budget_warning
from indexer.quality import add_labelled
from indexer.search_index import SearchIndex
from indexer.store import open_store
from search_instance import build_instance

FLAGS = ["--max-steps", "2", "--batch-size", "4", "--span-words", "2", "6", "--pair-rounds", "2", "--temperature", "0.1",
         "--device", "cpu", "--quiet"]


def run(instance, *args):
    return manage.main(["--instance", str(instance), *args])


def test_adapt_trains_switches_and_check_stays_clean(tmp_path, tiny_checkpoint, capsys):
    instance = build_instance(tmp_path / "instance", tiny_checkpoint)
    assert run(instance, "adapt", *FLAGS, "--max-documents", "6") == 0
    out = capsys.readouterr().out
    assert "trained " in out and "2 steps" in out and "passes over them" in out and "switched to " in out and "adapted-1" in out
    assert "on 6 documents (drawn at random from 11)" in out
    record = adaptation.read_record(instance / "models" / "adapted-1")
    assert record["config"]["temperature"] == 0.1 and (record["documents"], record["collection_documents"]) == (6, 11)
    assert run(instance, "check") == 0
    assert run(instance, "search", "river flood") == 0 and "Floods" in capsys.readouterr().out


def test_an_operator_whose_budget_ended_within_one_pass_is_told_the_budget_that_would_reach_the_useful_passes():
    record = {"passes": 0.5, "pairs": 1000, "steps": 4, "seconds": 20.0, "config": {"batch_size": 125, "max_steps": None}}
    warning = short_budget_warning(record)
    assert f"about {USEFUL_PASSES} passes" in warning and f"--budget {20.0 / 4 * USEFUL_PASSES * 8:.0f} " in warning
    assert short_budget_warning({**record, "passes": 1.2}) is None
    assert short_budget_warning({**record, "config": {"batch_size": 125, "max_steps": 4}}) is None  # the operator's step limit ended it
    assert short_budget_warning({**record, "config": {"batch_size": 125, "max_steps": None, "max_passes": 0.5}}) is None  # the pass limit did
    assert short_budget_warning({**record, "config": {"batch_size": 125, "max_steps": None, "max_passes": 2.0}}) is not None


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


def test_a_checked_adapt_switches_only_if_the_labelled_set_ranks_no_worse(tmp_path, tiny_checkpoint, capsys, monkeypatch):
    """The figures are set by the test (the measurement itself is checked in tests/indexer/test_quality.py):
    the new model losing keeps the served one, with both figures in its record; winning switches."""
    instance = build_instance(tmp_path / "instance", tiny_checkpoint)
    store = open_store(f"sqlite:///{instance / 'search.sqlite3'}")
    add_labelled(store, "rivers", "notes", ['{"_id": "q", "text": "river flood"}\n'], ["query-id\tcorpus-id\tscore\n", "q\tn6\t1\n"], "q", "r")
    store.engine.dispose()
    served = {"figure": 50.0}
    monkeypatch.setattr(adaptation, "dense_ndcg", lambda index, vectors, labelled: served["figure"] if vectors is index.vectors else 40.0)

    assert run(instance, "adapt", *FLAGS, "--check", "rivers") == 1
    err = capsys.readouterr().err
    assert "kept " in err and "'rivers' (1 queries) dense nDCG@10 would fall from 50.00 to 40.00" in err
    first = instance / "models" / "adapted-1"
    assert adaptation.read_record(first)["check"] == {"set": "rivers", "queries": 1, "before": 50.0, "after": 40.0, "switched": False}
    assert not (instance / adaptation.STAGING_FOLDER).exists()
    assert run(instance, "check") == 0 and run(instance, "stats") == 0 and str(tiny_checkpoint) in capsys.readouterr().out

    served["figure"] = 40.0  # a kept model is not taken up again: the next run trains, and this time it ties
    assert run(instance, "adapt", *FLAGS, "--check", "rivers") == 0
    out = capsys.readouterr().out
    assert "trained " in out and "adapted-2" in out and "dense nDCG@10 on 'rivers': 40.00 -> 40.00" in out
    assert adaptation.read_record(instance / "models" / "adapted-2")["check"]["switched"] is True

    assert run(instance, "adapt", *FLAGS, "--check", "nope") == 2
    assert "no labelled set named 'nope'; sets: rivers" in capsys.readouterr().err


def test_adapt_refuses_an_instance_without_an_index(tmp_path, capsys):
    assert run(tmp_path / "nowhere", "adapt", *FLAGS) == 2
    assert "holds no index to adapt" in capsys.readouterr().err


def test_a_model_adapted_on_another_machine_is_taken_back_and_switched_to(tmp_path, tiny_checkpoint, capsys):
    """--export, the encoder-only command (as the GPU machine runs it, parts and all), --from: the instance
    switches as after a run of its own; the same parts are refused once the instance serves another model."""
    instance = build_instance(tmp_path / "instance", tiny_checkpoint)
    assert run(instance, "adapt", "--export", str(tmp_path / "export"), "--max-documents", "6") == 0
    assert "6 documents (drawn at random from 11) and the model" in capsys.readouterr().out
    assert device_main(["adapt", "--data", str(tmp_path / "export"), "--out", str(tmp_path / "run"), "--parts", str(tmp_path / "parts"),
                        *FLAGS]) == 0
    capsys.readouterr()
    assert run(instance, "adapt", "--from", str(tmp_path / "parts"), "--quiet") == 0
    out = capsys.readouterr().out
    assert "took " in out and "adapted-1" in out and "trained on cpu, 2 steps" in out and "switched to " in out
    record = adaptation.read_record(instance / "models" / "adapted-1")
    assert (record["documents"], record["collection_documents"], record["taken_from"]) == (6, 11, str((tmp_path / "parts").resolve()))
    assert run(instance, "check") == 0

    assert run(instance, "adapt", "--from", str(tmp_path / "parts"), "--quiet") == 2
    assert "not from the instance's model" in capsys.readouterr().err
    assert [model.name for model in adaptation.adapted_models(instance)] == ["adapted-1"]  # the refused one left nothing behind


def test_adapt_from_a_folder_that_holds_no_model_and_export_to_a_folder_in_use_are_refused(tmp_path, tiny_checkpoint, capsys):
    instance = build_instance(tmp_path / "instance", tiny_checkpoint)
    assert run(instance, "adapt", "--from", str(tmp_path)) == 2
    assert "neither an adapted model (no adaptation.json) nor the parts of one" in capsys.readouterr().err
    assert run(instance, "adapt", "--export", str(instance)) == 2
    assert "exists and is not an empty folder" in capsys.readouterr().err
    assert run(instance, "adapt", "--export", str(tmp_path / "new"), "--check", "rivers") == 2
    assert "give it to `adapt --from`" in capsys.readouterr().err and not (tmp_path / "new").exists()
    assert run(instance, "adapt", "--passages", "--max-steps", "1") == 2  # would otherwise train here, ignoring it
    assert "--passages says what --export writes" in capsys.readouterr().err and not adaptation.adapted_models(instance)


def test_passages_encoded_on_the_other_machine_are_taken_and_only_changed_ones_encoded_here(tmp_path, tiny_checkpoint, capsys):
    instance = build_instance(tmp_path / "instance", tiny_checkpoint)
    assert run(instance, "adapt", "--export", str(tmp_path / "export"), "--passages") == 0
    with closing(SearchIndex.open(instance)) as index:
        chunks = len(index.store.chunk_ids())
    assert f"{chunks} passages to encode" in capsys.readouterr().out
    assert device_main(["adapt", "--data", str(tmp_path / "export"), "--out", str(tmp_path / "run"), "--parts", str(tmp_path / "parts"),
                        *FLAGS]) == 0
    assert run(instance, "index", str(write_note(tmp_path / "changed.jsonl")), "--collection", "notes", "--quiet") == 0  # n1 rewritten
    capsys.readouterr()
    assert run(instance, "adapt", "--from", str(tmp_path / "parts"), "--quiet") == 0
    out = capsys.readouterr().out
    with closing(SearchIndex.open(instance)) as index:
        titles = [title for _, title, _ in index.store.titled_texts()]
    rewritten = titles.count("Note 1")  # the new text's chunks: the only ones without a vector from the other machine
    assert "switched to " in out and f"{len(titles)} passages encoded ({len(titles) - rewritten} of them before this command" in out
    assert run(instance, "check") == 0
    assert run(instance, "search", "volcanoes erupting", "--mode", "dense") == 0 and "Note 1" in capsys.readouterr().out


def write_note(path):
    path.write_text('{"id": "n1", "title": "Note 1", "text": "Volcanoes erupting under the sea make new islands."}\n')
    return path
