"""Finding records on the bytes: quote state independent of how a line is cut, records too long to hold."""

import json

import pytest

from indexer import record_spans
from indexer.record_spans import Quotes
from input_files import GOOD, read, write


@pytest.mark.parametrize("line", [b'a,"b""c",d\n', b'"x""",y,"z\n', b'1,"q",""\n', b'x"y,"",z"\n'])
def test_quote_state_does_not_depend_on_where_a_long_line_is_cut(line):
    whole = Quotes(",")
    whole.feed(line, 1)
    for size in (1, 2, 3):
        cut = Quotes(",")
        for start in range(0, len(line), size):
            cut.feed(line[start:start + size], 1)
        assert (cut.open, cut.unterminated) == (whole.open, whole.unterminated), (line, size)


@pytest.mark.parametrize("name", ["docs.jsonl", "docs.csv", "folder"])
def test_a_record_too_long_to_hold_is_refused_unread_and_the_next_one_read(tmp_path, monkeypatch, name):
    monkeypatch.setattr(record_spans, "_RECORD_SLACK_BYTES", 0)  # 12 bytes per character of the limit: 240
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
