from encoder.training.selection import selection_score


def test_selection_weighs_each_figure_relative_to_the_start():
    baseline = {"stsb-dev": 70.0, "nfcorpus-dev": 20.0}
    sts_gain = {"stsb-dev": 77.0, "nfcorpus-dev": 19.0}  # +10% and -5%
    retrieval_gain = {"stsb-dev": 69.0, "nfcorpus-dev": 24.0}  # -1.4% and +20%
    assert selection_score(retrieval_gain, baseline) > selection_score(sts_gain, baseline) > 1.0
