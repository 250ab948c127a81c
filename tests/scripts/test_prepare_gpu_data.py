"""prepare_gpu_data's selection folders (NFCorpus dev, SciFact train) are BEIR splits the evaluation code reads, with
the BM25 lists and passages that let the GPU run judge hybrid search as the service runs it."""

import gzip
import importlib.util
import json
import zipfile
from pathlib import Path

import pytest

from encoder import Encoder
from encoder.training import read_beir
from encoder.training.rerank_evaluation import CANDIDATES_FILE, read_candidates, read_scored_candidates
from encoder.training.selection import LEXICAL_FILE, PASSAGES_FILE, SEARCH_DEPTH, read_spans, write_spans
from indexer.evaluation import RANKING_DEPTH
from indexer.reranking import DEFAULT_RERANK_DEPTH
from indexer.search import MIN_CANDIDATES
from samples import SENTENCES, write_beir

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
    for gzip_corpus in (False, True):  # plain for an instance to index, gzipped to travel
        load_script().write_nfcorpus_dev(original, tmp_path / f"nfcorpus_dev_{gzip_corpus}", gzip_corpus)
        assert (tmp_path / f"nfcorpus_dev_{gzip_corpus}" / ("corpus.jsonl.gz" if gzip_corpus else "corpus.jsonl")).is_file()
        beir = read_beir(tmp_path / f"nfcorpus_dev_{gzip_corpus}", split="dev")
        assert beir.corpus == {"MED-1": ("", "fried foods acrylamide cancer risk"), "MED-2": ("", "statins cholesterol")}
        assert beir.queries == {"PLAIN-1": "why deep fried foods may cause cancer"}
        assert beir.qrels == {"PLAIN-1": {"MED-1": 3, "MED-2": 1}}


def test_the_dev_folder_carries_each_judged_querys_bm25_lists(tmp_path: Path):
    folder = write_beir(tmp_path / "dev", {"q3": "where the cat sat", "q6": "river cattle"}, split="dev")
    load_script().write_bm25_lists(folder, "dev")
    candidates = read_candidates(folder / CANDIDATES_FILE)  # what a reranker reorders: plain BM25, the documents it matches
    assert set(candidates) == {"q3", "q6"} and all(1 <= len(ranking) <= DEFAULT_RERANK_DEPTH for ranking in candidates.values())
    assert candidates["q3"][0] == "d3" and candidates["q6"][0] == "d6"
    lists = read_scored_candidates(folder / LEXICAL_FILE)  # hybrid's BM25 side: expanded, so it reaches past the query's words
    assert set(lists) == {"q3", "q6"} and lists["q3"][0][0] == "d3" and lists["q6"][0][0] == "d6"
    assert all(scores == sorted(scores, reverse=True) and scores[-1] > 0 for _, scores in lists.values())
    assert len(lists["q6"][0]) >= len(candidates["q6"])


def test_scifact_train_claims_become_a_train_split_over_a_gzipped_corpus(tmp_path: Path):
    data = tmp_path / "data"
    (data / "scifact" / "original").mkdir(parents=True)
    (data / "scifact" / "corpus.jsonl").write_text('{"_id": "11", "title": "T", "text": "statins lower cholesterol"}\n'
                                                   '{"_id": "12", "title": "", "text": "vaccines"}\n')
    claims = "id,claim,evidence_doc_id,evidence_label,evidence_sentences,cited_doc_ids\n" \
             "5,Statins lower cholesterol.,11,SUPPORT,[0],[11]\n5,Statins lower cholesterol.,12,SUPPORT,[0],[12]\n" \
             "6,An unjudged claim.,,,,[11]\n"
    with zipfile.ZipFile(data / "scifact" / "original" / "scifact_hf_csv.zip", "w") as archive:
        archive.writestr("claims_train.csv", claims)
    folder = load_script().write_scifact_train(data, tmp_path / "scifact_train", gzip_corpus=True)
    assert not (folder / "corpus.jsonl").exists() and (folder / "corpus.jsonl.gz").is_file()
    beir = read_beir(folder, split="train")
    assert beir.corpus == {"11": ("T", "statins lower cholesterol"), "12": ("", "vaccines")}
    assert beir.queries == {"5": "Statins lower cholesterol."} and beir.qrels == {"5": {"11": 1, "12": 1}}


def test_the_dev_documents_travel_as_the_passages_indexing_would_cut(tmp_path: Path, tiny_checkpoint: Path):
    long = " ".join(SENTENCES * 3)  # far past the tiny model's 32 tokens
    folder = write_beir(tmp_path / "dev", {"q3": "cat"}, split="dev")
    lines = (folder / "corpus.jsonl").read_text().splitlines()
    (folder / "corpus.jsonl").write_text("\n".join([json.dumps({"_id": "long", "title": "T", "text": long}), *lines]) + "\n")
    load_script().write_passages(folder, "dev", Encoder.load(tiny_checkpoint))
    spans = read_spans(folder / PASSAGES_FILE)
    assert set(spans) == {"long"} | {f"d{i}" for i in range(len(SENTENCES))}
    assert len(spans["long"]) > 3 and spans["long"][0][0] == 0 and spans["long"][-1][1] == len(long)
    assert all(a[0] < b[0] and a[1] < b[1] for a, b in zip(spans["long"], spans["long"][1:]))  # windows in order
    assert all(spans[f"d{i}"][0][0] == 0 and spans[f"d{i}"][-1][1] == len(text) for i, text in enumerate(SENTENCES))


def test_a_bad_passages_line_names_its_file_and_line(tmp_path: Path):
    write_spans({"a": [(0, 4)]}, tmp_path / PASSAGES_FILE)
    assert read_spans(tmp_path / PASSAGES_FILE) == {"a": [(0, 4)]}
    with gzip.open(tmp_path / PASSAGES_FILE, "wt") as out:
        out.write('{"_id": "a", "spans": [[0, 4]]}\n{"_id": "b", "spans": [3]}\n')
    with pytest.raises(ValueError, match=rf"{PASSAGES_FILE}, line 2"):
        read_spans(tmp_path / PASSAGES_FILE)


def test_the_selection_judges_lists_as_deep_as_a_search_for_a_page_of_100_ranks():
    assert SEARCH_DEPTH == max(MIN_CANDIDATES, 2 * RANKING_DEPTH)
