"""`python3 -m encoder.training COMMAND`: manage.py's training commands on a machine that has nothing but
torch, tokenizers, safetensors, numpy and tqdm (the GPU machine). eval-sts needs --model here: the
default model is the app's setting, which this machine does not have."""

from __future__ import annotations

import argparse

from .commands import add_commands


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python3 -m encoder.training", description="Train and evaluate our BERT.")
    add_commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
