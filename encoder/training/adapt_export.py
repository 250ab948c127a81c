"""Adaptation on another machine, such as a GPU one, which has the encoder package and nothing of the
store: `manage.py adapt --export DIR` writes what a run needs into one folder, `python3 -m
encoder.training adapt --data DIR --out RUN` trains there, and `manage.py adapt --from` takes the
adapted model back into the instance (indexer/adaptation.py), which checks that it was trained from
the weights it serves.

The folder holds a copy of the instance's model (the run must start from exactly the weights the
instance serves), the sample of the collection's documents that `adapt` would draw itself, as gzipped
JSON lines (so the folder stays small whatever the collection's size), and `export.json`, which says
what the sample is of. With `--passages` it also carries every passage of the instance, titled as
indexing encodes it, and the run encodes them with the adapted model: the instance then has nothing
left to encode but the passages written since, which on a CPU is most of `adapt`'s time on a large
collection. Each vector comes back with its passage's id and the digest of the text it was encoded
from (`text_digest`), so the instance takes only those whose passage is unchanged (indexer/staging.py).
The run saves the model in float16, the weights that travel, and encodes with those. The
masked-language loss is not offered here (it is off by default).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import itertools
import json
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ..atomic import atomic_folder
from ..checkpoint import CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE, load_checkpoint
from ..flags import add_flags, from_flags
from ..text_encoder import Encoder
from .adapt import LOG_FILE, RECORD_FILE, TRAINING_FLAGS, AdaptConfig, adapt, keep_record, read_record, sample, write_record
from .transfer import export as export_parts

DOCUMENTS_FILE = "documents.jsonl.gz"
PASSAGES_FILE = "passages.jsonl.gz"  # [chunk id, titled text] a line, when the export carries them to be encoded
EXPORT_FILE = "export.json"
BASE_FOLDER = "base"  # the copy of the instance's model
VECTORS_GLOB = "vectors-*.npz"  # the passages' new vectors: ids, digests of their texts, float16 vectors
VECTOR_ROWS = 25_000  # a file: 12.8 MB at 256 dimensions, under the 16 MiB a device call brings back a file
RUN = AdaptConfig(init_checkpoint="", output_dir="", save_dtype="float16")


@dataclass(frozen=True)
class Export:
    """What an exported folder is of (its `EXPORT_FILE`)."""

    base_model: str  # the instance's model, as the instance names it
    base_sha256: str  # of its weights: the instance takes back only a model trained from these
    documents: int  # in the folder
    collection_documents: int  # in the instance, of which `documents` is a sample
    max_documents: int
    seed: int
    passages: int = 0  # the instance's passages carried for the run to encode (0: the instance encodes them all)


def text_digest(text: str) -> int:
    """A text's 64-bit BLAKE2b digest as a signed int64: how a vector encoded away from the store (on
    another machine, or by an interrupted run) names the text it was encoded from."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little", signed=True)


