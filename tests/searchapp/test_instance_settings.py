"""An instance as a command opens it: the settings that name it, with the command's flags on top."""

from __future__ import annotations

import json
from pathlib import Path

from encoder.paths import DEFAULT_MODEL
from searchapp.instance import InstanceSettings, instance_settings


def test_defaults_then_environment_then_flags(tmp_path):
    assert instance_settings(environ={}) == InstanceSettings("instance", None, DEFAULT_MODEL)
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"INSTANCE": "from-file", "DATABASE_URL": "sqlite:///file.db", "MODEL": "file-model"}))
    environ = {"SEARCHAPP_CONFIG": str(settings), "SEARCHAPP_MODEL": "env-model"}
    assert instance_settings(environ=environ) == InstanceSettings("from-file", "sqlite:///file.db", Path("env-model"))
    given = instance_settings("flag-instance", "sqlite:///flag.db", "flag-model", environ=environ)
    assert given == InstanceSettings("flag-instance", "sqlite:///flag.db", Path("flag-model"))


def test_a_flag_not_given_leaves_the_setting(tmp_path):
    environ = {"SEARCHAPP_INSTANCE": "env-instance", "SEARCHAPP_DATABASE_URL": "sqlite:///env.db"}
    assert instance_settings(None, None, "m", environ=environ) == InstanceSettings("env-instance", "sqlite:///env.db", Path("m"))


def test_the_bm25_unit_is_the_setting_unless_the_flag_names_one():
    assert instance_settings(environ={}).bm25_unit == "document"
    assert instance_settings(environ={"SEARCHAPP_BM25_UNIT": "passage"}).bm25_unit == "passage"
    assert instance_settings(environ={"SEARCHAPP_BM25_UNIT": "passage"}, bm25_unit="document").bm25_unit == "document"


def test_the_search_mode_is_the_setting():
    assert instance_settings(environ={}).search_mode == "hybrid"
    assert instance_settings(environ={"SEARCHAPP_SEARCH_MODE": "dense"}).search_mode == "dense"


def test_the_default_model_is_absolute_and_the_model_as_given(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = instance_settings(model="models/mine", environ={})
    assert settings.model == Path("models/mine") and settings.default_model == tmp_path / "models" / "mine"


def test_an_instance_written_then_read_records_its_model(tmp_path, tiny_checkpoint):
    settings = instance_settings(str(tmp_path / "instance"), model=str(tiny_checkpoint), environ={})
    with settings.open_for_writing() as index:
        assert index.model == tiny_checkpoint.resolve()
    other = instance_settings(str(tmp_path / "instance"), environ={})  # no model named: the recorded one
    index = other.open_index()
    try:
        assert index.model == tiny_checkpoint.resolve() and index.stats()["documents"] == 0
    finally:
        index.close()
