"""The settings, loaded one way for the app (`create_app`) and the command line (`manage.py`) alike:
defaults, then the JSON file named by `SEARCHAPP_CONFIG`, then `SEARCHAPP_*` environment variables,
then what the caller gives explicitly (`create_app`'s argument; manage.py's `--instance`, `--database`
and `--model`). So one shell setting, or one file, serves `manage.py index`, its writer and the server.

Only the settings below are read from the environment, each as its default's type: strings verbatim
(Flask's own `from_prefixed_env` parses values as JSON, so a token `true`, `1e3` or `null` silently
became another value or none at all), numbers as whole numbers, switches as true/false/1/0, or a
ConfigError naming the variable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from encoder.paths import DEFAULT_MODEL
from indexer.reranking import DEFAULT_RERANK_DEPTH, DEFAULT_RERANKER, MAX_RERANK_DEPTH, RERANK_PRECISIONS, Reranker
from indexer.expansion import DEFAULT_QUERY_EXPANSION, EXPANSION_SETTINGS
from indexer.retrieval import BM25_UNITS, DEFAULT_BM25_UNIT, DEFAULT_MODE, MODES

DEFAULTS: dict[str, object] = {
    "INSTANCE": "instance",  # folder of the store, the indexes and the write lock
    "DATABASE_URL": None,  # SQLAlchemy URL; None: SQLite inside the instance folder
    "MODEL": str(DEFAULT_MODEL),  # used when the instance has not recorded one yet
    "API_TOKEN": None,  # bearer token for the write endpoints; None disables writes
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,  # bytes of one request body (Flask answers 413 above)
    "MAX_URL_BYTES": 8 * 1024,  # bytes of the URL, percent-encoded as sent (414 above)
    "MAX_HEADER_BYTES": 16 * 1024,  # bytes of all request headers together (431 above)
    "MAX_QUERY_CHARS": 1000,
    "MAX_K": 100,
    "MAX_OFFSET": 1000,
    "MAX_BATCH_DOCUMENTS": 1000,  # documents in one POST /api/documents
    "PAGE_SIZE": 10,  # results per page in the web UI
    "SEARCH_MODE": DEFAULT_MODE,  # the mode of a search that does not say (`mode=`): dense, lexical or hybrid
    "BM25_UNIT": DEFAULT_BM25_UNIT,  # what BM25 ranks in lexical and hybrid searches: "document" or "passage"
    "QUERY_EXPANSION": DEFAULT_QUERY_EXPANSION,  # which searches BM25 expands by its top texts' words unless they say (`expand=`): hybrid, always, never
    "RERANKER": str(DEFAULT_RERANKER),  # the reranker folder; "" or a missing folder: no reranking on this server
    "RERANK": False,  # whether searches are reranked unless the request says (`rerank=`)
    "RERANK_DEPTH": DEFAULT_RERANK_DEPTH,  # documents the reranker rescores unless the request says (`rerank_depth=`)
    # The two below are what lets depth 30 meet the latency bar on 2 AVX2 cores (docs/benchmarks.md, "Reranking").
    "RERANK_MAX_LENGTH": 128,  # tokens of a (query, passage) pair the reranker reads (at most its own); 0: its own
    # auto: bf16 autocast where the CPU has AMX, else int8 linear layers (2.3-3.3x float32's speed, scores within about 0.01)
    "RERANK_PRECISION": "auto",  # or int8, bfloat16, float32
    "THREADS": 1,  # torch and FAISS threads per process: one query is small, processes give the parallelism
}
ENV_PREFIX = "SEARCHAPP_"
SWITCH_VALUES = {"true": True, "1": True, "false": False, "0": False}  # what a switch may be written as
CONFIG_VARIABLE = f"{ENV_PREFIX}CONFIG"
# Settings that were replaced: naming one stops the start, rather than being silently ignored.
REPLACED = {"RERANK_INT8": "RERANK_PRECISION (auto, int8, bfloat16 or float32)"}


class ConfigError(ValueError):
    """A setting that cannot be used as given; the message names it and says what it must be."""


def load_settings(overrides: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None) -> dict[str, object]:
    """Every setting, from the four sources in order (later ones win); `environ` defaults to the process's."""
    environ = os.environ if environ is None else environ
    settings = dict(DEFAULTS)
    if path := environ.get(CONFIG_VARIABLE):
        settings.update(file_settings(path))
    settings.update(environment_settings(environ))
    settings.update(overrides or {})
    for name, replacement in REPLACED.items():
        if name in settings or ENV_PREFIX + name in environ:
            raise ConfigError(f"{name} is no longer a setting: use {replacement}")
    token = settings["API_TOKEN"]
    if token is not None:
        token = settings["API_TOKEN"] = str(token)  # a JSON number in the settings file
        if token != token.strip():
            # An Authorization header cannot carry them, so writes would be refused forever.
            raise ConfigError("API_TOKEN begins or ends with white space, which no client can send: remove it")
    if settings["SEARCH_MODE"] not in MODES:
        raise ConfigError(f"SEARCH_MODE={settings['SEARCH_MODE']!r}: expected one of {', '.join(MODES)}")
    if settings["BM25_UNIT"] not in BM25_UNITS:
        raise ConfigError(f"BM25_UNIT={settings['BM25_UNIT']!r}: expected one of {', '.join(BM25_UNITS)}")
    depth = settings["RERANK_DEPTH"]
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_RERANK_DEPTH:
        raise ConfigError(f"RERANK_DEPTH={depth!r}: expected a whole number from 1 to {MAX_RERANK_DEPTH}")
    if settings["QUERY_EXPANSION"] not in EXPANSION_SETTINGS:
        raise ConfigError(f"QUERY_EXPANSION={settings['QUERY_EXPANSION']!r}: expected one of {', '.join(EXPANSION_SETTINGS)}")
    if settings["RERANK_PRECISION"] not in RERANK_PRECISIONS:
        raise ConfigError(f"RERANK_PRECISION={settings['RERANK_PRECISION']!r}: expected one of {', '.join(RERANK_PRECISIONS)}")
    if not isinstance(settings["RERANK"], bool):
        raise ConfigError(f"RERANK={settings['RERANK']!r}: expected true or false")
    if settings["RERANK"] and (problem := Reranker(settings["RERANKER"]).problem):
        raise ConfigError(f"RERANK is on, but {problem}")
    return settings


