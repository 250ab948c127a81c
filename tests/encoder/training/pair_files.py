"""Tiny files in each labelled set's real format, and tar.xz archives in each pair set's layout, for the
pair readers' tests (the `data` fixture in conftest.py holds every labelled set)."""

import csv
import gzip
import io
import json
import lzma
import tarfile
import zipfile
from pathlib import Path

from samples import SENTENCES

from encoder.training.corpus import Document

SICK_HEADER = (
    "pair_ID\tsentence_A\tsentence_B\tentailment_label\trelatedness_score\tentailment_AB\tentailment_BA\t"
    "sentence_A_original\tsentence_B_original\tsentence_A_dataset\tsentence_B_dataset\tSemEval_set"
)
SCIFACT_CLAIM_COLUMNS = ["id", "claim", "evidence_doc_id", "evidence_label", "evidence_sentences", "cited_doc_ids"]
HELD_OUT_CLAIM = "Obesity decreases life quality."


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def pairs_of(pairs) -> list[tuple[str, str]]:
    return [(pair.query, pair.positive) for pair in pairs]


def write_stsb(root: Path) -> None:
    lines = [
        "main-captions\tMSRvid\t2012test\t0001\t5.000\tA plane is taking off.\tAn air plane is taking off.",
        "main-captions\tMSRvid\t2012test\t0004\t3.800\tA man is playing a large flute.\tA man is playing a flute.",
        # two extra source columns, and quote marks that CSV quoting would take as field delimiters
        'main-news\theadlines\t2016\t0012\t4\t"No deal," he said\tHe refused the "deal\tEurope Media\tEurope Media',
        "main-forums\tdeft-forum\t2014\t0002\tgood\tA score that is not a number.\tSo the line is skipped.",
        "main-news\theadlines\t2013\t0003\t4.6\tA line with one sentence only.",
    ]
    write(root / "stsb" / "sts-train.csv", "\r\n".join(lines) + "\r\n")
    write(root / "stsb" / "sts-test.csv", "main-news\theadlines\t2016\t0001\t5.000\tTest one.\tTest two.\r\n")


def write_sick(root: Path) -> None:
    def row(i: int, a: str, b: str, score: str, split: str) -> str:
        return f"{i}\t{a}\t{b}\tNEUTRAL\t{score}\tA_neutral_B\tB_neutral_A\t{a}\t{b}\tFLICKR\tFLICKR\t{split}"

    rows = [
        row(1, "A group of kids is playing in a yard", "Kids are playing in a yard", "4.5", "TRAIN"),
        row(2, "A man is cutting a potato", "A woman is slicing a tomato", "2.1", "TRAIN"),
        row(3, "A dog runs on the beach", "A dog is running on sand", "4.0", "TRAIN"),
        row(4, "A trial sentence about a cat", "A trial sentence about a kitten", "4.9", "TRIAL"),
        row(5, "A test sentence about a car", "A test sentence about an automobile", "5.0", "TEST"),
    ]
    write(root / "sick" / "SICK.txt", SICK_HEADER + "\r\n" + "\r\n".join(rows))  # the real file ends without a newline


def write_msrp(root: Path, *rows: str) -> None:
    rows = rows or (
        '1\t702876\t702977\tAmrozi called him "the witness".\t"The witness", Amrozi called him.',
        "0\t2108705\t2108831\tYucaipa owned Dominick's before 1998.\tYucaipa bought Dominick's in 1995.",
        "1\t1\t2\tonly one string here",
    )
    header = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String"
    write(root / "msrp" / "msr-para-train.tsv", "\r\n".join([header, *rows]) + "\r\n", encoding="utf-8-sig")
    write(root / "msrp" / "msr-para-test.tsv", f"{header}\r\n1\t1\t2\tTest a.\tTest b.\r\n", encoding="utf-8-sig")


def write_trecqa(root: Path) -> None:
    rows = [
        ["qtext", "label", "atext"],
        ["Who wrote `` The Iron Lady '' ?", "1", "the IRON LADY ; A Biography by Hugo Young"],
        ["Who wrote `` The Iron Lady '' ?", "0", "Thatcher was prime minister , a grocer 's daughter"],
        ["Who wrote `` The Iron Lady '' ?", "1", "Hugo Young , the journalist , wrote it"],
        ["Who wrote `` The Iron Lady '' ?", "0", "the book was reviewed in 1989"],
        ["When was the bridge built ?", "1", "the bridge was built in 1932"],
        ["What is the capital of Peru ?", "0", "Peru exports copper"],
        ["What is the capital of Peru ?", "maybe", "a row with a label that is neither 0 nor 1"],
    ]
    handle = io.StringIO()
    csv.writer(handle).writerows(rows)
    write(root / "trecqa_wang" / "train.csv", handle.getvalue())
    write(root / "trecqa_wang" / "test.csv", 'qtext,label,atext\n"A test question ?",1,"a test answer"\n')


