from encoder.training.pair_selection import select_sources
from encoder.training.pairs import Pair


def test_select_sources_by_prefix_and_exclusion():
    pairs = [Pair("q", "p", source) for source in ("stsb", "mined:nq", "mined:webq", "wikispan", "medquad")]
    assert [p.source for p in select_sources(pairs, ())] == [p.source for p in pairs]
    assert [p.source for p in select_sources(pairs, ("mined:",))] == ["mined:nq", "mined:webq"]
    assert [p.source for p in select_sources(pairs, ("!mined:", "!wiki"))] == ["stsb", "medquad"]
    assert [p.source for p in select_sources(pairs, ("mined:", "!mined:webq"))] == ["mined:nq"]
