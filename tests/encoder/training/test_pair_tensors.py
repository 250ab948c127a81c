import torch

from encoder.training.pair_tensors import negative_slots, token_table, tokenize_pairs
from encoder.training.pairs import Pair


def test_distinct_texts_are_tokenised_once_into_padded_tables(tiny_tokenizer):
    pairs = [Pair("the pen", "a red pen", "t", "a cat"), Pair("the pen", "a cat", "t"), Pair("a dog", "a red pen", "t")]
    data = tokenize_pairs(tiny_tokenizer, pairs, query_length=6, passage_length=8, hard_negatives=True)
    assert data.queries.ids.shape == (2, 6) and data.passages.ids.shape == (2, 8)  # "a cat" is a positive and a negative
    assert data.query_rows.tolist() == [0, 0, 1] and data.positive_rows.tolist() == [0, 1, 0]
    assert data.negative_rows.tolist() == [1, -1, -1]
    row = data.passages.ids[0]
    assert (row[data.passages.lengths[0]:] == tiny_tokenizer.pad_id).all()
    without = tokenize_pairs(tiny_tokenizer, pairs, 6, 8, hard_negatives=False)
    assert without.negative_rows.tolist() == [-1, -1, -1]


def test_a_shared_cache_tokenises_each_text_once_per_width(tiny_tokenizer):
    cache = {}
    first = token_table(tiny_tokenizer, ["the pen is red", "a cat"], 16, cache)
    assert sum(len(texts) for texts in cache.values()) == 2
    again = token_table(tiny_tokenizer, ["a cat", "the pen is red"], 16, cache)
    assert torch.equal(again.ids, first.ids.flip(0)) and sum(len(texts) for texts in cache.values()) == 2
    token_table(tiny_tokenizer, ["a cat"], 4, cache)
    assert len(cache) == 2  # another width is another entry
    tiny_tokenizer.set_max_length(32)  # the next stage's checkpoint, at another length: the same ids below it
    token_table(tiny_tokenizer, ["a cat"], 16, cache)
    assert len(cache) == 2


def test_tokenising_to_a_width_leaves_the_lent_tokenizer_at_its_own_length(tiny_tokenizer):
    length = tiny_tokenizer.max_length
    long_text = "the pen is red " * 200
    table = token_table(tiny_tokenizer, [long_text], 5)
    assert table.ids.shape == (1, 5) and int(table.lengths[0]) == 5
    assert tiny_tokenizer.max_length == length and len(tiny_tokenizer.encode([long_text])[0].ids) == length


def test_negative_slots_cover_the_expected_share_with_room_to_spare():
    class Rows:
        def __init__(self, rows):
            self.negative_rows = torch.tensor(rows)

    assert negative_slots(Rows([-1] * 10), 64) == 0
    assert negative_slots(Rows([0] * 10), 64) == 64  # never more than the batch
    assert negative_slots(Rows([0, -1, -1, -1]), 64) == 24  # a quarter of 64 is 16, a quarter above is 20, rounded up to 24
