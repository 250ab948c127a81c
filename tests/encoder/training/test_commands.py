"""The training commands keep manage.py's contract: the same flags, defaults and required flags as when
each was written by hand, and the same configs built from the same command lines."""

import argparse
import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from encoder import BertConfig
from encoder.training import commands
from encoder.training.commands import add_commands
from encoder.training.finetune import FinetuneConfig
from encoder.training.pretrain import PretrainConfig
from encoder.training.pretraining_data import PrepareConfig

REQUIRED = object()
# Where manage.py looked for the data sets: beside the repository, wherever the command runs from.
DATA = str(Path(__file__).resolve().parents[3].parent / "shared" / "data")
SOURCES = ["stsb", "sick", "msrp", "trecqa", "scifact", "climate_fever"]
# Every flag of the six commands as manage.py declared them, with its default (or REQUIRED).
FLAGS = {
    "train-tokenizer": {"--corpus": REQUIRED, "--out": REQUIRED, "--vocab-size": 16384, "--max-docs": 20000, "--cased": False},
    "prepare-pretraining": {"--corpus": REQUIRED, "--tokenizer": REQUIRED, "--out": REQUIRED, "--max-length": 128, "--max-docs": None,
                            "--seed": 0},
    "pretrain": {"--data": REQUIRED, "--tokenizer": REQUIRED, "--out": REQUIRED, "--budget": REQUIRED, "--max-steps": None, "--layers": 4,
                 "--hidden": 256, "--heads": 4, "--intermediate": None, "--max-positions": 512, "--batch-size": 128, "--lr": 1e-3,
                 "--device": "auto", "--init": None, "--seed": 0},
    "finetune": {"--init": REQUIRED, "--out": REQUIRED, "--budget": REQUIRED, "--data-dir": DATA, "--sources": SOURCES, "--wikipedia": [],
                 "--wikipedia-pairs": 0, "--max-steps": None, "--batch-size": 64, "--lr": 1e-4, "--max-length": 128,
                 "--output-max-length": None, "--learn-temperature": False, "--save-dtype": "float32", "--device": "auto", "--seed": 0},
    "train-reranker": {"--init": REQUIRED, "--out": REQUIRED, "--pairs": REQUIRED, "--budget": REQUIRED, "--max-steps": None,
                       "--loss": "listwise", "--negatives": 7, "--batch-size": 8, "--lr": 1e-4, "--warmup-fraction": 0.1,
                       "--weight-decay": 0.01, "--max-length": 192, "--output-max-length": None, "--save-dtype": "float32",
                       "--log-every": 20, "--device": "auto", "--precision": "auto", "--threads": None, "--seed": 0, "--dev": None},
    "eval-sts": {"--model": None, "--data-dir": DATA, "--sets": ["stsb-test", "sick-r-test"], "--precision": "auto", "--json": None},
}


def parser(model_path=lambda args: Path(args.model or "shipped")) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command", required=True), model_path)
    return parser


def flags_of(command: argparse.ArgumentParser) -> dict[str, object]:
    """{first option string: default, or REQUIRED}; a switch's --no- twin is the same flag."""
    return {action.option_strings[0]: REQUIRED if action.required else action.default
            for action in command._actions if action.option_strings and action.dest != "help"}


def test_every_command_has_the_flags_defaults_and_required_flags_it_always_had():
    subcommands = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert list(subcommands) == list(FLAGS)
    for name, expected in FLAGS.items():
        assert flags_of(subcommands[name]) == expected, name


def run(argv: list[str], monkeypatch, entry: str):
    """Parse and run a command with its entry point replaced; returns the config it was given."""
    seen = []
    monkeypatch.setattr(commands, entry, lambda config, *rest: seen.append(config) or Path("checkpoint"))
    args = parser().parse_args(argv)
    args.run(args)
    return seen[0]


