"""The whole training pipeline in one process, for the GPU machine (which has no manage.py dependencies).

    python3 -m encoder.training.pipeline run --data gpu_data --work /tmp/run --out $OUT --pretrain-budget 300 ...
    python3 -m encoder.training.pipeline assemble DOWNLOADED_DIR CHECKPOINT_DIR

`run`: (train a tokenizer or take one) -> prepare pretraining shards with every core -> pretrain on a
time budget, from scratch or (`--init`) continuing an earlier run's pretrained checkpoint on other
Wikipedia files -> fine-tune on pairs on a time budget (a budget of 0 skips it: the pretrained checkpoint,
heads included, is what a later `recipe` or reranker starts from) -> Spearman on STS-B dev -> export: the
checkpoint as float16, its weights cut into parts of at most 15 MiB (the transfer limit is 16), and one
archive with the small files and the logs. `assemble` undoes the export into a normal checkpoint folder.

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
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import torch

from ..checkpoint import TOKENIZER_FILE
from ..flags import add_flags, from_flags
from ..text_encoder import Encoder
from ..tokenizer import TextTokenizer
from .commands import MODEL_FLAGS, add_model_flags, model_from_flags
from .corpus import read_corpus
from .evaluation import evaluate_sts
from .finetune import FinetuneConfig, finetune
from .pretrain import PretrainConfig, pretrain
from .pretraining_data import PrepareConfig, prepare_pretraining, read_meta
from .transfer import PAIRS_FILE, assemble, export
from .vocabulary import TokenizerConfig, train_tokenizer

# The pipeline's defaults, where a GPU run differs from the single commands': bigger batches, fewer
# log lines, and fine-tuning on the data folder's pairs file and its Wikipedia pairs rather than on
# the labelled sets' folders.
TOKENIZER = TokenizerConfig()
PREPARE = PrepareConfig()
PRETRAIN = PretrainConfig(data_dir="", tokenizer="", output_dir="", batch_size=256, log_every=100)
FINETUNE = FinetuneConfig(init_checkpoint="", output_dir="", sources=(), batch_size=128, max_wikipedia_pairs=50_000)
PRETRAIN_FLAGS = ("batch_size", "lr", "log_every", "compile", "seed", "init_checkpoint")
FINETUNE_FLAGS = ("time_budget_s", "batch_size", "lr")  # as --finetune-*
FINETUNE_DATA_FLAGS = ("max_wikipedia_pairs", "output_max_length")


def log(message: str) -> None:
    print(f"[pipeline {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _prepare_slice(task: tuple[str, int, int, str, str, PrepareConfig]) -> int:
    """One worker's share: every `stride`-th document of one file, from `offset`. Returns examples written."""
    path, offset, stride, tokenizer_path, out, config = task
    tokenizer = TextTokenizer.from_file(tokenizer_path, max_length=config.max_length)
    documents = itertools.islice(read_corpus([path]), offset, None, stride)
    folder = prepare_pretraining(documents, tokenizer, out, replace(config, seed=config.seed * 1000 + offset), show_progress=False)
    return read_meta(folder)["examples"]


