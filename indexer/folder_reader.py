"""A folder of .txt and .md files as a collection: one document a file, its id the relative path."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from .markdown import markdown_text
from .record_spans import Span, decoded, max_bytes
from .records import InputError, Record, check_record

_SUFFIXES = (".txt", ".md")
_MARKDOWN_TITLE = re.compile(r"^# +(.*\S)", re.MULTILINE)
_TEXT_TITLE = re.compile(r"[ \t]*(\S[^\n]{0,99}?)[ \t]*\r?\n[ \t]*\r?\n")  # a short first line, then a blank one


def read_folder(folder: Path, max_chars: int) -> Iterator[Record | InputError]:
    """One record per .txt or .md file, in sorted order so that repeated runs agree; any other file
    is a bad record, so that none is left out unsaid. Hidden files and folders (`.git/`, `.DS_Store`)
    are not documents by convention and are passed over."""
    files = sorted(
        (file.relative_to(folder).as_posix(), file)
        for file in folder.rglob("*")
        if file.is_file() and not any(part.startswith(".") for part in file.relative_to(folder).parts)
    )
    for external_id, file in files:
        if file.suffix.lower() in _SUFFIXES:
            yield _file_record(file, external_id, max_chars)
        else:
            yield InputError.at(str(file), "only .txt and .md files are read")


def _file_record(file: Path, external_id: str, max_chars: int) -> Record | InputError:
    """A file as one document. Markdown is indexed as the plain text it reads as (its title the first
    `# ` heading); a text file's title is its first line where that is a heading (short, then a blank
    line), else the file name."""
    size = file.stat().st_size
    text = decoded(file, Span(1, None if size > max_bytes(max_chars) else file.read_bytes(), size), max_chars)
    if isinstance(text, InputError):
        return text
    origin = f"{file}:1"
    if not text.strip():
        return InputError.at(origin, "empty file")
    if file.suffix.lower() == ".md":
        heading = _MARKDOWN_TITLE.search(text)
        title, text = (heading.group(1) if heading else ""), markdown_text(text)
    else:
        heading = _TEXT_TITLE.match(text)
        title = heading.group(1) if heading else ""
    return check_record(Record(external_id, title or file.stem, text, {}, origin), max_chars)