def test_pretrain_builds_the_config_it_always_built(monkeypatch):
    argv = ["pretrain", "--data", "d", "--tokenizer", "t.json", "--out", "o", "--budget", "60", "--max-steps", "3", "--layers", "1",
            "--hidden", "16", "--heads", "2", "--max-positions", "32", "--batch-size", "8", "--init", "start"]
    model = BertConfig(hidden_size=16, num_layers=1, num_heads=2, intermediate_size=64, max_position_embeddings=32)
    assert run(argv, monkeypatch, "pretrain") == PretrainConfig(
        data_dir="d", tokenizer="t.json", output_dir="o", model=model, time_budget_s=60.0, max_steps=3, batch_size=8, lr=1e-3,
        device="auto", init_checkpoint="start", seed=0)
    base = ["pretrain", "--data", "d", "--tokenizer", "t", "--out", "o", "--budget", "1"]
    assert run(base, monkeypatch, "pretrain").model == BertConfig(hidden_size=256, num_layers=4, num_heads=4, intermediate_size=1024)
    assert run([*base, "--hidden", "512"], monkeypatch, "pretrain").model.intermediate_size == 2048  # 4 x hidden, as before
    assert run([*base, "--intermediate", "100"], monkeypatch, "pretrain").model.intermediate_size == 100


def test_finetune_builds_the_config_it_always_built(monkeypatch):
    argv = ["finetune", "--init", "i", "--out", "o", "--budget", "1200", "--lr", "2e-4", "--wikipedia", "w.xz", "--wikipedia-pairs",
            "40000", "--save-dtype", "float16", "--learn-temperature", "--sources", "stsb", "medquad"]
    assert run(argv, monkeypatch, "finetune") == FinetuneConfig(
        init_checkpoint="i", output_dir="o", data_dir=DATA, sources=("stsb", "medquad"), wikipedia_files=("w.xz",),
        max_wikipedia_pairs=40000, time_budget_s=1200.0, max_steps=None, batch_size=64, lr=2e-4, max_length=128,
        output_max_length=None, learn_temperature=True, save_dtype="float16", device="auto", seed=0)
    assert run(["finetune", "--init", "i", "--out", "o", "--budget", "1"], monkeypatch, "finetune").sources == tuple(SOURCES)


def test_train_tokenizer_and_prepare_pretraining_write_what_they_always_wrote(tmp_path, capsys):
    from samples import SENTENCES

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join(" ".join(SENTENCES[i % 8:] + SENTENCES[: i % 8]) for i in range(40)) + "\n")
    tokenizer, shards = tmp_path / "out" / "tok.json", tmp_path / "shards"
    for argv in (["train-tokenizer", "--corpus", str(corpus), "--out", str(tokenizer), "--vocab-size", "200"],
                 ["prepare-pretraining", "--corpus", str(corpus), "--tokenizer", str(tokenizer), "--out", str(shards), "--max-length", "32"]):
        args = parser().parse_args(argv)
        args.run(args)
    printed = capsys.readouterr().out
    assert f"wrote {tokenizer}: " in printed and f"wrote {shards}: " in printed
    normalizer = json.loads(tokenizer.read_text())["normalizer"]
    assert normalizer["lowercase"] is True  # lower-case unless --cased
    assert json.loads((shards / "meta.json").read_text())["config"] == asdict(PrepareConfig(max_length=32))


def test_eval_sts_takes_its_model_from_the_resolver_or_requires_one():
    args = parser().parse_args(["eval-sts"])
    assert args.sets == ["stsb-test", "sick-r-test"] and args.model is None
    bare = argparse.ArgumentParser()
    add_commands(bare.add_subparsers(dest="command", required=True))
    with pytest.raises(SystemExit):
        bare.parse_args(["eval-sts"])
    assert bare.parse_args(["eval-sts", "--model", "m"]).model == "m"


def test_the_commands_run_as_a_module_without_manage_py():
    result = subprocess.run([sys.executable, "-m", "encoder.training", "--help"], capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).resolve().parents[3])
    assert result.returncode == 0, result.stderr
    assert all(name in result.stdout for name in FLAGS)
