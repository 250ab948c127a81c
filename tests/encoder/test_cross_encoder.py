"""The cross-encoder: BERT's sentence-pair input scored by the NSP head, saved and loaded as a reranker."""

import numpy as np
import pytest
import torch
from samples import SENTENCES

from encoder import BertForPairScoring, BertForPreTraining, CheckpointError, CrossEncoder, load_checkpoint, save_checkpoint


@pytest.fixture
def reranker_folder(tmp_path, tiny_config, tiny_tokenizer):
    torch.manual_seed(1)
    return CrossEncoder(BertForPairScoring(tiny_config), tiny_tokenizer, precision="float32").save(tmp_path / "reranker")


def test_a_pretrained_checkpoint_s_next_sentence_head_is_the_reranker_s_start(tmp_path, tiny_config, tiny_tokenizer):
    torch.manual_seed(0)
    pretrained = BertForPreTraining(tiny_config).eval()
    folder = save_checkpoint(tmp_path / "pretrained", pretrained, tiny_tokenizer, max_length=32)
    scorer = CrossEncoder(load_checkpoint(folder).build(BertForPairScoring), tiny_tokenizer, precision="float32")

    query, passage = SENTENCES[0], SENTENCES[1]
    batch = tiny_tokenizer.pad(tiny_tokenizer.encode([query], [passage]))
    with torch.inference_mode():
        _, nsp = pretrained(batch.input_ids, batch.token_type_ids, batch.attention_mask)
    assert batch.token_type_ids[0].tolist().count(1) > 0 and batch.token_type_ids[0, 0] == 0  # segments 0…0 1…1
    assert scorer.score(query, [passage])[0] == pytest.approx(float(nsp[0, 0] - nsp[0, 1]), abs=1e-4)


def test_scores_do_not_depend_on_batching_or_order(reranker_folder):
    scorer = CrossEncoder.load(reranker_folder, precision="float32")
    together = scorer.score(SENTENCES[0], SENTENCES, batch_size=3)
    alone = np.array([scorer.score(SENTENCES[0], [passage])[0] for passage in SENTENCES])
    assert together.dtype == np.float32 and together.shape == (len(SENTENCES),)
    np.testing.assert_allclose(together, alone, atol=1e-4)
    assert len(set(np.round(together, 4))) > 1  # the pairs are told apart
    assert scorer.score("anything", []).shape == (0,)


def test_a_long_passage_is_cut_and_the_query_read_whole(reranker_folder):
    scorer = CrossEncoder.load(reranker_folder, precision="float32", max_length=24)
    assert scorer.max_length == 24
    query = "cat on the mat"
    tokens = scorer.tokenizer.tokens(query, " ".join(SENTENCES * 5))
    assert len(tokens) == 24 and tokens[:6] == ["[CLS]", *scorer.tokenizer.tokens(query)[1:-1], "[SEP]"]
    assert np.isfinite(scorer.score(query, [" ".join(SENTENCES * 5), b"bytes \xff too"])).all()


def test_a_saved_reranker_reloads_to_the_same_scores_and_an_encoder_is_refused(reranker_folder, tiny_checkpoint):
    first = CrossEncoder.load(reranker_folder, precision="float32").score(SENTENCES[3], SENTENCES)
    copy = CrossEncoder.load(reranker_folder, precision="float32").save(reranker_folder.parent / "copy")
    np.testing.assert_allclose(CrossEncoder.load(copy, precision="float32").score(SENTENCES[3], SENTENCES), first, atol=1e-5)
    with pytest.raises(CheckpointError, match="not a reranker"):
        CrossEncoder.load(tiny_checkpoint)
