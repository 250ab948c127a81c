import json

import pytest
from tokenizers import Tokenizer

from encoder import TextTokenizer, wordpiece_from_vocab
from encoder.tokenizer import SPECIAL_TOKENS

VOCAB = list(SPECIAL_TOKENS) + ["i", "have", "a", "pen", "the", "is", "red", "I", "##s", "pens", "."]


def make(lowercase: bool = True, max_length: int = 16) -> TextTokenizer:
    return TextTokenizer(wordpiece_from_vocab(VOCAB, lowercase=lowercase), max_length=max_length)


def test_pair_is_cls_a_sep_b_sep_with_segment_ids():
    tokenizer = make()
    encoding = tokenizer.encode(["I have a pen"], ["the pen is red"])[0]
    assert encoding.tokens == ["[CLS]", "i", "have", "a", "pen", "[SEP]", "the", "pen", "is", "red", "[SEP]"]
    assert encoding.type_ids == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]


def test_single_text_and_wordpieces():
    assert make().tokens("The pens") == ["[CLS]", "the", "pens", "[SEP]"]
    assert make().tokens("penss") == ["[CLS]", "pens", "##s", "[SEP]"]  # greedy longest match


def test_lowercasing_is_configurable():
    assert make(lowercase=True).tokens("I HAVE")[1:3] == ["i", "have"]
    assert make(lowercase=False).tokens("I HAVE")[1:3] == ["I", "[UNK]"]


def test_truncation_at_max_length_and_padding_to_longest_in_batch():
    tokenizer = make(max_length=6)
    long, short = tokenizer.encode(["a pen " * 20, "red"])
    assert len(long.ids) == 6 and long.tokens[0] == "[CLS]" and long.tokens[-1] == "[SEP]"
    batch = tokenizer.pad(tokenizer.encode(["red", "a pen"]))
    assert tuple(batch.input_ids.shape) == (2, 4)  # longest is [CLS] a pen [SEP], not max_length
    assert batch.attention_mask.tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]
    assert batch.input_ids[0, 3].item() == tokenizer.pad_id


def test_a_length_given_to_one_call_truncates_that_call_alone():
    tokenizer = make(max_length=12)
    assert len(tokenizer.encode(["a pen " * 20], max_length=5)[0].ids) == 5
    assert tokenizer.max_length == 12 and len(tokenizer.encode(["a pen " * 20])[0].ids) == 12
    pair = tokenizer.encode(["a pen"], ["red " * 20], max_length=7)[0]
    assert len(pair.ids) == 7 and pair.tokens[:4] == ["[CLS]", "a", "pen", "[SEP]"]  # the longer side, the passage, is cut
    with pytest.raises(ValueError, match="room for"):
        tokenizer.encode(["a pen"], max_length=1)
    assert len(tokenizer.encode(["a pen " * 20])[0].ids) == 12


def test_identity_ignores_the_length_and_follows_the_vocabulary():
    assert make(max_length=6).identity() == make(max_length=64).identity()
    assert make(lowercase=False).identity() != make().identity()


def test_missing_special_tokens_are_refused():
    with pytest.raises(ValueError, match=r"\[MASK\]"):
        TextTokenizer(wordpiece_from_vocab(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a"]), max_length=8)


def test_baked_in_padding_and_truncation_are_cleared(tmp_path):
    raw = wordpiece_from_vocab(VOCAB)
    raw.enable_padding(length=128)
    raw.enable_truncation(3)
    raw.save(str(tmp_path / "tokenizer.json"))
    tokenizer = TextTokenizer.from_file(tmp_path / "tokenizer.json", max_length=16)
    assert len(tokenizer.encode(["i have a pen"])[0].ids) == 6
    tokenizer.save(tmp_path / "ours.json")
    saved = json.loads((tmp_path / "ours.json").read_text())
    assert saved["padding"] is None and saved["truncation"] is None
    assert tokenizer.tokenizer.truncation["max_length"] == 16  # saving does not drop our own setting


def test_trained_tokenizer_has_special_tokens_first(tiny_tokenizer):
    assert [tiny_tokenizer.tokenizer.id_to_token(i) for i in range(5)] == list(SPECIAL_TOKENS)
    assert isinstance(tiny_tokenizer.tokenizer, Tokenizer)
    assert "[UNK]" not in tiny_tokenizer.tokens("the pen is red")


def test_token_offsets_are_untruncated_character_spans():
    tokenizer = make(max_length=4)
    text = "I have a pen. The pen is red."
    spans = tokenizer.token_offsets([text])[0]
    assert len(spans) == 10  # every piece, although max_length is 4
    assert [text[a:b] for a, b in spans[:4]] == ["I", "have", "a", "pen"]
    assert len(tokenizer.encode([text])[0].ids) == 4  # encoding still truncates
