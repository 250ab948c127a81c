"""Build the data folder that travels with the checkout to the GPU machine (git-ignored `gpu_data/`).

    PYTHONPATH=. .venv/bin/python scripts/mine_pairs.py --wikipedia-files 2     # first: gpu_data/mined.jsonl.xz
    PYTHONPATH=. .venv/bin/python scripts/prepare_gpu_data.py [--cap 25000] [--out gpu_data]

What it writes:
- `pairs.jsonl.xz`: the training mix of every source whose licence lets us ship the model (the file
  the pipeline trains on); `pairs_research.jsonl.xz`: the sources that do not (research-only, no
  licence, non-commercial: the older labelled sets among them), for experiments only. Every pair keeps
  its `source`, so a run can leave sources out. One mix, capped per source, de-duplicated and free of
  evaluation texts (`encoder.training.pair_mix`), split by licence;
- `pairs_sources.json`: per source its licence, whether it is redistributable, pairs read, dropped
  (evaluation text, duplicate, over the cap) and kept: the model card's table;
- `stsb/sts-dev.csv`, `nfcorpus_dev/` (a BEIR folder of NFCorpus's dev split: `read_beir(folder,
  "dev")`) and `scifact_train/` (SciFact's train claims over its corpus, gzipped) for choosing between
  checkpoints; test splits never travel. Each holds its judged queries' expanded BM25 top 200 with scores
  (`lexical_lists.jsonl.gz`), so that the selection can judge hybrid search (encoder/training/selection.py),
  and its documents' passages as `--passages-model`'s tokenizer and length cut them (`passages.jsonl.gz`),
  so that it scores a document by its best passage, as search does;
  and the NFCorpus folder each dev query's plain BM25 top 30 (`rerank_candidates.jsonl`), the first stage a
  reranker is judged on in the run (`train-reranker --dev`), since the GPU machine has no index to make one.

The reranker's groups come from `scripts/mine_rerank_pairs.py` (`gpu_data/rerank_pairs.jsonl.xz`).
Sources found in the mined file (`scripts/mine_pairs.py`) are taken from it: its `mined:<set>` pairs, and
the question-to-passage sets with their BM25 hard negatives instead of their readers' plain pairs.
Prints the sizes, which must stay under ~45 MiB.
"""

import argparse
import csv
import gzip
import io
import json
import shutil
import zipfile
from collections import defaultdict
from itertools import chain
from pathlib import Path

from encoder import Encoder
from encoder.paths import DEFAULT_MODEL
from encoder.training import (
    DEFAULT_SOURCES,
    PAIR_SETS,
    PAIRS_FILE,
    MixConfig,
    evaluation_texts,
    licence_of,
    load_pairs,
    mix_pairs,
    read_corpus,
    read_beir,
    read_pairs,
    wikipedia_pairs,
    write_pairs,
    write_table,
)
from encoder.training.rerank_evaluation import CANDIDATES_FILE, write_candidates
from encoder.training.selection import LEXICAL_FILE, PASSAGES_FILE, SEARCH_DEPTH, write_spans
from indexer.evaluation import document_bm25_rankings, document_index
from indexer.expansion import DEFAULT_EXPANSION
from indexer.ingest import IndexConfig
from indexer.passages import cut_passages
from indexer.readers import Record
from indexer.reranking import DEFAULT_RERANK_DEPTH

