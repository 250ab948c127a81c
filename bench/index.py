"""Indexing throughput, end to end (read, hash, chunk, encode, commit, FAISS, save).

    # pipeline overhead: 1,000,000 short synthetic documents, a tiny random encoder (encoding is cheap)
    .venv/bin/python bench/index.py synthetic [--docs 1000000]
    # with a real model: indexing a corpus vs Encoder.encode alone on the same passages
    .venv/bin/python bench/index.py corpus ../shared/data/scifact/corpus.jsonl [--model models/default]
    # the two BM25 indexes a save builds, over whole Wikipedia articles cut as the shipped model cuts them
    .venv/bin/python bench/index.py bm25 [--passages 100000]

Prints docs/s and peak resident memory (RSS) of this process.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import resource
import shutil
import tempfile
import time
from pathlib import Path

import torch

from encoder import BertConfig, BertModel, Encoder, TextTokenizer, passage_text, save_checkpoint, train_wordpiece
from encoder.paths import DEFAULT_MODEL
from indexer.chunking import chunk_texts
from indexer.ingest import IndexConfig, index_paths, index_records
from indexer.passages import TITLE_TOKENS
from indexer.readers import Record, read_records
from indexer.search_index import SearchIndex

from serving import WIKIPEDIA, paragraphs  # bench/serving.py: the Wikipedia reader

ROOT = Path(__file__).resolve().parents[1]
WORDS = ("search engine document vector query index model token passage result river valley protein cell "
         "market vaccine immune network language sentence meaning paper abstract claim evidence study").split()


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def tiny_model(folder: Path) -> Path:
    """A 1-layer, 32-wide random BERT: the cost of the rest of the pipeline is what is measured."""
    tokenizer = TextTokenizer(train_wordpiece([" ".join(WORDS)] * 10, vocab_size=200, min_frequency=1), max_length=64)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_position_embeddings=64)
    return save_checkpoint(folder / "tiny", BertModel(config), tokenizer, max_length=64)


def synthetic(args: argparse.Namespace) -> None:
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        source = folder / "docs.jsonl"
        with source.open("w") as handle:
            for i in range(args.docs):
                text = " ".join(rng.choices(WORDS, k=rng.randint(8, 24)))
                handle.write(json.dumps({"id": f"d{i}", "title": f"doc {i}", "text": text, "n": i}) + "\n")
        # float32: bf16 casts cost more than 32-wide products save
        index = SearchIndex.open(folder / "instance", model=tiny_model(folder), precision="float32")
        report = index_paths(index, [source], IndexConfig(batch_docs=args.batch_docs, encode_batch_size=256), show_progress=True)
        check = index.check()
    print(f"| synthetic short documents | {report.read:,} | {report.chunks:,} | {report.seconds:.0f} | {report.read / report.seconds:,.0f} | {peak_rss_mib():,.0f} | check ok: {check.ok} |")


def corpus(args: argparse.Namespace) -> None:
    records = list(read_records([args.path]))
    encoder = Encoder.load(args.model)
    torch.set_num_threads(args.threads)
    passages = chunk_texts([r.text for r in records], encoder.tokenizer, encoder.max_length - 2 - TITLE_TOKENS, 32)
    texts = [passage_text(r.title, p.text) for r, ps in zip(records, passages) for p in ps]
    encoder.encode(texts[:64])
    started = time.perf_counter()
    encoder.encode(texts, batch_size=64)
    encode_rate = len(records) / (time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as scratch:
        index = SearchIndex.open(Path(scratch) / "instance", model=args.model)
        index._encoder = encoder  # the same loaded model: only the pipeline around it differs
        report = index_paths(index, [args.path], IndexConfig(), show_progress=True)
    rate = report.read / report.seconds
    print(f"{len(records)} documents, {len(texts)} passages, model {args.model}, {args.threads} threads")
    print("| run | docs/s |\n|---|---|")
    print(f"| Encoder.encode alone (same passages) | {encode_rate:.1f} |")
    print(f"| manage.py index end to end | {rate:.1f} ({rate / encode_rate:.0%} of encode alone) |")


def articles(limit: int) -> "itertools.Iterator[Record]":
    """Whole Wikipedia articles (their paragraphs joined), until about `limit` passages of the shipped
    model's length (1,000 characters a passage, roughly) have been read."""
    read = 0
    for _, group in itertools.groupby(paragraphs(WIKIPEDIA), key=lambda record: record.metadata["article"]):
        group = list(group)
        text = "\n".join(record.text for record in group)
        yield Record(group[0].metadata["article"], group[0].title, text, {}, "wikipedia")
        read += 1 + len(text) // 1000
        if read >= limit:
            return


def bm25(args: argparse.Namespace) -> None:
    """The time and disk of each BM25 index a save builds, over an instance of whole articles; the
    vectors come from a random 1-layer model with the shipped model's tokenizer and length, so the
    passages are the ones the shipped model would have, at a fraction of the encoding time."""
    shipped = Encoder.load(args.model)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=shipped.tokenizer.vocab_size, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64,
                        max_position_embeddings=shipped.max_length)
    folder = args.work
    model = save_checkpoint(folder / "model", BertModel(config), shipped.tokenizer, max_length=shipped.max_length)
    index = SearchIndex.open(folder / "instance", model=model, precision="float32")
    if not index.store.has_chunks():
        index_records(index, articles(args.passages), IndexConfig(collection="wikipedia", encode_batch_size=256), show_progress=True)
    stats = index.stats()
    timings = {}
    for component in ("lexical", "document_lexical"):
        started = time.perf_counter()
        built = index._build_lexical(component)
        timings[component] = (time.perf_counter() - started, built)
    scratch = folder / "bm25-sizes"
    shutil.rmtree(scratch, ignore_errors=True)
    records = timings["lexical"][1].save(scratch, {"documents": timings["document_lexical"][1]})
    sizes = {"lexical": sum(r.size for name, r in records.items() if "/" not in name),
             "document_lexical": sum(r.size for name, r in records.items() if name.startswith("documents/"))}
    print(f"{stats['documents']:,} articles, {stats['chunks']:,} passages")
    print("| BM25 index | entries | terms | build s | disk MiB |\n|---|---:|---:|---:|---:|")
    for component, unit in (("lexical", "passages"), ("document_lexical", "whole documents")):
        seconds, built = timings[component]
        print(f"| {unit} | {len(built):,} | {len(built.vocabulary):,} | {seconds:.1f} | {sizes[component] / 2**20:,.1f} |")
    index.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    synth = commands.add_parser("synthetic")
    synth.add_argument("--docs", type=int, default=1_000_000)
    synth.add_argument("--batch-docs", type=int, default=5000)
    synth.set_defaults(run=synthetic)
    real = commands.add_parser("corpus")
    real.add_argument("path", type=Path)
    real.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    real.add_argument("--threads", type=int, default=2)
    real.set_defaults(run=corpus)
    lexical = commands.add_parser("bm25")
    lexical.add_argument("--passages", type=int, default=100_000)
    lexical.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    lexical.add_argument("--work", type=Path, default=Path("/tmp/bench-bm25"), help="instance kept here: a rerun skips indexing")
    lexical.set_defaults(run=bm25)
    args = parser.parse_args()
    if args.command == "synthetic":
        print("| input | documents | chunks | seconds | docs/s | peak RSS MiB | |\n|---|---|---|---|---|---|---|")
    args.run(args)


if __name__ == "__main__":
    main()
