"""Sentences the tests build their tiny corpora from (importable from any test folder), and a BEIR
folder of them with one query per sentence."""

import json
from pathlib import Path

SENTENCES = [
    "I have a pen. The pen is red.",
    "Vaccines train the immune system to recognise a pathogen.",
    "The stock market fell sharply on Tuesday after the announcement.",
    "A cat sat on the mat while the dog slept by the door.",
    "Proteins fold into shapes that decide what they do in the cell.",
    "Search engines rank documents by how well they match a query.",
    "The river flooded the valley and the farmers moved their cattle.",
    "Neural networks learn representations of words and sentences.",
]

# One query per sample sentence, made of a word found in that sentence only.
QUERIES = {"q0": "pen", "q1": "vaccines", "q2": "market", "q3": "cat", "q4": "proteins", "q5": "engines", "q6": "cattle", "q7": "neural"}


def write_beir(folder: Path, queries: dict[str, str] = QUERIES, split: str = "test") -> Path:
    """SENTENCES as a BEIR corpus (d0, d1, ...), the queries (q0, q1, ...), and query qN's sentence dN judged relevant."""
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": f"d{i}", "title": "", "text": t}) + "\n" for i, t in enumerate(SENTENCES)))
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in queries.items()))
    (folder / "qrels" / f"{split}.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\td{q[1:]}\t1\n" for q in queries))
    return folder
