import pytest

from encoder import sentence_starts
from encoder.sentences import split_sentences


@pytest.mark.parametrize("text, sentences", [
    ("The ratio was 1.2 versus 3.4. It fell.", ["The ratio was 1.2 versus 3.4.", "It fell."]),
    ("Use e.g. the mean, i.e. the average. Then stop.", ["Use e.g. the mean, i.e. the average.", "Then stop."]),
    ("Mr. Smith met Dr. Jones and J. R. R. Tolkien in the U.S. Army.", None),
    ("See Fig. 3 and Smith et al. (2010) for details.", None),
    ('"Why?" he asked. (It was late.) "Go!" She left.', ['"Why?" he asked.', "(It was late.)", '"Go!"', "She left."]),
    ("Le café est fermé. Évidemment il pleut.", ["Le café est fermé.", "Évidemment il pleut."]),
    ("a heading\nthe next line. 12 people came.", ["a heading", "the next line.", "12 people came."]),
    ("no boundary at the very end. ", None),
])
def test_sentence_boundaries(text, sentences):
    assert split_sentences(text) == (sentences or [text.strip()])
    assert all(not text[start - 1].strip() and text[start].strip() for start in sentence_starts(text))
