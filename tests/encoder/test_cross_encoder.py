"""The cross-encoder: BERT's sentence-pair input scored by the NSP head, saved and loaded as a reranker."""

import numpy as np
import pytest
import torch
from samples import SENTENCES

from encoder import BertForPairScoring, BertForPreTraining, CheckpointError, CrossEncoder, load_checkpoint, save_checkpoint
from encoder.checkpoint import save_settings
from encoder.cross_encoder import FIRST_STAGE_WEIGHT_KEY, blended
from encoder.precision import INT8, WEIGHTS_IN_BF16


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
    # The pairs are told apart by far more than batching moves a score. A random tiny model's scores can lie within
    # 1e-4 of each other: rounding them to 4 places once made all eight equal (the tiny vocabulary, trained anew in
    # each process, differs between processes, and so do the scores).
    assert np.ptp(together) > 10 * np.abs(together - alone).max() + 1e-6
    assert scorer.score("anything", []).shape == (0,)


def test_a_reranker_with_bf16_weights_scores_as_float32_does_within_bf16s_rounding(reranker_folder):
    exact = CrossEncoder.load(reranker_folder, precision="float32").score(SENTENCES[0], SENTENCES)
    fast = CrossEncoder.load(reranker_folder, precision=WEIGHTS_IN_BF16)
    assert all(m.weight.dtype == torch.bfloat16 for m in fast.model.modules() if isinstance(m, torch.nn.Linear))
    scores = fast.score(SENTENCES[0], SENTENCES)
    assert scores.dtype == np.float32
    np.testing.assert_allclose(scores, exact, atol=0.05 * np.abs(exact).max() + 1e-3)
    with pytest.raises(ValueError, match="int8 quantizes float32 linear layers"):
        fast.quantized()


def test_a_reranker_loaded_in_int8_has_quantized_linear_layers_and_scores_close_to_float32(reranker_folder):
    exact = CrossEncoder.load(reranker_folder, precision="float32").score(SENTENCES[0], SENTENCES)
    quantized = CrossEncoder.load(reranker_folder, precision=INT8)
    assert not any(type(m) is torch.nn.Linear for m in quantized.model.modules())  # each replaced by its dynamic int8 twin
    assert quantized.device.type == "cpu" and quantized.first_stage_weight == 0.0
    np.testing.assert_allclose(quantized.score(SENTENCES[0], SENTENCES), exact, atol=0.05 * np.abs(exact).max() + 1e-3)


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


def test_a_blend_scales_both_sides_over_the_head_and_weighs_them():
    scores = np.array([0.0, 4.0, 3.0, -1.0])  # the reranker's, for candidates in the first stage's order
    np.testing.assert_array_equal(blended(scores, 0.0), scores)  # no blend: the reranker's own scores
    own, order = (scores + 1) / 5, np.array([1, 2 / 3, 1 / 3, 0])
    np.testing.assert_allclose(blended(scores, 0.4), 0.4 * order + 0.6 * own)
    assert np.argsort(-blended(scores, 1.0)).tolist() == [0, 1, 2, 3]  # all weight on the first stage: its order
    assert np.argsort(-blended(scores, 0.4)).tolist() == [1, 2, 0, 3]
    np.testing.assert_allclose(blended(np.array([2.0, 2.0]), 0.5), [1.0, 0.5])  # equal scores: the order decides
    assert blended(np.array([]), 0.5).shape == (0,)


def test_the_blend_weight_is_saved_with_the_reranker_and_a_bad_one_is_named(tmp_path, tiny_config, tiny_tokenizer):
    folder = CrossEncoder(BertForPairScoring(tiny_config), tiny_tokenizer, first_stage_weight=0.3).save(tmp_path / "blend")
    assert CrossEncoder.load(folder).first_stage_weight == 0.3 == CrossEncoder.load(folder).quantized().first_stage_weight
    save_settings(folder, {FIRST_STAGE_WEIGHT_KEY: "high"})
    with pytest.raises(CheckpointError, match=f"blend: config.json's {FIRST_STAGE_WEIGHT_KEY} must be a number from 0 to 1, not 'high'"):
        CrossEncoder.load(folder)
