"""Mine training pairs with BM25 (DPR's distant supervision; see indexer/pair_mining.py).

    .venv/bin/python scripts/mine_pairs.py [--wikipedia-files 1] [--sets nq_open_dev_efficientqa ...]
        [--passage-sets squad_dev_explorer_html ...] [--out gpu_data/mined.jsonl.xz]

Answer-set questions are searched over the paragraphs of the first N Wikipedia files and become
`mined:<set>` pairs (Wikipedia positive and negative); the question-to-passage sets keep their own source
name and gain a BM25 hard negative from their own passages, so a mix can take those sets from this file
instead of from their readers. Prints the yield and the time of each step.
"""

import argparse
import time
from pathlib import Path

from encoder.training import ANSWER_SETS, MINED_PREFIX, PAIR_SETS, read_answer_set, read_corpus, read_pair_set, write_pairs
from indexer.pair_mining import MiningConfig, ParagraphIndex, mine_answers, with_bm25_negatives

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
# Question-to-passage sets, whose passages are many and varied enough to hold a useful negative.
PASSAGE_SETS = ("squad_dev_explorer_html", "qed_nq_dev", "medquad", "pubmedqa_labeled", "covid_qa_deepset")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs-dir", type=Path, default=SHARED / "pairs")
    parser.add_argument("--wikipedia-dir", type=Path, default=SHARED / "wikipedia_en_2014")
    parser.add_argument("--wikipedia-files", type=int, default=1, help="how many enwiki2014_*.txt.xz files to search")
    parser.add_argument("--sets", nargs="*", default=list(ANSWER_SETS), choices=list(ANSWER_SETS))
    parser.add_argument("--passage-sets", nargs="*", default=list(PASSAGE_SETS), choices=list(PAIR_SETS))
    parser.add_argument("--max-questions", type=int, default=None, help="per answer set (for a quick measurement)")
    parser.add_argument("--top-k", type=int, default=MiningConfig.top_k)
    parser.add_argument("--out", type=Path, default=ROOT / "gpu_data" / "mined.jsonl.xz")
    args = parser.parse_args()
    config = MiningConfig(top_k=args.top_k)

    pairs = []
    for name in args.passage_sets:
        started = time.perf_counter()
        mined = list(with_bm25_negatives(list(read_pair_set(args.pairs_dir, name)), config))
        negatives = sum(p.negative is not None for p in mined)
        print(f"{name}: {len(mined)} pairs, {negatives} with a hard negative, {time.perf_counter() - started:.1f}s", flush=True)
        pairs += mined

    if args.sets and args.wikipedia_files > 0:
        files = sorted(args.wikipedia_dir.glob("*.xz"))[: args.wikipedia_files]
        started = time.perf_counter()
        index = ParagraphIndex(p for document in read_corpus(files) for p in document.paragraphs)
        print(f"BM25 over {len(index.texts):,} paragraphs of {[f.name for f in files]}: {time.perf_counter() - started:.1f}s", flush=True)
        for name in args.sets:
            started = time.perf_counter()
            questions = list(read_answer_set(args.pairs_dir, name))[: args.max_questions]
            mined = list(mine_answers(index, questions, MINED_PREFIX + name, config, regex=ANSWER_SETS[name].regex))
            seconds = time.perf_counter() - started
            negatives = sum(p.negative is not None for p in mined)
            print(f"{MINED_PREFIX}{name}: {len(questions)} questions -> {len(mined)} positives "
                  f"({100 * len(mined) / max(len(questions), 1):.1f}%), {negatives} with a hard negative, "
                  f"{seconds:.1f}s ({1000 * seconds / max(len(questions), 1):.1f} ms/question)", flush=True)
            pairs += mined

    args.out.parent.mkdir(parents=True, exist_ok=True)
    count = write_pairs(pairs, args.out)
    print(f"{args.out}: {count} pairs, {args.out.stat().st_size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