def write_export(folder: str | Path, documents: Iterable[tuple[str, str]], base: Path, base_sha256: str, max_documents: int,
                 seed: int, passages: Iterable[tuple[int, str]] = ()) -> Export:
    """Sample `documents` ((title, text)) as `adapt` would and write them, with a copy of the model
    `base` and any `passages` ((chunk id, titled text), for the run to encode), into `folder`, which
    must be new or empty. The folder appears whole or not at all: an export killed half-way leaves
    nothing under its name, and the same command can be run again."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ValueError(f"{folder} exists and is not an empty folder: give a new one")
    load_checkpoint(base)  # a folder that is not a whole checkpoint is refused before anything is written
    drawn, collection = sample(documents, max_documents, seed)
    if not drawn:
        raise ValueError("the instance holds no documents to adapt to")
    export = Export(str(base), base_sha256, len(drawn), collection, max_documents, seed)

    def write(temp: Path) -> None:
        nonlocal export
        (temp / BASE_FOLDER).mkdir()
        for name in (CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE):
            shutil.copyfile(base / name, temp / BASE_FOLDER / name)
        _write_lines(temp / DOCUMENTS_FILE, drawn)
        carried = _write_lines(temp / PASSAGES_FILE, passages)
        if not carried:
            (temp / PASSAGES_FILE).unlink()
        export = replace(export, passages=carried)
        (temp / EXPORT_FILE).write_text(json.dumps(asdict(export), indent=2) + "\n", encoding="utf-8")

    if folder.exists():
        folder.rmdir()  # empty: checked above
    folder.parent.mkdir(parents=True, exist_ok=True)
    atomic_folder(folder, write)
    return export


def _write_lines(path: Path, rows: Iterable[tuple]) -> int:
    count = 0
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for count, row in enumerate(rows, start=1):
            out.write(json.dumps(list(row), ensure_ascii=False) + "\n")
    return count


def read_export(folder: str | Path) -> tuple[Export, Iterator[tuple[str, str]]]:
    """The folder's record and its documents (read as they are iterated); a bad line names the file and line."""
    folder = Path(folder)
    if not (folder / EXPORT_FILE).is_file():
        raise FileNotFoundError(f"{folder}: no {EXPORT_FILE} (make the folder with `manage.py adapt --export {folder}`)")
    return Export(**json.loads((folder / EXPORT_FILE).read_text(encoding="utf-8"))), _read_lines(folder / DOCUMENTS_FILE, "[title, text]")


def _read_lines(path: Path, shape: str) -> Iterator[tuple]:
    """The two-item rows of a file `_write_lines` wrote; one that is not names the file and line."""
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            try:
                first, second = json.loads(line)
            except (ValueError, TypeError):  # not JSON, or not a pair
                raise ValueError(f"{path}:{number}: not a {shape} line") from None
            yield first, second


def encode_passages(folder: Path, checkpoint: Path, out: Path, show_progress: bool = True) -> int:
    """Encode the exported passages with the adapted `checkpoint`, as the instance would, into `out` as
    files of at most VECTOR_ROWS vectors (float16), each with the passages' ids and their texts' digests,
    so that the instance takes a vector only for a passage whose text has not changed since."""
    encoder = Encoder.load(checkpoint)
    rows = _read_lines(folder / PASSAGES_FILE, "[chunk id, text]")
    count = 0
    for number in itertools.count():
        batch = list(itertools.islice(rows, VECTOR_ROWS))
        if not batch:
            return count
        texts = [text for _, text in batch]
        np.savez(out / f"vectors-{number:05d}.npz", ids=np.array([chunk for chunk, _ in batch], np.int64),
                 digests=np.array([text_digest(text) for text in texts], np.int64),
                 vectors=encoder.encode(texts, show_progress=show_progress).astype(np.float16))
        count += len(batch)


def adapt_exported(folder: str | Path, config: AdaptConfig, show_progress: bool = True) -> Path:
    """Train from the folder's model on its documents into `config.output_dir`, then encode its passages
    (if it carries them) into the checkpoint folder; returns the adapted checkpoint, its record naming
    the instance's model and the whole collection's size."""
    export, documents = read_export(folder)
    config = replace(config, init_checkpoint=str(Path(folder) / BASE_FOLDER), max_documents=export.max_documents, mlm_weight=0.0)
    result = adapt(config, documents, (), show_progress)
    checkpoint = keep_record(replace(result, collection_documents=export.collection_documents), config, export.base_model, export.base_sha256)
    if export.passages:
        started = time.perf_counter()
        encoded = encode_passages(Path(folder), checkpoint, checkpoint, show_progress)
        write_record(checkpoint, read_record(checkpoint) | {"encoded_passages": encoded, "encode_s": round(time.perf_counter() - started, 1)})
    return checkpoint


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
    if record.get("encoded_passages"):
        print(f"encoded {record['encoded_passages']} passages in {record['encode_s']:.0f}s")
    if args.parts:
        written = export_parts(checkpoint, [checkpoint / RECORD_FILE, checkpoint / LOG_FILE], Path(args.parts))
        for vectors in sorted(checkpoint.glob(VECTORS_GLOB)):
            written.append(Path(shutil.copy(vectors, args.parts)))
        print(f"wrote {len(written)} files to {args.parts}: take them into the instance with `manage.py adapt --from {args.parts}`")
