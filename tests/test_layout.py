"""The layering and the module sizes, checked by reading the source (nothing is imported):
`encoder` <- `indexer` <- `searchapp` <- `manage.py`, never the other way; `encoder` runs on a GPU
machine that has only torch, tokenizers, safetensors, numpy and tqdm; only the store's modules speak
SQL; and no module grows past what a reader takes in at once."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("encoder", "indexer", "searchapp", "manage")  # each may import only those before it
ENCODER_PACKAGES = {"torch", "tokenizers", "safetensors", "numpy", "tqdm"}
SQL_MODULES = {"indexer/store.py", "indexer/store_reads.py", "indexer/schema.py", "indexer/jobs.py", "indexer/quality_store.py"}
MAX_LINES = 300
SIZED = ("encoder", "indexer", "searchapp", "bench", "scripts")


def product_modules() -> list[Path]:
    return sorted(p for layer in LAYERS[:3] for p in (ROOT / layer).rglob("*.py")) + [ROOT / "manage.py"]


def imported(path: Path) -> set[str]:
    """The top-level names of what `path` imports (relative imports are its own package's, left out)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", product_modules(), ids=name)
def test_no_import_from_a_higher_layer(path):
    layer = LAYERS.index(name(path).split("/")[0].removesuffix(".py"))
    higher = imported(path) & set(LAYERS[layer + 1:])
    assert not higher, f"{name(path)} imports {sorted(higher)}, above its layer {LAYERS[layer]!r}"


@pytest.mark.parametrize("path", sorted((ROOT / "encoder").rglob("*.py")), ids=name)
def test_the_encoder_needs_only_what_a_gpu_machine_has(path):
    foreign = imported(path) - ENCODER_PACKAGES - set(sys.stdlib_module_names) - {"encoder", "__future__"}
    assert not foreign, f"{name(path)} imports {sorted(foreign)}"


def test_only_the_store_modules_import_sqlalchemy():
    speaking = {name(path) for path in product_modules() if "sqlalchemy" in imported(path)}
    assert speaking <= SQL_MODULES, f"also importing sqlalchemy: {sorted(speaking - SQL_MODULES)}"


def test_no_module_is_over_300_lines():
    paths = [p for folder in SIZED for p in (ROOT / folder).rglob("*.py")] + [ROOT / "manage.py"]
    long = {name(p): n for p in paths if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"over {MAX_LINES} lines: {long}"


def test_test_modules_are_named_apart():
    """pytest imports the test folders (no __init__.py) as one namespace of basenames: a second
    test_config.py in another folder stops the whole run at collection."""
    names = [p.name for p in (ROOT / "tests").rglob("test_*.py")]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
