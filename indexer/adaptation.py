"""`adapt`: an instance's model trained further on the instance's own text, then every chunk encoded
again with it, and one switch.

Three steps, each resumable:

1. Training (no lock: searches and writes go on) from the instance's model, on its documents and
   passages (`encoder.training.adapt`), into `models/adapted-N.training/`; the checkpoint, with its
   record (`adaptation.json`: base model and its weights' SHA-256, budget, steps, data counts,
   seconds, config), becomes `models/adapted-N/` by one rename. An adapted model whose base is the
   instance's current model is *pending*: the next run encodes with it rather than training again.
   Training can also happen on another machine (a GPU one): `export_for_adaptation` writes the folder
   it trains from, `take_adapted` puts the model it made here as the newest adapted one, pending,
   once its record shows it was trained from the weights the instance serves.
2. Encoding, inside the writer lock: the new vectors go to `reencoding/` (indexer/staging.py: one file
   per batch, written atomically, each vector with its text's digest), never to the store, so searches
   keep the old model and the old vectors meanwhile; a run killed mid-way continues from the batches it
   finished, and vectors the other machine encoded (`--export --passages`) are staged there too. Only
   chunks whose text has changed since their vector was made are encoded again.
3. The switch: one store transaction puts the new vectors and the new model; then a new saved version,
   whose version file names the model (readers encode queries with the model of the vectors they
   search, so they see old and old, or new and new). A crash between the two leaves the old version
   serving, consistently, and `check` names the gap; the next writer (`sync`) closes it.

Adaptation does not always pay: a model that already knows the collection's kind of text and queries can
lose more than it learns (docs/benchmarks.md, "Adaptation that loses"). Given a labelled set of the
instance's (`quality`), the switch happens only if dense search over the new vectors scores at least as
well on it as over the served ones (`KeptModel` otherwise; the model's record keeps both figures, and it
is never taken as pending again).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from encoder import Encoder, load_checkpoint, passage_text
from encoder.checkpoint import WEIGHTS_FILE
from encoder.training.adapt import RECORD_FILE, AdaptConfig, adapt, keep_record, read_record, write_record
from encoder.training.adapt_export import VECTORS_GLOB, Export, text_digest, write_export
from encoder.training.transfer import assemble

from . import checksums
from .quality import dense_ndcg
from .quality_store import Labelled
from .instance import write_lock
from .search_index import SearchIndex, open_for_writing
from .staging import Staging
from .vector_index import VectorIndex

MODELS_FOLDER = "models"
ADAPTED_PREFIX = "adapted-"
STAGING_FOLDER = "reencoding"
STAGING_BATCH = 2048  # chunks encoded and written to one staging file


@dataclass
class Switched:
    """What the encoding and the switch did."""

    model: Path
    chunks: int
    resumed: int  # chunks whose new vectors an earlier, interrupted run had written
    version: int
    checked: tuple[float, float] | None = None  # dense nDCG@10 on the labelled set, served and new, when one was given


class KeptModel(Exception):
    """The adapted model scored below the served one on the operator's labelled set: nothing was switched."""


def adapted_models(folder: Path) -> list[Path]:
    """The instance's finished adapted models (those with a record), oldest first."""
    found = [p for p in (folder / MODELS_FOLDER).glob(f"{ADAPTED_PREFIX}*") if p.name.removeprefix(ADAPTED_PREFIX).isdigit()]
    return sorted((p for p in found if (p / RECORD_FILE).is_file()), key=lambda p: int(p.name.removeprefix(ADAPTED_PREFIX)))


def weights_sha256(model: Path) -> str:
    """What an adapted model's record names its base by: a model folder's path can be reused, its weights' digest not."""
    return checksums.record(model / WEIGHTS_FILE).sha256


def pending_model(folder: Path, current: Path) -> Path | None:
    """The newest adapted model trained from `current` (the instance's model) and not yet switched to."""
    digest = weights_sha256(current) if (current / WEIGHTS_FILE).is_file() else None
    for model in reversed(adapted_models(folder)):
        record = read_record(model)
        if model.resolve() != current.resolve() and record["base_sha256"] == digest and record.get("check", {}).get("switched", True):
            return model
    return None


