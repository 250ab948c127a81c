import json

import numpy as np
import pytest
import torch

from encoder import Encoder
from encoder.precision import WEIGHTS_IN_BF16, serving_precision, resolve_precision
from encoder.text_encoder import as_text


@pytest.fixture
def encoder(tiny_checkpoint) -> Encoder:
    return Encoder.load(tiny_checkpoint, precision="float32")


TEXTS = ["the pen is red", "a cat sat on the mat while the dog slept by the door", "proteins fold", "search engines rank documents"]


def test_unit_vectors_in_input_order(encoder):
    vectors = encoder.encode(TEXTS, batch_size=2)
    assert vectors.dtype == np.float32 and vectors.shape == (4, encoder.dim)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    one_by_one = np.vstack([encoder.encode([t]) for t in TEXTS])  # no padding at all
    np.testing.assert_allclose(vectors, one_by_one, atol=1e-5)


def test_batches_are_padded_only_to_their_longest(encoder, monkeypatch):
    widths = []
    pad = encoder.tokenizer.pad
    monkeypatch.setattr(encoder.tokenizer, "pad", lambda encodings: widths.append(max(len(e.ids) for e in encodings)) or pad(encodings))
    encoder.encode(["a"] * 3 + ["the cat sat on the mat while the dog slept"], batch_size=2)
    assert widths == [sorted(widths, reverse=True)[0], 3] and widths[0] > 3


def test_empty_and_whitespace_texts_share_a_defined_vector(encoder):
    # The same tokens, so the same vector up to rounding: rows of one batch may take different SIMD
    # paths (on AVX2-only CPUs they differ by ~1e-8), so the vectors are compared with a tolerance.
    assert [e.ids for e in encoder.tokenizer.encode(["", "   ", "\t\n"])] == [[encoder.tokenizer.cls_id, encoder.tokenizer.sep_id]] * 3
    empty, blank, tab = encoder.encode(["", "   ", "\t\n"])
    assert np.isfinite(empty).all() and abs(np.linalg.norm(empty) - 1) < 1e-6
    np.testing.assert_allclose(empty, blank, atol=1e-6)
    np.testing.assert_allclose(empty, tab, atol=1e-6)
    assert encoder.encode([]).shape == (0, encoder.dim)


def test_long_text_is_truncated_not_an_error(encoder):
    long = "the pen is red " * 50_000
    assert encoder.max_length == 32
    np.testing.assert_allclose(encoder.encode([long]), encoder.encode(["the pen is red " * 10]), atol=1e-6)


def test_clipping_long_texts_never_changes_the_result(encoder):
    # A huge gap of whitespace after the first word: the cheap clipped tokenisation comes out short,
    # so the full text must be tokenised and the words after the gap must count.
    gappy = "the" + " " * 100_000 + "pen is red"
    np.testing.assert_allclose(encoder.encode([gappy]), encoder.encode(["the pen is red"]), atol=1e-6)


def test_bytes_and_odd_strings_have_defined_meaning(encoder):
    np.testing.assert_array_equal(encoder.encode([b"caf\xc3\xa9"]), encoder.encode(["café"]))
    np.testing.assert_array_equal(encoder.encode([b"\xff\xfe pen"]), encoder.encode(["\ufffd\ufffd pen"]))
    assert np.isfinite(encoder.encode(["lone surrogate \udcff here"])).all()
    assert as_text(bytearray(b"pen"), 0) == "pen"
    assert encoder.encode("the pen").shape == (1, encoder.dim)


def test_wrong_types_are_named(encoder):
    with pytest.raises(TypeError, match=r"texts\[1\] is NoneType"):
        encoder.encode(["ok", None])
    with pytest.raises(ValueError, match="batch_size"):
        encoder.encode(["ok"], batch_size=0)


def test_cls_pooling_is_selectable(tiny_checkpoint):
    mean = Encoder.load(tiny_checkpoint, precision="float32")
    cls = Encoder.load(tiny_checkpoint, precision="float32", pooling="cls")
    batch = cls.tokenizer.pad(cls.tokenizer.encode(["the pen is red"]))
    with torch.inference_mode():
        state = cls.model(batch.input_ids, batch.token_type_ids, batch.attention_mask)[:, 0]
    expected = torch.nn.functional.normalize(state, dim=-1).numpy()
    np.testing.assert_allclose(cls.encode(["the pen is red"]), expected, atol=1e-6)
    assert not np.allclose(cls.encode(["the pen is red"]), mean.encode(["the pen is red"]))


def test_bfloat16_is_close_to_float32(tiny_checkpoint):
    exact = Encoder.load(tiny_checkpoint, precision="float32").encode(TEXTS)
    fast = Encoder.load(tiny_checkpoint, precision="bfloat16").encode(TEXTS)
    assert (exact * fast).sum(1).min() > 0.99


