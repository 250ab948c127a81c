"""The registry of the public pair sets: licences, the data root, and (when shared/data/pairs is here)
plausible counts from the real archives."""

import json

import pytest
from pair_files import archive

from encoder.training.pair_sets import ANSWER_SETS, PAIR_SETS, licence_of, read_answer_set, read_pair_set
from encoder.training.pair_sources import PAIR_SOURCES
from encoder.training.pairs import Pair
from encoder.training.paths import DEFAULT_DATA_DIR

REAL_PAIRS = DEFAULT_DATA_DIR / "pairs"


def test_licences_mark_research_sets_and_older_sources_as_not_shippable():
    assert licence_of("medquad") == ("CC BY 4.0", True)
    for name in ("wikiqa", "twitter_url_paraphrase", "curatedtrec", "sick", "scifact", "msrp", "a-source-nobody-registered"):
        assert licence_of(name)[1] is False
    licence, redistributable = licence_of("mined:nq_open_dev_efficientqa")
    assert redistributable and "CC BY-SA 3.0 (Wikipedia text)" in licence
    assert licence_of("mined:curatedtrec")[1] is False
    assert licence_of("wikipedia:span") == licence_of("wikipedia") and licence_of("wikipedia")[1]
    assert licence_of("spans:medquad:span") == licence_of("medquad") and licence_of("spans:wikiqa:span")[1] is False
    assert all(entry.licence for entry in [*PAIR_SETS.values(), *ANSWER_SETS.values()])


def test_pair_sets_are_pair_sources_that_read_the_data_root(tmp_path):
    archive(tmp_path / "pairs", "disfl_qa", {f"{s}.json": json.dumps({"q": {"original": "B?", "disfluent": "A no B?"}}) for s in ("train", "dev", "test")})
    assert list(PAIR_SOURCES["disfl_qa"](tmp_path))[0] == Pair("A no B?", "B?", "disfl_qa")
    with pytest.raises(FileNotFoundError, match="medquad.tar.xz"):
        list(PAIR_SOURCES["medquad"](tmp_path))


@pytest.mark.skipif(not REAL_PAIRS.is_dir(), reason="shared/data/pairs is not here")
def test_the_real_archives_give_plausible_counts():
    counts = {name: sum(1 for _ in read_pair_set(REAL_PAIRS, name))
              for name in ("snli_dev_test_esnli", "breaking_nli", "qed_nq_dev", "pubmedqa_labeled", "squad_dev_explorer_html")}
    assert 5_000 < counts["snli_dev_test_esnli"] < 9_842 * 2  # about one entailment per premise, dev + test
    assert 900 < counts["breaking_nli"] <= 982
    assert counts["qed_nq_dev"] == 1_355 and counts["pubmedqa_labeled"] == 1_000
    assert 10_000 < counts["squad_dev_explorer_html"] < 10_570 + 11_873
    assert 5_000 < sum(1 for _ in read_answer_set(REAL_PAIRS, "webquestions")) <= 5_810
