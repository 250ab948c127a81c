from pair_files import ARTICLES, pairs_of

from encoder.training.corpus import Document
from encoder.training.pairs import Pair
from encoder.training.wikipedia_pairs import wikipedia_pairs, wikipedia_span_pairs


def test_wikipedia_pairs_titles_with_openings_and_sentences_with_their_paragraph():
    pairs = list(wikipedia_pairs(ARTICLES, max_pairs=100))
    assert pairs[0] == Pair("Polar bear", ARTICLES[0].paragraphs[0], "wikipedia")
    hunts, swims = "It hunts seals from the sea ice.", "It swims."  # too short to be an anchor, but context
    fur, males = "Its fur is thick and white.", "Males are twice the size of females."
    assert pairs_of(pairs[1:2])[0] in {
        (hunts, f"{swims} {fur} {males}"), (fur, f"{hunts} {swims} {males}"), (males, f"{hunts} {swims} {fur}")
    }
    plain, second = "A plain text document with no title at all.", "It still has two sentences in it."
    assert pairs_of(pairs[2:3])[0] in {(plain, second), (second, plain)}
    assert pairs[3] == Pair("Tiny", ARTICLES[3].paragraphs[0], "wikipedia")  # "Ends here." is too short for either side
    assert len(pairs) == 4  # nothing from the stub, no title pair for the untitled document


def test_wikipedia_pairs_stop_at_max_pairs_and_repeat_with_the_seed():
    assert len(list(wikipedia_pairs(ARTICLES, max_pairs=2))) == 2
    assert list(wikipedia_pairs(ARTICLES, 10, seed=3)) == list(wikipedia_pairs(ARTICLES, 10, seed=3))
    assert len({pairs_of(wikipedia_pairs(ARTICLES, 10, seed=seed))[1] for seed in range(20)}) > 1


def test_wikipedia_span_pairs_crop_one_article_twice_and_pair_its_title():
    words = [f"w{i}" for i in range(200)]
    documents = [Document("Alpha", [" ".join(words[:100]), " ".join(words[100:])]), Document("Beta", ["too short"])]
    pairs = list(wikipedia_span_pairs(documents, max_pairs=10, seed=1, span_words=(8, 30)))
    assert [p.source for p in pairs] == ["wikipedia:span", "wikipedia:title"]
    span = pairs[0]
    for text in (span.query, span.positive):
        assert 8 <= len(text.split()) <= 30 and text in " ".join(words)  # a contiguous crop of the article
    assert pairs[1].query == "Alpha" and pairs[1].positive in documents[0].paragraphs
    assert len(list(wikipedia_span_pairs(documents * 5, max_pairs=3))) == 3


def test_positive_words_size_the_second_span_apart_from_the_first():
    documents = [Document("", [" ".join(f"w{i}" for i in range(300))])]
    for seed in range(10):
        (span,) = wikipedia_span_pairs(documents, max_pairs=10, seed=seed, span_words=(4, 8), positive_words=(60, 90))
        assert 4 <= len(span.query.split()) <= 8 and 60 <= len(span.positive.split()) <= 90


def test_a_short_article_still_gives_a_span_pair_with_a_positive_cut_to_half_its_length():
    documents = [Document("", [" ".join(f"w{i}" for i in range(20))])]
    for seed in range(10):
        (span,) = wikipedia_span_pairs(documents, max_pairs=10, seed=seed, span_words=(4, 8), positive_words=(16, 64))
        assert 4 <= len(span.query.split()) <= 8 and len(span.positive.split()) == 10
