import pytest

from encoder.corpus import read_wikiextractor, sentence_starts, split_sentences

WIKIEXTRACTOR = """<doc id="20863611" url="http://en.wikipedia.org/wiki?curid=20863611" title="1/2 &amp; 1/2">
1/2 &amp; 1/2

"1/2 & 1/2" is a song by Example &amp;lt;Band&amp;gt; from 2001, on AT&T's chart.
Early life.
A ticket costs &quot;2 &lt; 3&quot; and more, see http://example.org/?id=1&section=races today.
</doc>
"""


def test_wikiextractor_titles_and_text_are_unescaped_once():
    (document,) = read_wikiextractor(WIKIEXTRACTOR.splitlines())
    assert (document.id, document.url) == ("20863611", "http://en.wikipedia.org/wiki?curid=20863611")
    assert document.title == "1/2 & 1/2"  # the escaped title line is recognised and dropped
    assert document.paragraphs == [
        '"1/2 & 1/2" is a song by Example &lt;Band&gt; from 2001, on AT&T\'s chart.',  # escaped once, unescaped once
        'A ticket costs "2 < 3" and more, see http://example.org/?id=1&section=races today.',  # raw & kept
    ]


def test_short_lines_are_kept_when_asked():
    (document,) = read_wikiextractor(WIKIEXTRACTOR.splitlines(), min_words=1)
    assert document.paragraphs[1] == "Early life."


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
