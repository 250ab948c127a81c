"""Command-line flags made from a config dataclass, so that each default and its help are written
once, in the dataclass, and `manage.py` and the GPU machine's `python3 -m encoder.training.pipeline`
agree on them (in the spirit of nanoGPT's configurator: the config object is the single source).

A field becomes `--field-name` (or the `flag` its metadata names, for the short flags the command
line has always had), typed from its annotation: `int`, `float`, `str`, `bool` (`--x/--no-x`),
`X | None`, and `tuple[X, ...]` (any number of values). `setting(default, "help")` is `field` with
that metadata. The defaults come from an instance, so a config whose nested part has other defaults
than its class (the small BERT that pretraining starts from) shows those.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Collection, Mapping
from typing import Any, TypeVar

Config = TypeVar("Config")


def setting(default: Any = dataclasses.MISSING, help: str = "", *, flag: str | None = None,
            choices: Collection[str] | None = None, default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field that knows its help text, and optionally its flag name and choices."""
    metadata = {"help": help, "flag": flag, "choices": tuple(choices) if choices is not None else None}
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata)


def flag_name(field: dataclasses.Field, prefix: str = "", metadata: Mapping[str, Any] | None = None) -> str:
    """`--field-name`, or the flag the field's metadata names; `prefix` goes before either (`--budget`
    of a stage named `pretrain-` is `--pretrain-budget`), so two configs' flags can share one parser."""
    named = (field.metadata if metadata is None else metadata).get("flag")
    return "--" + prefix + (named or field.name.replace("_", "-")).removeprefix("--")


def add_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup, defaults: object,
              names: Collection[str] | None = None, prefix: str = "", required: Collection[str] = (),
              help: dict[str, str] | None = None, metadata: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """Add a flag for each field of `defaults` (those in `names`, if given; in the dataclass's order),
    defaulting to the instance's value; returns the destinations, for `from_flags`. `prefix` names a
    stage's flags apart (`--finetune-lr`); `help` overrides a field's help for this command. `metadata`
    gives fields what `setting` would have (`flag`, `help`, `choices`, and `metavar`, the value's name
    in the help), for a dataclass of a package that knows nothing of command lines."""
    hints = typing.get_type_hints(type(defaults))
    added = []
    for field in dataclasses.fields(defaults):
        if names is not None and field.name not in names:
            continue
        meta = {**field.metadata, **(metadata or {}).get(field.name, {})}
        dest = (prefix + field.name).replace("-", "_")
        name = flag_name(field, prefix, meta)
        kind, many = _flag_type(hints[field.name], field.name)
        text = (help or {}).get(field.name) or meta.get("help", "")
        options: dict[str, Any] = {"dest": dest}
        if field.name in required:
            options |= {"required": True, "help": text}
        else:
            default = getattr(defaults, field.name)
            options |= {"default": list(default) if many else default, "help": _with_default(text, default)}
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        else:
            choices = meta.get("choices")
            # Named after the flag, as argparse names it, not after the field (`--budget BUDGET`, not
            # `--budget TIME_BUDGET_S`); choices show as {a,b}.
            metavar = meta.get("metavar") or (None if choices else name.removeprefix("--").replace("-", "_").upper())
            options |= {"type": kind, "choices": choices, "metavar": metavar}
            if many:
                options["nargs"] = "*"
        parser.add_argument(name, **options)
        added.append(dest)
    return added


def from_flags(defaults: Config, args: argparse.Namespace, prefix: str = "", names: Collection[str] | None = None,
               **values: Any) -> Config:
    """`defaults` with every field that `args` holds a flag for (see `add_flags`) replaced, then `values`.
    `names` limits the fields read, as in `add_flags`: a parser holding two configs' flags (the GPU
    pipeline's) may hold a flag of the same name for each (`--vocab-size` is the tokenizer's, not the
    model's, whose vocabulary comes from the tokenizer)."""
    hints = typing.get_type_hints(type(defaults))
    found = {}
    for field in dataclasses.fields(defaults):
        if names is not None and field.name not in names:
            continue
        dest = (prefix + field.name).replace("-", "_")
        if hasattr(args, dest):
            value = getattr(args, dest)
            found[field.name] = tuple(value) if _flag_type(hints[field.name], field.name)[1] and value is not None else value
    return dataclasses.replace(defaults, **(found | values))


def _flag_type(hint: Any, name: str) -> tuple[type, bool]:
    """(the type one value is parsed as, whether the flag takes any number of them)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        kinds = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(kinds) == 1:
            return _flag_type(kinds[0], name)
    if typing.get_origin(hint) in (tuple, list):
        arguments = typing.get_args(hint)
        if arguments and arguments[0] in (int, float, str):
            return arguments[0], True
    if hint in (int, float, str, bool):
        return hint, False
    raise TypeError(f"{name}: a field of type {hint} cannot be a command-line flag")


def _with_default(text: str, default: Any) -> str:
    if default is None or default == () or default == [] or isinstance(default, bool):
        return text
    shown = " ".join(map(str, default)) if isinstance(default, (tuple, list)) else f"{default:,}" if isinstance(default, int) else str(default)
    return f"{text} (default: {shown})" if text else f"default: {shown}"
