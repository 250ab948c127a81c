"""The pair readers on tiny files written in each data set's real format: train splits only, thresholds,
hard negatives, malformed lines skipped, and a load that is de-duplicated and repeatable."""

import csv
import gzip
import io
import json
import zipfile
from pathlib import Path

import pytest

from encoder.corpus import Document
from encoder.pair_sets import PAIR_SETS
from encoder.pairs import (
    PAIR_SOURCES,
    Pair,
    climate_fever_pairs,
    load_pairs,
    msrp_pairs,
    scifact_pairs,
    sick_pairs,
    stsb_pairs,
    trecqa_pairs,
    wikipedia_pairs,
    wikipedia_span_pairs,
)

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


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data root holding every source in its real layout, each with train rows and held-out rows."""
    root = tmp_path / "data"
    write_stsb(root)
    write_sick(root)
    write_msrp(root)
    write_trecqa(root)
    write_scifact(root)
    write_climate_fever(root)
    return root


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


def test_stsb_keeps_train_pairs_at_the_threshold_with_quotes_and_extra_columns_intact(data):
    assert pairs_of(stsb_pairs(data)) == [
        ("A plane is taking off.", "An air plane is taking off."),
        ('"No deal," he said', 'He refused the "deal'),
    ]
    lower = pairs_of(stsb_pairs(data, min_score=3.5))
    assert lower[1] == ("A man is playing a large flute.", "A man is playing a flute.") and len(lower) == 3
    assert all(pair.source == "stsb" and pair.negative is None for pair in stsb_pairs(data))


def test_sick_reads_only_train_rows_at_or_above_the_threshold(data):
    assert pairs_of(sick_pairs(data)) == [
        ("A group of kids is playing in a yard", "Kids are playing in a yard"),
        ("A dog runs on the beach", "A dog is running on sand"),
    ]
    everything = pairs_of(sick_pairs(data, min_score=0.0))
    assert len(everything) == 3 and not any("trial" in a or "test" in a for a, _ in everything)


def test_msrp_keeps_paraphrases_and_is_not_fooled_by_the_byte_order_mark(data):
    assert pairs_of(msrp_pairs(data)) == [('Amrozi called him "the witness".', '"The witness", Amrozi called him.')]


def test_trecqa_pairs_questions_with_answers_and_a_non_answer_of_the_same_question(data):
    pairs = list(trecqa_pairs(data))
    iron_lady = "Who wrote `` The Iron Lady '' ?"
    assert pairs == [
        Pair(iron_lady, "the IRON LADY ; A Biography by Hugo Young", "trecqa",
             "Thatcher was prime minister , a grocer 's daughter"),
        Pair(iron_lady, "Hugo Young , the journalist , wrote it", "trecqa", "the book was reviewed in 1989"),
        Pair("When was the bridge built ?", "the bridge was built in 1932", "trecqa", None),
    ]


def test_scifact_pairs_train_claims_with_each_cited_abstract_never_a_test_query(data):
    pairs = pairs_of(scifact_pairs(data))
    assert pairs == [
        ("Vitamin D lowers fracture risk.", "Vitamin D trial. Vitamin D was given. Fewer fractures followed."),
        ("Vitamin D lowers fracture risk.", "Bones and sunlight. Sunlight makes vitamin D."),
        ("Aspirin has no effect on stroke.", "Aspirin and stroke. Aspirin cut strokes by a third."),
    ]
    claims = {claim for claim, _ in pairs}
    assert HELD_OUT_CLAIM not in claims and "A validation claim." not in claims and "A test claim." not in claims


def test_climate_fever_keeps_supporting_and_refuting_evidence(data):
    claim = "Global warming is driving polar bears toward extinction"
    assert pairs_of(climate_fever_pairs(data)) == [
        (claim, "Rising temperatures endanger the polar bear."),
        (claim, "Polar bear numbers have grown since 1970."),
    ]


ARTICLES = [
    Document("Polar bear", [
        "The polar bear is a large bear native to the Arctic Circle.",
        "It hunts seals from the sea ice. It swims. Its fur is thick and white. Males are twice the size of females.",
    ]),
    Document("Stub", ["Too short to pair."]),
    Document("", ["A plain text document with no title at all. It still has two sentences in it."]),
    Document("Tiny", ["Another article about nothing much at all. Ends here."]),
]


def test_wikipedia_pairs_titles_with_openings_and_sentences_with_their_paragraph():
    pairs = list(wikipedia_pairs(ARTICLES, max_pairs=100))
    assert pairs[0] == Pair("Polar bear", ARTICLES[0].paragraphs[0], "wikipedia")
    hunts, swims = "It hunts seals from the sea ice.", "It swims."  # too short to be an anchor, but context
    fur, males = "Its fur is thick and white.", "Males are twice the size of females."
    assert pairs_of(pairs[1:2])[0] in {
        (hunts, f"{swims} {fur} {males}"), (fur, f"{hunts} {swims} {males}"), (males, f"{hunts} {swims} {fur}")
    }
    plain, second = "A plain text document with no title at all.", "It still has two sentences in it."
    assert pairs_of(pairs[2:3])[0] in {(plain, second), (second, plain)}
    assert pairs[3] == Pair("Tiny", ARTICLES[3].paragraphs[0], "wikipedia")  # "Ends here." is too short for either side
    assert len(pairs) == 4  # nothing from the stub, no title pair for the untitled document


def test_wikipedia_pairs_stop_at_max_pairs_and_repeat_with_the_seed():
    assert len(list(wikipedia_pairs(ARTICLES, max_pairs=2))) == 2
    assert list(wikipedia_pairs(ARTICLES, 10, seed=3)) == list(wikipedia_pairs(ARTICLES, 10, seed=3))
    assert len({pairs_of(wikipedia_pairs(ARTICLES, 10, seed=seed))[1] for seed in range(20)}) > 1


def test_load_pairs_deduplicates_shuffles_with_the_seed_and_reads_wikipedia_files(data, tmp_path):
    write_msrp(data, "1\t1\t2\tA plane is taking off.\tAn air plane is taking off.",  # also STS-B's: kept once
               "1\t3\t4\tThe same sentence twice.\tThe same sentence twice.")  # a text with itself: dropped
    wiki = write(tmp_path / "wiki.txt", '<doc id="1" url="u" title="Polar bear">\nPolar bear\n\n'
                 + "\n".join(ARTICLES[0].paragraphs) + "\n</doc>\n")
    pairs = load_pairs(data, ["stsb", "msrp", "sick"], wikipedia_files=[wiki], max_wikipedia_pairs=1, seed=7)
    assert sorted(pairs_of(pairs)) == sorted(
        pairs_of(stsb_pairs(data)) + pairs_of(sick_pairs(data)) + [("Polar bear", ARTICLES[0].paragraphs[0])]
    )
    assert [pair.source for pair in pairs if pair.query == "A plane is taking off."] == ["stsb"]
    assert load_pairs(data, ["stsb", "msrp", "sick"], [wiki], 1, seed=7) == pairs
    orders = {tuple(pairs_of(load_pairs(data, ["stsb", "sick", "trecqa", "scifact"], seed=s))) for s in range(5)}
    assert len(orders) > 1


def test_pair_sources_name_every_reader_and_read_the_data_root(data):
    older = {"stsb", "sick", "msrp", "trecqa", "scifact", "climate_fever"}
    assert set(PAIR_SOURCES) == older | set(PAIR_SETS)  # the archived sets are tested in test_pair_sets.py
    assert all(list(PAIR_SOURCES[name](data)) for name in older)


def test_unknown_source_is_refused_with_the_known_names(data):
    with pytest.raises(ValueError, match="snli.*known: stsb, sick, msrp"):
        load_pairs(data, ["stsb", "snli"])


@pytest.mark.parametrize(
    "source, missing",
    [("stsb", "stsb/sts-train.csv"), ("sick", "sick/SICK.txt"), ("msrp", "msrp/msr-para-train.tsv"),
     ("trecqa", "trecqa_wang/train.csv"), ("scifact", "scifact/original/scifact_hf_csv.zip"),
     ("climate_fever", "climate_fever/climate-fever.jsonl.gz")],
)
def test_a_missing_file_is_named(tmp_path, source, missing):
    with pytest.raises(FileNotFoundError, match=missing):
        load_pairs(tmp_path, [source])


def test_wikipedia_span_pairs_crop_one_article_twice_and_pair_its_title():
    words = [f"w{i}" for i in range(200)]
    documents = [Document("Alpha", [" ".join(words[:100]), " ".join(words[100:])]), Document("Beta", ["too short"])]
    pairs = list(wikipedia_span_pairs(documents, max_pairs=10, seed=1, span_words=(8, 30)))
    assert [p.source for p in pairs] == ["wikipedia:span", "wikipedia:title"]
    span = pairs[0]
    for text in (span.query, span.positive):
        assert 8 <= len(text.split()) <= 30 and text in " ".join(words)  # a contiguous crop of the article
    assert pairs[1].query == "Alpha" and pairs[1].positive in documents[0].paragraphs
    assert len(list(wikipedia_span_pairs(documents * 5, max_pairs=3))) == 3
