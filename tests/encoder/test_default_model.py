"""The shipped checkpoint: present, loadable, and it places related texts closer than unrelated ones."""

from pathlib import Path

import numpy as np

from encoder import Encoder, load_checkpoint

DEFAULT = Path(__file__).resolve().parents[2] / "models" / "default"


def test_shipped_model_is_ours_small_and_half_precision():
    checkpoint = load_checkpoint(DEFAULT)
    assert checkpoint.extra.get("imported_from") is None  # trained here, not imported
    assert (DEFAULT / "model.safetensors").stat().st_size < 20 * 2**20
    assert '"dtype": "float16"' in (DEFAULT / "config.json").read_text()


def test_shipped_model_ranks_a_paraphrase_above_unrelated_text():
    encoder = Encoder.load(DEFAULT)
    queries = ["How do vaccines protect people from disease?", "A man is playing the guitar on stage."]
    related = ["Vaccination trains the immune system to fight infections.", "A musician plays a guitar in front of a crowd."]
    similarity = encoder.encode(queries) @ encoder.encode(related).T
    assert (np.diag(similarity) > similarity[[0, 1], [1, 0]]).all()
