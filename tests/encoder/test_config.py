import pytest

from encoder import BertConfig


def test_the_feed_forward_width_follows_the_hidden_one_unless_given():
    assert BertConfig().intermediate_size == 3072  # BERT-base
    assert BertConfig(hidden_size=256, num_heads=4).intermediate_size == 1024
    assert BertConfig(hidden_size=256, num_heads=4, intermediate_size=512).intermediate_size == 512


def test_a_saved_config_holds_the_number_and_loads_as_it_was():
    saved = BertConfig(hidden_size=64, num_heads=4).to_dict()
    assert saved["intermediate_size"] == 256
    assert BertConfig.from_dict({**saved, "hidden_size": 128}).intermediate_size == 256  # the number, not the rule


def test_config_validation():
    with pytest.raises(ValueError, match="multiple"):
        BertConfig(hidden_size=30, num_heads=4)
    with pytest.raises(ValueError, match="unknown"):
        BertConfig.from_dict({"hidden_sise": 3})
