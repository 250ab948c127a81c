#!/usr/bin/env python3
"""The command line: parses arguments, calls one function per command, prints.

    python manage.py [--instance DIR] COMMAND ...

Run `python manage.py --help` for the commands. A mistake of the user's (a missing folder, a bad
checkpoint) ends with one `error:` line and exit status 2, never a stack trace.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import closing
from pathlib import Path

from encoder import CheckpointError, Encoder, export_hf, import_hf
from encoder.flags import add_flags, from_flags
from encoder.precision import PRECISIONS
from encoder.training import add_commands
from indexer.demo import build_demo
from indexer.ingest import BATCH_CHARS, IndexConfig, index_paths
from indexer.inspection import CheckReport
from indexer.readers import FORMATS, FieldMap, InputError
from indexer.schema import StoreError
from indexer.validation import COLLECTION_RULE, checked_collection
from indexer.vector_index import INDEX_TYPES
from searchapp import create_app
from searchapp.devserver import serve_development
from searchapp.instance import InstanceSettings, instance_settings
from searchapp.adapt_cli import add_commands as add_adapt_commands
from searchapp.quality_cli import add_commands as add_quality_commands
from searchapp.search_cli import add_commands as add_search_commands
from searchapp.reports import check_summary, encode_report, index_summary
from searchapp.service import open_now
from searchapp.writes import run_writer, writer_process

# Exceptions that mean the user asked for something impossible: one `error:` line and exit status 2.
USER_ERRORS = (CheckpointError, InputError, StoreError, ValueError, OSError)
# `index`'s flags for IndexConfig's fields and FieldMap's, under the names the command line has always had.
INDEX_FLAGS = {
    "collection": {"metavar": "NAME", "help": f"collection to add to, created if new; {COLLECTION_RULE}"},
    "format": {"choices": FORMATS, "help": "input format, told from each name when auto: a folder is dir, or beir if it "
                                           "holds corpus.jsonl; .jsonl/.csv/.tsv, optionally .gz"},
    "strict": {"help": "stop at the first bad record instead of skipping it"},
    "batch_docs": {"flag": "--batch-size", "metavar": "N",
                   "help": f"documents per transaction; a batch also ends at {BATCH_CHARS:,} characters of text"},
    "max_document_chars": {"flag": "--max-chars", "metavar": "N", "help": "longest text accepted, in characters; a longer one is a bad record"},
}
FIELD_FLAGS = {name: {"flag": f"--{name}-field", "metavar": "NAME",
                      "help": f"JSONL field or CSV/TSV column holding the {name}; other fields are kept as metadata"} for name in ("id", "title", "text")}


def settings(args: argparse.Namespace) -> InstanceSettings:
    """The instance, database and model the settings name (searchapp.config), this command's flags first."""
    return instance_settings(args.instance, args.database, getattr(args, "model", None), bm25_unit=getattr(args, "bm25_unit", None),
                             query_expansion={True: "always", False: "never"}.get(getattr(args, "expansion", None)))


def model_path(args: argparse.Namespace) -> Path:
    """--model, else the MODEL setting (SEARCHAPP_MODEL, the SEARCHAPP_CONFIG file), else the shipped checkpoint."""
    return settings(args).model


def cmd_encode(args: argparse.Namespace) -> None:
    model = model_path(args)
    encoder = Encoder.load(model, precision=args.precision)
    print(encode_report(model, encoder, args.texts, encoder.encode(args.texts)))


def cmd_import_hf(args: argparse.Namespace) -> None:
    folder = import_hf(args.src, writable_model_folder(args))
    encoder = Encoder.load(folder)
    print(f"wrote {folder}: {encoder.model.config.num_layers} layers, dim {encoder.dim}, pooling {encoder.pooling}, max length {encoder.max_length}")


def cmd_export_hf(args: argparse.Namespace) -> None:
    folder = export_hf(args.src, writable_model_folder(args))
    print(f"wrote {folder}: a Hugging Face BertModel with its tokenizer and sentence-transformers modules")


