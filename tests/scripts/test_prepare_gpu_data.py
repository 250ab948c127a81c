"""prepare_gpu_data's NFCorpus dev folder is a BEIR split the evaluation code reads, for model selection."""

import gzip
import importlib.util
from pathlib import Path

from encoder.training import read_beir
from encoder.training.rerank_evaluation import CANDIDATES_FILE, read_candidates
from samples import write_beir

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "prepare_gpu_data.py"


def load_script():
    spec = importlib.util.spec_from_file_location("prepare_gpu_data", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_nfcorpus_dev_becomes_a_beir_dev_split(tmp_path: Path):
    original = tmp_path / "original"
    original.mkdir()
    with gzip.open(original / "dev.docs.gz", "wt", encoding="utf-8") as docs:
        docs.write("MED-1\tfried foods acrylamide cancer risk\nMED-2\tstatins cholesterol\n")
    (original / "dev.titles.queries").write_text("PLAIN-1\twhy deep fried foods may cause cancer\nPLAIN-2\tunjudged query\n")
    (original / "dev.3-2-1.qrel").write_text("PLAIN-1\t0\tMED-1\t3\nPLAIN-1\t0\tMED-2\t1\n")
    load_script().write_nfcorpus_dev(original, tmp_path / "nfcorpus_dev")
    beir = read_beir(tmp_path / "nfcorpus_dev", split="dev")
    assert beir.corpus == {"MED-1": ("", "fried foods acrylamide cancer risk"), "MED-2": ("", "statins cholesterol")}
    assert beir.queries == {"PLAIN-1": "why deep fried foods may cause cancer"}
    assert beir.qrels == {"PLAIN-1": {"MED-1": 3, "MED-2": 1}}


def test_the_dev_folder_carries_each_judged_querys_bm25_candidates(tmp_path: Path):
    folder = write_beir(tmp_path / "dev", {"q3": "where the cat sat", "q6": "river cattle"}, split="dev")
    load_script().write_bm25_candidates(folder, "dev", 3)
    candidates = read_candidates(folder / CANDIDATES_FILE)
    assert set(candidates) == {"q3", "q6"} and all(1 <= len(ranking) <= 3 for ranking in candidates.values())  # documents BM25 matches
    assert candidates["q3"][0] == "d3" and candidates["q6"][0] == "d6"
