import csv
import gzip
import io
import json
import logging
import random
from pathlib import Path

import pytest

from indexer import readers
from indexer.readers import FieldMap, InputError, Record, _csv_rows, _Quotes, detect_format, read_records
from indexer.validation import DEFAULT_MAX_DOCUMENT_CHARS

GOOD = '{"id": "good", "text": "A fine document."}'


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def read(*paths: Path, **options) -> tuple[list[Record], list[str]]:
    """Every good record and every bad-record message, in order."""
    bad: list[str] = []
    records = list(read_records(list(paths), on_bad=bad.append, **options))
    return records, bad


def test_jsonl_records_with_metadata_and_integer_ids(tmp_path):
    path = write(
        tmp_path / "docs.jsonl",
        '{"id": 7, "title": "Seven", "text": "Body.", "lang": "en", "tags": ["a"]}\n'
        "\n"
        '{"id": "x", "text": "No title.", "title": null}\n',
    )
    records, bad = read(path)
    assert bad == []
    assert records == [
        Record("7", "Seven", "Body.", {"lang": "en", "tags": ["a"]}, f"{path}:1"),
        Record("x", "", "No title.", {}, f"{path}:3"),
    ]


@pytest.mark.parametrize(
    "line, reason",
    [
        (b'{"id": "a", "text": ', "invalid JSON: Expecting value at column 21"),
        (b"[1, 2]", "not a JSON object but array"),
        (b'{"id": "a"}', 'missing "text"'),
        (b'{"id": "a", "text": " \\n "}', 'empty "text"'),
        (b'{"id": "a", "text": 5}', '"text" must be a string, not integer'),
        (b'{"id": "a", "text": "t", "title": ["x"]}', '"title" must be a string, not array'),
        (b'{"id": 1.5, "text": "t"}', '"id" must be a string or integer, not number'),
        (b'{"id": true, "text": "t"}', '"id" must be a string or integer, not boolean'),
        (b'{"text": "t"}', 'missing "id"'),
        (b'{"id": "", "text": "t"}', 'empty "id"'),
        (b'{"id": "a", "text": "caf\xe9"}', "not valid UTF-8 (byte 0xe9 at column 25)"),
    ],
)
def test_each_bad_jsonl_record_is_named_and_skipped(tmp_path, line, reason):
    path = write(tmp_path / "docs.jsonl", GOOD.encode() + b"\n" + line + b"\n" + GOOD.encode() + b"\n")
    records, bad = read(path)
    assert bad == [f"{path}:2: {reason}"]
    assert [r.origin for r in records] == [f"{path}:1", f"{path}:3"]


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


def test_gzipped_jsonl(tmp_path):
    path = tmp_path / "docs.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(f"{GOOD}\nnot json\n")
    records, bad = read(path)
    assert [r.text for r in records] == ["A fine document."]
    assert bad == [f"{path}:2: invalid JSON: Expecting value at column 1"]


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


def test_folder_of_text_and_markdown_files(tmp_path):
    folder = tmp_path / "notes"
    write(folder / "b.txt", "Plain text.\n")
    write(folder / "sub" / "a.md", "Intro line.\n\n#not a heading\n#  The Title  \n\nBody.\n# Second\n")
    write(folder / "sub" / "untitled.md", "No heading here.")
    write(folder / "data.json", '{"ignored": true}')
    write(folder / "notes.pdf", b"%PDF-1.4")
    write(folder / ".hidden.txt", "Editors' and tools' files are not documents.")
    write(folder / ".git" / "HEAD", "ref: refs/heads/main\n")
    write(folder / "empty.txt", " \n")
    write(folder / "latin1.txt", b"line one\nline two\ncaf\xe9\n")
    records, bad = read(folder)
    assert [(r.external_id, r.title, r.origin) for r in records] == [
        ("b.txt", "b", f"{folder / 'b.txt'}:1"),
        ("sub/a.md", "The Title", f"{folder / 'sub' / 'a.md'}:1"),
        ("sub/untitled.md", "untitled", f"{folder / 'sub' / 'untitled.md'}:1"),
    ]
    assert records[1].text == "Intro line.\n\n#not a heading\nThe Title\n\nBody.\nSecond\n"
    assert bad == [
        f"{folder / 'data.json'}: only .txt and .md files are read",
        f"{folder / 'empty.txt'}:1: empty file",
        f"{folder / 'latin1.txt'}:3: not valid UTF-8 (byte 0xe9 at column 4)",
        f"{folder / 'notes.pdf'}: only .txt and .md files are read",
    ]


