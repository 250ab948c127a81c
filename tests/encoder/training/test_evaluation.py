import gzip
import json
import math

import numpy as np
import pytest

from encoder import Encoder, passage_text
from encoder.training import evaluation
from encoder.training.report import format_table
from encoder.training.evaluation import (
    dense_lists,
    dense_rankings,
    evaluate_retrieval,
    evaluate_sts,
    mrr_at_k,
    ndcg_at_k,
    read_beir,
    read_sick,
    read_stsb,
    recall_at_k,
    retrieval_metrics,
    spearman,
    sts_spearman,
)

# --- Spearman ------------------------------------------------------------------------------------------


def test_spearman_gives_ties_their_average_rank():
    # ranks of a: [1, 2.5, 2.5, 4]; of b: [1, 3, 2, 4]; centred dot 4.5, squared norms 4.5 and 5.
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(4.5 / math.sqrt(4.5 * 5))
    # a three-way tie: ranks of a [4, 1, 4, 4, 2], of b [5, 1, 4, 3, 2]; dot 8, squared norms 8 and 10.
    assert spearman([3, 1, 3, 3, 2], [5, 1, 4, 3, 2]) == pytest.approx(8 / math.sqrt(80))


def test_spearman_sees_only_order():
    a = [0.1, 0.5, 0.2, 0.9]
    assert spearman(a, np.exp(a)) == pytest.approx(1.0)
    assert spearman(a, [-x for x in a]) == pytest.approx(-1.0)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))
    with pytest.raises(ValueError):
        spearman([1, 2], [1, 2, 3])


class FixedEncoder:
    """Known unit vectors, so the cosines (and so the Spearman) can be worked out by hand."""

    VECTORS = {"a": (1.0, 0.0), "b": (0.0, 1.0), "c": (math.sqrt(0.5), math.sqrt(0.5))}

    def encode(self, texts, batch_size=64, show_progress=False):
        return np.array([self.VECTORS[t] for t in texts], dtype=np.float32)


def test_sts_spearman_ranks_cosines_against_gold_x100():
    # cosines 1, .707, 0, .707 -> ranks [4, 2.5, 1, 2.5]; gold ranks [4, 2, 1, 3]: the first tie case.
    pairs = [("a", "a", 5.0), ("a", "c", 3.0), ("a", "b", 1.0), ("b", "c", 4.0)]
    assert sts_spearman(FixedEncoder(), pairs) == pytest.approx(100 * math.sqrt(0.9), abs=1e-4)


# --- STS readers ------------------------------------------------------------------------------------------

STSB_LINES = [
    "main-captions\tMSRvid\t2012test\t0024\t2.500\tA girl is styling her hair.\tA girl is brushing her hair.",
    'main-news\theadlines\t2016\t0012\t4\tDriver "backs into stroller\tDriver backs into mom\tEurope Media Monitor\tEurope Media Monitor',
]
SICK_HEADER = ("pair_ID\tsentence_A\tsentence_B\tentailment_label\trelatedness_score\tentailment_AB\tentailment_BA\t"
               "sentence_A_original\tsentence_B_original\tsentence_A_dataset\tsentence_B_dataset\tSemEval_set")


def sick_row(pair_id: int, a: str, b: str, score: str, split: str) -> str:
    return "\t".join([str(pair_id), a, b, "NEUTRAL", score, "A_neutral_B", "B_neutral_A", a, b, "FLICKR", "FLICKR", split])


@pytest.fixture
def sts_dir(tmp_path):
    (tmp_path / "stsb").mkdir()
    (tmp_path / "stsb" / "sts-test.csv").write_text("\r\n".join(STSB_LINES) + "\r\n")
    (tmp_path / "sick").mkdir()
    rows = [
        sick_row(1, "A group of kids is playing in a yard", "A group of boys is playing", "4.5", "TRAIN"),
        sick_row(2, "A man is playing a guitar", "A man is playing a flute", "3.2", "TEST"),
        sick_row(3, "The cat sat on the mat", "A dog is running", "1.1", "TRIAL"),
        sick_row(4, "A woman slices an onion", "A woman is cutting an onion", "4.9", "TEST"),
    ]
    (tmp_path / "sick" / "SICK.txt").write_text("\r\n".join([SICK_HEADER, *rows]) + "\r\n")
    return tmp_path