def test_bf16_weights_are_kept_once_and_give_float32_vectors_close_to_float32s(tiny_checkpoint, tmp_path):
    exact = Encoder.load(tiny_checkpoint, precision="float32").encode(TEXTS)
    weights = Encoder.load(tiny_checkpoint, precision=WEIGHTS_IN_BF16)
    linear = [m for m in weights.model.modules() if isinstance(m, torch.nn.Linear)]
    assert linear and all(m.weight.dtype == torch.bfloat16 for m in linear)
    assert weights.model.embeddings.word.weight.dtype == torch.float32  # only the linear layers change
    vectors = weights.encode(TEXTS)
    assert vectors.dtype == np.float32 and (exact * vectors).sum(1).min() > 0.99
    assert weights.token_vectors(TEXTS[0]).sentence == pytest.approx(weights.encode([TEXTS[0]])[0], abs=1e-5)  # the same pass as encode
    saved = Encoder.load(weights.save(tmp_path / "saved"), precision="float32")  # saved as any model is, in float32
    assert (saved.encode(TEXTS) * exact).sum(1).min() > 0.99


def test_a_server_computes_with_bf16_weights_only_where_the_cpu_multiplies_bf16(monkeypatch):
    from encoder.precision import NO_BF16_VARIABLE, cpu_has_native_bf16

    assert serving_precision() == (WEIGHTS_IN_BF16 if cpu_has_native_bf16() else "float32")
    monkeypatch.setenv(NO_BF16_VARIABLE, "0")
    cpu_has_native_bf16.cache_clear()
    try:
        assert serving_precision() == "float32"
    finally:
        monkeypatch.delenv(NO_BF16_VARIABLE)
        cpu_has_native_bf16.cache_clear()


def test_a_reranker_runs_bf16_autocast_only_where_the_cpu_has_amx_and_int8_elsewhere(monkeypatch):
    from encoder.precision import INT8, NO_BF16_VARIABLE, cpu_has_amx, cpu_has_native_bf16, reranking_precision

    assert reranking_precision() == ("bfloat16" if cpu_has_amx() else INT8)
    assert not cpu_has_amx() or cpu_has_native_bf16()  # AMX multiplies bf16 natively
    monkeypatch.setenv(NO_BF16_VARIABLE, "0")
    assert not cpu_has_amx() and reranking_precision() == INT8


def test_precision_names():
    cpu = torch.device("cpu")
    assert resolve_precision("float32", cpu) == torch.float32
    assert resolve_precision("bfloat16", cpu) == torch.bfloat16
    assert resolve_precision("auto", cpu) in (torch.float32, torch.bfloat16)
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("fp8", cpu)


def test_bf16_can_be_switched_off_whatever_the_cpu(monkeypatch):
    from encoder.precision import NO_BF16_VARIABLE, cpu_has_native_bf16

    monkeypatch.setenv(NO_BF16_VARIABLE, "0")
    cpu_has_native_bf16.cache_clear()
    try:
        assert not cpu_has_native_bf16()
        assert resolve_precision("auto", torch.device("cpu")) == torch.float32
    finally:
        monkeypatch.delenv(NO_BF16_VARIABLE)
        cpu_has_native_bf16.cache_clear()


def test_token_vectors_are_the_pieces_of_the_encoded_text(encoder):
    text = "the cat sat on the mat while the dog slept"
    tokens = encoder.token_vectors(text)
    pieces = encoder.tokenizer.tokens(text)[1:-1]  # [CLS] and [SEP] left out
    assert tokens.vectors.dtype == np.float32 and tokens.vectors.shape == (len(pieces), encoder.dim)
    np.testing.assert_allclose(np.linalg.norm(tokens.vectors, axis=1), 1.0, atol=1e-6)
    spans = [text[start:end].lower() for start, end in tokens.offsets]
    assert spans == [piece.removeprefix("##") for piece in pieces]
    word_spans = [(tokens.offsets[tokens.words == i, 0].min(), tokens.offsets[tokens.words == i, 1].max()) for i in range(10)]
    assert [text[start:end] for start, end in word_spans] == text.split()
    # The sentence vector is the one `encode` gives, from the same forward pass.
    np.testing.assert_allclose(tokens.sentence, encoder.encode([text])[0], atol=1e-5)
    assert not tokens.truncated


def test_token_vectors_stop_where_encode_truncates(encoder):
    text = "the cat sat on the mat " * 20
    tokens = encoder.token_vectors(text)
    assert tokens.truncated and len(tokens.vectors) == encoder.max_length - 2
    np.testing.assert_allclose(tokens.sentence, encoder.encode([text])[0], atol=1e-5)
    empty = encoder.token_vectors("")
    assert empty.vectors.shape == (0, encoder.dim) and empty.offsets.shape == (0, 2) and not empty.truncated


def test_settings_beyond_the_network_are_kept_and_saved_with_the_model(tiny_checkpoint, tmp_path):
    config = json.loads((tiny_checkpoint / "config.json").read_text())
    (tiny_checkpoint / "config.json").write_text(json.dumps({**config, "hybrid_dense_weight": 0.25, "trained_on": ["stsb"]}))
    encoder = Encoder.load(tiny_checkpoint)
    assert encoder.settings == {"hybrid_dense_weight": 0.25, "trained_on": ["stsb"]}
    assert Encoder.load(encoder.save(tmp_path / "copy")).settings == encoder.settings
