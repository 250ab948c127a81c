"""The shipped checkpoint: present, loadable, and it places related texts closer than unrelated ones."""

import numpy as np

from encoder import Encoder, load_checkpoint
from encoder.paths import DEFAULT_MODEL as DEFAULT
from encoder.training.pair_sets import licence_of


def test_shipped_model_is_ours_small_and_half_precision():
    checkpoint = load_checkpoint(DEFAULT)
    assert checkpoint.extra.get("imported_from") is None  # trained here, not imported
    assert (DEFAULT / "model.safetensors").stat().st_size < 20 * 2**20
    assert '"dtype": "float16"' in (DEFAULT / "config.json").read_text()


def test_shipped_model_names_the_hybrid_share_its_card_gives():
    # Chosen for this model by bench/tune_fusion.py (docs/benchmarks.md); the search reads it from config.json.
    share = load_checkpoint(DEFAULT).extra["hybrid_dense_weight"]
    assert f"dense weight {share:.2f}" in (DEFAULT / "MODEL.md").read_text(encoding="utf-8")


def test_shipped_model_ranks_a_paraphrase_above_unrelated_text():
    encoder = Encoder.load(DEFAULT)
    queries = ["How do vaccines protect people from disease?", "A man is playing the guitar on stage."]
    related = ["Vaccination trains the immune system to fight infections.", "A musician plays a guitar in front of a crowd."]
    similarity = encoder.encode(queries) @ encoder.encode(related).T
    assert (np.diag(similarity) > similarity[[0, 1], [1, 0]]).all()


# The sets the shipped model learnt from (its card's "Training data" table; the run's finetune log lists the
# same sources): replacing the model means updating this list with the card.
SHIPPED_PAIR_SOURCES = {
    "snli_dev_test_esnli": "SNLI dev/test", "snli_counterfactual_cad": "Counterfactually augmented SNLI",
    "breaking_nli": "Breaking NLI", "medquad": "MedQuAD", "disfl_qa": "Disfl-QA", "squad_dev_explorer_html": "SQuAD",
    "qed_nq_dev": "QED", "pubmedqa_labeled": "PubMedQA", "covid_qa_deepset": "COVID-QA",
}


def test_the_model_card_names_every_set_it_learnt_from_and_its_licence_which_allows_redistribution():
    card = (DEFAULT / "MODEL.md").read_text(encoding="utf-8")
    rows = [row for row in card.splitlines() if row.startswith("|")]
    for source, name in SHIPPED_PAIR_SOURCES.items():
        licence, redistributable = licence_of(source)
        assert redistributable, f"{source} ({licence}) does not allow redistributing a model trained on it"
        line = next((row for row in rows if name in row), None)
        assert line is not None and line.rstrip("| ").rsplit("|", 1)[-1].strip() == licence, f"{name}: no row with its licence {licence!r}"
    wikipedia = next(row for row in rows if "pretraining" in row and "Wikipedia" in row)
    assert wikipedia.rstrip("| ").rsplit("|", 1)[-1].strip().startswith("CC BY-SA")