@contextmanager
def _next_adapted(folder: Path) -> Iterator[Path]:
    """A work folder for the instance's next adapted model, which the caller fills with a checkpoint and
    its record (in `checkpoint/`): that becomes `models/adapted-N` when the block ends well. The work
    folder goes either way, so nothing half-made stays behind a refusal or an interruption (nor behind
    a run killed before, which left one)."""
    existing = adapted_models(folder)
    number = int(existing[-1].name.removeprefix(ADAPTED_PREFIX)) + 1 if existing else 1
    final = folder.resolve() / MODELS_FOLDER / f"{ADAPTED_PREFIX}{number}"
    work = final.with_name(final.name + ".training")
    shutil.rmtree(work, ignore_errors=True)
    try:
        yield work
        (work / "checkpoint").rename(final)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def train(index: SearchIndex, config: AdaptConfig, show_progress: bool = True) -> Path:
    """Train an adapted model from the instance's, on its documents and passages; returns its folder."""
    base = index.model
    documents = documents_of(index)  # streamed, as the passages
    passages = (passage_text(title, text) for _, title, text in index.store.titled_texts())  # read only for MLM
    with _next_adapted(index.folder) as work:
        run = replace(config, init_checkpoint=str(base), output_dir=str(work))
        keep_record(adapt(run, documents, passages, show_progress), run, str(base), weights_sha256(base))
    return work.with_suffix("")


def export_for_adaptation(index: SearchIndex, folder: Path, max_documents: int, seed: int, passages: bool = False) -> Export:
    """The folder a run on another machine trains from (encoder/training/adapt_export.py): a sample of
    the instance's documents, a copy of its model and, with `passages`, every passage titled as indexing
    encodes it, for the run to encode."""
    titled = ((chunk, passage_text(title, text)) for chunk, title, text in index.store.titled_texts()) if passages else ()
    return write_export(folder, documents_of(index), index.model, weights_sha256(index.model), max_documents, seed, titled)


def documents_of(index: SearchIndex) -> Iterator[tuple[str, str]]:
    """(title, text) of every document, streamed: `adapt` keeps only its sample of them (a list of ten
    million documents' texts would not fit in memory)."""
    return ((title, text) for _, title, text in index.store.titled_texts(documents=True))


def take_adapted(index: SearchIndex, source: Path) -> Path:
    """A model adapted on another machine from `export_for_adaptation`'s folder, as the instance's newest
    adapted model, so pending: `source` is its checkpoint folder, or the parts a GPU call brought back.
    Refused unless its record says it was trained from the instance's weights as they are now. The
    passages' vectors it encoded, if any, are staged for `switch_to`, which keeps those of passages
    whose text is still the one encoded."""
    parts = sorted(source.glob(f"{WEIGHTS_FILE}.part*"))
    if not (source / RECORD_FILE).is_file() and not parts:
        raise FileNotFoundError(f"{source}: neither an adapted model (no {RECORD_FILE}) nor the parts of one "
                                f"(`python3 -m encoder.training adapt --parts`)")
    current = index.model
    with _next_adapted(index.folder) as work:
        checkpoint = work / "checkpoint"
        if parts:
            assemble(source, checkpoint)
        else:
            load_checkpoint(source)  # refuses a folder that is not a whole checkpoint, naming the file at fault
            shutil.copytree(source, checkpoint, ignore=shutil.ignore_patterns(VECTORS_GLOB))
        record = read_record(checkpoint)
        if record["base_sha256"] != weights_sha256(current):
            raise ValueError(f"{source} was trained from weights with SHA-256 {record['base_sha256'][:12]}… ({record['base_model']}), "
                             f"not from the instance's model {current} ({weights_sha256(current)[:12]}…): export the instance again "
                             f"and train from that folder")
        write_record(checkpoint, record | {"taken_from": str(source.resolve())})
    model = work.with_suffix("")
    with write_lock(index.folder):  # the staging folder is a writer's: a switch running meanwhile keeps its own
        staging = Staging(index.folder / STAGING_FOLDER, model)
        for shard in sorted(source.glob(VECTORS_GLOB)):
            with np.load(shard) as carried:
                staging.add(carried["ids"], carried["vectors"], carried["digests"])
    return model


