"""`python3 -m encoder.training COMMAND`: manage.py's training commands on a machine that has nothing but
torch, tokenizers, safetensors, numpy and tqdm (the GPU machine), and `adapt` on a folder that
`manage.py adapt --export` wrote. eval-sts needs --model here: the default model is the app's
setting, which this machine does not have. A mistake of the user's ends with one `error:` line and
exit status 2, as in manage.py."""

from __future__ import annotations

import argparse
import sys

from ..checkpoint import CheckpointError
from .adapt_export import add_command as add_adapt_command
from .commands import add_commands

USER_ERRORS = (CheckpointError, ValueError, OSError)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m encoder.training", description="Train and evaluate our BERT.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_commands(commands)
    add_adapt_command(commands)
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
