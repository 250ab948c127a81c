#!/usr/bin/env python3
"""The command line: parses arguments, calls one function per command, prints.

    python manage.py [--instance DIR] COMMAND ...

Run `python manage.py --help` for the commands. A mistake of the user's (a missing folder, a bad
checkpoint) ends with one `error:` line and exit status 2, never a stack trace.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from encoder import CheckpointError, Encoder, import_hf

ROOT = Path(__file__).resolve().parent
DEFAULT_MODEL = ROOT / "models" / "default"


def model_path(args: argparse.Namespace) -> Path:
    """--model, else SEARCHAPP_MODEL, else the shipped checkpoint."""
    return Path(args.model or os.environ.get("SEARCHAPP_MODEL") or DEFAULT_MODEL)


def cmd_encode(args: argparse.Namespace) -> None:
    encoder = Encoder.load(model_path(args), precision=args.precision)
    vectors = encoder.encode(args.texts)
    print(f"model {model_path(args)}: dim {encoder.dim}, max length {encoder.max_length}, pooling {encoder.pooling}, compute {str(encoder.compute_dtype).removeprefix('torch.')}")
    for i, (text, vector) in enumerate(zip(args.texts, vectors)):
        head = " ".join(f"{x:+.4f}" for x in vector[:6])
        print(f"[{i}] norm {np.linalg.norm(vector):.4f}  [{head} ...]  {text[:60]!r}")
    if len(vectors) > 1:
        print("cosine similarities:")
        for i, row in enumerate(vectors @ vectors.T):
            print(f"[{i}] " + " ".join(f"{x:6.3f}" for x in row))


def cmd_import_hf(args: argparse.Namespace) -> None:
    destination = Path(args.dst)
    if (destination / "config.json").exists() and not args.force:
        raise CheckpointError(f"{destination} already holds a checkpoint (use --force to overwrite)")
    folder = import_hf(args.src, destination)
    encoder = Encoder.load(folder)
    print(f"wrote {folder}: {encoder.model.config.num_layers} layers, dim {encoder.dim}, pooling {encoder.pooling}, max length {encoder.max_length}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="manage.py", description="Semantic search on our own BERT.")
    parser.add_argument("--instance", default=os.environ.get("SEARCHAPP_INSTANCE", "instance"),
                        help="instance folder (default: $SEARCHAPP_INSTANCE or ./instance)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    encode = commands.add_parser("encode", help="print the vectors of some texts and their cosine similarities")
    encode.add_argument("texts", nargs="+", metavar="TEXT")
    encode.add_argument("--model", help="checkpoint folder (default: $SEARCHAPP_MODEL or the shipped model)")
    encode.add_argument("--precision", choices=("auto", "float32", "bfloat16"), default="auto")
    encode.set_defaults(run=cmd_encode)

    convert = commands.add_parser("import-hf", help="convert a Hugging Face BERT folder into our checkpoint folder")
    convert.add_argument("src", metavar="SRC")
    convert.add_argument("dst", metavar="DST")
    convert.add_argument("--force", action="store_true", help="overwrite a checkpoint already in DST")
    convert.set_defaults(run=cmd_import_hf)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (CheckpointError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