def switch_to(folder: str | Path, model: Path, database_url: str | None = None, default_model: Path | None = None,
              on_encoded: Callable[[int, int], None] = lambda done, total: None, check: Labelled | None = None) -> Switched:
    """Encode every chunk with `model` (but those whose staged vector is of their current text: from an
    interrupted run, or carried back from another machine), then switch the instance to it (see the
    module docstring), unless `check` says the served model ranks its queries better (`KeptModel`);
    inside the writer lock throughout."""
    with open_for_writing(folder, database_url, default_model=default_model) as index:
        staging = Staging(index.folder / STAGING_FOLDER, model)
        wanted, digests = _digests(index)
        if not len(wanted):
            raise ValueError(f"{folder} holds no passages to encode")
        current = staging.current(wanted, digests)
        resumed = int(current.sum())
        on_encoded(resumed, len(wanted))
        encoder = Encoder.load(model)
        for ids, texts in _titled_batches(index, set(wanted[~current].tolist())):  # texts unchanged since `_digests`: the lock is held
            staging.add(ids, encoder.encode(texts), digests[np.searchsorted(wanted, ids)])
            on_encoded(resumed + staging.added, len(wanted))
        ids, vectors = staging.vectors(wanted)
        checked = None if check is None else _check(index, model, VectorIndex.build(ids, vectors, "flat"), check, staging)
        index.store.replace_vectors(ids, vectors, {"model": str(model), "dim": str(encoder.dim)})
        index.model = model
        index.repair()  # the vector index rebuilt from the store's (new) vectors, saved as a version naming `model`
        staging.remove()
        return Switched(model, len(wanted), resumed, index.version, checked)


def _digests(index: SearchIndex) -> tuple[np.ndarray, np.ndarray]:
    """Every chunk's id, ascending, and the digest of its titled text (what a staged vector must be of)."""
    rows = np.fromiter(((chunk, text_digest(passage_text(title, text))) for chunk, title, text in index.store.titled_texts()),
                       dtype=[("id", np.int64), ("digest", np.int64)])  # 16 bytes a chunk, however many there are
    return rows["id"], rows["digest"]


def _check(index: SearchIndex, model: Path, staged: VectorIndex, labelled: Labelled, staging: Staging) -> tuple[float, float]:
    """Dense nDCG@10 on the labelled set over the served vectors and over `staged` (`model`'s), into the
    model's record and returned; KeptModel, with the staged vectors dropped, if the new figure is the lower."""
    staged.model = model
    before, after = dense_ndcg(index, index.vectors, labelled), dense_ndcg(index, staged, labelled)
    write_record(model, read_record(model) | {"check": {"set": labelled.name, "queries": len(labelled.qrels), "before": round(before, 2),
                                                         "after": round(after, 2), "switched": after >= before}})
    if after < before:
        staging.remove()
        raise KeptModel(f"kept {index.model}: on the labelled set {labelled.name!r} ({len(labelled.qrels)} queries) dense nDCG@10 "
                        f"would fall from {before:.2f} to {after:.2f} with {model} (its {RECORD_FILE} says so); a model that "
                        f"already knows this kind of text may have nothing to gain (a lower --lr loses less)")
    return before, after


def _titled_batches(index: SearchIndex, todo: set[int]) -> Iterator[tuple[np.ndarray, list[str]]]:
    """(ids, titled passage texts) of the chunks in `todo`, `STAGING_BATCH` at a time, as indexing encodes them."""
    ids, texts = [], []
    for chunk, title, text in index.store.titled_texts():
        if chunk in todo:
            ids.append(chunk)
            texts.append(passage_text(title, text))
            if len(ids) == STAGING_BATCH:
                yield np.array(ids, np.int64), texts
                ids, texts = [], []
    if ids:
        yield np.array(ids, np.int64), texts