@pytest.mark.parametrize(
    "content, title",
    [
        ("Meeting notes\n\nWe agreed on the plan.\n", "Meeting notes"),
        ("  Padded heading \r\n\r\nBody.", "Padded heading"),
        ("A first line\nrunning on into a paragraph.\n\nMore.", "report"),
        ("x" * 101 + "\n\nBody.", "report"),
        ("\nStarts with a blank line.\n\nBody.", "report"),
    ],
)
def test_a_text_file_takes_its_first_line_as_title_when_that_is_a_heading(tmp_path, content, title):
    write(tmp_path / "docs" / "report.txt", content)
    (record,), bad = read(tmp_path / "docs")
    assert bad == [] and record.title == title and record.text == content


def test_beir_corpus_merges_its_metadata_object(tmp_path):
    folder = tmp_path / "scifact"
    rows = [
        {"_id": "d1", "title": "T", "text": "Claim text.", "metadata": {"url": "u", "year": 2020}},
        {"_id": 2, "title": "", "text": "Other.", "metadata": {}},
    ]
    write(folder / "corpus.jsonl", "".join(json.dumps(row) + "\n" for row in rows))
    write(folder / "queries.jsonl", '{"_id": "q1", "text": "a query"}\n')
    corpus = folder / "corpus.jsonl"
    expected = [
        Record("d1", "T", "Claim text.", {"url": "u", "year": 2020}, f"{corpus}:1"),
        Record("2", "", "Other.", {}, f"{corpus}:2"),
    ]
    assert read(folder) == (expected, [])
    assert read(corpus, format="beir") == (expected, [])


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


@pytest.mark.parametrize("line", [b'a,"b""c",d\n', b'"x""",y,"z\n', b'1,"q",""\n', b'x"y,"",z"\n'])
def test_quote_state_does_not_depend_on_where_a_long_line_is_cut(line):
    whole = _Quotes(",")
    whole.feed(line, 1)
    for size in (1, 2, 3):
        cut = _Quotes(",")
        for start in range(0, len(line), size):
            cut.feed(line[start:start + size], 1)
        assert (cut.open, cut.unterminated) == (whole.open, whole.unterminated), (line, size)


def test_a_text_over_the_size_limit_is_a_bad_record(tmp_path):
    path = write(tmp_path / "docs.jsonl", '{"id": "big", "text": "%s"}\n%s\n' % ("x" * 50, GOOD))
    records, bad = read(path, max_chars=20)
    assert [r.external_id for r in records] == ["good"]
    assert bad == [f"{path}:1: the text has 50 characters; the limit is 20 (--max-chars)"]
    with pytest.raises(InputError, match="the limit is 20"):
        list(read_records([path], strict=True, max_chars=20))


@pytest.mark.parametrize("name", ["docs.jsonl", "docs.csv", "folder"])
def test_a_record_too_long_to_hold_is_refused_unread_and_the_next_one_read(tmp_path, monkeypatch, name):
    monkeypatch.setattr(readers, "_RECORD_SLACK_BYTES", 0)  # 12 bytes per character of the limit: 240
    huge = "word " * 200 + 'with ""quotes"", split ' * 100
    if name == "docs.jsonl":
        path = write(tmp_path / name, json.dumps({"id": "huge", "text": huge}) + "\n" + GOOD + "\n")
    elif name == "docs.csv":
        path = write(tmp_path / name, f'id,text\nhuge,"{huge}\n{huge}"\ngood,"A fine, short one."\n')
    else:
        path = tmp_path / name
        write(path / "huge.txt", huge)
        write(path / "ok.txt", "A fine document.")
    records, bad = read(path, max_chars=20)
    assert [r.text for r in records] == ["A fine document." if name != "docs.csv" else "A fine, short one."]
    assert len(bad) == 1 and "bytes, more than a text of at most 20 characters can take (--max-chars)" in bad[0]