ROOT = Path(__file__).resolve().parents[1]
RESEARCH_PAIRS_FILE = "pairs_research.jsonl.xz"
TABLE_FILE = "pairs_sources.json"
NFCORPUS_DEV = "nfcorpus_dev"
SCIFACT_TRAIN = "scifact_train"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared-data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "gpu_data")
    parser.add_argument("--mined", type=Path, default=ROOT / "gpu_data" / "mined.jsonl.xz", help="skipped when absent")
    parser.add_argument("--cap", type=int, default=MixConfig.cap_per_source, help="most pairs kept per source")
    parser.add_argument("--wikipedia-pairs", type=int, default=20_000, help="title/sentence pairs from the first Wikipedia file")
    parser.add_argument("--wikipedia-files", type=int, default=0, help="how many enwiki2014_*.txt.xz files to carry (pretraining)")
    parser.add_argument("--wikipedia-skip", type=int, default=0,
                        help="files passed over first: a run that continues a pretrained checkpoint reads text it has not seen")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--passages-model", type=Path, default=DEFAULT_MODEL,
                        help="the model whose tokenizer and length cut the dev documents into passages (the run's tokenizer and length)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    wikipedia = sorted((args.shared_data / "wikipedia_en_2014").glob("*.xz"))
    if args.wikipedia_files:
        (args.out / "wikipedia").mkdir(exist_ok=True)
        for source in wikipedia[args.wikipedia_skip: args.wikipedia_skip + args.wikipedia_files]:
            shutil.copyfile(source, args.out / "wikipedia" / source.name)
    (args.out / "stsb").mkdir(exist_ok=True)
    shutil.copyfile(args.shared_data / "stsb" / "sts-dev.csv", args.out / "stsb" / "sts-dev.csv")
    write_nfcorpus_dev(args.shared_data / "nfcorpus" / "original", args.out / NFCORPUS_DEV, gzip_corpus=True)
    write_scifact_train(args.shared_data, args.out / SCIFACT_TRAIN, gzip_corpus=True)
    encoder = Encoder.load(args.passages_model, precision="float32")
    for folder, split in ((NFCORPUS_DEV, "dev"), (SCIFACT_TRAIN, "train")):
        write_bm25_lists(args.out / folder, split)
        write_passages(args.out / folder, split, encoder)

    pairs, counts = mix_pairs(all_pairs(args, wikipedia[:1]), evaluation_texts(args.shared_data),
                              MixConfig(cap_per_source=args.cap, seed=args.seed))
    shipped = {row.source for row in counts if row.redistributable}
    written = {PAIRS_FILE: write_pairs((p for p in pairs if p.source in shipped), args.out / PAIRS_FILE),
               RESEARCH_PAIRS_FILE: write_pairs((p for p in pairs if p.source not in shipped), args.out / RESEARCH_PAIRS_FILE)}
    write_table(counts, args.out / TABLE_FILE)

    print(f"{'source':<34} {'redistr.':>8} {'read':>7} {'eval':>6} {'dup':>6} {'cap':>7} {'kept':>7}")
    for row in counts:
        print(f"{row.source:<34} {'yes' if row.redistributable else 'no':>8} {row.read:>7} {row.dropped_evaluation:>6} "
              f"{row.dropped_duplicate:>6} {row.dropped_cap:>7} {row.kept:>7}")
    for name, count in written.items():
        print(f"{name}: {count} pairs, {(args.out / name).stat().st_size / 2**20:.1f} MiB")
    total = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file() and f != args.mined)
    print(f"{args.out}: {total / 2**20:.1f} MiB in all (without {args.mined.name}, which need not travel)")


def all_pairs(args: argparse.Namespace, wikipedia_files: list[Path]):
    """Every source's pairs, the redistributable ones first so that, when two sources share a pair, the
    shipped file keeps it; within those, pairs that carry a mined hard negative come first."""
    mined = defaultdict(list)
    for pair in read_pairs(args.mined) if args.mined.is_file() else ():
        mined[pair.source].append(pair)
    sets = [name for name in PAIR_SETS if name not in mined]
    readers = [mined[name] for name in mined] + [load_pairs(args.shared_data, [name]) for name in sets]
    readers += [wikipedia_pairs(read_corpus(wikipedia_files), args.wikipedia_pairs, args.seed), load_pairs(args.shared_data, DEFAULT_SOURCES)]
    return sorted(chain.from_iterable(readers), key=lambda pair: not licence_of(pair.source)[1])


