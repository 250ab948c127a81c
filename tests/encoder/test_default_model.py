"""The shipped checkpoint: present, loadable, and it places related texts closer than unrelated ones."""

import numpy as np

from encoder import Encoder, load_checkpoint
from encoder.paths import DEFAULT_MODEL as DEFAULT
from encoder.training.pair_sources import DEFAULT_SOURCES


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


def test_the_model_card_names_every_set_it_learnt_from_and_its_licence():
    card = (DEFAULT / "MODEL.md").read_text(encoding="utf-8")
    names = {"stsb": "STS-B", "sick": "SICK", "msrp": "MSRP", "trecqa": "TrecQA", "scifact": "SciFact", "climate_fever": "Climate-FEVER"}
    assert set(names) == set(DEFAULT_SOURCES)  # a new default source needs its line in the card
    for name in [*names.values(), "Wikipedia"]:
        line = next((row for row in card.splitlines() if name in row and row.startswith("|")), None)
        assert line is not None and line.rstrip("| ").rsplit("|", 1)[-1].strip(), f"{name}: no row with a licence"