def test_read_stsb_ignores_extra_columns_and_keeps_quotes(sts_dir):
    assert read_stsb(sts_dir / "stsb" / "sts-test.csv") == [
        ("A girl is styling her hair.", "A girl is brushing her hair.", 2.5),
        ('Driver "backs into stroller', "Driver backs into mom", 4.0),
    ]


def test_read_sick_keeps_one_split(sts_dir):
    path = sts_dir / "sick" / "SICK.txt"
    assert read_sick(path) == [
        ("A man is playing a guitar", "A man is playing a flute", 3.2),
        ("A woman slices an onion", "A woman is cutting an onion", 4.9),
    ]
    assert read_sick(path, "TRAIN") == [("A group of kids is playing in a yard", "A group of boys is playing", 4.5)]
    with pytest.raises(ValueError, match="TRIAL"):
        read_sick(path, "DEV")


def test_missing_file_names_its_path(tmp_path):
    for read in (read_stsb, read_sick, read_beir):
        with pytest.raises(FileNotFoundError, match="nowhere"):
            read(tmp_path / "nowhere")


@pytest.fixture
def encoder(tiny_checkpoint) -> Encoder:
    return Encoder.load(tiny_checkpoint, precision="float32")


def test_evaluate_sts_reports_spearman_and_pair_count(encoder, sts_dir):
    results = evaluate_sts(encoder, sts_dir)
    assert list(results) == ["stsb-test", "sick-r-test"]
    assert results["stsb-test"]["pairs"] == 2 and results["sick-r-test"]["pairs"] == 2
    assert all(-100 <= r["spearman"] <= 100 for r in results.values())
    with pytest.raises(ValueError, match="stsb-dev"):
        evaluate_sts(encoder, sts_dir, sets=("sts12",))


# --- Retrieval metrics ------------------------------------------------------------------------------------


def test_ndcg_uses_graded_gains_and_the_ideal_from_the_qrels():
    relevant = {"a": 2, "b": 1, "c": 1, "z": 0}
    # found: a (gain 2) at rank 2, c (gain 1) at rank 3; ideal: 2, 1, 1 at ranks 1-3, b never retrieved.
    expected = (2 / math.log2(3) + 1 / 2) / (2 + 1 / math.log2(3) + 1 / 2)
    assert ndcg_at_k(["x", "a", "c", "z"], relevant) == pytest.approx(expected)
    assert ndcg_at_k(["a", "b", "c"], relevant) == pytest.approx(1.0)
    assert ndcg_at_k(["b", "a"], relevant, k=1) == pytest.approx(0.5)
    assert ndcg_at_k(["z", "x"], relevant) == 0.0
    assert ndcg_at_k(["a"], {"a": 0}) == 0.0


def test_recall_counts_only_positive_grades():
    relevant = {"a": 1, "b": 2, "c": 0, "d": 1}
    assert recall_at_k(["c", "a", "x", "d"], relevant) == pytest.approx(2 / 3)
    assert recall_at_k(["c", "a", "x", "d"], relevant, k=2) == pytest.approx(1 / 3)


def test_mrr_is_the_reciprocal_rank_of_the_first_hit():
    assert mrr_at_k(["x", "y", "a", "b"], {"a": 1, "b": 2}) == pytest.approx(1 / 3)
    assert mrr_at_k(["x", "y", "a"], {"a": 1}, k=2) == 0.0
    assert mrr_at_k(["z", "x"], {"z": 0, "a": 1}) == 0.0


def test_retrieval_metrics_average_x100_and_count_unranked_queries_as_zero():
    metrics = retrieval_metrics({"q1": ["a", "x"]}, {"q1": {"a": 1}, "q2": {"b": 1}})
    assert metrics == {"ndcg@10": pytest.approx(50), "recall@100": pytest.approx(50), "mrr@10": pytest.approx(50)}


