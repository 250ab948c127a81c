"""The GPU script, end to end on the CPU at toy size: data folder in, exported parts out, reassembled."""

import argparse
import json
import os
import subprocess
from pathlib import Path

import pytest

from pair_files import write_wikipedia
from samples import SENTENCES

from encoder import BertConfig, Encoder, load_checkpoint
from encoder.training import pipeline
from encoder.training.finetune import FinetuneConfig
from encoder.training.pairs import Pair, write_pairs
from encoder.training.corpus import read_corpus
from encoder.training.pretrain import PretrainConfig, pretrain
from encoder.training.pretraining_data import PrepareConfig, prepare_pretraining
from encoder.training.transfer import PART_BYTES, SMALL_FILES_ARCHIVE, assemble
from encoder.training.vocabulary import TokenizerConfig

ROOT = Path(__file__).resolve().parents[3]


def make_data(folder: Path) -> None:
    write_wikipedia(folder, 120)
    pairs = [Pair(a, b, "toy") for a, b in zip(SENTENCES, SENTENCES[1:] + SENTENCES[:1])] * 4
    write_pairs([Pair(p.query + f" {i}", p.positive, p.source) for i, p in enumerate(pairs)], folder / "pairs.jsonl.xz")
    (folder / "stsb").mkdir()
    rows = [f"main-news\tfile\t2012\t{i:04d}\t{i % 6}.0\t{SENTENCES[i % 8]}\t{SENTENCES[(i * 3) % 8]}" for i in range(40)]
    (folder / "stsb" / "sts-dev.csv").write_text("\n".join(rows) + "\n")


