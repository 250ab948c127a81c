"""Where this checkout's own files are, found from this file rather than from the working directory,
so that every command, the app and the GPU scripts find them wherever they are run from."""

from __future__ import annotations

from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPOSITORY / "models" / "default"  # the shipped checkpoint