def write_nfcorpus_dev(original: Path, folder: Path, gzip_corpus: bool = False, queries: str = "titles") -> None:
    """NFCorpus's dev split as a BEIR folder: documents (ID<TAB>text, gzip; the corpus gzipped to travel),
    the queries of one of its query files (`titles` by default, close to what people type; the others,
    `nontopic-titles`, `vid-titles` and `vid-desc`, reuse the same ids for fewer queries) and the graded
    3-2-1 judgements of those queries (qrels/dev.tsv)."""
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    corpus = gzip.open(folder / "corpus.jsonl.gz", "wt", encoding="utf-8") if gzip_corpus else (folder / "corpus.jsonl").open("w", encoding="utf-8")
    with gzip.open(original / "dev.docs.gz", "rt", encoding="utf-8") as docs, corpus as out:
        for line in docs:
            doc_id, _, text = line.rstrip("\n").partition("\t")
            out.write(json.dumps({"_id": doc_id, "title": "", "text": text}) + "\n")
    written = set()
    with (original / f"dev.{queries}.queries").open(encoding="utf-8") as lines, (folder / "queries.jsonl").open("w", encoding="utf-8") as out:
        for line in lines:
            query_id, _, text = line.rstrip("\n").partition("\t")
            if text.strip():
                written.add(query_id)
                out.write(json.dumps({"_id": query_id, "text": text}) + "\n")
    with (original / "dev.3-2-1.qrel").open(encoding="utf-8") as qrels, (folder / "qrels" / "dev.tsv").open("w", encoding="utf-8") as out:
        out.write("query-id\tcorpus-id\tscore\n")
        for line in qrels:
            fields = line.split()
            if len(fields) == 4 and fields[0] in written:
                out.write(f"{fields[0]}\t{fields[2]}\t{fields[3]}\n")


def write_scifact_train(data: Path, folder: Path, gzip_corpus: bool = False) -> Path:
    """SciFact's train claims that have evidence, as a BEIR folder over the SciFact corpus (BEIR's own
    SciFact train split is made the same way): the corpus linked, or gzipped to travel."""
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    corpus = folder / ("corpus.jsonl.gz" if gzip_corpus else "corpus.jsonl")
    if gzip_corpus:
        with (data / "scifact" / "corpus.jsonl").open("rb") as source, gzip.open(corpus, "wb") as out:
            shutil.copyfileobj(source, out)
    elif not corpus.exists():
        corpus.symlink_to(data / "scifact" / "corpus.jsonl")
    with zipfile.ZipFile(data / "scifact" / "original" / "scifact_hf_csv.zip") as archive:
        rows = list(csv.DictReader(io.TextIOWrapper(archive.open("claims_train.csv"), "utf-8")))
    judged = {(row["id"], row["evidence_doc_id"]) for row in rows if row["evidence_doc_id"]}
    claims = {row["id"]: row["claim"] for row in rows}
    with (folder / "queries.jsonl").open("w", encoding="utf-8") as out:
        for claim_id in sorted({claim for claim, _ in judged}, key=int):
            out.write(json.dumps({"_id": claim_id, "text": claims[claim_id]}) + "\n")
    with (folder / "qrels" / "train.tsv").open("w", encoding="utf-8") as out:
        out.write("query-id\tcorpus-id\tscore\n")
        out.writelines(f"{claim}\t{doc}\t1\n" for claim, doc in sorted(judged))
    return folder


def write_passages(folder: Path, split: str, encoder: Encoder) -> None:
    """Each document's passages, as indexing with `encoder` would cut them (`PASSAGES_FILE`)."""
    beir = read_beir(folder, split)
    records = [Record(doc, title, text, {}, str(folder)) for doc, (title, text) in beir.corpus.items()]
    spans = {record.external_id: [(chunk.start, chunk.end) for chunk in chunks]
             for record, chunks in zip(records, cut_passages(records, encoder, IndexConfig().overlap_tokens))}
    write_spans(spans, folder / PASSAGES_FILE)


def write_bm25_lists(folder: Path, split: str) -> None:
    """The first stages judged where there is no index: each judged query's expanded BM25 top SEARCH_DEPTH with
    scores (`LEXICAL_FILE`, the BM25 side of a hybrid search, as the service expands it) and, for the
    dev split, its plain BM25 top `DEFAULT_RERANK_DEPTH` (`CANDIDATES_FILE`, what a reranker reorders)."""
    beir = read_beir(folder, split)
    index = document_index(beir)  # built once for both lists
    write_candidates(document_bm25_rankings(beir, SEARCH_DEPTH, DEFAULT_EXPANSION, index), folder / LEXICAL_FILE)
    if split == "dev":
        plain = document_bm25_rankings(beir, DEFAULT_RERANK_DEPTH, None, index)
        write_candidates({qid: ids for qid, (ids, _) in plain.items()}, folder / CANDIDATES_FILE)


if __name__ == "__main__":
    main()
