"""The whole training pipeline in one process, for the GPU machine (which has no manage.py dependencies).

    python3 -m encoder.pipeline run --data gpu_data --work /tmp/run --out $OUT --pretrain-budget 300 ...
    python3 -m encoder.pipeline assemble DOWNLOADED_DIR CHECKPOINT_DIR

`run`: (train a tokenizer or take one) -> prepare pretraining shards with every core -> pretrain on a
time budget -> fine-tune on pairs on a time budget -> Spearman on STS-B dev -> export: the checkpoint
as float16, its weights cut into parts of at most 15 MiB (the transfer limit is 16), and one archive
with the small files and the logs. `assemble` undoes the export into a normal checkpoint folder.

The data folder holds `wikipedia/*.xz` (WikiExtractor text), `pairs.jsonl.xz` (the labelled training
pairs, extracted on the CPU by `scripts/prepare_gpu_data.py`, which builds the folder) and
`stsb/sts-dev.csv` for the closing evaluation.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import shutil
import tarfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from .checkpoint import CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE, load_checkpoint, save_checkpoint
from .config import BertConfig
from .corpus import read_corpus
from .evaluation import evaluate_sts
from .finetune import FinetuneConfig, finetune
from .model import BertModel
from .pretrain import PretrainConfig, pretrain
from .pretraining_data import PrepareConfig, prepare_pretraining
from .text_encoder import Encoder
from .tokenizer import TextTokenizer, train_wordpiece

PART_BYTES = 15 * 1024 * 1024
SMALL_FILES_ARCHIVE = "checkpoint_and_logs.tar.gz"
PAIRS_FILE = "pairs.jsonl.xz"


def log(message: str) -> None:
    print(f"[pipeline {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _prepare_slice(task: tuple[str, int, int, str, str, int, int]) -> int:
    """One worker's share: every `stride`-th document of one file, from `offset`. Returns examples written."""
    path, offset, stride, tokenizer_path, out, max_length, seed = task
    tokenizer = TextTokenizer.from_file(tokenizer_path, max_length=max_length)
    documents = itertools.islice(read_corpus([path]), offset, None, stride)
    config = PrepareConfig(max_length=max_length, seed=seed * 1000 + offset)
    folder = prepare_pretraining(documents, tokenizer, out, config, show_progress=False)
    return json.loads((folder / "meta.json").read_text())["examples"]


