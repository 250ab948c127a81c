"""The search from a terminal (`manage.py search`): the command line's arguments checked by the same
rules as a web request's, and the results as a ranked list a person reads.

The query's words are marked in bold on a terminal and in [brackets] anywhere else (a pipe, a file),
where escape codes would be noise. Everything from a document passes through `clean_text` on the way
out, so one stored before the rules existed cannot send control sequences to the terminal.
"""

from __future__ import annotations

import re
import textwrap

from werkzeug.datastructures import MultiDict

from indexer.reranking import search_label
from indexer.search import Results
from indexer.snippets import Snippet
from indexer.validation import clean_text

from .config import DEFAULTS
from .errors import ApiError
from .params import FILTER_PREFIX, SearchParams, parse_search_params

BOLD, NORMAL = "\033[1m", "\033[22m"
INDENT = " " * 6
_WHITESPACE = re.compile(r"\s+")


def search_params(query: str, mode: str, k: str, offset: str, collection: str | None, filters: list[str], bm25: str = "",
                  rerank: bool = False, rerank_depth: int = DEFAULTS["RERANK_DEPTH"], expand: bool | None = None) -> SearchParams:
    """The parameters of a search given on the command line (`--filter FIELD=VALUE`, repeatable), checked
    as they are by the server, against its default limits (so `k` and `offset` arrive as text, as in a
    URL); a mistake raises ValueError with a one-line message for the user. `rerank` and its depth
    come from the instance's settings or the command's `--rerank`, `expand` from the instance's settings or the command's
    `--expansion` (None: as the server's default setting says for the mode)."""
    if not query.strip():
        raise ValueError("the query is empty: give some words to search for")
    args = MultiDict([("q", query), ("mode", mode), ("k", k), ("offset", offset), ("collection", collection or ""), ("bm25", bm25),
                      ("rerank", "1" if rerank else "0"), ("rerank_depth", str(rerank_depth)),
                      ("expand", "" if expand is None else "1" if expand else "0")])
    for pair in filters:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            raise ValueError(f"--filter takes FIELD=VALUE, not {pair!r}")
        args.add(FILTER_PREFIX + name, value)
    try:
        return parse_search_params(args, DEFAULTS)
    except ApiError as error:
        raise ValueError(error.message) from None


def format_results(results: Results, offset: int, bold: bool, width: int = 100) -> str:
    """A heading, then per result its rank, raw score, collection/id and title, and the snippet wrapped
    to `width` columns below."""
    searched = f"{search_label(results.mode, results.rerank_depth)}, {results.took_ms:.0f} ms"
    if not results.hits:
        return f"no results for {results.query!r} ({searched})"
    lines = [f"results {offset + 1}-{offset + len(results.hits)} of {results.total} for {results.query!r} ({searched})"]
    for rank, hit in enumerate(results.hits, start=offset + 1):
        name = _one_line(f"{hit.collection}/{hit.id}")
        lines.append(f"{rank:>4}. {hit.score:.3f}  {name}  {_one_line(hit.title).strip()}")
        lines += textwrap.wrap(_marked(hit.snippet, bold), width=width, initial_indent=INDENT, subsequent_indent=INDENT)
    return "\n".join(lines)


def _one_line(text: str) -> str:
    return _WHITESPACE.sub(" ", clean_text(text))


def _marked(snippet: Snippet, bold: bool) -> str:
    start, end = (BOLD, NORMAL) if bold else ("[", "]")
    return "".join(f"{start}{_one_line(piece)}{end}" if marked else _one_line(piece) for piece, marked in snippet.parts())