def write_scifact(root: Path) -> None:
    train = [
        ["0", "Vitamin D lowers fracture risk.", "11", "SUPPORT", "[1]", "[ 11 22]"],
        ["0", "Vitamin D lowers fracture risk.", "22", "SUPPORT", "[0]", "[ 11 22]"],  # one row per evidence doc
        ["2", "Aspirin has no effect on stroke.", "", "", "[]", "[33]"],  # no evidence: still cites 33
        ["4", "A claim citing a paper the corpus lacks.", "", "", "[]", "[99]"],
        ["871", HELD_OUT_CLAIM, "", "", "[]", "[11]"],  # also a validation claim, i.e. a BEIR test query
    ]
    validation = [["870", HELD_OUT_CLAIM, "", "", "[]", "[11]"], ["1", "A validation claim.", "", "", "[]", "[22]"]]
    test = [["7", "A test claim.", "", "", "[]", "[]"]]
    corpus = [["11", "Vitamin D trial.", "['Vitamin D was given.'\n 'Fewer fractures followed.']", "False"]]
    (root / "scifact" / "original").mkdir(parents=True)
    with zipfile.ZipFile(root / "scifact" / "original" / "scifact_hf_csv.zip", "w") as archive:
        archive.writestr("claims_train.csv", csv_text(SCIFACT_CLAIM_COLUMNS, train))
        archive.writestr("claims_validation.csv", csv_text(SCIFACT_CLAIM_COLUMNS, validation))
        archive.writestr("claims_test.csv", csv_text(SCIFACT_CLAIM_COLUMNS, test))
        archive.writestr("corpus_train.csv", csv_text(["doc_id", "title", "abstract", "structured"], corpus))
    documents = [
        {"_id": "11", "title": "Vitamin D trial.", "text": "Vitamin D was given. Fewer fractures followed."},
        {"_id": "22", "title": "Bones and sunlight.", "text": "Sunlight makes vitamin D."},
        {"_id": "33", "title": "Aspirin and stroke.", "text": "Aspirin cut strokes by a third."},
    ]
    write(root / "scifact" / "corpus.jsonl", "".join(json.dumps(d) + "\n" for d in documents) + "{not json\n")
    write(root / "scifact" / "queries.jsonl", json.dumps({"_id": "1", "text": "A validation claim."}) + "\n")


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    handle = io.StringIO()
    csv.writer(handle).writerows([header, *rows])
    return handle.getvalue()


def write_climate_fever(root: Path) -> None:
    def evidence(label: str, text: str) -> dict:
        votes = [label, label, None, None, None]
        return {"evidence_id": "Article:1", "evidence_label": label, "article": "Article", "evidence": text,
                "entropy": 0.0, "votes": votes}

    def claim(claim_id: str, text: str, evidences: list[dict]) -> dict:
        return {"claim_id": claim_id, "claim": text, "claim_label": "SUPPORTS", "evidences": evidences}

    records = [
        claim("0", "Global warming is driving polar bears toward extinction", [
            evidence("SUPPORTS", "Rising temperatures endanger the polar bear."),
            evidence("NOT_ENOUGH_INFO", "Bees are reaching their limits."),
            evidence("REFUTES", "Polar bear numbers have grown since 1970."),
        ]),
        claim("1", "", [evidence("SUPPORTS", "An evidence with no claim.")]),
    ]
    lines = [json.dumps(record) for record in records] + ["{broken"]
    path = root / "climate_fever" / "climate-fever.jsonl.gz"
    path.parent.mkdir(parents=True)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def archive(folder: Path, name: str, files: dict[str, str | bytes]) -> Path:
    """`folder/name.tar.xz` holding `files` under `name/`, as the shared archives do."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.tar.xz"
    with tarfile.open(path, "w:xz") as tar:
        for relative, content in files.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            info = tarfile.TarInfo(f"{name}/{relative}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def lines(*rows: str) -> str:
    return "\n".join(rows) + "\n"


ARTICLES = [
    Document("Polar bear", [
        "The polar bear is a large bear native to the Arctic Circle.",
        "It hunts seals from the sea ice. It swims. Its fur is thick and white. Males are twice the size of females.",
    ]),
    Document("Stub", ["Too short to pair."]),
    Document("", ["A plain text document with no title at all. It still has two sentences in it."]),
    Document("Tiny", ["Another article about nothing much at all. Ends here."]),
]


def write_wikipedia(folder: Path, articles: int) -> Path:
    """`folder/wikipedia/wiki.txt.xz`: WikiExtractor-style articles, each a title and one paragraph of the
    sample sentences (rotated per article) twice, the layout the GPU scripts' data folder has."""
    (folder / "wikipedia").mkdir(parents=True)
    path = folder / "wikipedia" / "wiki.txt.xz"
    with lzma.open(path, "wt", encoding="utf-8") as handle:
        for i in range(articles):
            paragraph = " ".join(SENTENCES[i % 8:] + SENTENCES[: i % 8])
            handle.write(f'<doc id="{i}" url="u" title="Title {i}">\nTitle {i}\n\n{paragraph}\n{paragraph}\n</doc>\n')
    return path