# --- BEIR and dense retrieval -------------------------------------------------------------------------------

DOCS = {
    "d1": ("", "I have a pen. The pen is red."),
    "d2": ("Vaccines", "train the immune system to recognise a pathogen."),
    "d3": ("", "The stock market fell sharply on Tuesday after the announcement."),
    "d4": ("", "A cat sat on the mat while the dog slept by the door."),
    "d5": ("Proteins", "fold into shapes that decide what they do in the cell."),
    "d6": ("", "Search engines rank documents by how well they match a query."),
}
# Each query is exactly its document's indexed text (title + " " + text), so it must come first.
QUERIES = {"q1": "d1", "q2": "d2", "q4": "d4", "q5": "d5"}


def write_beir(folder, qrels_lines):
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, (t, x) in DOCS.items()))
    queries = {qid: " ".join(DOCS[doc]).strip() for qid, doc in QUERIES.items()} | {"q9": "an unjudged query"}
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in queries.items()))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{line}\n" for line in qrels_lines))
    return folder


@pytest.fixture
def beir_dir(tmp_path):
    # q4's only judgement is a 0: it has nothing to find and must be left out.
    return write_beir(tmp_path / "beir", ["q1\td1\t1", "q2\td2\t2", "q2\td3\t0", "q4\td4\t0", "q5\td5\t1"])


def test_read_beir_keeps_queries_with_a_relevant_document(beir_dir):
    beir = read_beir(beir_dir)
    assert beir.corpus["d2"] == ("Vaccines", "train the immune system to recognise a pathogen.")
    assert beir.queries == {"q1": "I have a pen. The pen is red.", "q2": "Vaccines train the immune system to recognise a pathogen.",
                            "q5": "Proteins fold into shapes that decide what they do in the cell."}
    assert beir.qrels == {"q1": {"d1": 1}, "q2": {"d2": 2, "d3": 0}, "q5": {"d5": 1}}


def test_dense_retrieval_of_a_documents_own_text_is_perfect(encoder, beir_dir):
    metrics = evaluate_retrieval(encoder, beir_dir, batch_size=4)
    assert metrics == {"ndcg@10": pytest.approx(100), "recall@100": pytest.approx(100), "mrr@10": pytest.approx(100),
                       "queries": 3, "documents": 6}


def test_shuffled_qrels_score_lower(encoder, tmp_path):
    # Every query's own document, still ranked first, is now irrelevant: at best its one relevant
    # document comes second, worth 1 / log2(3) of the ideal.
    shuffled = write_beir(tmp_path / "shuffled", ["q1\td2\t1", "q2\td5\t2", "q5\td1\t1"])
    assert evaluate_retrieval(encoder, shuffled)["ndcg@10"] <= 100 / math.log2(3) + 1e-6


