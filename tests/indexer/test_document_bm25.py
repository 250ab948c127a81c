"""BM25 over whole documents, on both databases: what it indexes and how it scores (by hand, as the
passage index's tests do), and searches through the service over either unit: the passage shown,
filters, pages, hybrid, and the unit chosen by the command line."""

from __future__ import annotations

import math

import pytest

import manage
from encoder import passage_text
from indexer.ingest import IndexConfig, index_records
from indexer.lexical import K1, B, terms
from indexer.ranking import Filters
from indexer.readers import Record
from indexer.search import SearchService
from indexer.search_index import SearchIndex

# Only the last sentence of a document long enough for several passages mentions zebras.
ZEBRA_TEXT = " ".join(["The river flooded the valley and the farmers moved their cattle."] * 10) + " Zebras crossed the river at dawn."


@pytest.fixture
def service(instance, database_url):
    service = SearchService.open(instance, database_url)
    yield service
    service.index.close()


def bm25_by_hand(query: str, texts: dict[int, str]) -> dict[int, float]:
    """Lucene's BM25 of each text sharing a term with `query`, computed from the analyzer's terms alone."""
    tokens = {key: terms(text) for key, text in texts.items()}
    average = sum(map(len, tokens.values())) / len(tokens)
    scores = {}
    for key, words in tokens.items():
        total = 0.0
        for term in set(terms(query)):
            frequency = words.count(term)
            df = sum(term in other for other in tokens.values())
            idf = math.log(1 + (len(tokens) - df + 0.5) / (df + 0.5))
            total += idf * frequency / (frequency + K1 * (1 - B + B * len(words) / average)) if frequency else 0.0
        if total:
            scores[key] = total
    return scores


def test_each_document_is_one_entry_of_its_title_and_whole_text_scored_as_lucene_does(tmp_path, database_url, tiny_checkpoint):
    index = SearchIndex.open(tmp_path / "instance", database_url=database_url, model=tiny_checkpoint)
    records = [Record("z", "Savanna", ZEBRA_TEXT, {}, "test"), Record("c", "Cats", "The cat sat on the mat.", {}, "test"),
               Record("r", "Rivers and zebras", "A river runs.", {}, "test")]
    index_records(index, records, IndexConfig(collection="notes"))
    keys = {record.external_id: index.store.documents_with_id(record.external_id)[0].key for record in records}
    texts = {keys[r.external_id]: passage_text(r.title, r.text) for r in records}
    assert sorted(index.document_lexical.ids.tolist()) == sorted(keys.values()) and len(index.lexical) > len(records)
    for query in ("zebras", "river cattle", "savanna cat zebra dawn"):
        ids, scores = index.document_lexical.search(query, 10)
        assert dict(zip(ids.tolist(), scores.tolist())) == pytest.approx(bm25_by_hand(query, texts), rel=1e-5)
    index.close()


def test_the_passage_shown_is_the_documents_best_for_the_query(tmp_path, database_url, tiny_checkpoint):
    folder = tmp_path / "instance"
    index = SearchIndex.open(folder, database_url=database_url, model=tiny_checkpoint)
    index_records(index, [Record("z", "Savanna", ZEBRA_TEXT, {}, "test"), Record("c", "Cats", "A cat.", {}, "test")], IndexConfig())
    index.close()
    service = SearchService.open(folder, database_url)
    passages = service.index.store.passages(service.index.store.chunk_ids())
    zebra = [p for p in passages.values() if p.external_id == "z"]
    assert len(zebra) > 2
    hit = service.search("zebras", mode="lexical", bm25="document").hits[0]
    with_zebras = {p.span for p in zebra if "Zebras" in p.text}
    assert hit.id == "z" and "Zebras" in hit.snippet.text and hit.passage in with_zebras
    assert min(p.span for p in zebra) not in with_zebras  # not the first passage
    assert hit.passage == service.search("zebras", mode="lexical", bm25="passage").hits[0].passage
    # The title is in every passage: the shortest scores best, as in a search over passages by the query's
    # own words (expanded, passages rank by their feedback terms too; a document's shown passage does not).
    assert service.search("savanna", mode="lexical", bm25="document").hits[0].passage == \
        service.search("savanna", mode="lexical", bm25="passage", expand=False).hits[0].passage != min(p.span for p in zebra)
    service.index.close()


def test_lexical_over_documents_finds_what_passages_find_with_filters_and_pages(service):
    for bm25 in ("document", "passage"):
        found = service.search("cattle", mode="lexical", k=10, bm25=bm25, expand=False)  # the query's own word
        assert {h.id for h in found.hits} == {"n6", "long"} and found.total == 2
        assert all(hit.snippet.highlights for hit in found.hits)
    books = service.search("cat mat", mode="lexical", k=10, bm25="document", filters=Filters(metadata={"kind": ("book",)}))
    assert {(h.collection, h.id) for h in books.hits} == {("library", "n0"), ("library", "cats")}
    notes = service.search("cat mat", mode="lexical", k=10, bm25="document", filters=Filters(collection="notes"))
    assert notes.hits and {h.collection for h in notes.hits} == {"notes"}
    whole = service.search("the cat sat on the mat river", mode="lexical", k=4, bm25="document")
    pages = [service.search("the cat sat on the mat river", mode="lexical", k=2, offset=offset, bm25="document") for offset in (0, 2)]
    assert [h.key for page in pages for h in page.hits] == [h.key for h in whole.hits] and len(whole.hits) == 4
    assert [h.score for page in pages for h in page.hits] == [h.score for h in whole.hits]


def test_the_units_rank_differently_where_a_documents_words_are_spread_over_its_passages(service):
    """"river cattle farmers" matches one passage of "long" as well as any other; over whole documents the
    long one's many repeats count, and its length is normalised against the collection's documents, not passages."""
    by_document = service.search("river valley cattle farmers", mode="lexical", k=10, bm25="document", expand=False)
    by_passage = service.search("river valley cattle farmers", mode="lexical", k=10, bm25="passage", expand=False)
    assert {h.id for h in by_document.hits} == {h.id for h in by_passage.hits}
    assert [h.score for h in by_document.hits] != pytest.approx([h.score for h in by_passage.hits])


def test_hybrid_over_documents_fuses_dense_with_whole_document_bm25(service):
    hybrid = service.search("cattle", mode="hybrid", k=100, bm25="document")
    lexical = service.search("cattle", mode="lexical", k=100, bm25="document")
    assert {h.key for h in lexical.hits} <= {h.key for h in hybrid.hits}
    assert hybrid.hits[0].id in {"n6", "long"} and hybrid.hits[0].score <= 1.0 + 1e-9
    filtered = service.search("cattle", mode="hybrid", k=100, bm25="document", filters=Filters(collection="library"))
    assert {h.collection for h in filtered.hits} == {"library"} and "long" in {h.id for h in filtered.hits}


def test_the_command_line_takes_the_unit_and_refuses_another(capsys, instance, database_url):
    base = ["--instance", str(instance), "--database", database_url, "search", "cattle", "--mode", "lexical", "--json"]
    for unit in ("document", "passage"):
        assert manage.main(base + ["--bm25-unit", unit]) in (0, None)
        assert "long" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        manage.main(base + ["--bm25-unit", "sentence"])
    assert refused.value.code == 2 and "invalid choice: 'sentence'" in capsys.readouterr().err
