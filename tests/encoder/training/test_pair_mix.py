"""The training mix: per-source caps, duplicates and evaluation texts dropped, licences respected, and the
model card's table."""

import json
from pathlib import Path

from encoder.training.pair_mix import MixConfig, evaluation_texts, mix_pairs, normalise, write_table
from encoder.training.pairs import Pair


def many(source: str, count: int) -> list[Pair]:
    return [Pair(f"{source} question {i}", f"{source} passage {i}", source) for i in range(count)]


def test_each_source_is_capped_and_the_table_counts_what_it_cut():
    pairs, table = mix_pairs(many("medquad", 50) + many("disfl_qa", 5), set(), MixConfig(cap_per_source=10))
    assert sorted(p.source for p in pairs).count("medquad") == 10 and len(pairs) == 15
    rows = {row.source: row for row in table}
    assert (rows["medquad"].read, rows["medquad"].dropped_cap, rows["medquad"].kept) == (50, 40, 10)
    assert (rows["disfl_qa"].dropped_cap, rows["disfl_qa"].kept) == (0, 5)


def test_the_mix_is_repeatable_and_the_seed_changes_it():
    source = many("medquad", 30) + many("squad_dev_explorer_html", 30)
    first, _ = mix_pairs(source, set(), MixConfig(cap_per_source=20, seed=1))
    assert mix_pairs(source, set(), MixConfig(cap_per_source=20, seed=1))[0] == first
    assert mix_pairs(source, set(), MixConfig(cap_per_source=20, seed=2))[0] != first


def test_pairs_holding_an_evaluation_text_are_dropped_whatever_the_case_and_spacing():
    held_out = {normalise("A plane is taking off."), normalise("Do statins cause breast cancer?")}
    pairs = [
        Pair("a plane  is TAKING off.", "An air plane departs.", "snli_dev_test_esnli"),
        Pair("What is gout?", "do statins cause breast cancer?", "medquad"),
        Pair("Is it safe?", "It is.", "medquad", negative="A PLANE is taking off."),
        Pair("Who led?", "Rollo led.", "squad_dev_explorer_html", negative="Nobody."),
    ]
    mixed, table = mix_pairs(pairs, held_out)
    assert sorted(mixed, key=lambda p: p.query) == [Pair("Is it safe?", "It is.", "medquad"), pairs[3]]
    assert {row.source: row.dropped_evaluation for row in table} == {"snli_dev_test_esnli": 1, "medquad": 1, "squad_dev_explorer_html": 0}


def test_duplicates_and_self_pairs_are_dropped_and_the_first_version_wins():
    pairs = [
        Pair("Who led the Norse?", "Rollo led them.", "squad_dev_explorer_html", negative="Denmark is a country."),
        Pair("who led the norse?", "Rollo  led them.", "squad_dev_explorer_html"),
        Pair("Same text.", "same text.", "disfl_qa"),
    ]
    mixed, table = mix_pairs(pairs, set())
    assert mixed == [pairs[0]]
    assert [(row.source, row.dropped_duplicate) for row in table] == [("squad_dev_explorer_html", 1), ("disfl_qa", 1)]


def test_redistributable_only_keeps_licences_that_allow_shipping():
    pairs = many("medquad", 3) + many("wikiqa", 3) + many("sick", 3) + many("mined:webquestions", 3) + many("mined:curatedtrec", 3)
    mixed, table = mix_pairs(pairs, set(), MixConfig(redistributable_only=True))
    assert {p.source for p in mixed} == {"medquad", "mined:webquestions"}
    assert [row.source for row in table] == ["medquad", "mined:webquestions"]
    _, everything = mix_pairs(pairs, set())
    assert {row.source: row.redistributable for row in everything} == {
        "medquad": True, "wikiqa": False, "sick": False, "mined:webquestions": True, "mined:curatedtrec": False}


def test_evaluation_texts_gather_sts_sentences_and_retrieval_queries(tmp_path: Path):
    (tmp_path / "stsb").mkdir()
    (tmp_path / "stsb" / "sts-test.csv").write_text("main-news\theadlines\t2016\t0001\t5.000\tTest  One.\tTest two.\n")
    (tmp_path / "scifact").mkdir()
    (tmp_path / "scifact" / "queries.jsonl").write_text(json.dumps({"_id": "1", "text": "Obesity decreases life quality."}) + "\n")
    (tmp_path / "nfcorpus" / "original").mkdir(parents=True)
    (tmp_path / "nfcorpus" / "original" / "dev.titles.queries").write_text("PLAIN-1\twhy deep fried foods may cause cancer\n")
    assert evaluation_texts(tmp_path) == {"test one.", "test two.", "obesity decreases life quality.", "why deep fried foods may cause cancer"}


def test_the_table_file_lists_every_source_with_totals(tmp_path: Path):
    _, table = mix_pairs(many("medquad", 4) + many("wikiqa", 2), set())
    write_table(table, tmp_path / "pairs_sources.json")
    written = json.loads((tmp_path / "pairs_sources.json").read_text())
    assert (written["total_kept"], written["redistributable_kept"]) == (6, 4)
    assert written["sources"][1] == {"source": "wikiqa", "licence": "Microsoft Research WikiQA licence (research only)", "redistributable": False,
                                     "read": 2, "dropped_evaluation": 0, "dropped_duplicate": 0, "dropped_cap": 0, "kept": 2}
