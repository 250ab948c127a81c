"""Sentence boundaries, found by rule: the indexer cuts passages at them at run time, and training cuts
pretraining segments and pairs at them, so both share one notion of a sentence (hence a runtime module,
outside `encoder.training`)."""

from __future__ import annotations

import re

# A line break always ends a sentence; `.`, `!` or `?`, closed by any quotes or brackets, ends one
# when whitespace follows and the next word does not begin in lower case ("e.g. the") and the full
# stop does not end an abbreviation ("Mr.", "Fig.", "U.S.") or an initial ("J. Smith"). No
# whitespace, no boundary: "1.2" and "e.g." are never cut inside. Crude next to a trained splitter,
# but dependency-free; a missed boundary only makes a passage end one sentence earlier.
_BREAK = re.compile(r"""[.!?]["'”’)\]]*\s+|\n\s*""")
_OPENERS = "\"'\u201c\u2018(["
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof rev gen col lt sgt capt gov sen rep st mt ft jr sr vs fig figs eq eqs ref refs no nos "
    "vol vols pp ch sec ca approx al cf ed eds dept univ jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
_DOTTED = re.compile(r"(?:[A-Za-z]{1,3}\.)+[A-Za-z]{1,3}")  # e.g, i.e, U.S, Ph.D (their last dot matched apart)
_WORD_WINDOW = 16  # characters looked back for the word before a full stop; abbreviations are shorter


def split_sentences(paragraph: str) -> list[str]:
    """Split a paragraph into sentences (see `sentence_starts`), each stripped of surrounding space."""
    bounds = [0, *sentence_starts(paragraph), len(paragraph)]
    return [sentence for start, end in zip(bounds, bounds[1:]) if (sentence := paragraph[start:end].strip())]


def sentence_starts(text: str) -> list[int]:
    """The character offsets, ascending, where a sentence other than the first begins (always a
    non-space character after whitespace). The per-character work is in the regular expression;
    Python sees only the candidate boundaries, so a long text costs one pass."""
    starts = []
    for match in _BREAK.finditer(text):
        end = match.end()
        if end < len(text) and ("\n" in match.group() or _ends_sentence(text, match.start(), end)):
            starts.append(end)
    return starts


def _ends_sentence(text: str, mark: int, next_start: int) -> bool:
    """Whether the punctuation at `mark`, followed by whitespace up to `next_start`, ends a sentence."""
    following = next_start
    while following < len(text) - 1 and text[following] in _OPENERS:
        following += 1
    if text[following].islower():
        return False
    if text[mark] != ".":
        return True
    before = text[max(0, mark - _WORD_WINDOW):mark].split()
    word = before[-1].lstrip(_OPENERS) if before else ""
    return not (word.lower() in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()) or _DOTTED.fullmatch(word))
