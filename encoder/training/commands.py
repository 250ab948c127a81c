"""The training commands: train-tokenizer, prepare-pretraining, pretrain, finetune, train-reranker and eval-sts, as
`manage.py` offers them and as the GPU machine runs them (`python3 -m encoder.training COMMAND`).

Each command's flags are made from its config dataclass (`encoder.flags`), so that a default and its
help are written once, in the config; the instances below hold the defaults the commands show, with
empty placeholders where a flag is required.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
from dataclasses import fields
from collections.abc import Callable, Collection
from pathlib import Path

from ..config import BertConfig
from ..flags import add_flags, from_flags
from ..precision import PRECISIONS
from ..text_encoder import Encoder
from ..tokenizer import TextTokenizer
from .corpus import read_corpus
from .evaluation import DEFAULT_STS_SETS, STS_SETS, evaluate_sts
from .report import format_table
from .finetune import FinetuneConfig, finetune
from .paths import DEFAULT_DATA_DIR
from .pretrain import PretrainConfig, pretrain
from .pretraining_data import PrepareConfig, prepare_pretraining, read_meta
from .reranker import RerankerConfig, train_reranker
from .vocabulary import TokenizerConfig, train_tokenizer

TOKENIZER = TokenizerConfig()
PREPARE = PrepareConfig()
PRETRAIN = PretrainConfig(data_dir="", tokenizer="", output_dir="")
FINETUNE = FinetuneConfig(init_checkpoint="", output_dir="")
RERANKER = RerankerConfig(init_checkpoint="", output_dir="")
# The sizes of the network a pretraining run chooses; the vocabulary comes from the tokenizer.
MODEL_FLAGS = ("hidden_size", "num_layers", "num_heads", "intermediate_size", "max_position_embeddings")

ModelPath = Callable[[argparse.Namespace], Path]


def add_commands(commands: argparse._SubParsersAction, model_path: ModelPath | None = None) -> None:
    """Add the six commands to a parser's subcommands; each sets `run`, called with the parsed
    arguments. `model_path` resolves eval-sts's model from the arguments (manage.py's: --model, else
    $SEARCHAPP_MODEL, else the shipped model); without one, --model is required."""
    vocab = commands.add_parser("train-tokenizer", help="learn a WordPiece vocabulary from a corpus sample")
    vocab.add_argument("--corpus", nargs="+", required=True, help="WikiExtractor or plain-text files (.xz/.gz ok)")
    vocab.add_argument("--out", required=True, help="tokenizer.json to write")
    add_flags(vocab, TOKENIZER)
    vocab.set_defaults(run=run_train_tokenizer)

    prepare = commands.add_parser("prepare-pretraining", help="build MLM+NSP example shards from a corpus")
    prepare.add_argument("--corpus", nargs="+", required=True, help="WikiExtractor or plain-text files (.xz/.gz ok)")
    prepare.add_argument("--tokenizer", required=True, help="tokenizer.json (from train-tokenizer)")
    prepare.add_argument("--out", required=True, help="folder for the shards")
    add_flags(prepare, PREPARE, names=("max_length", "seed"))
    prepare.add_argument("--max-docs", type=int, default=None, help="documents read from the start of the corpus (default: all)")
    prepare.set_defaults(run=run_prepare_pretraining)

    train = commands.add_parser("pretrain", help="MLM+NSP pretraining on a wall-clock budget (resumes if --out has state)")
    required = ("data_dir", "tokenizer", "output_dir", "time_budget_s")
    add_flags(train, PRETRAIN, names=(*required, "max_steps"), required=required)
    add_model_flags(train, PRETRAIN.model)
    add_flags(train, PRETRAIN, names=("batch_size", "lr", "device", "init_checkpoint", "seed"))
    train.set_defaults(run=run_pretrain)

    tune = commands.add_parser("finetune", help="contrastive pair fine-tuning of a pretrained checkpoint")
    required = ("init_checkpoint", "output_dir", "time_budget_s")
    add_flags(tune, FINETUNE, required=required, names=(
        *required, "data_dir", "sources", "wikipedia_files", "max_wikipedia_pairs", "max_steps", "batch_size", "lr",
        "max_length", "output_max_length", "learn_temperature", "save_dtype", "device", "seed"))
    tune.set_defaults(run=run_finetune)

    rerank = commands.add_parser("train-reranker", help="train a cross-encoder reranker on queries with hard negatives")
    required = ("init_checkpoint", "output_dir", "pairs_files", "time_budget_s")
    add_flags(rerank, RERANKER, required=required, names=[f.name for f in fields(RERANKER) if f.name != "extra_groups"])
    rerank.set_defaults(run=run_train_reranker)

    sts = commands.add_parser("eval-sts", help="Spearman x100 on STS-B test and SICK-R test")
    sts.add_argument("--model", required=model_path is None, help="checkpoint folder")
    sts.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help="folder holding stsb/ and sick/ (default: %(default)s)")
    sts.add_argument("--sets", nargs="+", default=list(DEFAULT_STS_SETS), choices=sorted(STS_SETS))
    sts.add_argument("--precision", choices=PRECISIONS, default="auto")
    sts.add_argument("--json", help="also write the results to this JSON file")
    sts.set_defaults(run=lambda args: run_eval_sts(args, model_path or (lambda a: Path(a.model))))


def add_model_flags(parser: argparse.ArgumentParser, model: BertConfig, names: Collection[str] = MODEL_FLAGS) -> None:
    """The flags of a network's sizes, defaulting to `model`'s. `--intermediate` shows no number but
    follows `--hidden` (4 x hidden) when `model`'s does, as it always has; a config resolves the number
    when it is made (`BertConfig.__post_init__`), so the flags are made from a copy that has not."""
    shown = copy.copy(model)
    if model.intermediate_size == 4 * model.hidden_size:
        shown.intermediate_size = None
    add_flags(parser, shown, names=names)


def model_from_flags(model: BertConfig, args: argparse.Namespace, names: Collection[str] = MODEL_FLAGS) -> BertConfig:
    """`model` with the sizes `add_model_flags` parsed."""
    return from_flags(model, args, names=names)


def run_train_tokenizer(args: argparse.Namespace) -> None:
    tokenizer = train_tokenizer(args.corpus, from_flags(TOKENIZER, args))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(args.out)
    print(f"wrote {args.out}: {tokenizer.vocab_size} word pieces")


def run_prepare_pretraining(args: argparse.Namespace) -> None:
    config = from_flags(PREPARE, args)
    tokenizer = TextTokenizer.from_file(args.tokenizer, max_length=config.max_length)
    documents = itertools.islice(read_corpus(args.corpus), args.max_docs)
    folder = prepare_pretraining(documents, tokenizer, args.out, config)
    meta = read_meta(folder)
    print(f"wrote {folder}: {meta['examples']} examples, {meta['tokens']} tokens from {meta['documents']} documents")


def run_pretrain(args: argparse.Namespace) -> None:
    print(f"wrote {pretrain(from_flags(PRETRAIN, args, model=model_from_flags(PRETRAIN.model, args)))}")


def run_finetune(args: argparse.Namespace) -> None:
    print(f"wrote {finetune(from_flags(FINETUNE, args))}")


def run_train_reranker(args: argparse.Namespace) -> None:
    print(f"wrote {train_reranker(from_flags(RERANKER, args))}")


def run_eval_sts(args: argparse.Namespace, model_path: ModelPath) -> None:
    encoder = Encoder.load(model_path(args), precision=args.precision)
    results = evaluate_sts(encoder, Path(args.data_dir), sets=args.sets)
    print(format_table(results, ["spearman", "pairs"]))
    write_results(args.json, {"model": str(model_path(args)), "results": results})


def write_results(path: str | None, payload: dict) -> None:
    """An evaluation's `--json FILE`: the results also written as JSON, and said so."""
    if path:
        Path(path).write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {path}")
