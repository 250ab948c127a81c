#!/usr/bin/env python3
"""The command line: parses arguments, calls one function per command, prints.

    python manage.py [--instance DIR] COMMAND ...

Run `python manage.py --help` for the commands. A mistake of the user's (a missing folder, a bad
checkpoint) ends with one `error:` line and exit status 2, never a stack trace.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np

from encoder import BertConfig, CheckpointError, Encoder, TextTokenizer, export_hf, import_hf, set_threads, train_wordpiece
from encoder.corpus import read_corpus
from encoder.evaluation import STS_SETS, evaluate_sts, format_table
from encoder.finetune import DEFAULT_SOURCES, FinetuneConfig, finetune
from encoder.pretrain import PretrainConfig, pretrain
from encoder.pretraining_data import PrepareConfig, prepare_pretraining
from indexer.demo import build_demo
from indexer.evaluation import evaluate_beir
from indexer.ingest import BATCH_CHARS, IndexConfig, index_paths
from indexer.readers import FORMATS, FieldMap, InputError
from indexer.retrieval import MODES
from indexer.search import SearchService
from indexer.search_index import CheckReport, SearchIndex, open_for_writing
from indexer.store import StoreError
from indexer.validation import COLLECTION_RULE, DEFAULT_MAX_DOCUMENT_CHARS, checked_collection
from indexer.vector_index import set_search_threads
from searchapp import create_app, search_service
from searchapp.config import DEFAULT_MODEL, ROOT
from searchapp.terminal import format_results, search_params
from searchapp.writes import run_writer

DEFAULT_DATA = ROOT.parent / "shared" / "data"
# Exceptions that mean the user asked for something impossible: one `error:` line and exit status 2.
USER_ERRORS = (CheckpointError, InputError, StoreError, ValueError, OSError)


def model_path(args: argparse.Namespace) -> Path:
    """--model, else SEARCHAPP_MODEL, else the shipped checkpoint."""
    return Path(getattr(args, "model", None) or os.environ.get("SEARCHAPP_MODEL") or DEFAULT_MODEL)


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


def cmd_train_tokenizer(args: argparse.Namespace) -> None:
    texts = (p for d in itertools.islice(read_corpus(args.corpus), args.max_docs) for p in d.paragraphs)
    tokenizer = TextTokenizer(train_wordpiece(texts, args.vocab_size, lowercase=not args.cased), max_length=512)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(args.out)
    print(f"wrote {args.out}: {tokenizer.vocab_size} word pieces")


def cmd_prepare_pretraining(args: argparse.Namespace) -> None:
    tokenizer = TextTokenizer.from_file(args.tokenizer, max_length=args.max_length)
    documents = itertools.islice(read_corpus(args.corpus), args.max_docs)
    folder = prepare_pretraining(documents, tokenizer, args.out, PrepareConfig(max_length=args.max_length, seed=args.seed))
    meta = json.loads((folder / "meta.json").read_text())
    print(f"wrote {folder}: {meta['examples']} examples, {meta['tokens']} tokens from {meta['documents']} documents")


def cmd_pretrain(args: argparse.Namespace) -> None:
    model = BertConfig(hidden_size=args.hidden, num_layers=args.layers, num_heads=args.heads,
                       intermediate_size=args.intermediate or 4 * args.hidden, max_position_embeddings=args.max_positions)
    config = PretrainConfig(data_dir=args.data, tokenizer=args.tokenizer, output_dir=args.out, model=model,
                            time_budget_s=args.budget, max_steps=args.max_steps, batch_size=args.batch_size, lr=args.lr,
                            device=args.device, init_checkpoint=args.init, seed=args.seed)
    print(f"wrote {pretrain(config)}")


def cmd_finetune(args: argparse.Namespace) -> None:
    config = FinetuneConfig(init_checkpoint=args.init, output_dir=args.out, data_dir=args.data_dir, sources=tuple(args.sources),
                            wikipedia_files=tuple(args.wikipedia), max_wikipedia_pairs=args.wikipedia_pairs,
                            time_budget_s=args.budget, max_steps=args.max_steps, batch_size=args.batch_size, lr=args.lr,
                            max_length=args.max_length, output_max_length=args.output_max_length,
                            learn_temperature=args.learn_temperature, save_dtype=args.save_dtype, device=args.device, seed=args.seed)
    print(f"wrote {finetune(config)}")


def cmd_eval_sts(args: argparse.Namespace) -> None:
    encoder = Encoder.load(model_path(args), precision=args.precision)
    results = evaluate_sts(encoder, Path(args.data_dir), sets=args.sets)
    print(format_table(results, ["spearman", "pairs"]))
    write_json(args.json, {"model": str(model_path(args)), "results": results})


def cmd_eval_retrieval(args: argparse.Namespace) -> None:
    results = evaluate_beir(Path(args.beir_dir), model_path(args).resolve(), modes=args.mode,
                            work=Path(args.work) if args.work else None, show_progress=True)
    print(format_table(results, ["ndcg@10", "recall@100", "mrr@10", "p50 ms", "p99 ms", "queries", "documents"]))
    write_json(args.json, {"model": str(model_path(args)), "dataset": Path(args.beir_dir).name, "results": results})


def write_json(path: str | None, payload: dict) -> None:
    if path:
        Path(path).write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {path}")


def open_index(args: argparse.Namespace, model: Path | None = None) -> SearchIndex:
    """The instance's index, for reading; its model is the one given, else the one the instance was
    built with, else $SEARCHAPP_MODEL or the shipped one."""
    return SearchIndex.open(args.instance, database_url=database_url(args), model=model, default_model=model_path(args).resolve())


def write_index(args: argparse.Namespace, model: Path | None = None, sync: bool = True) -> AbstractContextManager[SearchIndex]:
    """The same, opened inside the instance's writer lock (and synced, see `open_for_writing`)."""
    return open_for_writing(args.instance, database_url=database_url(args), model=model, default_model=model_path(args).resolve(),
                            sync=sync)


