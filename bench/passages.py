"""Where passages start: how many of a corpus's passages begin inside a sentence, as `manage.py index`
cuts them (the model's tokenizer, its passage budget and the default overlap; nothing is encoded).

    .venv/bin/python bench/passages.py [FILE...] [--model models/default]     (default: demo/*.jsonl.gz)

Columns, over the passages after each document's first: overlapping the one before; starting where `encoder.sentence_starts` sees
no sentence start; of those, inside a sentence longer than a passage (the one place a cut may fall
inside a sentence); and two checks that need no sentence splitter: the previous non-space character
is no `.`, `!`, `?`, closing quote or bracket, on the same line; the previous character is not
whitespace (a cut inside a word or a number such as "1.|2").
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from encoder import load_checkpoint, sentence_starts
from encoder.paths import DEFAULT_MODEL
from indexer.chunking import chunk_texts
from indexer.ingest import IndexConfig
from indexer.passages import TITLE_TOKENS
from indexer.readers import read_records

ROOT = Path(__file__).resolve().parents[1]
_SENTENCE_END_BEFORE = re.compile(r"""([.!?]["'\u201d\u2019)\]]*|\n)\s*\Z""")


def count(path: Path, model: Path) -> dict[str, int]:
    tokenizer = load_checkpoint(model).tokenizer
    max_tokens = max(8, tokenizer.max_length - 2 - TITLE_TOKENS)  # as indexer.passages cuts them
    overlap = min(IndexConfig().overlap_tokens, max_tokens // 2)
    texts = [record.text for record in read_records([path])]
    counts = dict.fromkeys(("documents", "passages", "later", "overlapping", "mid-sentence", "in a long sentence", "no end before", "inside a word"), 0)
    for text, chunks in zip(texts, chunk_texts(texts, tokenizer, max_tokens, overlap)):
        counts["documents"] += 1
        counts["passages"] += len(chunks)
        starts = set(sentence_starts(text))
        for previous, chunk in zip(chunks, chunks[1:]):
            counts["later"] += 1
            counts["overlapping"] += chunk.start < previous.end
            if chunk.start not in starts:
                counts["mid-sentence"] += 1
                sentence = max([0, *(s for s in starts if s < chunk.start)])
                following = min([len(text), *(s for s in starts if s > chunk.start)])
                counts["in a long sentence"] += len(tokenizer.token_offsets([text[sentence:following]])[0]) > max_tokens
            counts["no end before"] += not _SENTENCE_END_BEFORE.search(text, 0, chunk.start)
            counts["inside a word"] += not text[chunk.start - 1].isspace()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path, default=sorted((ROOT / "demo").glob("*.jsonl.gz")))
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    args = parser.parse_args()
    rows = {path.name: count(path, args.model) for path in args.files}
    columns = list(next(iter(rows.values())))
    print("| file | " + " | ".join(columns) + " |\n|" + "---|" * (len(columns) + 1))
    for name, counts in rows.items():
        print(f"| {name} | " + " | ".join(f"{counts[c]:,}" for c in columns) + " |")


if __name__ == "__main__":
    main()
