"""`manage.py adapt`: train the instance's model further on the instance's own text, then switch the
instance to it (indexer/adaptation.py). A run that finds an adapted model not yet switched to (one
killed while encoding) finishes that one instead of training again. `--check SET` switches only if the
new model ranks a labelled set of the instance's (`manage.py quality add`) at least as well in dense search;
otherwise the command says what it measured and exits with status 1.

Training can run on another machine (a GPU one, which needs only the encoder package): `--export DIR`
writes a sample of the documents and the model there, `python3 -m encoder.training adapt --data DIR`
trains on it, and `--from` takes the result back and switches to it as a run here would."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from tqdm.auto import tqdm

from encoder.flags import add_flags, from_flags
from encoder.training.adapt import TRAINING_FLAGS, USEFUL_PASSES, AdaptConfig
from indexer.adaptation import KeptModel, export_for_adaptation, pending_model, read_record, switch_to, take_adapted, train
from indexer.manifest import VERSION_FILE
from indexer.search_index import SearchIndex

from .instance import InstanceSettings
from .quality_cli import labelled_named

Settings = Callable[[argparse.Namespace], InstanceSettings]
ADAPT = AdaptConfig(init_checkpoint="", output_dir="")
ADAPT_FLAGS = (*TRAINING_FLAGS, "mlm_weight", "max_documents")


def add_commands(commands: argparse._SubParsersAction, settings: Settings) -> None:
    """Add `adapt`; `settings` resolves the instance from the parsed arguments."""
    command = commands.add_parser("adapt", help="train the instance's model on its own passages (no labels), then re-encode them with it")
    add_flags(command, ADAPT, names=ADAPT_FLAGS)
    command.add_argument("--check", metavar="SET", help="switch only if dense search ranks this labelled set of the instance's "
                                                        "(manage.py quality) at least as well with the adapted model")
    elsewhere = command.add_mutually_exclusive_group()
    elsewhere.add_argument("--export", metavar="DIR", type=Path, help="do not train: write a sample of the documents (--max-documents, "
                                                                      "--seed) and the model to this new folder, for "
                                                                      "`python3 -m encoder.training adapt --data DIR` on another machine")
    command.add_argument("--passages", action="store_true", help="with --export: every passage too, for that run to encode "
                                                                 "with the adapted model, so that --from encodes none but those written since")
    elsewhere.add_argument("--from", dest="trained", metavar="DIR", type=Path,
                           help="do not train: switch to the model that run made (its checkpoint folder, or the --parts it wrote)")
    command.add_argument("--quiet", action="store_true", help="no progress bars")
    command.set_defaults(run=lambda args: run_adapt(args, settings(args)))


def run_adapt(args: argparse.Namespace, where: InstanceSettings) -> int:
    if not (Path(where.folder) / VERSION_FILE).is_file():
        raise FileNotFoundError(f"{where.folder} holds no index to adapt to: build one with `manage.py --instance {where.folder} index PATH...`")
    if args.export is not None and args.check is not None:
        raise ValueError("--check measures the adapted model before the switch: give it to `adapt --from`, not to --export")
    if args.passages and args.export is None:
        raise ValueError("--passages says what --export writes: give both, or neither")
    with closing(where.open_index()) as index:
        if args.export is not None:
            return export(index, args)
        check = None if args.check is None else labelled_named(index.store, args.check)
        if args.trained is not None:
            model = take_adapted(index, args.trained)
            record = read_record(model)
            print(f"took {model} from {args.trained}: trained on {record['device']}, {record['steps']} steps in {record['seconds']:.0f}s "
                  f"on {record['documents']} documents")
        elif (model := pending_model(index.folder, index.model)) is not None:
            print(f"{model} was trained from the instance's model but not switched to: encoding with it, without training again")
        else:
            model = train(index, from_flags(ADAPT, args), show_progress=not args.quiet)
            record = read_record(model)
            masked = f", {record['passages']} passages masked" if record["passages"] else ""
            drawn = f" (drawn at random from {record['collection_documents']})" if record["collection_documents"] > record["documents"] else ""
            print(f"trained {model}: {record['steps']} steps in {record['seconds']:.0f}s on {record['documents']} documents{drawn} "
                  f"({record['pairs']} span pairs{masked}, {record['passes']:.2f} passes over them)")
            warning = short_budget_warning(record)
            if warning:
                print(warning, file=sys.stderr)
    with tqdm(desc="encode", unit="passage", disable=args.quiet) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)
        try:
            switched = switch_to(where.folder, model, where.database_url, where.default_model, on_encoded=progress, check=check)
        except KeptModel as kept:
            print(kept, file=sys.stderr)
            return 1
    resumed = f" ({switched.resumed} of them before this command: by the run that trained the model, or an interrupted one)" \
        if switched.resumed else ""
    checked = "" if switched.checked is None else f"; dense nDCG@10 on {check.name!r}: {switched.checked[0]:.2f} -> {switched.checked[1]:.2f}"
    print(f"switched to {switched.model}: {switched.chunks} passages encoded{resumed}, index version {switched.version}{checked}")
    return 0


def export(index: SearchIndex, args: argparse.Namespace) -> int:
    made = export_for_adaptation(index, args.export, args.max_documents, args.seed, passages=args.passages)
    drawn = f" (drawn at random from {made.collection_documents})" if made.collection_documents > made.documents else ""
    mib = sum(path.stat().st_size for path in args.export.rglob("*") if path.is_file()) / 2**20
    carried = f", {made.passages} passages to encode" if made.passages else ""
    print(f"wrote {args.export}: {made.documents} documents{drawn}{carried} and the model, {mib:.1f} MiB; train on it with "
          f"`python3 -m encoder.training adapt --data {args.export} --out RUN --parts PARTS`, then take the model back "
          f"with `manage.py adapt --from PARTS`")
    return 0


def short_budget_warning(record: dict) -> str | None:
    """What to tell an operator whose budget (not a step or pass limit) ended the run within one pass over
    the collection's span pairs: the budget that would have reached the passes that still paid, at the
    pace this run went."""
    config = record["config"]
    if record["passes"] >= 1 or config["max_steps"] is not None or record["passes"] >= config.get("max_passes", 0) > 0:
        return None
    wanted_steps = USEFUL_PASSES * record["pairs"] / config["batch_size"]
    budget = record["seconds"] * wanted_steps / record["steps"]
    return (f"warning: the budget ran out after {record['passes']:.2f} passes over the span pairs; on the collections measured, "
            f"adaptation had gained most of what it could by about {USEFUL_PASSES} passes, which --budget {budget:.0f} would reach "
            f"on this machine")
