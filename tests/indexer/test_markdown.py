import pytest

from indexer.markdown import markdown_text


@pytest.mark.parametrize(
    "markdown, text",
    [
        ("# Title\n## Sub *heading* ##", "Title\nSub heading"),
        ("Some **bold**, __strong__, *em* and _em_ text; snake_case_name and 2*3*4 stay.",
         "Some bold, strong, em and em text; snake_case_name and 2*3*4 stay."),
        ("See [the docs](http://x.example/a_(b)) and [ref][1], <https://y.example>.", "See the docs and ref, https://y.example."),
        ("![A cat](cat.png) sat.", "A cat sat."),
        ("- one\n* two\n+ three\n  1. nested\n10) ten\n- [x] done", "one\ntwo\nthree\n  nested\nten\ndone"),
        ("> quoted **words**\n> > deeper", "quoted words\ndeeper"),
        ("Use `pip install` now.", "Use pip install now."),
        ("a\n\n---\n***\n\nb\n[1]: http://x.example", "a\n\n\n\n\nb\n"),
        ("Before\n```python\n# not a heading\nx = **kwargs\n```\nAfter", "Before\n\n# not a heading\nx = **kwargs\n\nAfter"),
        ("~~~\n```\nstill code\n~~~\n# Heading", "\n```\nstill code\n\nHeading"),
        ("#hashtag is not a heading\r\nLine", "#hashtag is not a heading\r\nLine"),
    ],
)
def test_markdown_becomes_the_plain_text_it_reads_as(markdown, text):
    assert markdown_text(markdown) == text


def test_lines_are_kept_so_positions_stay_near_the_source():
    markdown = "# A\n\nPara *one*.\n\n- item\n\n```\ncode\n```\n"
    assert markdown_text(markdown).count("\n") == markdown.count("\n")