def database_url(args: argparse.Namespace) -> str | None:
    return args.database or os.environ.get("SEARCHAPP_DATABASE_URL")


def cmd_index(args: argparse.Namespace) -> None:
    config = IndexConfig(collection=args.collection, format=args.format, strict=args.strict, batch_docs=args.batch_size,
                         fields=FieldMap(id=args.id_field, title=args.title_field, text=args.text_field),
                         max_document_chars=args.max_chars)
    with write_index(args, model=Path(args.model).resolve() if args.model else None) as index:
        report = index_paths(index, [Path(p) for p in args.paths], config, show_progress=not args.quiet)
    for message in report.bad_examples:
        print(f"skipped {message}", file=sys.stderr)
    rate = report.read / report.seconds if report.seconds else 0.0
    print(f"read {report.read}: {report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
          f"{report.bad} bad; {report.chunks} chunks; {report.seconds:.1f}s ({rate:,.0f} docs/s)")


def cmd_delete(args: argparse.Namespace) -> None:
    ids = list(args.ids)
    if args.ids_file:
        ids += [line.strip() for line in Path(args.ids_file).read_text(encoding="utf-8").splitlines() if line.strip()]
    if not ids:
        raise ValueError("give document ids or --ids-file")
    checked_collection(args.collection)
    with write_index(args) as index:
        removed = index.delete(ids, args.collection)
    print(f"deleted {removed} of {len(ids)} documents from {args.collection!r}")


def cmd_reindex(args: argparse.Namespace) -> None:
    with write_index(args, sync=False) as index:  # everything is rebuilt from the store: nothing to sync first
        vectors = index.reindex(args.index_type)
    print(f"rebuilt a {vectors.index_type} index of {len(vectors)} vectors (version {index.version})")


def cmd_check(args: argparse.Namespace) -> int:
    report = print_check(open_index(args))
    if args.repair and not report.ok:
        with write_index(args, sync=False) as index:
            vectors = index.repair()
        print(f"repaired: rebuilt a {vectors.index_type} index of {len(vectors)} vectors from the store (version {index.version})")
        report = print_check(open_index(args))
    return 0 if report.ok else 1


def print_check(index: SearchIndex) -> CheckReport:
    report = index.check()
    index.close()
    print(f"{report.documents} documents, {report.chunks} chunks, {report.vectors} vectors")
    for problem in report.problems:
        print(f"problem: {problem}")
    print("ok" if report.ok else "store and index disagree (run `manage.py check --repair` to rebuild the index from the store)")
    return report


