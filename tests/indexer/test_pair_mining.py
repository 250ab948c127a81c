"""BM25 distant supervision on a tiny inline corpus: the answer-bearing paragraph becomes the positive, a
high-ranked distractor the hard negative."""

from encoder.training import Pair
from indexer.pair_mining import MiningConfig, ParagraphIndex, answer_pattern, mine_answers, term_overlap, with_bm25_negatives

PARAGRAPHS = [
    "The Eiffel Tower in Paris was designed by the engineering company of Gustave Eiffel and finished in 1889.",
    "Visitors to the Eiffel Tower in Paris queue for hours; the tower is the most visited paid monument of the world.",
    "Romeo and Juliet is a tragedy about two young lovers; it is often staged in Verona and in Paris theatres.",
    "The Colosseum in Rome is an oval amphitheatre; it could hold tens of thousands of spectators watching games.",
    "Too short to index.",
]
CONFIG = MiningConfig(top_k=5, min_paragraph_words=8)


def index() -> ParagraphIndex:
    return ParagraphIndex(PARAGRAPHS + PARAGRAPHS[:1], min_words=CONFIG.min_paragraph_words)


def test_short_and_repeated_paragraphs_are_not_indexed():
    assert index().texts == PARAGRAPHS[:4]


def test_the_answer_bearing_paragraph_is_the_positive_and_a_distractor_the_negative():
    pairs = list(mine_answers(index(), [("When was the Eiffel Tower in Paris finished?", ["1889"])], "mined:test", CONFIG))
    assert pairs == [Pair("When was the Eiffel Tower in Paris finished?", PARAGRAPHS[0], "mined:test", PARAGRAPHS[1])]


def test_answers_match_whole_words_whatever_the_case_and_spacing():
    pattern = answer_pattern(["Gustave  eiffel", "Rome"])
    assert pattern.search(PARAGRAPHS[0]) and pattern.search("in ROME today")
    assert not pattern.search("Romeo and Juliet") and not pattern.search("Gustave Eiffels")
    assert answer_pattern(["", "  "]) is None


def test_questions_without_a_relevant_answer_bearing_paragraph_yield_nothing():
    questions = [
        ("Who wrote Romeo and Juliet?", ["Shakespeare"]),  # no paragraph names him
        ("Which city hosts the Colosseum amphitheatre?", ["Paris"]),  # "Paris" occurs, but in paragraphs about other things
    ]
    assert list(mine_answers(index(), questions, "mined:test", CONFIG)) == []
    assert term_overlap("Colosseum amphitheatre city", PARAGRAPHS[3]) == 2 / 3


def test_regex_answers_are_patterns_and_broken_ones_are_ignored():
    questions = [("Which company designed the Eiffel Tower in Paris?", [r"Gustave\s+Eiff?el", "(unclosed"])]
    pairs = list(mine_answers(index(), questions, "mined:trec", CONFIG, regex=True))
    assert [p.positive for p in pairs] == [PARAGRAPHS[0]]
    assert answer_pattern(["(unclosed"], regex=True) is None


def test_passage_sets_get_a_negative_from_their_own_passages_but_never_a_positive_of_the_query():
    pairs = [
        Pair("Eiffel Tower Paris visitors", PARAGRAPHS[1], "squad"),
        Pair("Eiffel Tower Paris visitors", PARAGRAPHS[0], "squad"),
        Pair("Colosseum Rome", PARAGRAPHS[3], "squad", negative="kept as it is"),
        Pair("Verona lovers", PARAGRAPHS[2], "squad"),
    ]
    mined = list(with_bm25_negatives(pairs, CONFIG))
    assert [(p.query, p.positive, p.source) for p in mined] == [(p.query, p.positive, p.source) for p in pairs]
    assert mined[0].negative == PARAGRAPHS[2] and mined[1].negative == PARAGRAPHS[2]  # not each other
    assert mined[2].negative == "kept as it is"
    assert mined[3].negative is None  # no other passage shares a word with "Verona lovers"


def test_a_reranker_group_is_one_line_per_negative_in_bm25_order():
    pairs = [Pair("Eiffel Tower Paris visitors", PARAGRAPHS[1], "squad"), Pair("Eiffel Tower Paris visitors", PARAGRAPHS[0], "squad"),
             Pair("Colosseum Rome spectators", PARAGRAPHS[3], "squad"), Pair("Verona lovers", PARAGRAPHS[2], "squad")]
    mined = list(with_bm25_negatives(pairs, CONFIG, count=2))
    eiffel = [p.negative for p in mined if p.positive == PARAGRAPHS[1]]
    assert eiffel == [PARAGRAPHS[2]]  # the other Eiffel paragraph is a positive of the same query; only one other shares a word
    colosseum = [p.negative for p in mined if p.query.startswith("Colosseum")]
    assert colosseum == [None]  # no other passage shares a word: the pair is kept without a negative
    assert all(p.source == "squad" for p in mined) and {(p.query, p.positive) for p in mined} == {(p.query, p.positive) for p in pairs}
