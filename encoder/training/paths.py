"""Where the training data lives by default: `shared/data` beside the repository."""

from __future__ import annotations

from ..paths import REPOSITORY

DEFAULT_DATA_DIR = REPOSITORY.parent / "shared" / "data"