@pytest.mark.commands
def test_gpu_script_runs_end_to_end_on_the_cpu(tmp_path):
    make_data(tmp_path / "data")
    out = tmp_path / "out"
    result = subprocess.run(
        [str(ROOT / "encoder" / "training" / "gpu_run.sh"), str(tmp_path / "data"), str(out), "3", "3",
         "--workers", "2", "--vocab-size", "300", "--tokenizer-docs", "50", "--layers", "1", "--hidden", "32", "--heads", "2",
         "--max-length", "32", "--max-positions", "64", "--batch-size", "8", "--finetune-batch-size", "8",
         "--wikipedia-pairs", "40", "--log-every", "2"],
        capture_output=True, text=True, timeout=300, env={"WORK_DIR": str(tmp_path / "work"), "PATH": "/usr/bin:/bin", **_python_env()},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "STS-B dev Spearman" in result.stdout and "prepared" in result.stdout
    parts = sorted(out.glob("model.safetensors.part*"))
    assert parts and all(p.stat().st_size <= PART_BYTES for p in parts)
    assert (out / SMALL_FILES_ARCHIVE).is_file() and (out / "pipeline.log").is_file()
    assert len(list(out.iterdir())) <= 8  # what one device call can bring back

    folder = assemble(out, tmp_path / "model")
    assert json.loads((folder / "config.json").read_text())["dtype"] == "float16"
    assert (folder / "train_log.jsonl").is_file() and "spearman" in (folder / "eval.json").read_text()
    vectors = Encoder.load(folder).encode(["the pen is red"])
    assert vectors.shape == (1, 32)


def _python_env() -> dict:
    """The test's own interpreter first on PATH, as `python3` is on the GPU machine."""
    import sys

    bin_dir = Path(sys.executable).parent
    shim = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    return {**{k: v for k, v in os.environ.items() if k not in ("PATH",)}, **shim}


REQUIRED = object()
# The run's flags as the pipeline declared them by hand, with their defaults (or REQUIRED).
RUN_FLAGS = {
    "--data": REQUIRED, "--work": REQUIRED, "--out": REQUIRED, "--tokenizer": None, "--vocab-size": 16384, "--tokenizer-docs": 20000,
    "--workers": os.cpu_count() or 1, "--max-length": 128, "--layers": 4, "--hidden": 256, "--heads": 4, "--intermediate": None,
    "--max-positions": 512, "--dropout": 0.1, "--pretrain-budget": REQUIRED, "--batch-size": 256, "--lr": 1e-3, "--log-every": 100,
    "--compile": None, "--init": None, "--finetune-budget": REQUIRED, "--finetune-batch-size": 128, "--finetune-lr": 1e-4, "--wikipedia-pairs": 50_000,
    "--output-max-length": None, "--seed": 0,
}


def test_the_run_keeps_its_flags_and_its_own_defaults():
    run = next(a for a in pipeline.build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["run"]
    flags = {a.option_strings[0]: REQUIRED if a.required else a.default for a in run._actions if a.option_strings and a.dest != "help"}
    assert flags == RUN_FLAGS


def test_the_run_builds_the_configs_it_always_built(tmp_path, monkeypatch):
    (tmp_path / "data" / "wikipedia").mkdir(parents=True)
    (tmp_path / "data" / "wikipedia" / "wiki.txt.xz").write_bytes(b"")
    seen = {}

    def record(name, result=None):
        """A stand-in for one step of the run that keeps the arguments it was called with."""
        def step(*args, **options):
            seen[name] = args
            return result
        return step

    class Tokenizer:
        save = record("saved")

    monkeypatch.setattr(pipeline, "train_tokenizer", record("tokenizer", Tokenizer()))
    monkeypatch.setattr(pipeline, "prepare_parallel", record("prepare", {"examples": 1, "tokens": 1, "documents": 1}))
    monkeypatch.setattr(pipeline, "pretrain", record("pretrain", tmp_path / "pt"))
    monkeypatch.setattr(pipeline, "finetune", record("finetune", tmp_path / "ft"))
    monkeypatch.setattr(pipeline.Encoder, "load", record("load"))
    monkeypatch.setattr(pipeline, "evaluate_sts", record("evaluate", {"stsb-dev": {"spearman": 50.0, "pairs": 1}}))
    monkeypatch.setattr(pipeline, "export", record("export", []))
    data, work = tmp_path / "data", tmp_path / "work"
    args = pipeline.build_parser().parse_args([
        "run", "--data", str(data), "--work", str(work), "--out", str(tmp_path / "out"), "--pretrain-budget", "3", "--finetune-budget", "4",
        "--workers", "2", "--vocab-size", "300", "--tokenizer-docs", "50", "--layers", "1", "--hidden", "32", "--heads", "2",
        "--max-length", "32", "--max-positions", "64", "--finetune-batch-size", "8", "--seed", "5"])
    args.func(args)
    assert seen["tokenizer"][1] == TokenizerConfig(vocab_size=300, max_docs=50) and seen["saved"][-1] == work / "tokenizer.json"
    assert seen["prepare"][3:] == (PrepareConfig(max_length=32, seed=5), 2)
    model = BertConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=128, max_position_embeddings=64, dropout=0.1)
    assert seen["pretrain"][0] == PretrainConfig(
        data_dir=str(work / "shards"), tokenizer=str(work / "tokenizer.json"), output_dir=str(work / "pretrain"), model=model,
        time_budget_s=3.0, batch_size=256, lr=1e-3, log_every=100, compile=None, seed=5, init_checkpoint=None)
    assert seen["finetune"][0] == FinetuneConfig(
        init_checkpoint=str(tmp_path / "pt"), output_dir=str(work / "finetune"), data_dir=str(data), sources=(),
        pairs_files=(str(data / "pairs.jsonl.xz"),), wikipedia_files=(str(data / "wikipedia" / "wiki.txt.xz"),),
        max_wikipedia_pairs=50_000, time_budget_s=4.0, batch_size=8, lr=1e-4, output_max_length=None, seed=5)


def test_a_run_continues_an_earlier_runs_pretraining_with_its_tokenizer(tmp_path, tiny_tokenizer):
    make_data(tmp_path / "data")
    documents = read_corpus(sorted((tmp_path / "data" / "wikipedia").glob("*")))
    prepare_pretraining(documents, tiny_tokenizer, tmp_path / "shards", PrepareConfig(max_length=32), show_progress=False)
    tiny_tokenizer.save(tmp_path / "tokenizer.json")
    earlier = pretrain(PretrainConfig(
        data_dir=str(tmp_path / "shards"), tokenizer=str(tmp_path / "tokenizer.json"), output_dir=str(tmp_path / "earlier"),
        model=BertConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_position_embeddings=64),
        batch_size=8, max_steps=3, device="cpu", precision="float32"), show_progress=False)

    args = pipeline.build_parser().parse_args([
        "run", "--data", str(tmp_path / "data"), "--work", str(tmp_path / "work"), "--out", str(tmp_path / "out"), "--init", str(earlier),
        "--pretrain-budget", "1", "--finetune-budget", "0", "--workers", "1", "--batch-size", "8", "--log-every", "2"])
    with pytest.raises(ValueError, match="rows of 128 tokens, more than the model's 64 positions"):
        args.func(args)
    args.max_length, args.work = 32, str(tmp_path / "work2")
    args.func(args)
    continued = load_checkpoint(assemble(tmp_path / "out", tmp_path / "model"))
    assert continued.config == load_checkpoint(earlier).config  # not the flags' default size
    lineage = continued.extra["pretraining"]
    assert len(lineage) == 2 and lineage[0]["steps"] == 3 and lineage[1]["steps"] > 0
    assert lineage[1]["files"] == ["wiki.txt.xz"] and lineage[0]["files"] is None  # prepared outside the pipeline
