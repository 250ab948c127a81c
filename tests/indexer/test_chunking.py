from itertools import pairwise

import pytest

from encoder import TextTokenizer, wordpiece_from_vocab
from encoder.tokenizer import SPECIAL_TOKENS
from encoder import sentence_starts
from indexer.chunking import Chunk, chunk_texts

# Words the tiny tokenizer never saw (Zürich, xylophone, résumé…) come out as several pieces, so
# windows meet word-internal piece boundaries they must not cut at.
LONG = (
    "The river flooded the valley. The farmers moved their cattle to the hills before Zürich's "
    "xylophone players arrived! Did the stock market fall sharply on Tuesday? Proteins fold into shapes.\n"
    "Search engines rank documents by how well they match a query, and neural networks learn "
    "representations of words and sentences without any résumé\n\n"
    "A cat sat on the mat while the dog slept by the door. Vaccines train the immune system to "
    "recognise a pathogen; the pen is red and I have a pen"
)
# Sentences with full stops that end none: a number, abbreviations, initials.
PROSE = (
    "The ratio was 1.2 versus 3.4 in the river valley. Dr. Smith and J. R. Tolkien saw it, e.g. on Tuesday. "
    "Proteins fold into shapes! Did the market fall? The cat sat on the mat while the dog slept by the door. "
)


def words(max_length: int = 64) -> TextTokenizer:
    """One piece per word (and per `##a`), so window arithmetic in tests is exact."""
    return TextTokenizer(wordpiece_from_vocab([*SPECIAL_TOKENS, "a", "b", "e", "##a", ".", "!"]), max_length)


def texts(chunks: list[Chunk]) -> list[str]:
    return [chunk.text for chunk in chunks]


@pytest.mark.parametrize("max_tokens, overlap", [(8, 0), (12, 3), (20, 6), (30, 10), (30, 29)])
def test_long_document_chunks_slice_fit_cover_and_overlap(tiny_tokenizer, max_tokens, overlap):
    chunks = chunk_texts([LONG], tiny_tokenizer, max_tokens, overlap)[0]
    assert len(chunks) > 2
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))
    assert all(LONG[chunk.start : chunk.end] == chunk.text for chunk in chunks)
    assert all(a.start < b.start and a.end < b.end for a, b in pairwise(chunks))
    covered = set().union(*(range(chunk.start, chunk.end) for chunk in chunks))
    assert all(i in covered for i, char in enumerate(LONG) if not char.isspace())
    if not overlap:
        assert all(a.end <= b.start for a, b in pairwise(chunks))


@pytest.mark.parametrize("max_tokens, overlap", [(8, 2), (13, 4)])
def test_chunks_tokenise_alone_as_in_the_document(tiny_tokenizer, max_tokens, overlap):
    """No word is cut in two, so each passage is exactly the pieces that were counted, within the limit."""
    chunks = chunk_texts([LONG], tiny_tokenizer, max_tokens, overlap)[0]
    document = tiny_tokenizer.token_offsets([LONG])[0]
    assert len(document) > len(set(LONG.split()))  # some words really are several pieces
    for chunk, own in zip(chunks, tiny_tokenizer.token_offsets(texts(chunks))):
        assert len(own) <= max_tokens
        in_place = [(start + chunk.start, end + chunk.start) for start, end in own]
        assert in_place == [(s, e) for s, e in document if chunk.start <= s and e <= chunk.end]


def test_short_and_empty_documents_in_one_batch(tiny_tokenizer):
    short = "  The cat sat on the mat.\n"
    assert chunk_texts(["", short, " \n\t "], tiny_tokenizer, 32, 8) == [[], [Chunk(0, short.strip(), 2, 25)], []]


def test_a_batch_is_tokenised_in_one_call(tiny_tokenizer):
    calls = []

    class Counting:
        def token_offsets(self, batch):
            calls.append(len(batch))
            return tiny_tokenizer.token_offsets(batch)

    chunked = chunk_texts(["short one", LONG, ""], Counting(), 16, 4)
    assert calls == [3]
    assert [len(chunks) > 0 for chunks in chunked] == [True, True, False]
    assert chunked[1] == chunk_texts([LONG], tiny_tokenizer, 16, 4)[0]


# Sentences in these end with "!": "a ." would end with an initial, which ends no sentence.
def test_window_ends_after_its_last_whole_sentence():
    # é before the mark: offsets count characters, not UTF-8 bytes
    text = "é é é é é é é ! B b b b b b b b b b b b !"
    assert texts(chunk_texts([text], words(), 10, 0)[0])[0] == "é é é é é é é !"
    assert texts(chunk_texts(["a a a a a a a a\nb b b b b b b b b b"], words(), 10, 0)[0])[0] == "a a a a a a a a"
    assert texts(chunk_texts(["a a ! A a a a a ! B b b b b b"], words(), 10, 0)[0])[0] == "a a ! A a a a a !"


def test_a_sentence_longer_than_a_window_alone_is_cut_at_word_starts():
    chunks = chunk_texts(["a a a ! B b b b b b b b b b b b"], words(), 10, 0)[0]
    assert texts(chunks) == ["a a a !", "B b b b b b b b b b", "b b"]


