"""Query expansion (RM3): the weights it gives, BM25 searching by weights, and what it finds through the
search service that the query's own words miss, on both databases and both BM25 units."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from encoder import BertModel, TextTokenizer, save_checkpoint, train_wordpiece
from encoder.training.evaluation import BeirSet
from indexer.evaluation import document_bm25_rankings
from indexer.expansion import FEEDBACK_CHARS, ExpansionConfig, expanded_weights
from indexer.ingest import IndexConfig, index_records
from indexer.lexical import LexicalIndex, terms
from indexer.readers import Record
from indexer.search import SearchService
from indexer.search_index import SearchIndex


def test_feedback_terms_weigh_by_frequency_and_score_share_against_the_querys_own():
    feedback = [(3.0, ["x", "x", "y", "a"]), (1.0, ["z"]), (5.0, ["never", "read"])]  # the third is past `documents`
    weights = expanded_weights(["a", "b"], feedback, ExpansionConfig(documents=2, terms=2, original_weight=0.5))
    # x: 3/4 of the score mass x 2/4 of its text = 0.375; z: 1/4 x 1 = 0.25; y and a (0.1875) are not kept.
    # Half the weight is the query's (1 per term, as unexpanded), half the kept terms' in their proportions.
    assert weights == pytest.approx({"a": 1.0, "b": 1.0, "x": 2 * 0.375 / 0.625, "z": 2 * 0.25 / 0.625})


def test_a_query_term_among_the_feedback_terms_adds_both_weights():
    weights = expanded_weights(["a"], [(1.0, ["a", "c"])], ExpansionConfig(documents=1, terms=5, original_weight=0.8))
    assert weights == pytest.approx({"a": 1.0 + 0.25 * 0.5, "c": 0.25 * 0.5})  # feedback mass 0.2 / query mass 0.8 = 0.25


@pytest.mark.parametrize("feedback, config", [
    ([], ExpansionConfig()),  # nothing matched
    ([(0.0, ["x"]), (2.0, [])], ExpansionConfig()),  # no score, or a text without a term
    ([(1.0, ["x"])], ExpansionConfig(terms=0)),
    ([(1.0, ["x"])], ExpansionConfig(original_weight=1.0)),
])
def test_without_usable_feedback_the_query_is_its_own_terms(feedback, config):
    assert expanded_weights(["a", "b", "a"], feedback, config) == {"a": 1.0, "b": 1.0}


@pytest.mark.parametrize("bad", [dict(documents=0), dict(terms=-1), dict(original_weight=0.0), dict(original_weight=1.5)])
def test_an_expansion_that_cannot_work_is_refused(bad):
    with pytest.raises(ValueError, match="an expansion needs"):
        ExpansionConfig(**bad)


def test_bm25_by_weights_sums_each_terms_scores_times_its_weight():
    index = LexicalIndex.build(zip([1, 2, 3], ["heart attack care", "cardiac arrest", "heart failure and cardiac rhythm"]))
    heart, cardiac = (dict(zip(*(a.tolist() for a in index.search(word, 10)))) for word in ("heart", "cardiac"))
    ids, scores = index.top(index.scores({"heart": 1.0, "cardiac": 0.5, "unknown": 3.0, "attack": 0.0}), 10)
    expected = {key: heart.get(key, 0.0) + 0.5 * cardiac.get(key, 0.0) for key in (1, 2, 3)}
    assert dict(zip(ids.tolist(), scores.tolist())) == pytest.approx(expected)
    assert ids.tolist() == sorted(expected, key=lambda key: -expected[key])
    plain = index.search("heart cardiac", 10)
    weighted = index.top(index.scores(dict.fromkeys(terms("heart cardiac"), 1.0)), 10)
    assert plain[0].tolist() == weighted[0].tolist() and plain[1].tolist() == weighted[1].tolist()


# Three notes name the query's words and the words doctors use with them; the last uses only the latter.
NOTES = [
    ("mi1", "Myocardial infarction: the heart attack starts with cardiac chest pain and troponin rises."),
    ("mi2", "After myocardial infarction, cardiac rehabilitation and troponin checks follow the heart attack."),
    ("mi3", "Myocardial infarction is a heart attack; cardiac troponin confirms it."),
    ("ha", "A heart attack shows cardiac troponin in the blood and chest pain."),
    ("far", "Rivers flood the valley every spring and farmers move their cattle."),
]


@pytest.fixture
def service(tmp_path, tiny_config, database_url):
    """The notes indexed with a tiny BERT whose vocabulary has their words, so that a passage holds several
    (the shared tiny model's, learnt from other sentences, spells these words in pieces, a word a passage)."""
    tokenizer = TextTokenizer(train_wordpiece([text for _, text in NOTES] * 4, vocab_size=300, min_frequency=1), max_length=32)
    torch.manual_seed(0)
    model = save_checkpoint(tmp_path / "model", BertModel(replace(tiny_config, vocab_size=tokenizer.vocab_size)), tokenizer,
                            pooling="mean", max_length=32)
    index = SearchIndex.open(tmp_path / "instance", database_url=database_url, model=model)
    index_records(index, [Record(key, "", text, {}, "test") for key, text in NOTES], IndexConfig(collection="notes"))
    index.close()
    service = SearchService.open(tmp_path / "instance", database_url)
    yield service
    service.index.close()


@pytest.mark.parametrize("bm25", ["document", "passage"])
def test_expansion_finds_the_document_that_shares_no_query_word_and_ranks_it_after_those_that_do(service, bm25):
    query = "myocardial infarction"
    plain = [hit.id for hit in service.search(query, mode="lexical", bm25=bm25).hits]  # a keyword search unless asked
    expanded = service.search(query, mode="lexical", bm25=bm25, expand=True)
    assert sorted(plain) == ["mi1", "mi2", "mi3"]
    assert sorted(hit.id for hit in expanded.hits[:3]) == sorted(plain) and expanded.hits[3].id == "ha"
    assert "far" not in [hit.id for hit in expanded.hits]
    assert expanded.total == 4
    assert plain == [hit.id for hit in service.search(query, mode="lexical", bm25=bm25, expand=False).hits]
    hybrid = service.search(query, mode="hybrid", bm25=bm25, k=5)  # expanded by default
    unexpanded = service.search(query, mode="hybrid", bm25=bm25, k=5, expand=False)
    assert {hit.id: hit.score for hit in hybrid.hits} != pytest.approx({hit.id: hit.score for hit in unexpanded.hits})
    assert expanded.hits[0].snippet.highlights  # the query's own words are what is highlighted


def test_feedback_reads_what_bm25_indexed_cut_to_its_first_characters(service):
    store = service.index.store
    document = store.documents_with_id("ha")[0]
    chunk = int(store.document_chunks([document.key])[0][2])
    assert store.indexed_texts([document.key], documents=True) == {document.key: NOTES[3][1]}
    assert store.indexed_texts([chunk], max_chars=7) == {chunk: NOTES[3][1][:7]}
    assert store.indexed_texts([document.key, 10**9], documents=True, max_chars=FEEDBACK_CHARS) == {document.key: NOTES[3][1]}


def test_an_evaluation_without_an_instance_ranks_documents_as_the_service_does(service):
    """`document_bm25_rankings` (what the GPU run's selection judges hybrid with) against the service's
    lexical search over whole documents, expanded and not: the same documents in the same order, the same scores."""
    beir = BeirSet(corpus={key: ("", text) for key, text in NOTES}, queries={"q": "myocardial infarction", "r": "cattle valley"}, qrels={})
    for expansion, expand in ((None, False), (ExpansionConfig(), True)):
        lists = document_bm25_rankings(beir, 10, expansion)
        for qid, query in beir.queries.items():
            hits = service.search(query, mode="lexical", bm25="document", k=10, expand=expand).hits
            assert lists[qid][0] == [hit.id for hit in hits]
            assert lists[qid][1] == pytest.approx([hit.score for hit in hits], rel=1e-5)