def test_retrieval_is_measured_on_the_split_asked_for(encoder, beir_dir):
    # A dev split judging each query's own document wrongly: the test split stays perfect, dev does not.
    (beir_dir / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td2\t1\nq2\td5\t1\n")
    assert evaluate_retrieval(encoder, beir_dir)["ndcg@10"] == pytest.approx(100)
    dev = evaluate_retrieval(encoder, beir_dir, split="dev")
    assert dev["queries"] == 2 and dev["ndcg@10"] <= 100 / math.log2(3) + 1e-6


def test_dense_rankings_are_the_same_in_any_block_size(encoder, beir_dir, monkeypatch):
    beir = read_beir(beir_dir)
    whole = dense_rankings(encoder, beir, k=100)
    assert all(len(ranking) == 6 and sorted(ranking) == sorted(DOCS) for ranking in whole.values())
    monkeypatch.setattr(evaluation, "_SCORE_BLOCK_VALUES", 1)  # one query per block
    assert dense_rankings(encoder, beir, k=100) == whole
    assert dense_rankings(encoder, beir, k=2) == {qid: ranking[:2] for qid, ranking in whole.items()}


def test_dense_lists_carry_each_documents_cosine_best_first(encoder, beir_dir):
    beir = read_beir(beir_dir)
    lists = dense_lists(encoder, beir, k=3)
    assert {qid: ids for qid, (ids, _) in lists.items()} == dense_rankings(encoder, beir, k=3)
    qid, (ids, scores) = next(iter(lists.items()))
    query, documents = encoder.encode([beir.queries[qid]]), encoder.encode([" ".join(beir.corpus[d]).strip() for d in ids])
    assert scores == sorted(scores, reverse=True) and np.allclose(scores, (documents @ query.T).ravel(), atol=1e-4)


def test_with_passages_a_document_scores_its_best_passage_titled(encoder, beir_dir):
    beir = read_beir(beir_dir)
    title, text = beir.corpus["d2"]
    half = text.index(" the ")
    spans = {"d2": [(0, half), (half + 1, len(text))]}  # the other documents: one passage, the whole text
    lists = dense_lists(encoder, beir, k=6, passages=spans)
    pieces = encoder.encode([passage_text(title, text[:half]), passage_text(title, text[half + 1:])])
    for qid, (ids, scores) in lists.items():
        expected = float(np.max(pieces @ encoder.encode([beir.queries[qid]]).T))
        assert scores[ids.index("d2")] == pytest.approx(expected, abs=1e-4)
        whole = encoder.encode([passage_text(*beir.corpus["d5"])]) @ encoder.encode([beir.queries[qid]]).T
        assert scores[ids.index("d5")] == pytest.approx(float(whole[0, 0]), abs=1e-4)


def test_a_passage_depth_lists_the_documents_of_the_top_passages_only(encoder, beir_dir):
    beir = read_beir(beir_dir)
    title, text = beir.corpus["d2"]
    spans = {"d2": [(0, 8), (8, 20), (20, len(text))]}
    texts = {doc: [passage_text(t, x[a:b]) for a, b in spans.get(doc, [(0, len(x))])] for doc, (t, x) in beir.corpus.items()}
    owners = [doc for doc, pieces in texts.items() for _ in pieces]
    vectors = encoder.encode([piece for pieces in texts.values() for piece in pieces])
    deep = dense_lists(encoder, beir, k=6, passages=spans)
    for depth in (1, 3):
        lists = dense_lists(encoder, beir, k=6, passages=spans, passage_depth=depth)
        for qid, (ids, scores) in lists.items():
            by_passage = (vectors @ encoder.encode([beir.queries[qid]]).T).ravel()
            assert ids == list(dict.fromkeys(owners[i] for i in np.argsort(-by_passage)[:depth]))  # best first, each once
            assert scores == pytest.approx(deep[qid][1][:len(ids)], abs=1e-5)


def test_a_gzipped_corpus_is_read_where_the_plain_one_is_absent(beir_dir):
    plain = read_beir(beir_dir)
    with gzip.open(beir_dir / "corpus.jsonl.gz", "wt", encoding="utf-8") as out:
        out.write((beir_dir / "corpus.jsonl").read_text())
    (beir_dir / "corpus.jsonl").unlink()
    assert read_beir(beir_dir) == plain


def test_top_k_is_sorted_best_first():
    scores = np.array([[0.1, 0.9, 0.5, 0.7], [0.3, 0.2, 0.8, 0.0]], dtype=np.float32)
    np.testing.assert_array_equal(evaluation._top_k(scores, 3), [[1, 3, 2], [2, 0, 1]])


# --- Reporting ----------------------------------------------------------------------------------------------


def test_format_table_is_markdown_with_aligned_columns():
    table = format_table({"stsb-test": {"spearman": 61.234, "pairs": 1379}, "sick-r-test": {"spearman": 5.0}}, ["spearman", "pairs"])
    assert table.splitlines() == [
        "|             | spearman | pairs |",
        "| :---------- | -------: | ----: |",
        "| stsb-test   |    61.23 |  1379 |",
        "| sick-r-test |     5.00 |       |",
    ]
