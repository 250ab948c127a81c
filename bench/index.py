"""Indexing throughput, end to end (read, hash, chunk, encode, commit, FAISS, save).

    # pipeline overhead: 1,000,000 short synthetic documents, a tiny random encoder (encoding is cheap)
    .venv/bin/python bench/index.py synthetic [--docs 1000000]
    # with a real model: indexing a corpus vs Encoder.encode alone on the same passages
    .venv/bin/python bench/index.py corpus ../shared/data/scifact/corpus.jsonl [--model models/default]

Prints docs/s and peak resident memory (RSS) of this process.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
from pathlib import Path

import torch

from encoder import BertConfig, BertModel, Encoder, TextTokenizer, save_checkpoint, train_wordpiece
from encoder.paths import DEFAULT_MODEL
from indexer.chunking import chunk_texts, passage_text
from indexer.ingest import IndexConfig, index_paths
from indexer.passages import TITLE_TOKENS
from indexer.readers import read_records
from indexer.search_index import SearchIndex

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
    args = parser.parse_args()
    if args.command == "synthetic":
        print("| input | documents | chunks | seconds | docs/s | peak RSS MiB | |\n|---|---|---|---|---|---|---|")
    args.run(args)


if __name__ == "__main__":
    main()
