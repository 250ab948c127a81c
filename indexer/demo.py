"""The bundled demo: real documents (demo/SOURCES.md), one collection per file, indexed with the
shipped model so that a fresh checkout has a working search engine in one command."""

from __future__ import annotations

from pathlib import Path

from encoder.paths import REPOSITORY

from .ingest import IndexConfig, IndexReport, index_paths
from .search_index import open_for_writing

DEMO_FOLDER = REPOSITORY / "demo"  # this checkout ships the demo files
SUFFIX = ".jsonl.gz"


def demo_files(folder: Path = DEMO_FOLDER) -> dict[str, Path]:
    """Collection name -> file."""
    return {path.name.removesuffix(SUFFIX): path for path in sorted(folder.glob(f"*{SUFFIX}"))}


def build_demo(instance: str | Path, database_url: str | None, model: str | Path, folder: Path = DEMO_FOLDER,
               show_progress: bool = True) -> dict[str, IndexReport]:
    """Index the demo collections into `instance` unless it already holds documents; returns what
    was indexed (nothing for an instance in use, whose documents are left alone)."""
    with open_for_writing(instance, database_url=database_url, default_model=model) as index:
        if index.stats()["documents"]:
            return {}
        return {name: index_paths(index, [path], IndexConfig(collection=name), show_progress=show_progress)
                for name, path in demo_files(folder).items()}
