"""read_records and the choice of format: paths checked before reading, strict mode, bad records reported."""

import logging

import pytest

from indexer.readers import FieldMap, InputError, Record, detect_format, good_records, read_records
from input_files import GOOD, read, write


def test_strict_mode_stops_at_the_first_bad_record(tmp_path):
    path = write(tmp_path / "docs.jsonl", f'{GOOD}\n{{"id": "b"}}\n{GOOD}\n')
    records = read_records([path], strict=True)
    assert next(records).external_id == "good"  # streamed: the good line comes before the error
    with pytest.raises(InputError) as raised:
        next(records)
    assert str(raised.value) == f'{path}:2: missing "text"'


def test_bad_records_are_logged_when_nobody_listens(tmp_path, caplog):
    path = write(tmp_path / "docs.jsonl", "[]\n")
    with caplog.at_level(logging.WARNING, logger="indexer.readers"):
        assert list(read_records([path])) == []
    assert caplog.messages == [f"{path}:1: not a JSON object but array"]


def test_field_map_renames_the_fields_and_the_reasons(tmp_path):
    path = write(
        tmp_path / "docs.jsonl",
        '{"doc": 1, "headline": "H", "body": "B", "text": "kept as metadata"}\n{"doc": 2, "text": "t"}\n',
    )
    records, bad = read(path, fields=FieldMap(id="doc", title="headline", text="body"))
    assert records == [Record("1", "H", "B", {"text": "kept as metadata"}, f"{path}:1")]
    assert bad == [f'{path}:2: missing "body"']


@pytest.mark.parametrize(
    "name, format",
    [("a.jsonl", "jsonl"), ("a.JSONL.gz", "jsonl"), ("a.json.gz", "jsonl"), ("a.csv", "csv"), ("a.tsv", "tsv")],
)
def test_detect_format_from_names(tmp_path, name, format):
    assert detect_format(tmp_path / name) == format


def test_detect_format_of_folders_and_unknown_names(tmp_path):
    write(tmp_path / "beir" / "corpus.jsonl", GOOD)
    (tmp_path / "plain").mkdir()
    assert detect_format(tmp_path / "beir") == "beir"
    assert detect_format(tmp_path / "plain") == "dir"
    with pytest.raises(ValueError, match=r"notes\.json: cannot tell the format"):
        detect_format(tmp_path / "notes.json")


def test_every_path_is_checked_before_any_is_read(tmp_path):
    good = write(tmp_path / "docs.jsonl", GOOD)
    missing = tmp_path / "missing.jsonl"
    with pytest.raises(ValueError) as raised:
        next(read_records([good, missing]))
    assert str(raised.value) == f"{missing}: no such file or folder"


def test_format_that_does_not_fit_the_path(tmp_path):
    path = write(tmp_path / "docs.jsonl", GOOD)
    with pytest.raises(ValueError, match="not a folder"):
        next(read_records([path], format="dir"))
    with pytest.raises(ValueError, match="a folder, not a csv file"):
        next(read_records([tmp_path], format="csv"))
    with pytest.raises(ValueError, match="corpus.jsonl: no such file or folder"):
        next(read_records([tmp_path], format="beir"))
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        next(read_records([path], format="xml"))


def test_a_beir_corpus_file_on_its_own_is_read_as_beir(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"_id": "d1", "title": "T", "text": "Body.", "metadata": {"year": 2020}}\n')
    (record,) = read_records([corpus])
    assert (record.external_id, record.title, record.text, record.metadata) == ("d1", "T", "Body.", {"year": 2020})


def test_good_records_reports_or_raises_each_bad_one_in_place():
    good, bad = Record("a", "", "t", {}, "f:1"), InputError("f:2: the text is empty")
    reported: list[str] = []
    assert list(good_records([good, bad, good], strict=False, on_bad=reported.append)) == [good, good]
    assert reported == ["f:2: the text is empty"]
    records = good_records([good, bad, good], strict=True, on_bad=reported.append)
    assert next(records) == good
    with pytest.raises(InputError, match="f:2: the text is empty"):
        next(records)