def cmd_stats(args: argparse.Namespace) -> None:
    print(json.dumps(open_index(args).stats(), indent=2))


def cmd_search(args: argparse.Namespace) -> None:
    """The instance searched as the app searches it (same service, same parameter rules), read-only."""
    params = search_params(args.query, args.mode, args.k, args.offset, args.collection, args.filter)
    service = SearchService.open_existing(args.instance, database_url(args), model_path(args).resolve())
    results = service.search(params.query, params.mode, params.k, params.offset, params.filters)
    if args.json:
        print(json.dumps(results.as_json() | {"k": params.k, "offset": params.offset}, ensure_ascii=False, indent=2))
    else:
        print(format_results(results, params.offset, bold=sys.stdout.isatty(), width=min(100, shutil.get_terminal_size().columns)))


def cmd_serve(args: argparse.Namespace) -> None:
    """The development server (one process, threads, the writer in one of them); production runs
    gunicorn (see the README)."""
    app = create_app({"INSTANCE": args.instance, "DATABASE_URL": database_url(args), "MODEL": str(model_path(args).resolve())})
    with app.app_context():
        search_service()  # open the instance and load the model now: a bad folder or model fails here, not on a request
    stop = threading.Event()
    writer = threading.Thread(target=run_writer, args=(args.instance, database_url(args), model_path(args).resolve(), stop),
                              name="writer", daemon=True)  # killed mid-job, it loses nothing: the job is applied again
    writer.start()
    print(f"serving {args.instance} on http://{args.host}:{args.port}/ (Ctrl-C stops)")
    try:
        app.run(host=args.host, port=args.port, threaded=True)
    finally:
        stop.set()
        writer.join(timeout=5)


def stop_handler(stop: threading.Event) -> Callable[[int, object], None]:
    """A signal handler that sets `stop` from another thread: the handler may run while the main
    thread, inside `stop.wait`, holds the Event's lock, and `stop.set()` would then wait for it forever."""
    return lambda *_: threading.Thread(target=stop.set).start()


