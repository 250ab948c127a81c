"""An instance as a command opens it (`manage.py` and the writer it runs): the folder, database and
model that the settings name (`config.load_settings`), with the command's own flags on top."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from indexer.reranking import Reranker
from indexer.retrieval import DEFAULT_BM25_UNIT
from indexer.search import SearchService
from indexer.search_index import SearchIndex, open_for_writing

from .config import DEFAULTS, load_settings


@dataclass(frozen=True)
class InstanceSettings:
    """Where an instance is: its folder, its database, and the checkpoint it starts with when it has
    recorded none (`model` as given; `default_model` absolute, so that an instance records where its
    model is whatever the working directory of the next command)."""

    folder: str
    database_url: str | None
    model: Path
    bm25_unit: str = DEFAULT_BM25_UNIT  # what BM25 ranks in the command's searches (`BM25_UNIT`)
    query_expansion: str = DEFAULTS["QUERY_EXPANSION"]  # which of the command's searches BM25 expands (`QUERY_EXPANSION`)
    # The reranking settings (searchapp/config.py), their defaults the settings' own.
    reranker_folder: str | None = DEFAULTS["RERANKER"]  # loaded by reranked searches only
    rerank_depth: int = DEFAULTS["RERANK_DEPTH"]
    rerank: bool = DEFAULTS["RERANK"]  # whether searches are reranked unless the command says
    rerank_max_length: int = DEFAULTS["RERANK_MAX_LENGTH"]
    rerank_precision: str = DEFAULTS["RERANK_PRECISION"]
    search_mode: str = DEFAULTS["SEARCH_MODE"]  # the mode of the command's searches unless it says (`SEARCH_MODE`)

    @property
    def default_model(self) -> Path:
        return self.model.resolve()

    def open_index(self) -> SearchIndex:
        """The index, for reading; its model is the one it was built with, else `default_model`."""
        return SearchIndex.open(self.folder, database_url=self.database_url, default_model=self.default_model)

    def open_service(self) -> SearchService:
        """The search service over the saved index (refused if there is none), as the app opens it."""
        return SearchService.open_existing(self.folder, self.database_url, self.default_model, self.reranker())

    def reranker(self) -> Reranker:
        """The reranker the settings name, to be loaded when a search first reranks."""
        return Reranker(self.reranker_folder, self.rerank_max_length, self.rerank_precision)

    def open_for_writing(self, model: Path | None = None, sync: bool = True) -> AbstractContextManager[SearchIndex]:
        """The same (with `model` if given), inside the instance's writer lock (and synced, see `open_for_writing`)."""
        return open_for_writing(self.folder, database_url=self.database_url, model=model, default_model=self.default_model, sync=sync)


def instance_settings(instance: str | None = None, database_url: str | None = None, model: str | None = None,
                      environ: Mapping[str, str] | None = None, bm25_unit: str | None = None,
                      query_expansion: str | None = None) -> InstanceSettings:
    """The loaded settings with a command's flags on top (None: the flag was not given)."""
    flags = {"INSTANCE": instance, "DATABASE_URL": database_url, "MODEL": model, "BM25_UNIT": bm25_unit, "QUERY_EXPANSION": query_expansion}
    settings = load_settings({name: value for name, value in flags.items() if value is not None}, environ)
    database = settings["DATABASE_URL"]
    return InstanceSettings(str(settings["INSTANCE"]), None if database is None else str(database), Path(str(settings["MODEL"])),
                            str(settings["BM25_UNIT"]), str(settings["QUERY_EXPANSION"]), settings["RERANKER"] or None, settings["RERANK_DEPTH"],
                            settings["RERANK"], settings["RERANK_MAX_LENGTH"], str(settings["RERANK_PRECISION"]),
                            str(settings["SEARCH_MODE"]))
