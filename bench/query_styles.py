"""Which search mode ranks best, by the style of the query: the mode a search gets when it names none
(`SEARCH_MODE`, indexer/retrieval.py's DEFAULT_MODE) is chosen on these judged queries, none of them a
test query of ours:

- NFCorpus's dev split, its four query files over the same 3,193 documents and graded judgements:
  `titles` (the dev set the fusion and the selection are tuned on), `nontopic-titles` (questions and
  phrases such as "how to get kids to eat their vegetables"), `vid-titles` and `vid-desc` (sentences);
- WikiQA, every split: Bing users' questions over the Wikipedia lead sections they were answered from
  (each lead is the question's candidate sentences, joined; a lead that holds an answer sentence is
  relevant). No model of ours learnt from it (its licence is research-only).

Each set is indexed once under --work and searched through the service in every mode (`evaluate_beir`,
what `manage.py eval-retrieval` runs); prints a markdown table of nDCG@10.

    .venv/bin/python bench/query_styles.py [--work W/query-styles] [--model models/default]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from encoder.paths import DEFAULT_MODEL  # noqa: E402
from encoder.training import DEFAULT_DATA_DIR  # noqa: E402
from encoder.training.archives import member_lines, open_archive  # noqa: E402
from encoder.training.pair_set_readers import detokenize  # noqa: E402
from indexer.evaluation import evaluate_beir  # noqa: E402
from indexer.retrieval import MODES  # noqa: E402
from prepare_gpu_data import write_nfcorpus_dev  # noqa: E402  (scripts/prepare_gpu_data.py)

NFCORPUS_QUERY_FILES = ("titles", "nontopic-titles", "vid-titles", "vid-desc")
WIKIQA_SPLITS = ("train", "dev", "test")


def write_wikiqa(pairs_dir: Path, folder: Path) -> None:
    """WikiQA as a BEIR folder (split `all`): a document per distinct lead, a query per question with an answer."""
    leads: dict[str, str] = {}  # text -> document id
    queries: dict[str, str] = {}
    judged: list[tuple[str, str]] = []
    with open_archive(pairs_dir, "wikiqa") as archive:
        for split in WIKIQA_SPLITS:
            columns = (member_lines(archive, f"wikiqa/WikiQA/{split}/{name}") for name in ("id.txt", "a.toks", "b.toks", "sim.txt"))
            questions: dict[str, tuple[str, list[str], bool]] = {}
            for number, question, sentence, label in zip(*columns):
                text, sentences, answered = questions.setdefault(f"{split}-{number}", (detokenize(question), [], False))
                sentences.append(detokenize(sentence))
                questions[f"{split}-{number}"] = (text, sentences, answered or label.strip() == "1")
            for query_id, (text, sentences, answered) in questions.items():
                document = leads.setdefault(" ".join(sentences), f"lead-{len(leads)}")
                if answered:
                    queries[query_id] = text
                    judged.append((query_id, document))
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    with (folder / "corpus.jsonl").open("w", encoding="utf-8") as out:
        out.writelines(json.dumps({"_id": key, "title": "", "text": text}) + "\n" for text, key in leads.items())
    with (folder / "queries.jsonl").open("w", encoding="utf-8") as out:
        out.writelines(json.dumps({"_id": key, "text": text}) + "\n" for key, text in queries.items())
    (folder / "qrels" / "all.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, d in judged), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("W/query-styles"))
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR)
    args = parser.parse_args()
    sets: dict[str, tuple[Path, str, Path]] = {}  # name -> (BEIR folder, split, instance)
    for queries in NFCORPUS_QUERY_FILES:
        folder = args.work / f"nfcorpus-dev-{queries}"
        write_nfcorpus_dev(args.data / "nfcorpus" / "original", folder, queries=queries)
        sets[f"NFCorpus dev, {queries}"] = (folder, "dev", args.work / "nfcorpus-dev-instance")  # one corpus: one instance
    write_wikiqa(args.data / "pairs", args.work / "wikiqa")
    sets["WikiQA"] = (args.work / "wikiqa", "all", args.work / "wikiqa-instance")
    rows = {name: evaluate_beir(folder, args.model.resolve(), work=instance, show_progress=True, split=split)
            for name, (folder, split, instance) in sets.items()}
    print(f"\nmodel {args.model}; nDCG@10 through the search service, each mode as a search that names it gets it\n")
    print("| queries | count | " + " | ".join(MODES) + " |\n|---|---:|" + "---:|" * len(MODES))
    for name, results in rows.items():
        print(f"| {name} | {results[MODES[0]]['queries']} | " + " | ".join(f"{results[mode]['ndcg@10']:.2f}" for mode in MODES) + " |")


if __name__ == "__main__":
    main()
