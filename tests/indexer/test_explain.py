"""Explanations on a tiny BERT whose embedding table makes "cat" and "river" one word: their contextual
vectors align whatever their neighbours, while every other pair of words stays as random as the model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from encoder import BertModel, save_checkpoint
from indexer.explain import SHADES, explain, shade
from indexer.ingest import IndexConfig, index_records
from indexer.readers import Record
from indexer.search import SearchService

RIVER = "The river flooded the valley."  # one passage of the tiny model
# Several passages of the tiny model (8 tokens each); only one of them holds the planted synonym.
LONG = "I have a pen. The pen is red. Proteins fold into shapes. " + RIVER + " Search engines rank documents."


@pytest.fixture
def synonym_checkpoint(tmp_path: Path, tiny_config, tiny_tokenizer) -> Path:
    torch.manual_seed(0)
    model = BertModel(tiny_config)
    vocab = tiny_tokenizer.tokenizer.get_vocab()
    with torch.no_grad():  # one large row for both words, so that it outweighs position and context
        model.embeddings.word.weight[vocab["cat"]] = model.embeddings.word.weight[vocab["river"]] = torch.randn(tiny_config.hidden_size) * 0.2
    return save_checkpoint(tmp_path / "synonyms", model, tiny_tokenizer, pooling="mean", max_length=32)


@pytest.fixture
def service(tmp_path: Path, synonym_checkpoint: Path, database_url: str) -> SearchService:
    service = SearchService.open(tmp_path / "instance", database_url, synonym_checkpoint)
    records = [Record("river", "", RIVER, {}, "test"), Record("long", "Notes", LONG, {}, "test"),
               Record("titled", "pen " * 40, "The river flooded.", {}, "test"),
               Record("astral", "😀 Émile", "𝔘 river 😀 flooded.", {}, "test")]
    index_records(service.index, records, IndexConfig(collection="docs"))
    service.refresh()
    return service


def test_a_planted_synonym_aligns_and_is_shaded_most(service):
    explanation = explain(service.index, service.document("river"), "cat")
    assert [word.text for word in explanation.query_words] == ["cat"]
    # Stop words and the full stop are left out; every other word keeps its span in the encoded text.
    assert [word.text for word in explanation.passage_words] == ["river", "flooded", "valley"]
    assert all(explanation.text[word.start:word.end] == word.text for word in explanation.passage_words)
    (best, cosine, strength), *others = explanation.matches(0)
    assert explanation.passage_words[best].text == "river" and cosine > 0.9 and strength > 0.8
    assert all(other_cosine < cosine - 0.3 for _, other_cosine, _ in others)
    shades = dict(zip((word.text for word in explanation.passage_words), map(shade, explanation.word_strengths())))
    assert shades["river"] == SHADES and max(level for word, level in shades.items() if word != "river") < SHADES
    # The pieces put the text back together, the synonym marked at the top level.
    assert "".join(piece for piece, _ in explanation.parts()) == explanation.text
    assert ("river", SHADES) in explanation.parts()


def test_the_passage_and_score_are_those_the_dense_search_ranks_by(service):
    hit = next(hit for hit in service.search("cat", "dense", k=10).hits if hit.id == "long")
    explanation = explain(service.index, service.document("long"), "cat")
    assert explanation.passage.span == hit.passage and "river" in explanation.passage.text
    assert explanation.score == pytest.approx(hit.score, abs=1e-5)
    # Encoded as it was indexed: the title, a newline, the passage.
    assert explanation.text == "Notes\n" + explanation.passage.text and explanation.passage_start == len("Notes\n")
    assert explanation.passage_words[0].text == "Notes"


def test_a_passage_past_what_the_model_reads_is_aligned_as_far_as_it_reads(service):
    explanation = explain(service.index, service.document("titled"), "cat " * 100)
    assert explanation.truncated
    # 32 tokens, [CLS] and [SEP] included: the long title fills them, and the passage is never reached.
    assert len(explanation.query_words) == 30 and len(explanation.passage_words) == 30
    assert all(word.end <= explanation.passage_start for word in explanation.passage_words)
    assert not explain(service.index, service.document("river"), "cat").truncated


def test_a_query_of_stop_words_only_still_has_words(service):
    explanation = explain(service.index, service.document("river"), "the and")
    assert [word.text for word in explanation.query_words] == ["the", "and"]
    assert explanation.as_json()["query_words"][0]["matches"]


def test_shades_start_above_a_fifth_and_top_out(service):
    assert [shade(s) for s in (0.0, 0.19, 0.2, 0.45, 0.79, 0.8, 1.0)] == [0, 0, 1, 2, 3, 4, 4]
    explanation = explain(service.index, service.document("river"), "cat")
    body = explanation.as_json()
    assert body["query_words"][0]["matches"][0] == {"word": 0, "similarity": pytest.approx(explanation.matches(0)[0][1], abs=1e-6),
                                                    "strength": pytest.approx(explanation.matches(0)[0][2], abs=1e-6), "shade": SHADES}
    assert np.isclose(body["baseline"], np.median(explanation.similarity), atol=1e-6)


def test_spans_count_characters_beyond_the_basic_plane(service):
    explanation = explain(service.index, service.document("astral"), "😀 cat")
    assert explanation.text == "😀 Émile\n𝔘 river 😀 flooded."
    # Emoji are not words (no letter or digit); the spans around them still count code points.
    assert [(w.text, explanation.text[w.start:w.end]) for w in explanation.passage_words] == [
        ("Émile", "Émile"), ("𝔘", "𝔘"), ("river", "river"), ("flooded", "flooded")]
    assert [w.text for w in explanation.query_words] == ["cat"]
    assert explanation.passage_words[explanation.matches(0)[0][0]].text == "river"
