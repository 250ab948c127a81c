"""The one settings loader: defaults, then the SEARCHAPP_CONFIG file, then SEARCHAPP_* variables, then
what the caller gives; the app and the command line read the same settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from encoder.paths import DEFAULT_MODEL
from indexer.ingest import IndexConfig, index_records
from indexer.readers import Record
from indexer.search_index import SearchIndex
from searchapp import create_app
from searchapp.config import DEFAULTS, ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def settings_file(folder: Path, settings: object) -> str:
    path = folder / "settings.json"
    path.write_text(json.dumps(settings))
    return str(path)


def test_defaults_alone():
    assert load_settings(environ={}) == DEFAULTS
    assert DEFAULTS["MODEL"] == str(DEFAULT_MODEL) and DEFAULT_MODEL.name == "default"


def test_each_source_overrides_the_one_before(tmp_path):
    path = settings_file(tmp_path, {"INSTANCE": "from-file", "MAX_K": 20, "PAGE_SIZE": 5, "THREADS": 3})
    environ = {"SEARCHAPP_CONFIG": path, "SEARCHAPP_MAX_K": "30", "SEARCHAPP_PAGE_SIZE": "7"}
    settings = load_settings({"PAGE_SIZE": 9}, environ)
    assert settings["THREADS"] == 3  # the file over the default
    assert settings["MAX_K"] == 30  # the environment over the file
    assert settings["PAGE_SIZE"] == 9  # the caller over everything
    assert settings["INSTANCE"] == "from-file" and settings["MAX_OFFSET"] == DEFAULTS["MAX_OFFSET"]


def test_the_file_gives_upper_case_keys_only_and_a_numeric_token_becomes_text(tmp_path):
    path = settings_file(tmp_path, {"API_TOKEN": 12345, "SECRET_KEY": "k", "lower": 1})
    settings = load_settings(environ={"SEARCHAPP_CONFIG": path})
    assert settings["API_TOKEN"] == "12345" and settings["SECRET_KEY"] == "k" and "lower" not in settings


@pytest.mark.parametrize("content, message", [
    (None, "cannot read it"),
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
])
def test_a_bad_settings_file_is_named(tmp_path, content, message):
    path = tmp_path / "settings.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=f"SEARCHAPP_CONFIG='{path}': {message}"):
        load_settings(environ={"SEARCHAPP_CONFIG": str(path)})


@pytest.mark.parametrize("environ, message", [
    ({"SEARCHAPP_MAX_OFFSET": "lots"}, "SEARCHAPP_MAX_OFFSET='lots': expected a whole number, such as 1000"),
    ({"SEARCHAPP_API_TOKEN": "token "}, "API_TOKEN begins or ends with white space"),
    ({"SEARCHAPP_BM25_UNIT": "sentence"}, "BM25_UNIT='sentence': expected one of document, passage"),
    ({"SEARCHAPP_SEARCH_MODE": "semantic"}, "SEARCH_MODE='semantic': expected one of dense, lexical, hybrid"),
])
def test_bad_values_are_named(environ, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=environ)


def test_the_bm25_unit_comes_from_the_environment_or_the_file_and_is_checked_either_way(tmp_path):
    assert DEFAULTS["BM25_UNIT"] == "document" and load_settings(environ={"SEARCHAPP_BM25_UNIT": "passage"})["BM25_UNIT"] == "passage"
    with pytest.raises(ConfigError, match="BM25_UNIT=3: expected one of"):
        load_settings(environ={"SEARCHAPP_CONFIG": settings_file(tmp_path, {"BM25_UNIT": 3})})


def test_a_bad_token_in_the_file_is_refused_too(tmp_path):
    with pytest.raises(ConfigError, match="white space"):
        load_settings(environ={"SEARCHAPP_CONFIG": settings_file(tmp_path, {"API_TOKEN": "\ttoken"})})


def test_create_app_reads_the_file_and_its_argument_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("SEARCHAPP_CONFIG", settings_file(tmp_path, {"MAX_K": 20, "INSTANCE": "from-file"}))
    monkeypatch.setenv("SEARCHAPP_INSTANCE", "from-environment")
    config = create_app({"MAX_OFFSET": 5}).config
    assert (config["MAX_K"], config["INSTANCE"], config["MAX_OFFSET"]) == (20, "from-environment", 5)


@pytest.fixture
def instance(tmp_path, tiny_checkpoint) -> Path:
    index = SearchIndex.open(tmp_path / "instance", model=tiny_checkpoint)
    index_records(index, [Record("a", "Pens", "The pen is red.", {}, "test")], IndexConfig(collection="notes"))
    index.close()
    return tmp_path / "instance"


def stats(*args: str, **environ: str) -> dict:
    env = {name: value for name, value in os.environ.items() if not name.startswith("SEARCHAPP_")} | environ
    result = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args, "stats"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.commands
def test_manage_py_honours_the_settings_file_and_flags_beat_it(tmp_path, instance):
    path = settings_file(tmp_path, {"INSTANCE": str(instance)})
    assert stats(SEARCHAPP_CONFIG=path)["collections"] == {"notes": 1}
    empty = tmp_path / "empty"
    assert stats("--instance", str(empty), SEARCHAPP_CONFIG=path)["documents"] == 0
    assert stats(SEARCHAPP_CONFIG=path, SEARCHAPP_INSTANCE=str(empty))["documents"] == 0


@pytest.mark.commands
def test_manage_py_reports_a_bad_settings_file_in_one_line(tmp_path):
    env = os.environ | {"SEARCHAPP_CONFIG": str(tmp_path / "missing.json")}
    result = subprocess.run([sys.executable, str(ROOT / "manage.py"), "--instance", str(tmp_path / "i"), "stats"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2 and result.stderr.startswith("error: SEARCHAPP_CONFIG=") and result.stderr.count("\n") == 1
