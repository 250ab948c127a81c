import math

import pytest

from indexer.validation import MAX_ID_BYTES, InvalidValue, clean_metadata, clean_text, collection_problem, id_problem


def test_clean_text_replaces_surrogates_and_drops_control_characters():
    assert clean_text("a\ud800b") == "a\ufffdb"
    assert clean_text("a\x00b\x07c\td\ne\r") == "abc\td\ne\r"
    assert clean_text("café — ünïcode ✓") == "café — ünïcode ✓"
    assert clean_text("a\ud800b").encode("utf-8")  # encodable, as a content hash needs


@pytest.mark.parametrize("bad", ["", "  ", "a\x00b", "a\ud800", "x" * (MAX_ID_BYTES + 1), "é" * (MAX_ID_BYTES // 2 + 1)])
def test_bad_ids_are_refused(bad):
    assert id_problem(bad)


def test_good_ids_pass():
    assert id_problem("doc-1/part 2") is None and id_problem("x" * MAX_ID_BYTES) is None


@pytest.mark.parametrize("bad", ["", "a/b", "-x", "a b", "a\x00", "x" * 65, "ü"])
def test_bad_collection_names_are_refused(bad):
    assert collection_problem(bad)


@pytest.mark.parametrize("good", ["default", "scifact", "my_docs.v2", "A-1"])
def test_good_collection_names_pass(good):
    assert collection_problem(good) is None


def test_metadata_refuses_non_finite_numbers_and_deep_nesting():
    with pytest.raises(InvalidValue, match="metadata.score"):
        clean_metadata({"score": math.nan})
    with pytest.raises(InvalidValue, match="finite"):
        clean_metadata({"tags": [1.0, math.inf]})
    deep: dict = {}
    node = deep
    for _ in range(20):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(InvalidValue, match="nested"):
        clean_metadata(deep)
    assert clean_metadata({"k\x00ey": ["a\x00b", 1, 2.5, None, True]}) == {"key": ["ab", 1, 2.5, None, True]}

