"""Loading the named sources from the data root: de-duplicated, repeatable, and a mistake named."""

import pytest
from pair_files import ARTICLES, pairs_of, write, write_msrp

from encoder.training.labelled_pairs import sick_pairs, stsb_pairs
from encoder.training.pair_sets import PAIR_SETS
from encoder.training.pair_sources import DEFAULT_SOURCES, PAIR_SOURCES, load_pairs


def test_load_pairs_deduplicates_shuffles_with_the_seed_and_reads_wikipedia_files(data, tmp_path):
    write_msrp(data, "1\t1\t2\tA plane is taking off.\tAn air plane is taking off.",  # also STS-B's: kept once
               "1\t3\t4\tThe same sentence twice.\tThe same sentence twice.")  # a text with itself: dropped
    wiki = write(tmp_path / "wiki.txt", '<doc id="1" url="u" title="Polar bear">\nPolar bear\n\n'
                 + "\n".join(ARTICLES[0].paragraphs) + "\n</doc>\n")
    pairs = load_pairs(data, ["stsb", "msrp", "sick"], wikipedia_files=[wiki], max_wikipedia_pairs=1, seed=7)
    assert sorted(pairs_of(pairs)) == sorted(
        pairs_of(stsb_pairs(data)) + pairs_of(sick_pairs(data)) + [("Polar bear", ARTICLES[0].paragraphs[0])]
    )
    assert [pair.source for pair in pairs if pair.query == "A plane is taking off."] == ["stsb"]
    assert load_pairs(data, ["stsb", "msrp", "sick"], [wiki], 1, seed=7) == pairs
    orders = {tuple(pairs_of(load_pairs(data, ["stsb", "sick", "trecqa", "scifact"], seed=s))) for s in range(5)}
    assert len(orders) > 1


def test_pair_sources_name_every_reader_and_read_the_data_root(data):
    older = {"stsb", "sick", "msrp", "trecqa", "scifact", "climate_fever"}
    assert set(DEFAULT_SOURCES) == older
    assert set(PAIR_SOURCES) == older | set(PAIR_SETS)  # the archived sets are tested in test_pair_set_readers.py
    assert all(list(PAIR_SOURCES[name](data)) for name in older)


def test_unknown_source_is_refused_with_the_known_names(data):
    with pytest.raises(ValueError, match="snli.*known: stsb, sick, msrp"):
        load_pairs(data, ["stsb", "snli"])


@pytest.mark.parametrize(
    "source, missing",
    [("stsb", "stsb/sts-train.csv"), ("sick", "sick/SICK.txt"), ("msrp", "msrp/msr-para-train.tsv"),
     ("trecqa", "trecqa_wang/train.csv"), ("scifact", "scifact/original/scifact_hf_csv.zip"),
     ("climate_fever", "climate_fever/climate-fever.jsonl.gz")],
)
def test_a_missing_file_is_named(tmp_path, source, missing):
    with pytest.raises(FileNotFoundError, match=missing):
        load_pairs(tmp_path, [source])