def prepare_parallel(files: list[Path], tokenizer_path: Path, out: Path, max_length: int, workers: int, seed: int) -> dict:
    """Shards from many files at once: each file is read by several workers, each keeping every
    k-th document, so all cores work even with few files. Each worker's Rust tokenizer gets its
    share of the cores rather than all of them."""
    per_file = max(1, workers // max(1, len(files)))
    tasks = [(str(f), j, per_file, str(tokenizer_path), str(out / f"{f.stem}_{j}"), max_length, seed)
             for f in files for j in range(per_file)]
    os.environ["RAYON_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // len(tasks)))
    with ProcessPoolExecutor(max_workers=len(tasks), mp_context=multiprocessing.get_context("spawn")) as pool:
        examples = sum(pool.map(_prepare_slice, tasks))
    metas = [json.loads(p.read_text()) for p in out.glob("*/meta.json")]
    meta = {"examples": examples, "tokens": sum(m["tokens"] for m in metas), "documents": sum(m["documents"] for m in metas),
            "shards": sum(m["shards"] for m in metas), "vocab_size": metas[0]["vocab_size"], "config": {"max_length": max_length}}
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def export(checkpoint: Path, logs: list[Path], out: Path) -> list[Path]:
    """float16 weights in parts of at most PART_BYTES, plus one archive of config, tokenizer and logs."""
    out.mkdir(parents=True, exist_ok=True)
    loaded = load_checkpoint(checkpoint)
    staging = out / "staging"
    save_checkpoint(staging, loaded.build(BertModel), loaded.tokenizer, loaded.pooling, loaded.max_length, dtype=torch.float16, extra=loaded.extra)
    written = []
    with (staging / WEIGHTS_FILE).open("rb") as weights:
        for index in itertools.count():
            chunk = weights.read(PART_BYTES)
            if not chunk:
                break
            part = out / f"{WEIGHTS_FILE}.part{index:02d}"
            part.write_bytes(chunk)
            written.append(part)
    with tarfile.open(out / SMALL_FILES_ARCHIVE, "w:gz") as archive:
        for path in [staging / CONFIG_FILE, staging / TOKENIZER_FILE, *logs]:
            if path.exists():
                archive.add(path, arcname=path.name)
    shutil.rmtree(staging)
    return [*written, out / SMALL_FILES_ARCHIVE]


def assemble(source: Path, destination: Path) -> Path:
    """Rebuild a checkpoint folder (and the logs) from what `export` wrote."""
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(source / SMALL_FILES_ARCHIVE) as archive:
        archive.extractall(destination, filter="data")
    parts = sorted(source.glob(f"{WEIGHTS_FILE}.part*"))
    if not parts:
        raise FileNotFoundError(f"{source}: no {WEIGHTS_FILE}.part* files")
    with (destination / WEIGHTS_FILE).open("wb") as weights:
        for part in parts:
            weights.write(part.read_bytes())
    load_checkpoint(destination)  # fails loudly if a part is missing or corrupt
    return destination


def run(args: argparse.Namespace) -> None:
    data, work, out = Path(args.data), Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    files = sorted((data / "wikipedia").glob("*"))
    if not files:
        raise FileNotFoundError(f"{data / 'wikipedia'}: no corpus files")
    log(f"torch {torch.__version__}, cuda {torch.cuda.is_available()}, {os.cpu_count()} cpus, corpus files {[f.name for f in files]}")

    tokenizer_path = Path(args.tokenizer) if args.tokenizer else work / "tokenizer.json"
    if not args.tokenizer:
        started = time.perf_counter()
        texts = (p for d in itertools.islice(read_corpus(files), args.tokenizer_docs) for p in d.paragraphs)
        TextTokenizer(train_wordpiece(texts, args.vocab_size), max_length=512).save(tokenizer_path)
        log(f"tokenizer trained in {time.perf_counter() - started:.1f}s")

    started = time.perf_counter()
    meta = prepare_parallel(files, tokenizer_path, work / "shards", args.max_length, args.workers, args.seed)
    seconds = time.perf_counter() - started
    log(f"prepared {meta['examples']} examples, {meta['tokens']} tokens from {meta['documents']} documents in {seconds:.1f}s ({meta['tokens'] / seconds:,.0f} tokens/s)")

    model = BertConfig(hidden_size=args.hidden, num_layers=args.layers, num_heads=args.heads,
                       intermediate_size=args.intermediate or 4 * args.hidden, max_position_embeddings=args.max_positions, dropout=args.dropout)
    pretrained = pretrain(PretrainConfig(
        data_dir=str(work / "shards"), tokenizer=str(tokenizer_path), output_dir=str(work / "pretrain"), model=model,
        time_budget_s=args.pretrain_budget, batch_size=args.batch_size, lr=args.lr, log_every=args.log_every,
        compile=args.compile, seed=args.seed), show_progress=False)
    log(f"pretrained: {pretrained}")

    tuned = finetune(FinetuneConfig(
        init_checkpoint=str(pretrained), output_dir=str(work / "finetune"), data_dir=str(data), sources=(),
        pairs_files=(str(data / PAIRS_FILE),),
        wikipedia_files=tuple(str(f) for f in files), max_wikipedia_pairs=args.wikipedia_pairs,
        time_budget_s=args.finetune_budget, batch_size=args.finetune_batch_size, lr=args.finetune_lr,
        output_max_length=args.output_max_length, seed=args.seed), show_progress=False)
    log(f"fine-tuned: {tuned}")

    results = evaluate_sts(Encoder.load(tuned), data, sets=("stsb-dev",))
    (work / "eval.json").write_text(json.dumps(results, indent=2) + "\n")
    log(f"STS-B dev Spearman {results['stsb-dev']['spearman']:.2f}")
    logs = [work / "pretrain" / "train_log.jsonl", work / "finetune" / "finetune_log.jsonl", work / "eval.json"]
    for path in export(tuned, logs, out):
        log(f"exported {path.name} ({path.stat().st_size / 2**20:.1f} MiB)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python3 -m encoder.pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    go = commands.add_parser("run", help="tokenize, pretrain, fine-tune, evaluate, export")
    go.add_argument("--data", required=True, help="folder with wikipedia/*.xz and the pair sets")
    go.add_argument("--work", required=True, help="scratch folder (shards, full-precision checkpoints)")
    go.add_argument("--out", required=True, help="folder for the exported files")
    go.add_argument("--tokenizer", help="an existing tokenizer.json (default: train one)")
    go.add_argument("--vocab-size", type=int, default=16384)
    go.add_argument("--tokenizer-docs", type=int, default=20000)
    go.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    go.add_argument("--max-length", type=int, default=128, help="pretraining sequence length")
    go.add_argument("--layers", type=int, default=4)
    go.add_argument("--hidden", type=int, default=256)
    go.add_argument("--heads", type=int, default=4)
    go.add_argument("--intermediate", type=int, default=None)
    go.add_argument("--max-positions", type=int, default=512)
    go.add_argument("--dropout", type=float, default=0.1)
    go.add_argument("--pretrain-budget", type=float, required=True, help="seconds")
    go.add_argument("--batch-size", type=int, default=256)
    go.add_argument("--lr", type=float, default=1e-3)
    go.add_argument("--log-every", type=int, default=100)
    go.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None)
    go.add_argument("--finetune-budget", type=float, required=True, help="seconds")
    go.add_argument("--finetune-batch-size", type=int, default=128)
    go.add_argument("--finetune-lr", type=float, default=1e-4)
    go.add_argument("--wikipedia-pairs", type=int, default=50_000)
    go.add_argument("--output-max-length", type=int, default=None, help="default: the pretraining length (longer positions are untrained)")
    go.add_argument("--seed", type=int, default=0)
    go.set_defaults(func=run)
    back = commands.add_parser("assemble", help="rebuild a checkpoint folder from exported files")
    back.add_argument("source")
    back.add_argument("destination")
    back.set_defaults(func=lambda a: print(assemble(Path(a.source), Path(a.destination))))
    return parser


if __name__ == "__main__":
    arguments = build_parser().parse_args()
    arguments.func(arguments)