def writable_model_folder(args: argparse.Namespace) -> Path:
    """DST of import-hf and export-hf, unless it already holds a model and --force was not given."""
    destination = Path(args.dst)
    if (destination / "config.json").exists() and not args.force:
        raise CheckpointError(f"{destination} already holds a model (use --force to overwrite)")
    return destination


def index_config(args: argparse.Namespace) -> IndexConfig:
    """`index`'s flags as its config; a bad collection name is refused here, before any instance is opened."""
    return from_flags(IndexConfig(), args, fields=from_flags(FieldMap(), args))


def cmd_index(args: argparse.Namespace) -> None:
    config = index_config(args)
    with settings(args).open_for_writing(model=Path(args.model).resolve() if args.model else None) as index:
        report = index_paths(index, [Path(p) for p in args.paths], config, show_progress=not args.quiet)
    for message in report.bad_examples:
        print(f"skipped {message}", file=sys.stderr)
    print(index_summary(report))


def cmd_delete(args: argparse.Namespace) -> None:
    ids = list(args.ids)
    if args.ids_file:
        ids += [line.strip() for line in Path(args.ids_file).read_text(encoding="utf-8").splitlines() if line.strip()]
    if not ids:
        raise ValueError("give document ids or --ids-file")
    checked_collection(args.collection)
    with settings(args).open_for_writing() as index:
        removed = index.delete(ids, args.collection)
    print(f"deleted {removed} of {len(ids)} documents from {args.collection!r}")


def cmd_reindex(args: argparse.Namespace) -> None:
    with settings(args).open_for_writing(sync=False) as index:  # everything is rebuilt from the store: nothing to sync first
        vectors = index.reindex(args.index_type)
    print(f"rebuilt a {vectors.index_type} index of {len(vectors)} vectors (version {index.version})")


def cmd_check(args: argparse.Namespace) -> int:
    report = print_check(args)
    if args.repair and not report.ok:
        with settings(args).open_for_writing(sync=False) as index:
            vectors = index.repair()
        print(f"repaired: rebuilt a {vectors.index_type} index of {len(vectors)} vectors from the store (version {index.version})")
        report = print_check(args)
    return 0 if report.ok else 1


def print_check(args: argparse.Namespace) -> CheckReport:
    with closing(settings(args).open_index()) as index:
        report = index.check()
    print(check_summary(report))
    return report


def cmd_stats(args: argparse.Namespace) -> None:
    print(json.dumps(settings(args).open_index().stats(), indent=2))


def cmd_serve(args: argparse.Namespace) -> None:
    """The development server (one process, threads, the writer in one of them); production runs
    gunicorn (see the README)."""
    where = settings(args)
    app = create_app({"INSTANCE": where.folder, "DATABASE_URL": where.database_url, "MODEL": str(where.default_model)})
    open_now(app)  # a bad folder or model fails here, not on a request
    print(f"serving {where.folder} on http://{args.host}:{args.port}/ (Ctrl-C stops)")
    serve_development(app, args.host, args.port)


def cmd_writer(args: argparse.Namespace) -> None:
    """Apply the API's queued writes until SIGTERM or Ctrl-C (gunicorn.conf.py starts one)."""
    where = settings(args)
    stop = writer_process()
    print(f"applying queued writes to {where.folder} (SIGTERM or Ctrl-C stops it after the current job)", flush=True)
    run_writer(where.folder, where.database_url, where.default_model, stop, reranker=where.reranker())


