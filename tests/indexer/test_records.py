"""parse_record and check_record: the document rules applied, with the same reasons however a record came in."""

import math

import pytest

from indexer.readers import read_records
from indexer.records import FieldMap, InputError, Record, check_record, parse_record
from input_files import GOOD, read, write


def test_parse_record_applies_the_rules():
    record = parse_record({"id": "a", "title": "T\x00", "text": "x\ud800y", "year": 2014}, FieldMap(), "f:1")
    assert isinstance(record, Record) and record.title == "T" and record.text == "x\ufffdy"
    bad = parse_record({"id": "a\x00", "text": "x"}, FieldMap(), "f:2")
    assert isinstance(bad, InputError) and str(bad).startswith("f:2: ") and "control" in str(bad)
    nan = parse_record({"id": "a", "text": "x", "score": math.inf}, FieldMap(), "f:3")
    assert isinstance(nan, InputError) and "finite" in str(nan)


@pytest.mark.parametrize(
    "record, reason",
    [
        (Record(7, "", "t", {}, "code"), "the id must be a string, not integer"),
        (Record("a", None, "t", {}, "code"), "the title must be a string, not null"),
        (Record("a", "", "t", [], "code"), "the metadata must be an object, not array"),
        (Record("a", "", "\x00 \x07", {}, "code"), "the text is empty"),
    ],
)
def test_check_record_refuses_records_built_in_code_of_the_wrong_shape(record, reason):
    assert str(check_record(record)) == f"code: {reason}"


def test_a_text_over_the_size_limit_is_a_bad_record(tmp_path):
    path = write(tmp_path / "docs.jsonl", '{"id": "big", "text": "%s"}\n%s\n' % ("x" * 50, GOOD))
    records, bad = read(path, max_chars=20)
    assert [r.external_id for r in records] == ["good"]
    assert bad == [f"{path}:1: the text has 50 characters; the limit is 20 (--max-chars)"]
    with pytest.raises(InputError, match="the limit is 20"):
        list(read_records([path], strict=True, max_chars=20))
