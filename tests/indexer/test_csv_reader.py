"""CSV and TSV collections: rows over several lines, malformed rows and quotes named where they start."""

import csv
import gzip
import io
import random

import pytest

from indexer.csv_reader import _csv_rows
from indexer.readers import FieldMap, InputError, Record, read_records
from indexer.validation import DEFAULT_MAX_DOCUMENT_CHARS
from input_files import read, write


def test_csv_names_physical_lines_after_a_multiline_field(tmp_path):
    path = write(
        tmp_path / "docs.csv",
        "\ufeffid,title,text,source\r\n"
        '1,One,"first line\r\nsecond line, with a comma\r\n""quoted"" third",web\r\n'
        "2,Two,,web\r\n"
        "\r\n"
        "3,Three,only three columns\r\n"
        "4,Four,fine,book\r\n",
    )
    records, bad = read(path)
    assert [(r.external_id, r.title, r.metadata, r.origin) for r in records] == [
        ("1", "One", {"source": "web"}, f"{path}:2"),
        ("4", "Four", {"source": "book"}, f"{path}:8"),
    ]
    assert records[0].text == 'first line\r\nsecond line, with a comma\r\n"quoted" third'
    assert bad == [f'{path}:5: empty "text"', f"{path}:7: expected 4 columns, found 3"]


def test_csv_undecodable_line_inside_a_multiline_field_is_named(tmp_path):
    path = write(tmp_path / "docs.csv", b'id,text\n1,"fine\nbad \xff byte"\n2,ok\n')
    records, bad = read(path)
    assert [r.external_id for r in records] == ["2"]
    assert bad == [f"{path}:3: not valid UTF-8 (byte 0xff at column 5)"]


def test_csv_malformed_row_is_a_bad_record(tmp_path):
    path = write(tmp_path / "docs.csv", b"id,text\n1,stray\rreturn\n2,ok\n")
    records, bad = read(path)
    assert [r.external_id for r in records] == ["2"]
    assert len(bad) == 1 and bad[0].startswith(f"{path}:2: malformed row: new-line character seen in unquoted field")


@pytest.mark.parametrize(
    "content, reason",
    [("id,title\n1,a\n", 'the header has no "text" column'), ("", "no header row")],
)
def test_unusable_csv_header_is_one_bad_record_for_the_file(tmp_path, content, reason):
    path = write(tmp_path / "docs.csv", content)
    assert read(path) == ([], [f"{path}:1: {reason}"])
    with pytest.raises(InputError, match=reason):
        list(read_records([path], strict=True))


def test_tsv_with_mapped_fields(tmp_path):
    path = write(tmp_path / "docs.tsv", "pid\tpassage\tscore\np1\tA passage, with a comma.\t0.5\n")
    records, bad = read(path, fields=FieldMap(id="pid", text="passage"))
    assert bad == []
    assert records == [Record("p1", "", "A passage, with a comma.", {"score": "0.5"}, f"{path}:2")]


def test_csv_unterminated_quote_is_named_where_it_opens_and_later_rows_are_read(tmp_path):
    path = write(tmp_path / "docs.csv", 'id,text,extra\n1,first,x\n2,"two\nlines",x,"never closed\n3,third,x\n4,fourth,x\n')
    records, bad = read(path)
    assert [(r.external_id, r.text, r.origin) for r in records] == [
        ("1", "first", f"{path}:2"), ("3", "third", f"{path}:5"), ("4", "fourth", f"{path}:6")]
    assert len(bad) == 1 and bad[0].startswith(f"{path}:4: unterminated quoted field")
    with pytest.raises(InputError, match=f"{path}:4: unterminated quoted field"):
        list(read_records([path], strict=True))


def test_gzipped_csv_recovers_from_an_unterminated_quote_too(tmp_path):
    path = tmp_path / "docs.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write('id,text\n1,first\n2,"open\n3,third\n4,fourth\n')
    records, bad = read(path)
    assert [r.external_id for r in records] == ["1", "3", "4"]
    assert [message.split(": ")[0] for message in bad] == [f"{path}:3"]


def test_csv_stray_quote_that_meets_a_later_one_reports_the_lines_it_took(tmp_path):
    path = write(tmp_path / "docs.csv", 'id,text,extra\n1,"stray,x\n2,second,x\n3,"third" quoted,x\n4,fourth,x\n')
    records, bad = read(path)
    assert [r.external_id for r in records] == ["4"]
    assert bad == [f"{path}:2: malformed row (lines 2-4, which it runs over): ',' expected after '\"'"]


def test_csv_rows_split_as_the_csv_module_splits_them(tmp_path):
    """Rows found by following the quotes agree with the csv module on every well-formed file."""
    rng = random.Random(0)
    checked = 0
    while checked < 300:
        body = "".join(rng.choice('ab,"\n') for _ in range(rng.randint(0, 40)))
        content = "id,text\n" + body + "\n"
        try:
            expected = [row for row in csv.reader(io.StringIO(content), strict=True) if row][1:]
        except csv.Error:
            continue  # malformed (an unterminated quote, say): covered by the tests above
        path = write(tmp_path / f"f{checked}.csv", content)
        found = [row for _, row in _csv_rows(path, ",", DEFAULT_MAX_DOCUMENT_CHARS)][1:]
        assert found == expected, content
        checked += 1