def cmd_demo(args: argparse.Namespace) -> None:
    where = settings(args)
    reports = build_demo(where.folder, where.database_url, where.default_model, show_progress=not args.quiet)
    for collection, report in reports.items():
        print(f"indexed {report.added} documents ({report.chunks} passages) into {collection!r} in {report.seconds:.0f}s")
    if not reports:
        print(f"{where.folder} already holds documents: serving them as they are")
    if not args.no_serve:
        cmd_serve(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="manage.py", description="Semantic search on our own BERT.")
    parser.add_argument("--instance", help="instance folder (default: $SEARCHAPP_INSTANCE or ./instance; "
                                           "also read from the $SEARCHAPP_CONFIG file, as every setting)")
    parser.add_argument("--database", help="SQLAlchemy URL (default: $SEARCHAPP_DATABASE_URL or SQLite in the instance folder)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    encode = commands.add_parser("encode", help="print the vectors of some texts and their cosine similarities")
    encode.add_argument("texts", nargs="+", metavar="TEXT")
    encode.add_argument("--model", help="checkpoint folder (default: $SEARCHAPP_MODEL or the shipped model)")
    encode.add_argument("--precision", choices=PRECISIONS, default="auto")
    encode.set_defaults(run=cmd_encode)

    convert = commands.add_parser("import-hf", help="convert a Hugging Face BERT folder into our checkpoint folder")
    convert.add_argument("src", metavar="SRC")
    convert.add_argument("dst", metavar="DST")
    convert.add_argument("--force", action="store_true", help="overwrite a checkpoint already in DST")
    convert.set_defaults(run=cmd_import_hf)

    export = commands.add_parser("export-hf", help="convert our checkpoint folder into a Hugging Face BERT folder (transformers, sentence-transformers)")
    export.add_argument("src", metavar="SRC")
    export.add_argument("dst", metavar="DST")
    export.add_argument("--force", action="store_true", help="overwrite a model already in DST")
    export.set_defaults(run=cmd_export_hf)

    add_commands(commands, model_path)

    add_search_commands(commands, settings)
    add_quality_commands(commands, settings)
    add_adapt_commands(commands, settings)

    ingest = commands.add_parser("index", help="add or update documents from files (JSONL, CSV, TSV, a folder, BEIR)")
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="files or folders, read in turn")
    add_flags(ingest, IndexConfig(), names=INDEX_FLAGS, metadata=INDEX_FLAGS)
    ingest.add_argument("--model", help="checkpoint for a new instance (default: the instance's own, else the shipped one)")
    add_flags(ingest, FieldMap(), metadata=FIELD_FLAGS)
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")
    ingest.set_defaults(run=cmd_index)

    remove = commands.add_parser("delete", help="delete documents by id")
    remove.add_argument("ids", nargs="*", metavar="ID")
    remove.add_argument("--ids-file", help="a file with one id per line")
    add_flags(remove, IndexConfig(), names=("collection",), metadata={"collection": {"metavar": "NAME", "help": "collection to delete from"}})
    remove.set_defaults(run=cmd_delete)

    rebuild = commands.add_parser("reindex", help="rebuild the vector index from the store")
    rebuild.add_argument("--index-type", choices=INDEX_TYPES, default=None, help="default: chosen by size")
    rebuild.set_defaults(run=cmd_reindex)

    verify = commands.add_parser("check", help="exit status 0 if and only if store and index agree (every saved file verified)")
    verify.add_argument("--repair", action="store_true", help="if they do not, rebuild the index from the store, then check again")
    verify.set_defaults(run=cmd_check)

    commands.add_parser("stats", help="counts, index type and sizes").set_defaults(run=cmd_stats)

    server = commands.add_parser("serve", help="the web UI and /api over the instance (development server)")
    demo = commands.add_parser("demo", help="index the bundled demo corpus into the instance if it is empty, then serve it")
    writer = commands.add_parser("writer", help="apply the API's queued writes until stopped (gunicorn.conf.py starts one)")
    for command in (server, demo):
        command.add_argument("--host", default="127.0.0.1")
        command.add_argument("--port", type=int, default=5000)
    for command, run in ((server, cmd_serve), (demo, cmd_demo), (writer, cmd_writer)):
        command.add_argument("--model", help="checkpoint for a new instance (default: $SEARCHAPP_MODEL or the shipped model)")
        command.set_defaults(run=run)
    demo.add_argument("--no-serve", action="store_true", help="index only")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