def file_settings(path: str) -> dict[str, object]:
    """The upper-case keys of the JSON object in `path` (as Flask's `config.from_file` takes them: the
    file may also hold Flask's own settings)."""
    try:
        with open(os.path.abspath(path), encoding="utf-8") as file:
            loaded = json.load(file)
    except OSError as error:
        raise ConfigError(f"{CONFIG_VARIABLE}={path!r}: cannot read it ({error.strerror})") from None
    except ValueError as error:
        raise ConfigError(f"{CONFIG_VARIABLE}={path!r}: not valid JSON ({error})") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{CONFIG_VARIABLE}={path!r}: expected a JSON object of settings, such as {{\"INSTANCE\": \"instance\"}}")
    return {name: value for name, value in loaded.items() if name.isupper()}


def environment_settings(environ: Mapping[str, str]) -> dict[str, object]:
    """The settings named by `SEARCHAPP_<NAME>` variables, typed like their defaults."""
    settings: dict[str, object] = {}
    for name, default in DEFAULTS.items():
        raw = environ.get(ENV_PREFIX + name)
        if raw is None:
            continue
        if isinstance(default, bool):
            if raw.strip().lower() not in SWITCH_VALUES:
                raise ConfigError(f"{ENV_PREFIX}{name}={raw!r}: expected true or false (or 1 or 0)")
            settings[name] = SWITCH_VALUES[raw.strip().lower()]
        elif isinstance(default, int):
            try:
                settings[name] = int(raw)
            except ValueError:
                raise ConfigError(f"{ENV_PREFIX}{name}={raw!r}: expected a whole number, such as {default}") from None
        else:
            settings[name] = raw
    return settings
