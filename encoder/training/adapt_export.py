"""Adaptation on another machine, such as a GPU one, which has the encoder package and nothing of the
store: `manage.py adapt --export DIR` writes what a run needs into one folder, `python3 -m
encoder.training adapt --data DIR --out RUN` trains there, and `manage.py adapt --from` takes the
adapted model back into the instance (indexer/adaptation.py), which checks that it was trained from
the weights it serves.

The folder holds a copy of the instance's model (the run must start from exactly the weights the
instance serves), the sample of the collection's documents that `adapt` would draw itself, as gzipped
JSON lines (so the folder stays small whatever the collection's size), and `export.json`, which says
what the sample is of. The masked-language loss is not offered here: it reads the
index's passages, which the folder does not carry, and it is off by default anyway.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ..atomic import atomic_folder
from ..checkpoint import CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE, load_checkpoint
from ..flags import add_flags, from_flags
from .adapt import LOG_FILE, RECORD_FILE, TRAINING_FLAGS, AdaptConfig, adapt, keep_record, read_record, sample
from .transfer import export as export_parts

DOCUMENTS_FILE = "documents.jsonl.gz"
EXPORT_FILE = "export.json"
BASE_FOLDER = "base"  # the copy of the instance's model
RUN = AdaptConfig(init_checkpoint="", output_dir="")


@dataclass(frozen=True)
class Export:
    """What an exported folder is of (its `EXPORT_FILE`)."""

    base_model: str  # the instance's model, as the instance names it
    base_sha256: str  # of its weights: the instance takes back only a model trained from these
    documents: int  # in the folder
    collection_documents: int  # in the instance, of which `documents` is a sample
    max_documents: int
    seed: int


def write_export(folder: str | Path, documents: Iterable[tuple[str, str]], base: Path, base_sha256: str, max_documents: int,
                 seed: int) -> Export:
    """Sample `documents` ((title, text)) as `adapt` would and write them, with a copy of the model
    `base`, into `folder`, which must be new or empty. The folder appears whole or not at all: an
    export killed half-way leaves nothing under its name, and the same command can be run again."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ValueError(f"{folder} exists and is not an empty folder: give a new one")
    load_checkpoint(base)  # a folder that is not a whole checkpoint is refused before anything is written
    drawn, collection = sample(documents, max_documents, seed)
    if not drawn:
        raise ValueError("the instance holds no documents to adapt to")
    export = Export(str(base), base_sha256, len(drawn), collection, max_documents, seed)

    def write(temp: Path) -> None:
        (temp / BASE_FOLDER).mkdir()
        for name in (CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE):
            shutil.copyfile(base / name, temp / BASE_FOLDER / name)
        with gzip.open(temp / DOCUMENTS_FILE, "wt", encoding="utf-8") as out:
            for title, text in drawn:
                out.write(json.dumps([title, text], ensure_ascii=False) + "\n")
        (temp / EXPORT_FILE).write_text(json.dumps(asdict(export), indent=2) + "\n", encoding="utf-8")

    if folder.exists():
        folder.rmdir()  # empty: checked above
    folder.parent.mkdir(parents=True, exist_ok=True)
    atomic_folder(folder, write)
    return export


def read_export(folder: str | Path) -> tuple[Export, Iterator[tuple[str, str]]]:
    """The folder's record and its documents (read as they are iterated); a bad line names the file and line."""
    folder = Path(folder)
    if not (folder / EXPORT_FILE).is_file():
        raise FileNotFoundError(f"{folder}: no {EXPORT_FILE} (make the folder with `manage.py adapt --export {folder}`)")
    export = Export(**json.loads((folder / EXPORT_FILE).read_text(encoding="utf-8")))

    def documents() -> Iterator[tuple[str, str]]:
        with gzip.open(folder / DOCUMENTS_FILE, "rt", encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                try:
                    title, text = json.loads(line)
                except ValueError:
                    raise ValueError(f"{folder / DOCUMENTS_FILE}:{number}: not a [title, text] line") from None
                yield title, text

    return export, documents()


def adapt_exported(folder: str | Path, config: AdaptConfig, show_progress: bool = True) -> Path:
    """Train from the folder's model on its documents into `config.output_dir`; returns the adapted
    checkpoint, its record naming the instance's model and the whole collection's size."""
    export, documents = read_export(folder)
    config = replace(config, init_checkpoint=str(Path(folder) / BASE_FOLDER), max_documents=export.max_documents, mlm_weight=0.0)
    result = adapt(config, documents, (), show_progress)
    return keep_record(replace(result, collection_documents=export.collection_documents), config, export.base_model, export.base_sha256)


def add_command(commands: argparse._SubParsersAction) -> None:
    """`adapt` for `python3 -m encoder.training` (manage.py's `adapt` is the instance's own)."""
    command = commands.add_parser("adapt", help="train a model on a folder written by `manage.py adapt --export`")
    command.add_argument("--data", required=True, help="the exported folder")
    add_flags(command, RUN, names=("output_dir",), required=("output_dir",))
    command.add_argument("--parts", help="also write the adapted model here as float16 parts of at most 15 MiB and one archive "
                                         "(what a GPU call brings back); `manage.py adapt --from` takes either")
    add_flags(command, RUN, names=TRAINING_FLAGS)
    command.add_argument("--quiet", action="store_true", help="no progress bar")
    command.set_defaults(run=run_adapt_exported)


def run_adapt_exported(args: argparse.Namespace) -> None:
    checkpoint = adapt_exported(args.data, from_flags(RUN, args), show_progress=not args.quiet)
    record = read_record(checkpoint)
    print(f"wrote {checkpoint}: {record['steps']} steps in {record['seconds']:.0f}s on {record['device']}, "
          f"{record['documents']} documents ({record['pairs']} span pairs, {record['passes']:.2f} passes over them)")
    if args.parts:
        written = export_parts(checkpoint, [checkpoint / RECORD_FILE, checkpoint / LOG_FILE], Path(args.parts))
        print(f"wrote {len(written)} files to {args.parts}: take them into the instance with `manage.py adapt --from {args.parts}`")
