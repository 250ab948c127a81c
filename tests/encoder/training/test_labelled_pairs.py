"""The older labelled sets' readers on tiny files written in each data set's real format: train splits
only, thresholds, hard negatives, and malformed lines skipped."""

from pair_files import HELD_OUT_CLAIM, pairs_of

from encoder.training.labelled_pairs import climate_fever_pairs, msrp_pairs, scifact_pairs, sick_pairs, stsb_pairs, trecqa_pairs
from encoder.training.pairs import Pair


def test_stsb_keeps_train_pairs_at_the_threshold_with_quotes_and_extra_columns_intact(data):
    assert pairs_of(stsb_pairs(data)) == [
        ("A plane is taking off.", "An air plane is taking off."),
        ('"No deal," he said', 'He refused the "deal'),
    ]
    lower = pairs_of(stsb_pairs(data, min_score=3.5))
    assert lower[1] == ("A man is playing a large flute.", "A man is playing a flute.") and len(lower) == 3
    assert all(pair.source == "stsb" and pair.negative is None for pair in stsb_pairs(data))


def test_sick_reads_only_train_rows_at_or_above_the_threshold(data):
    assert pairs_of(sick_pairs(data)) == [
        ("A group of kids is playing in a yard", "Kids are playing in a yard"),
        ("A dog runs on the beach", "A dog is running on sand"),
    ]
    everything = pairs_of(sick_pairs(data, min_score=0.0))
    assert len(everything) == 3 and not any("trial" in a or "test" in a for a, _ in everything)


def test_msrp_keeps_paraphrases_and_is_not_fooled_by_the_byte_order_mark(data):
    assert pairs_of(msrp_pairs(data)) == [('Amrozi called him "the witness".', '"The witness", Amrozi called him.')]


def test_trecqa_pairs_questions_with_answers_and_a_non_answer_of_the_same_question(data):
    pairs = list(trecqa_pairs(data))
    iron_lady = "Who wrote `` The Iron Lady '' ?"
    assert pairs == [
        Pair(iron_lady, "the IRON LADY ; A Biography by Hugo Young", "trecqa",
             "Thatcher was prime minister , a grocer 's daughter"),
        Pair(iron_lady, "Hugo Young , the journalist , wrote it", "trecqa", "the book was reviewed in 1989"),
        Pair("When was the bridge built ?", "the bridge was built in 1932", "trecqa", None),
    ]


def test_scifact_pairs_train_claims_with_each_cited_abstract_never_a_test_query(data):
    pairs = pairs_of(scifact_pairs(data))
    assert pairs == [
        ("Vitamin D lowers fracture risk.", "Vitamin D trial. Vitamin D was given. Fewer fractures followed."),
        ("Vitamin D lowers fracture risk.", "Bones and sunlight. Sunlight makes vitamin D."),
        ("Aspirin has no effect on stroke.", "Aspirin and stroke. Aspirin cut strokes by a third."),
    ]
    claims = {claim for claim, _ in pairs}
    assert HELD_OUT_CLAIM not in claims and "A validation claim." not in claims and "A test claim." not in claims


def test_climate_fever_keeps_supporting_and_refuting_evidence(data):
    claim = "Global warming is driving polar bears toward extinction"
    assert pairs_of(climate_fever_pairs(data)) == [
        (claim, "Rising temperatures endanger the polar bear."),
        (claim, "Polar bear numbers have grown since 1970."),
    ]
