"""Where the training data lives by default: `shared/data` beside the repository, found from this file
rather than from the working directory, so that every command finds it from wherever it is run."""

from __future__ import annotations

from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = REPOSITORY.parent / "shared" / "data"
