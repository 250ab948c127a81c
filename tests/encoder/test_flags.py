import argparse
from dataclasses import dataclass

import pytest

from encoder.flags import add_flags, from_flags, setting


@dataclass
class Inner:
    width: int = 8
    name: str = setting("a", "which one", choices=("a", "b"))


@dataclass
class Outer:
    path: str
    rate: float = setting(0.5, "how fast", flag="--speed")
    steps: int | None = None
    sources: tuple[str, ...] = ("x", "y")
    fast: bool = False
    inner: Inner | None = None


def parser_for(defaults, **options) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_flags(parser, defaults, **options)
    return parser


def test_defaults_come_from_the_instance_and_round_trip():
    defaults = Outer(path="p", rate=0.25)
    parser = parser_for(defaults, names=("path", "rate", "steps", "sources", "fast"))
    config = from_flags(defaults, parser.parse_args([]))
    assert config == defaults
    assert "(default: 0.25)" in parser.format_help()
    assert "--speed" in parser.format_help() and "--rate" not in parser.format_help()


def test_values_are_typed_from_annotations():
    parser = parser_for(Outer(path="p"), names=("path", "rate", "steps", "sources", "fast"))
    config = from_flags(Outer(path="p"), parser.parse_args(["--speed", "2", "--steps", "7", "--sources", "a", "b", "--fast"]))
    assert (config.rate, config.steps, config.sources, config.fast) == (2.0, 7, ("a", "b"), True)
    assert isinstance(config.sources, tuple)


def test_choices_required_and_prefix():
    parser = parser_for(Inner(), prefix="inner-", required=("width",))
    with pytest.raises(SystemExit):
        parser.parse_args(["--inner-name", "a"])  # --inner-width is required
    with pytest.raises(SystemExit):
        parser.parse_args(["--inner-width", "3", "--inner-name", "c"])
    assert from_flags(Inner(), parser.parse_args(["--inner-width", "3"]), prefix="inner-") == Inner(width=3)


def test_a_field_that_cannot_be_a_flag_is_refused():
    with pytest.raises(TypeError, match="inner"):
        parser_for(Outer(path="p"))


def test_a_prefix_goes_before_a_named_flag_and_metavars_follow_the_flag():
    parser = parser_for(Outer(path="p"), names=("path", "rate"), prefix="stage-")
    assert "--stage-speed STAGE_SPEED" in parser.format_help() and "--stage-path STAGE_PATH" in parser.format_help()
    config = from_flags(Outer(path="p"), parser.parse_args(["--stage-speed", "3"]), prefix="stage-")
    assert config == Outer(path="p", rate=3.0)
    assert "--speed SPEED" in parser_for(Outer(path="p"), names=("rate",)).format_help()


def test_from_flags_reads_only_the_names_asked_for():
    parser = parser_for(Outer(path="p"), names=("path", "steps"))
    parser.add_argument("--width", type=int, default=5)  # another config's flag, in the same parser
    args = parser.parse_args(["--steps", "2", "--width", "9"])
    assert from_flags(Inner(), args, names=("name",)) == Inner()
    assert from_flags(Inner(), args) == Inner(width=9)
    assert from_flags(Outer(path="p"), args, names=("steps",), path="q") == Outer(path="q", steps=2)
