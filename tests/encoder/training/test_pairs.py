import gzip
import json
import lzma

import pytest

from encoder.training.pairs import Pair, distinct_pairs, read_pairs, row_fields, write_pairs


def test_pairs_survive_a_round_trip_through_a_compressed_file(tmp_path):
    pairs = [Pair("q1", "p1", "stsb"), Pair("q2", "p2", "trecqa", "n2")]
    assert write_pairs(pairs, tmp_path / "pairs.jsonl.xz") == 2
    assert list(read_pairs(tmp_path / "pairs.jsonl.xz")) == pairs
    with lzma.open(tmp_path / "pairs.jsonl.xz", "rt", encoding="utf-8") as handle:
        assert [json.loads(line) for line in handle][:2] == [{"passage": 0, "text": "p1"},
                                                              {"query": "q1", "positive": 0, "source": "stsb", "negative": None}]


def test_each_passage_is_written_once_and_a_number_nothing_defined_is_named(tmp_path):
    # a reranker's group: one query, its positive and its negatives, the negatives other groups' positives
    groups = {f"query {i}": [f"passage {(i + k) % 6}" for k in range(4)] for i in range(6)}
    pairs = [Pair(query, passages[0], "mined", negative) for query, passages in groups.items() for negative in passages[1:]]
    write_pairs(pairs, tmp_path / "pairs.jsonl")
    lines = [json.loads(line) for line in (tmp_path / "pairs.jsonl").read_text().splitlines()]
    assert sorted(line["text"] for line in lines if "passage" in line) == [f"passage {i}" for i in range(6)]
    assert list(read_pairs(tmp_path / "pairs.jsonl")) == pairs
    (tmp_path / "edited.jsonl").write_text('{"passage": 0, "text": "p"}\n{"query": "q", "positive": 0, "negative": 7}\n')
    with pytest.raises(ValueError, match="edited.jsonl, line 2: passage 7 is not defined above it"):
        list(read_pairs(tmp_path / "edited.jsonl"))


def test_a_pairs_file_skips_what_does_not_parse_and_names_the_source_when_it_has_none(tmp_path):
    path = tmp_path / "mined.jsonl"
    path.write_text('{"query": " q ", "positive": "p"}\n{broken\n{"query": "", "positive": "p"}\n[1]\n')
    assert list(read_pairs(path)) == [Pair("q", "p", "mined.jsonl")]


def test_a_missing_pairs_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.jsonl: no such pairs file"):
        list(read_pairs(tmp_path / "nowhere.jsonl"))


@pytest.mark.parametrize("name", ["pairs.jsonl.xz", "pairs.jsonl.gz"])
def test_a_compressed_pairs_file_cut_short_is_named_not_a_traceback(tmp_path, name):
    whole = tmp_path / name
    opener = lzma.open if name.endswith(".xz") else gzip.open
    with opener(whole, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps({"query": f"q{i}", "positive": f"p{i}"}) + "\n" for i in range(2000))
    cut = tmp_path / ("cut-" + name)
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(ValueError, match=f"cut-{name}: cannot read this file to its end"):
        list(read_pairs(cut))


def test_writing_pairs_that_fail_midway_leaves_no_file_under_the_name(tmp_path):
    def pairs():
        yield Pair("q1", "p1", "stsb")
        raise RuntimeError("the source broke")

    with pytest.raises(RuntimeError):
        write_pairs(pairs(), tmp_path / "pairs.jsonl.xz")
    assert list(tmp_path.iterdir()) == []


def test_fields_are_stripped_and_a_missing_one_marks_the_row_malformed():
    assert row_fields({"a": " x ", "b": 3}, "a", "b") == ("x", "3")
    assert row_fields({"a": "x", "b": " "}, "a", "b") is None and row_fields({"a": "x"}, "a", "b") is None


def test_distinct_pairs_drop_repeats_and_self_pairs_keeping_the_first():
    pairs = [Pair("a", "b", "one"), Pair("a", "a", "two"), Pair("a", "b", "three", "n"), Pair("b", "a", "four")]
    assert list(distinct_pairs(pairs)) == [Pair("a", "b", "one"), Pair("b", "a", "four")]