def prepare_parallel(files: list[Path], tokenizer_path: Path, out: Path, config: PrepareConfig, workers: int) -> dict:
    """Shards from many files at once: each file is read by several workers, each keeping every
    k-th document, so all cores work even with few files. Each worker's Rust tokenizer gets its
    share of the cores rather than all of them."""
    per_file = max(1, workers // max(1, len(files)))
    tasks = [(str(f), j, per_file, str(tokenizer_path), str(out / f"{f.stem}_{j}"), config) for f in files for j in range(per_file)]
    os.environ["RAYON_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // len(tasks)))
    with ProcessPoolExecutor(max_workers=len(tasks), mp_context=multiprocessing.get_context("spawn")) as pool:
        examples = sum(pool.map(_prepare_slice, tasks))
    metas = [read_meta(p.parent) for p in out.glob("*/meta.json")]
    meta = {"files": [f.name for f in files], "examples": examples, "tokens": sum(m["tokens"] for m in metas),
            "documents": sum(m["documents"] for m in metas), "shards": sum(m["shards"] for m in metas),
            "vocab_size": metas[0]["vocab_size"], "config": {"max_length": config.max_length}}
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def run(args: argparse.Namespace) -> None:
    data, work, out = Path(args.data), Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    files = sorted((data / "wikipedia").glob("*"))
    if not files:
        raise FileNotFoundError(f"{data / 'wikipedia'}: no corpus files")
    log(f"torch {torch.__version__}, cuda {torch.cuda.is_available()}, {os.cpu_count()} cpus, corpus files {[f.name for f in files]}")

    # A continued run reads its text with the tokenizer its checkpoint learnt with.
    given = args.tokenizer or (args.init_checkpoint and str(Path(args.init_checkpoint) / TOKENIZER_FILE))
    tokenizer_path = Path(given) if given else work / "tokenizer.json"
    if not given:
        started = time.perf_counter()
        train_tokenizer(files, from_flags(TOKENIZER, args, names=("vocab_size",), max_docs=args.tokenizer_docs)).save(tokenizer_path)
        log(f"tokenizer trained in {time.perf_counter() - started:.1f}s")

    started = time.perf_counter()
    meta = prepare_parallel(files, tokenizer_path, work / "shards", from_flags(PREPARE, args, names=("max_length", "seed")), args.workers)
    seconds = time.perf_counter() - started
    log(f"prepared {meta['examples']} examples, {meta['tokens']} tokens from {meta['documents']} documents in {seconds:.1f}s ({meta['tokens'] / seconds:,.0f} tokens/s)")

    pretrained = pretrain(from_flags(
        PRETRAIN, args, names=PRETRAIN_FLAGS, data_dir=str(work / "shards"), tokenizer=str(tokenizer_path), output_dir=str(work / "pretrain"),
        model=model_from_flags(PRETRAIN.model, args, names=(*MODEL_FLAGS, "dropout")), time_budget_s=args.pretrain_time_budget_s),
        show_progress=False)
    log(f"pretrained: {pretrained}")

    stage = from_flags(FINETUNE, args, prefix="finetune-", names=FINETUNE_FLAGS)
    tuned = pretrained
    if stage.time_budget_s > 0:
        tuned = finetune(from_flags(
            stage, args, names=(*FINETUNE_DATA_FLAGS, "seed"), init_checkpoint=str(pretrained), output_dir=str(work / "finetune"),
            data_dir=str(data), pairs_files=(str(data / PAIRS_FILE),), wikipedia_files=tuple(str(f) for f in files)), show_progress=False)
        log(f"fine-tuned: {tuned}")

    results = evaluate_sts(Encoder.load(tuned), data, sets=("stsb-dev",))
    (work / "eval.json").write_text(json.dumps(results, indent=2) + "\n")
    log(f"STS-B dev Spearman {results['stsb-dev']['spearman']:.2f}")
    logs = [work / "pretrain" / "train_log.jsonl", work / "finetune" / "finetune_log.jsonl", work / "eval.json"]
    for path in export(tuned, logs, out):
        log(f"exported {path.name} ({path.stat().st_size / 2**20:.1f} MiB)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python3 -m encoder.training.pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    go = commands.add_parser("run", help="tokenize, pretrain, fine-tune, evaluate, export")
    go.add_argument("--data", required=True, help="folder with wikipedia/*.xz and the pair sets")
    go.add_argument("--work", required=True, help="scratch folder (shards, full-precision checkpoints)")
    go.add_argument("--out", required=True, help="folder for the exported files")
    go.add_argument("--tokenizer", help="an existing tokenizer.json (default: train one)")
    add_flags(go, TOKENIZER, names=("vocab_size",))
    go.add_argument("--tokenizer-docs", type=int, default=TOKENIZER.max_docs, help="documents the tokenizer learns from (default: %(default)s)")
    go.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes preparing the shards (default: every core)")
    add_flags(go, PREPARE, names=("max_length",))
    add_model_flags(go, PRETRAIN.model, names=(*MODEL_FLAGS, "dropout"))
    add_flags(go, PRETRAIN, names=("time_budget_s",), prefix="pretrain-", required=("time_budget_s",))
    add_flags(go, PRETRAIN, names=PRETRAIN_FLAGS)
    add_flags(go, FINETUNE, names=FINETUNE_FLAGS, prefix="finetune-", required=("time_budget_s",))
    add_flags(go, FINETUNE, names=FINETUNE_DATA_FLAGS)
    go.set_defaults(func=run)
    back = commands.add_parser("assemble", help="rebuild a checkpoint folder from exported files")
    back.add_argument("source")
    back.add_argument("destination")
    back.set_defaults(func=lambda a: print(assemble(Path(a.source), Path(a.destination))))
    return parser


if __name__ == "__main__":
    arguments = build_parser().parse_args()
    arguments.func(arguments)