def test_a_number_or_an_abbreviation_is_no_sentence_end():
    """Regression: "1.2" and "e.g." were cut after a full stop, since a lone piece `.` counted as a
    sentence end; they are one long sentence here, cut at word starts."""
    assert texts(chunk_texts(["a a a a a a a 1.2 b b b b b"], words(), 10, 0)[0]) == ["a a a a a a a 1.2", "b b b b b"]
    assert texts(chunk_texts(["a a a a a a e.g. B b b b b b"], words(), 9, 0)[0]) == ["a a a a a a", "e.g. B b b b b", "b"]


def test_overlap_is_the_last_whole_sentences_that_fit():
    text = "a a a a a a ! B b ! B b b b b b b b !"  # sentences of 7, 3 and 9 pieces
    first, second = chunk_texts([text], words(), 12, 6)[0]
    assert first.text == "a a a a a a ! B b !"
    assert second.start == text.index("B") and second.text == text[second.start :]
    # with 3 more pieces the third sentence no longer fits after the second: the overlap is given up
    longer = text + " b b b"
    assert texts(chunk_texts([longer], words(), 12, 6)[0]) == ["a a a a a a ! B b !", "B b b b b b b b ! b b b"]
    # an overlap budget smaller than the last sentence: no overlap
    assert [chunk.start for chunk in chunk_texts([text], words(), 12, 2)[0]] == [0, text.index("B b b")]


def test_inside_a_long_sentence_the_next_window_repeats_the_last_overlap_words():
    text = "a b e " * 10  # piece i is the character 2 * i; no sentence end at all
    chunks = chunk_texts([text], words(), 10, 3)[0]
    assert [(chunk.start // 2, chunk.end // 2 + 1) for chunk in chunks] == [(0, 10), (7, 17), (14, 24), (21, 30)]


@pytest.mark.parametrize("max_tokens, overlap", [(32, 0), (40, 12), (64, 24)])
def test_passages_start_and_end_with_sentences(tiny_tokenizer, max_tokens, overlap):
    text = PROSE * 3  # its longest sentence is 31 pieces: every one fits a window
    chunks = chunk_texts([text], tiny_tokenizer, max_tokens, overlap)[0]
    starts = set(sentence_starts(text))
    assert len(chunks) > 3 and all(chunk.start in starts for chunk in chunks[1:])
    assert all(text[chunk.end :].strip() == "" or len(text) - len(text[chunk.end :].lstrip()) in starts for chunk in chunks)
    overlaps = [(a.end, b) for a, b in pairwise(chunks) if b.start < a.end]
    assert bool(overlaps) == bool(overlap)
    assert all(len(tiny_tokenizer.token_offsets([text[b.start : end]])[0]) <= overlap for end, b in overlaps)


def test_words_are_not_cut_unless_one_is_longer_than_a_window():
    chunks = chunk_texts(["aaa " * 8], words(), 10, 4)[0]
    assert all(set(chunk.text.split()) == {"aaa"} for chunk in chunks)
    # One word of 25 pieces is cut at the limit; the second window gives up its overlap, since starting
    # inside the word it could end nowhere past the first one; the last window needs no end and keeps it.
    giant = "a" * 25
    chunks = chunk_texts([giant], words(), 10, 4)[0]
    assert [(chunk.start, chunk.end) for chunk in chunks] == [(0, 10), (10, 20), (16, 25)]


@pytest.mark.parametrize("max_tokens, overlap", [(0, 0), (8, 8), (8, -1)])
def test_impossible_window_sizes_are_refused(tiny_tokenizer, max_tokens, overlap):
    with pytest.raises(ValueError, match="overlap_tokens < max_tokens"):
        chunk_texts(["text"], tiny_tokenizer, max_tokens, overlap)


def test_long_texts_are_tokenised_in_bounded_sections(tiny_tokenizer, monkeypatch):
    """Memory: no tokenizer call sees more than TOKENISE_CHARS characters; the chunks still slice,
    cover and number the whole text as if it had been tokenised at once."""
    from indexer import chunking

    monkeypatch.setattr(chunking, "SECTION_CHARS", 200)
    monkeypatch.setattr(chunking, "TOKENISE_CHARS", 450)
    calls = []
    original = tiny_tokenizer.token_offsets
    monkeypatch.setattr(tiny_tokenizer, "token_offsets", lambda pieces: calls.append(sum(map(len, pieces))) or original(pieces))
    documents = [LONG * 3, "A short one.", LONG.replace("\n", " ").replace(" ", "") * 2]  # the last has nowhere to cut
    for text, chunks in zip(documents, chunk_texts(documents, tiny_tokenizer, 12, 3)):
        assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))
        assert all(text[chunk.start : chunk.end] == chunk.text for chunk in chunks)
        assert all(a.start < b.start and a.end <= b.end for a, b in pairwise(chunks))
        covered = set().union(*(range(chunk.start, chunk.end) for chunk in chunks))
        assert all(i in covered for i, char in enumerate(text) if not char.isspace())
    assert len(calls) > 3 and max(calls) <= 450
