"""Markdown as the plain text a reader sees, for indexing `.md` files.

Snippets, passages and BM25 terms come from the stored text, so `#`, `**` and `[…](http://…)` left in
it would show in results and match queries for "http". The conversion works line by line and keeps
every line (a fence line or rule becomes an empty one), so paragraphs and line numbers stay where the
author put them, and the passages' offsets point into the text that is stored and shown.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+|$)(.*?)(?:[ \t]+#+)?[ \t]*$")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S+.*$")  # [label]: http://… defines a link target; no text
_LINE_PREFIX = re.compile(r"^([ \t]*)(?:>[ \t]?)*(?:(?:[-*+]|\d{1,9}[.)])[ \t]+(?:\[[ xX]\][ \t]+)?)?")
_TARGET = r"\((?:[^()\n]|\([^()\n]*\))*\)"  # (url), which may hold one level of parentheses
_IMAGE = re.compile(r"!\[([^\]]*)\]" + _TARGET)
_LINK = re.compile(r"\[([^\]]+)\](?:" + _TARGET + r"|\[[^\]]*\])")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_CODE = re.compile(r"(`+)(.+?)\1")
_STRONG = re.compile(r"(?<![\w*_])(\*\*|__)(?=\S)(.+?)(?<=\S)\1(?![\w*_])")
_EMPHASIS = re.compile(r"(?<![\w*_])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*_])")


def markdown_text(markdown: str) -> str:
    """The text of `markdown` without its markup: headings, emphasis, inline code, links (their text
    kept), images (their alt text kept), list and quote markers, rules and code fences (their code
    kept as it is). Line breaks are kept as they are."""
    lines, fence = [], None
    for line in markdown.split("\n"):
        opened = _FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence) and not line.strip()[len(opened.group(1)):]:
                fence, line = None, ""
            lines.append(line)
        elif opened:
            fence = opened.group(1)
            lines.append("")
        else:
            lines.append(_plain_line(line))
    return "\n".join(lines)


def _plain_line(line: str) -> str:
    ending = "\r" if line.endswith("\r") else ""
    line = line.removesuffix("\r")
    if _RULE.match(line) or _REFERENCE.match(line):
        return ending
    heading = _HEADING.match(line)
    if heading:
        line = heading.group(1)
    else:
        line = _LINE_PREFIX.sub(r"\1", line, count=1)
    line = _CODE.sub(lambda code: code.group(2).strip(), line)
    line = _IMAGE.sub(r"\1", line)
    line = _LINK.sub(r"\1", line)
    line = _AUTOLINK.sub(r"\1", line)
    for pattern in (_STRONG, _EMPHASIS):
        line = pattern.sub(r"\2", line)
    return line + ending
