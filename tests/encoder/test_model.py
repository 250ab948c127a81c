import pytest
import torch

from encoder import BertForPreTraining, BertModel


@pytest.fixture
def model(tiny_config):
    torch.manual_seed(0)
    return BertForPreTraining(tiny_config).eval()


def test_shapes(model, tiny_config):
    ids = torch.randint(5, tiny_config.vocab_size, (3, 10))
    mlm, nsp = model(ids, torch.zeros_like(ids))
    assert mlm.shape == (3, 10, tiny_config.vocab_size)
    assert nsp.shape == (3, 2)
    assert model.bert(ids).shape == (3, 10, tiny_config.hidden_size)


def test_padding_does_not_change_real_positions(model, tiny_config):
    ids = torch.randint(5, tiny_config.vocab_size, (1, 7))
    padded = torch.cat([ids, torch.zeros(1, 5, dtype=torch.long)], dim=1)
    mask = torch.cat([torch.ones(1, 7), torch.zeros(1, 5)], dim=1).long()
    alone = model.bert(ids)
    with_pad = model.bert(padded, attention_mask=mask)
    torch.testing.assert_close(with_pad[:, :7], alone, atol=1e-5, rtol=1e-5)


def test_segment_ids_matter(model, tiny_config):
    ids = torch.randint(5, tiny_config.vocab_size, (1, 6))
    types = torch.tensor([[0, 0, 0, 1, 1, 1]])
    assert not torch.allclose(model.bert(ids, types), model.bert(ids))


def test_mlm_decoder_is_tied_to_word_embeddings(model):
    assert model.mlm_head.decoder.weight is model.bert.embeddings.word.weight
    ids = torch.tensor([[2, 7, 8, 3]])
    mlm, _ = model(ids, torch.zeros_like(ids))
    mlm.sum().backward()
    assert model.bert.embeddings.word.weight.grad is not None


def test_mlm_positions_select_the_same_logits(model, tiny_config):
    ids = torch.randint(5, tiny_config.vocab_size, (2, 9))
    positions = torch.tensor([[1, 4], [0, 8]])
    full, nsp_full = model(ids, torch.zeros_like(ids))
    picked, nsp_picked = model(ids, torch.zeros_like(ids), mlm_positions=positions)
    torch.testing.assert_close(picked, torch.stack([full[0, [1, 4]], full[1, [0, 8]]]))
    torch.testing.assert_close(nsp_picked, nsp_full)


def test_padding_embedding_starts_at_zero(tiny_config):
    model = BertModel(tiny_config)
    assert model.embeddings.word.weight[tiny_config.pad_token_id].abs().sum() == 0
