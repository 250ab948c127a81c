"""The BM25 index and its analyzer."""

import json
import math
import os

import numpy as np
import pytest

from indexer.checksums import record
from indexer.lexical import FILES, VOCABULARY_FILE, LexicalIndex, matching_spans, term_spans, terms


def test_analyzer_lowercases_drops_stop_words_and_stems():
    assert terms("The Vaccines are training immune systems") == ["vaccin", "train", "immun", "system"]
    text = "Running runners run."
    assert [(text[s:e], t) for s, e, t in term_spans(text)] == [("Running", "run"), ("runners", "runner"), ("run", "run")]


@pytest.mark.parametrize("text", ["Running runners run.", "İstanbul's naïve CAFÉ, Straße and ǅemal", "x_y __init__ 3D 42 a I",
                                  "ⅫⅫ tea-time ΣΊΣΥΦΟΣ ΟΔΥΣΣΕΎΣ", "", "the and of"])
def test_terms_are_the_terms_of_the_spans(text):
    """`terms` takes a shorter road than `term_spans`: the two must give the same terms, or a highlighted
    word would not be what BM25 matched."""
    assert terms(text) == [term for _, _, term in term_spans(text)]


def test_matching_spans_are_the_words_whose_term_matches():
    text = "Vaccination trains the immune system; vaccines are trained, not the vacuum."
    spans = matching_spans(text, set(terms("vaccine training")))
    assert [text[s:e] for s, e in spans] == ["Vaccination", "trains", "vaccines", "trained"]
    assert spans == [(s, e) for s, e, term in term_spans(text) if term in {"vaccin", "train"}]
    assert matching_spans(text, set()) == []
    assert matching_spans("a+b (c)", set(terms("c++"))) == []  # regex characters in terms are literal


def test_search_ranks_by_bm25_and_keeps_ids(tmp_path):
    texts = ["the cat sat", "dogs and cats and more cats", "a dog barked", "nothing here"]
    index = LexicalIndex.build(zip([10, 20, 30, 40], texts))
    ids, scores = index.search("cats", 10)
    assert ids.tolist() == [20, 10] and scores[0] > scores[1] > 0
    assert index.search("zebra", 10)[0].size == 0 and index.search("the", 10)[0].size == 0  # unknown word, stop word
    index.save(tmp_path / "lexical-1")
    loaded = LexicalIndex.load(tmp_path / "lexical-1")
    assert loaded.search("cats", 1)[0].tolist() == [20] and len(loaded) == 4
    empty = LexicalIndex.build([])
    empty.save(tmp_path / "lexical-2")
    assert LexicalIndex.load(tmp_path / "lexical-2").search("cats", 5)[0].size == 0


def test_save_publishes_the_whole_folder_or_nothing(tmp_path, monkeypatch):
    index = LexicalIndex.build(zip([10, 20], ["the cat sat", "café dogs"]))
    folder = tmp_path / "lexical-1"
    records = index.save(folder)
    assert os.listdir(tmp_path) == ["lexical-1"] and sorted(os.listdir(folder)) == sorted(FILES)
    assert records == {name: record(folder / name) for name in FILES}
    assert (folder / VOCABULARY_FILE).read_bytes() == json.dumps(index.vocabulary, ensure_ascii=False).encode()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", full_disk)
    with pytest.raises(OSError, match="No space"):
        index.save(tmp_path / "lexical-2")
    assert os.listdir(tmp_path) == ["lexical-1"]  # neither the folder nor its temporary


def test_scores_are_lucene_bm25():
    texts = ["apple banana apple", "banana cherry", "cherry cherry cherry date", "apple"]
    index = LexicalIndex.build(enumerate(texts))
    tokens = [terms(t) for t in texts]
    average = sum(map(len, tokens)) / len(tokens)

    def bm25(query: str, document: list[str]) -> float:
        total = 0.0
        for term in set(terms(query)):
            df = sum(term in d for d in tokens)
            tf = document.count(term)
            idf = math.log(1 + (len(tokens) - df + 0.5) / (df + 0.5))
            total += idf * tf / (tf + 0.9 * (1 - 0.4 + 0.4 * len(document) / average)) if tf else 0.0
        return total

    for query in ("apple", "cherry banana", "date apple cherry"):
        ids, scores = index.search(query, 10)
        expected = {i: bm25(query, d) for i, d in enumerate(tokens) if bm25(query, d) > 0}
        assert dict(zip(ids.tolist(), scores.tolist())) == pytest.approx(expected, rel=1e-5)
        assert list(scores) == sorted(scores, reverse=True)


def test_scores_of_gives_the_search_scores_of_the_entries_asked_for():
    texts = ["apple banana apple", "banana cherry", "cherry cherry cherry date", "apple", "fig"]
    index = LexicalIndex.build(zip([3, 8, 20, 21, 40], texts))
    searched = dict(zip(*(array.tolist() for array in index.search("apple cherry", 10))))
    asked = [40, 3, 99, 20, 1, 8]  # any order; 99 and 1 are not indexed, 40 shares no term
    assert index.scores_of("apple cherry", np.array(asked)).tolist() == pytest.approx([searched.get(i, 0.0) for i in asked])
    assert index.scores_of("zebra", np.array([3])).tolist() == [0.0] and len(index.scores_of("apple", np.array([], np.int64))) == 0
    assert LexicalIndex.empty().scores_of("apple", np.array([3])).tolist() == [0.0]


def test_nested_indexes_are_saved_inside_the_same_folder_at_once(tmp_path):
    passages, documents = LexicalIndex.build(zip([1, 2], ["red pen", "blue ink"])), LexicalIndex.build([(7, "red pen blue ink")])
    records = passages.save(tmp_path / "lexical-1", {"documents": documents})
    assert set(records) == set(FILES) | {f"documents/{name}" for name in FILES}
    assert records["documents/ids.npy"] == record(tmp_path / "lexical-1" / "documents" / "ids.npy")
    assert LexicalIndex.load(tmp_path / "lexical-1" / "documents").search("ink", 5)[0].tolist() == [7]