def cmd_writer(args: argparse.Namespace) -> None:
    """Apply the API's queued writes until SIGTERM or Ctrl-C (gunicorn.conf.py starts one)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [writer %(process)d] %(levelname)s %(message)s")
    set_threads(1)  # one core for the writer: searches get the rest
    set_search_threads(1)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop_handler(stop))
    print(f"applying queued writes to {args.instance} (SIGTERM or Ctrl-C stops it after the current job)", flush=True)
    run_writer(args.instance, database_url(args), model_path(args).resolve(), stop)


def cmd_demo(args: argparse.Namespace) -> None:
    reports = build_demo(args.instance, database_url(args), model_path(args).resolve(), show_progress=not args.quiet)
    for collection, report in reports.items():
        print(f"indexed {report.added} documents ({report.chunks} passages) into {collection!r} in {report.seconds:.0f}s")
    if not reports:
        print(f"{args.instance} already holds documents: serving them as they are")
    if not args.no_serve:
        cmd_serve(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="manage.py", description="Semantic search on our own BERT.")
    parser.add_argument("--instance", default=os.environ.get("SEARCHAPP_INSTANCE", "instance"),
                        help="instance folder (default: $SEARCHAPP_INSTANCE or ./instance)")
    parser.add_argument("--database", help="SQLAlchemy URL (default: $SEARCHAPP_DATABASE_URL or SQLite in the instance folder)")
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

    export = commands.add_parser("export-hf", help="convert our checkpoint folder into a Hugging Face BERT folder (transformers, sentence-transformers)")
    export.add_argument("src", metavar="SRC")
    export.add_argument("dst", metavar="DST")
    export.add_argument("--force", action="store_true", help="overwrite a model already in DST")
    export.set_defaults(run=cmd_export_hf)

    vocab = commands.add_parser("train-tokenizer", help="learn a WordPiece vocabulary from a corpus sample")
    vocab.add_argument("--corpus", nargs="+", required=True, help="WikiExtractor or plain-text files (.xz/.gz ok)")
    vocab.add_argument("--out", required=True, help="tokenizer.json to write")
    vocab.add_argument("--vocab-size", type=int, default=16384)
    vocab.add_argument("--max-docs", type=int, default=20000, help="documents sampled from the start of the corpus")
    vocab.add_argument("--cased", action="store_true", help="keep case and accents (default: lower-case)")
    vocab.set_defaults(run=cmd_train_tokenizer)

    prepare = commands.add_parser("prepare-pretraining", help="build MLM+NSP example shards from a corpus")
    prepare.add_argument("--corpus", nargs="+", required=True)
    prepare.add_argument("--tokenizer", required=True)
    prepare.add_argument("--out", required=True, help="folder for the shards")
    prepare.add_argument("--max-length", type=int, default=128)
    prepare.add_argument("--max-docs", type=int, default=None)
    prepare.add_argument("--seed", type=int, default=0)
    prepare.set_defaults(run=cmd_prepare_pretraining)

    train = commands.add_parser("pretrain", help="MLM+NSP pretraining on a wall-clock budget (resumes if --out has state)")
    train.add_argument("--data", required=True, help="folder written by prepare-pretraining")
    train.add_argument("--tokenizer", required=True)
    train.add_argument("--out", required=True)
    train.add_argument("--budget", type=float, required=True, help="training seconds")
    train.add_argument("--max-steps", type=int, default=None)
    train.add_argument("--layers", type=int, default=4)
    train.add_argument("--hidden", type=int, default=256)
    train.add_argument("--heads", type=int, default=4)
    train.add_argument("--intermediate", type=int, default=None, help="default 4 x hidden")
    train.add_argument("--max-positions", type=int, default=512)
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--device", default="auto")
    train.add_argument("--init", default=None, help="start from this checkpoint's weights")
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(run=cmd_pretrain)

    tune = commands.add_parser("finetune", help="contrastive pair fine-tuning of a pretrained checkpoint")
    tune.add_argument("--init", required=True, help="checkpoint folder to start from (e.g. pretrain's OUT/checkpoint)")
    tune.add_argument("--out", required=True)
    tune.add_argument("--budget", type=float, required=True, help="training seconds")
    tune.add_argument("--data-dir", default=str(DEFAULT_DATA), help="folder holding stsb/, sick/, msrp/, … (default ../shared/data)")
    tune.add_argument("--sources", nargs="*", default=list(DEFAULT_SOURCES))
    tune.add_argument("--wikipedia", nargs="*", default=[], help="WikiExtractor files for self-supervised pairs")
    tune.add_argument("--wikipedia-pairs", type=int, default=0)
    tune.add_argument("--max-steps", type=int, default=None)
    tune.add_argument("--batch-size", type=int, default=64)
    tune.add_argument("--lr", type=float, default=1e-4)
    tune.add_argument("--max-length", type=int, default=128, help="tokens per text while training")
    tune.add_argument("--output-max-length", type=int, default=None, help="max length stored in the checkpoint")
    tune.add_argument("--learn-temperature", action="store_true")
    tune.add_argument("--save-dtype", choices=("float32", "float16"), default="float32")
    tune.add_argument("--device", default="auto")
    tune.add_argument("--seed", type=int, default=0)
    tune.set_defaults(run=cmd_finetune)

    sts = commands.add_parser("eval-sts", help="Spearman x100 on STS-B test and SICK-R test")
    sts.add_argument("--model")
    sts.add_argument("--data-dir", default=str(DEFAULT_DATA))
    sts.add_argument("--sets", nargs="+", default=["stsb-test", "sick-r-test"], choices=sorted(STS_SETS))
    sts.add_argument("--precision", choices=("auto", "float32", "bfloat16"), default="auto")
    sts.add_argument("--json", help="also write the results to this JSON file")
    sts.set_defaults(run=cmd_eval_sts)

    retrieval = commands.add_parser("eval-retrieval", help="nDCG@10, Recall@100, MRR@10 and latency on a BEIR folder, through the search service")
    retrieval.add_argument("beir_dir", metavar="BEIR_DIR")
    retrieval.add_argument("--mode", nargs="+", choices=MODES, default=list(MODES), help="modes to evaluate (default: all)")
    retrieval.add_argument("--model")
    retrieval.add_argument("--work", help="instance folder to index into and keep (default: a temporary one)")
    retrieval.add_argument("--json", help="also write the results to this JSON file")
    retrieval.set_defaults(run=cmd_eval_retrieval)

    ingest = commands.add_parser("index", help="add or update documents from files (JSONL, CSV, TSV, a folder, BEIR)")
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="files or folders, read in turn")
    ingest.add_argument("--collection", default="default", metavar="NAME", help=f"collection to add to, created if new (default: default); {COLLECTION_RULE}")
    ingest.add_argument("--format", choices=FORMATS, default="auto",
                        help="input format (default: auto, told from each name: a folder is dir, or beir if it holds "
                             "corpus.jsonl; .jsonl/.csv/.tsv, optionally .gz)")
    ingest.add_argument("--strict", action="store_true", help="stop at the first bad record instead of skipping it")
    ingest.add_argument("--batch-size", type=int, default=2000, metavar="N",
                        help=f"documents per transaction (default: 2000); a batch also ends at {BATCH_CHARS:,} characters of text")
    ingest.add_argument("--max-chars", type=int, default=DEFAULT_MAX_DOCUMENT_CHARS, metavar="N",
                        help=f"longest text accepted, in characters (default: {DEFAULT_MAX_DOCUMENT_CHARS:,}); a longer one is a bad record")
    ingest.add_argument("--model", help="checkpoint for a new instance (default: the instance's own, else the shipped one)")
    for name in ("id", "title", "text"):
        ingest.add_argument(f"--{name}-field", default=name, metavar="NAME",
                            help=f"JSONL field or CSV/TSV column holding the {name} (default: {name}); other fields are kept as metadata")
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")
    ingest.set_defaults(run=cmd_index)

    remove = commands.add_parser("delete", help="delete documents by id")
    remove.add_argument("ids", nargs="*", metavar="ID")
    remove.add_argument("--ids-file", help="a file with one id per line")
    remove.add_argument("--collection", default="default", metavar="NAME", help="collection to delete from (default: default)")
    remove.set_defaults(run=cmd_delete)

    rebuild = commands.add_parser("reindex", help="rebuild the vector index from the store")
    rebuild.add_argument("--index-type", choices=("flat", "hnsw", "ivf"), default=None, help="default: chosen by size")
    rebuild.set_defaults(run=cmd_reindex)

    verify = commands.add_parser("check", help="exit status 0 if and only if store and index agree (every saved file verified)")
    verify.add_argument("--repair", action="store_true", help="if they do not, rebuild the index from the store, then check again")
    verify.set_defaults(run=cmd_check)

    summary = commands.add_parser("stats", help="counts, index type and sizes")
    summary.set_defaults(run=cmd_stats)

    find = commands.add_parser("search", help="search the instance from the shell, as the web UI and /api do")
    find.add_argument("query", metavar="QUERY")
    find.add_argument("--mode", default="dense", metavar="|".join(MODES), help="default: dense")
    find.add_argument("--k", default="10", help="results to show (default 10)")
    find.add_argument("--offset", default="0", help="results to skip, for the next page")
    find.add_argument("--collection", help="only this collection")
    find.add_argument("--filter", action="append", default=[], metavar="FIELD=VALUE",
                      help="only documents whose metadata FIELD is VALUE (repeat a field for any of several values)")
    find.add_argument("--json", action="store_true", help="print the JSON of GET /api/search")
    find.set_defaults(run=cmd_search)

    server = commands.add_parser("serve", help="the web UI and /api over the instance (development server)")
    demo = commands.add_parser("demo", help="index the bundled demo corpus into the instance if it is empty, then serve it")
    for command in (server, demo):
        command.add_argument("--host", default="127.0.0.1")
        command.add_argument("--port", type=int, default=5000)
        command.add_argument("--model", help="checkpoint for a new instance (default: $SEARCHAPP_MODEL or the shipped model)")
    demo.add_argument("--no-serve", action="store_true", help="index only")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    server.set_defaults(run=cmd_serve)
    demo.set_defaults(run=cmd_demo)

    writer = commands.add_parser("writer", help="apply the API's queued writes until stopped (gunicorn.conf.py starts one)")
    writer.add_argument("--model", help="checkpoint for a new instance (default: $SEARCHAPP_MODEL or the shipped model)")
    writer.set_defaults(run=cmd_writer)
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
