"""A folder of .txt and .md files: one document a file, titled by its heading or its name."""

import pytest

from input_files import read, write


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
