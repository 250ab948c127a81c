import gzip

from encoder.training.corpus import json_lines, read_wikiextractor

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


def test_json_lines_skip_what_is_not_an_object_and_read_compressed_files(tmp_path):
    path = tmp_path / "records.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write('{"a": 1}\n\nnot json\n[1, 2]\n{"b": 2}\n')
    assert list(json_lines(path)) == [{"a": 1}, {"b": 2}]
