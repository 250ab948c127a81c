"""The fine-tuning recipe script end to end on the CPU at toy size: variants trained in turn from one
checkpoint, each evaluated on development sets, the best exported within the run's clock."""

import gzip
import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from pair_files import write_wikipedia
from samples import SENTENCES
from test_pipeline import ROOT, _python_env

from encoder import CrossEncoder, Encoder
from encoder.checkpoint import load_checkpoint
from encoder.flags import from_flags
from encoder.training.pairs import Pair, write_pairs
from encoder.training.evaluation import dense_lists
from encoder.training.pair_selection import select_sources
from encoder.training.rerank_evaluation import CANDIDATES_FILE, write_candidates
from encoder.training.recipe import DEFAULT_VARIANTS, DEFAULTS, FLAGS, Costs, RecipeConfig, Stage, build_parser, load_recipe_pairs, main as recipe_main, parse_recipe, stage_budget, stage_config
from encoder.training.selection import HYBRID, HYBRID_WEIGHT, HYBRID_WEIGHTS, LEXICAL_FILE, DevSets, selection_score
from encoder.training.transfer import PART_BYTES, assemble


def make_data(folder: Path) -> None:
    """Labelled and mined pairs, reranker groups, a Wikipedia file, STS-B dev and a BEIR folder with a dev
    split and its first-stage candidates."""
    write_wikipedia(folder, 60)
    rotated = list(zip(SENTENCES, SENTENCES[1:] + SENTENCES[:1]))
    pairs = [Pair(f"{a} {i}", b, "stsb" if i % 2 else "medquad", SENTENCES[i % 8] if i % 3 == 0 else None) for i, (a, b) in enumerate(rotated * 5)]
    pairs += [Pair(f"{b} {i}", a, "mined:nq") for i, (a, b) in enumerate(rotated * 3)]
    write_pairs(pairs, folder / "pairs.jsonl.xz")
    write_pairs([Pair(a.split(".")[0], a, "medquad", b) for a, b in rotated], folder / "rerank_pairs.jsonl.xz")
    (folder / "stsb").mkdir()
    rows = [f"main-news\tfile\t2012\t{i:04d}\t{i % 6}.0\t{SENTENCES[i % 8]}\t{SENTENCES[(i * 3) % 8]}" for i in range(40)]
    (folder / "stsb" / "sts-dev.csv").write_text("\n".join(rows) + "\n")
    beir = folder / "nfcorpus_dev"
    (beir / "qrels").mkdir(parents=True)
    (beir / "corpus.jsonl").write_text("".join(json.dumps({"_id": f"d{i}", "title": "", "text": s}) + "\n" for i, s in enumerate(SENTENCES)))
    (beir / "queries.jsonl").write_text("".join(json.dumps({"_id": f"q{i}", "text": s.split(".")[0]}) + "\n" for i, s in enumerate(SENTENCES)))
    (beir / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{i}\t2\n" for i in range(8)))
    write_candidates({f"q{i}": [f"d{(i + k) % 8}" for k in range(8)] for i in range(8)}, beir / CANDIDATES_FILE)
    write_candidates({f"q{i}": ([f"d{(i + k) % 8}" for k in range(4)], [4.0, 3.0, 2.0, 1.0]) for i in range(8)}, beir / LEXICAL_FILE)
    train = folder / "scifact_train"  # a train split, its corpus gzipped, as prepare_gpu_data.py writes SciFact's claims
    (train / "qrels").mkdir(parents=True)
    with gzip.open(train / "corpus.jsonl.gz", "wt", encoding="utf-8") as corpus:
        corpus.write((beir / "corpus.jsonl").read_text())
    (train / "queries.jsonl").write_text((beir / "queries.jsonl").read_text())
    (train / "qrels" / "train.tsv").write_text((beir / "qrels" / "dev.tsv").read_text())
    (train / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq0\td1\t1\n")  # never read
    write_candidates({f"q{i}": ([f"d{(i + 1) % 8}", f"d{i}"], [2.0, 1.9]) for i in range(8)}, train / LEXICAL_FILE)


@pytest.mark.commands
def test_recipe_script_trains_evaluates_and_exports_the_best_variant_on_time(tmp_path, tiny_checkpoint):
    make_data(tmp_path / "data")
    out, work = tmp_path / "out", tmp_path / "work"
    result = subprocess.run(  # steps capped, so that a busy test machine changes nothing but the duration
        [str(ROOT / "encoder" / "training" / "gpu_finetune.sh"), str(tmp_path / "data"), str(out), str(tiny_checkpoint), "600",
         "--batch-size", "8", "--query-length", "16", "--passage-length", "24", "--static-shapes", "--log-every", "2",
         "--max-steps", "4", "--wikipedia-pairs", "60", "--device", "cpu", "--precision", "float32", "--lr", "1e-3"],
        capture_output=True, text=True, timeout=300, env={"WORK_DIR": str(work), **_python_env()},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    figures = json.loads((out / "eval.json").read_text())
    assert set(figures["variants"]) == {"A", "B", "C", "D", "soup"}
    for values in [figures["init"], *figures["variants"].values()]:
        assert set(values) >= {"stsb-dev", "nfcorpus_dev-dev", "scifact_train-train", HYBRID, HYBRID_WEIGHT}
    assert figures["selected"] == max(figures["variants"], key=lambda name: figures["variants"][name]["score"])
    assert figures["variants"]["soup"]["soup_of"] == ["A", "B", "C", "D"]  # every variant started from one checkpoint

    def sources(log: Path) -> set[str]:
        start = json.loads(log.read_text().splitlines()[0])
        assert start["static_shapes"] is True and start["query_length"] == 16 and start["passage_length"] == 24
        return {key.removeprefix("pairs_") for key in start if key.startswith("pairs_") and key != "pairs_per_s"}

    assert sources(work / "A" / "stage0" / "finetune_log.jsonl") == {"stsb", "medquad"}
    assert sources(work / "B" / "stage0" / "finetune_log.jsonl") == {"stsb", "medquad", "mined:nq"}
    assert sources(work / "C" / "stage0" / "finetune_log.jsonl") == {"wikipedia:span", "wikipedia:title"}
    assert sources(work / "C" / "stage1" / "finetune_log.jsonl") == {"stsb", "medquad", "mined:nq"}
    assert sources(work / "D" / "stage0" / "finetune_log.jsonl") == {"stsb", "medquad", "mined:nq", "wikipedia:span", "wikipedia:title"}

    files = list(out.iterdir())
    assert len(files) <= 8 and (out / "recipe.log").is_file()  # what one device call can bring back
    assert all(p.stat().st_size <= PART_BYTES for p in out.glob("model.safetensors.part*"))
    folder = assemble(out, tmp_path / "model")
    assert json.loads((folder / "config.json").read_text())["dtype"] == "float16"
    assert (folder / f"finetune_log_{figures['selected']}_stage0.jsonl").is_file()
    assert Encoder.load(folder).encode(["the pen is red"]).shape == (1, 32)


@pytest.mark.commands
def test_the_one_call_script_pretrains_then_runs_the_recipe_on_shippable_pairs_and_trains_a_reranker(tmp_path):
    make_data(tmp_path / "data")
    write_pairs([Pair("a research query", "a research passage", "sick")], tmp_path / "data" / "pairs_research.jsonl.xz")
    out, work = tmp_path / "out", tmp_path / "work"
    result = subprocess.run(
        [str(ROOT / "encoder" / "training" / "gpu_all.sh"), str(tmp_path / "data"), str(out), "3", "600", "600",
         "--workers", "1", "--vocab-size", "300", "--tokenizer-docs", "50", "--layers", "1", "--hidden", "32", "--heads", "2",
         "--max-length", "32", "--max-positions", "64", "--batch-size", "8", "--log-every", "2",
         "--", "--variants", "A", "--batch-size", "8", "--query-length", "16", "--passage-length", "24", "--static-shapes",
         "--max-steps", "3", "--device", "cpu", "--precision", "float32", "--export-variants",
         "--", "--max-steps", "2", "--batch-size", "2", "--negatives", "1", "--max-length", "32", "--device", "cpu", "--precision", "float32"],
        capture_output=True, text=True, timeout=300, env={"WORK_DIR": str(work), **_python_env()},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    parts = sorted(out.iterdir())
    assert parts and len(parts) <= 8 and all(p.name.startswith("bundle.tar.part") and p.stat().st_size <= PART_BYTES for p in parts)
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    subprocess.run(f"cat {' '.join(str(p) for p in parts)} | tar -x -C {unpacked}", shell=True, check=True)
    members = subprocess.run(f"cat {' '.join(str(p) for p in parts)} | tar -t", shell=True, check=True, capture_output=True, text=True).stdout.split()
    in_variants = [("/variants/" in member) for member in members]
    assert any(in_variants) and in_variants == sorted(in_variants)  # the extra variants last: a cut bundle loses only them

    pretrained = assemble(unpacked / "pretrained", tmp_path / "pretrained")
    weights = load_checkpoint(pretrained).weights
    assert any(key.startswith("nsp_head.") for key in weights) and any(key.startswith("mlm_head.") for key in weights)
    assert not (work / "finetune").exists() and (unpacked / "pipeline.log").is_file() and (unpacked / "recipe.log").is_file()

    figures = json.loads((unpacked / "recipe" / "eval.json").read_text())
    assert set(figures["variants"]) == {"A"}
    start = json.loads((work / "recipe" / "A" / "stage0" / "finetune_log.jsonl").read_text().splitlines()[0])
    assert {key for key in start if key.startswith("pairs_") and key != "pairs_per_s"} == {"pairs_stsb", "pairs_medquad"}  # no research pair
    tuned = Encoder.load(assemble(unpacked / "recipe", tmp_path / "tuned")).encode(["the pen is red"])
    assert tuned.shape == (1, 32)
    variant = Encoder.load(assemble(unpacked / "recipe" / "variants" / "A", tmp_path / "A")).encode(["the pen is red"])
    assert abs(float((variant @ tuned.T)[0, 0]) - 1.0) < 1e-3  # the one variant is the one selected

    reranker = unpacked / "reranker"  # from the pretrained checkpoint, judged on the dev queries' candidates in the run
    assert CrossEncoder.load(reranker).score("the pen", ["the pen is red", "a cat"]).shape == (2,)
    assert json.loads((reranker / "reranker_log.jsonl").read_text().splitlines()[0])["groups"] == 8
    assert set(json.loads((reranker / "eval.json").read_text())) >= {"first stage", "reranked top 10", "reranked top 30"}


def test_the_time_left_is_shared_by_weight_after_the_costs_ahead():
    ahead = [[Stage(weight=0.5), Stage()], [Stage()]]  # this variant's two stages, then one more variant
    costs = Costs(stage_overhead=10.0, evaluation=20.0)
    # 300 s left: 3 stage overheads (30) and 2 evaluations (40) leave 230 s for weights 0.5 + 1 + 1
    assert abs(stage_budget(300.0, ahead, 0, costs) - 230 * 0.5 / 2.5) < 1e-9
    # after the first stage: 2 overheads and 2 evaluations leave 200 s for weights 1 + 1
    assert abs(stage_budget(260.0, ahead, 1, costs) - 100.0) < 1e-9
    assert stage_budget(50.0, ahead, 1, costs) < 0  # too late: the caller stops
    # a soup to judge after the variants keeps one evaluation more: 300 - 30 - 60 leaves 210 s
    assert abs(stage_budget(300.0, ahead, 0, Costs(10.0, 20.0, extra_evaluations=1)) - 210 * 0.5 / 2.5) < 1e-9


def test_wikipedia_pairs_are_made_for_any_stage_that_selects_them_even_by_selecting_everything(tmp_path):
    make_data(tmp_path)

    def sources(variants: dict[str, list[Stage]]) -> set[str]:
        config = RecipeConfig(data_dir=str(tmp_path), init_checkpoint="", work_dir="", out_dir="", seconds=1, variants=variants, wikipedia_pairs=40)
        return {pair.source for pair in load_recipe_pairs(config)}

    labelled = {"stsb", "medquad", "mined:nq"}
    assert sources({"D": [Stage(())]}) == labelled | {"wikipedia:span", "wikipedia:title"}  # all pairs: D alone, without C
    assert sources({"W": [Stage(("wikipedia",))]}) == labelled | {"wikipedia:span", "wikipedia:title"}
    assert sources({"T": [Stage(("wikipedia:title",))]}) == labelled | {"wikipedia:span", "wikipedia:title"}
    assert sources({"A": [Stage(("!mined:", "!wikipedia"))], "M": [Stage(("mined:",))]}) == labelled  # none would use them


def test_research_only_sources_in_the_mix_are_named_and_a_missing_pairs_file_is_a_message(tmp_path, capsys, monkeypatch):
    make_data(tmp_path)
    config = RecipeConfig(data_dir=str(tmp_path), init_checkpoint="", work_dir="", out_dir="", seconds=1, variants={"A": [Stage(())]})
    load_recipe_pairs(config)
    assert "research-only sources ['mined:nq', 'stsb']" in capsys.readouterr().out  # medquad may ship; "nq" is no registered set
    monkeypatch.setattr(sys, "argv", ["recipe", "--data", str(tmp_path), "--pairs", str(tmp_path / "absent.jsonl"),
                                      "--init", "none", "--work", str(tmp_path / "w"), "--out", str(tmp_path / "o"), "--seconds", "60"])
    with pytest.raises(SystemExit, match="absent.jsonl: no such pairs file"):
        recipe_main()


def test_span_sources_add_span_pairs_of_their_passages_that_the_default_labelled_variants_leave_out(tmp_path):
    make_data(tmp_path)
    config = RecipeConfig(data_dir=str(tmp_path), init_checkpoint="", work_dir="", out_dir="", seconds=1, variants={"A": [Stage(("!mined:",))]},
                          span_sources=("medquad",), span_rounds=3)
    pairs = load_recipe_pairs(config)
    spans = [p for p in pairs if p.source == "spans:medquad:span"]
    passages = {p.positive for p in pairs if p.source == "medquad"}
    long_enough = [text for text in passages if len(text.split()) >= 8]  # two spans of at least 4 words
    assert len(spans) == 3 * len(long_enough) > 0
    for pair in spans:  # both sides are cut from one medquad passage
        assert any(pair.query in text and pair.positive in text for text in long_enough)
    assert not select_sources(spans, DEFAULT_VARIANTS["A"][0].sources) and not select_sources(spans, DEFAULT_VARIANTS["B"][0].sources)


def test_the_committed_recipes_parse():
    recipes = sorted((ROOT / "encoder" / "training" / "recipes").glob("*.json"))
    assert recipes and all(parse_recipe(str(path)) for path in recipes)


def test_recipe_json_names_stages():
    variants = parse_recipe('{"X": [{"sources": ["wikipedia"], "weight": 0.5, "lr": 2e-4}, {"sources": ["!mined:"]}]}')
    assert variants == {"X": [Stage(("wikipedia",), 0.5, 2e-4), Stage(("!mined:",), 1.0, None)]}
    assert parse_recipe('{"Y": [{"negatives": ["snli"]}]}') == {"Y": [Stage((), 1.0, None, ("snli",))]}


def test_a_stage_keeps_the_hard_negatives_of_the_sources_it_names_and_drops_the_others(tmp_path):
    pairs = [Pair("q1", "p1", "snli_dev_test_esnli", "contradiction"), Pair("q2", "p2", "medquad", "bm25 neighbour"),
             Pair("q3", "p3", "medquad")]
    config = RecipeConfig(data_dir=str(tmp_path), init_checkpoint="", work_dir="", out_dir="", seconds=1)
    kept = stage_config(config, Stage(negatives=("snli",)), pairs, {}, "init", tmp_path, 10.0).extra_pairs
    assert [pair.negative for pair in kept] == ["contradiction", None, None]
    assert [(pair.query, pair.positive, pair.source) for pair in kept] == [(p.query, p.positive, p.source) for p in pairs]
    every = stage_config(config, Stage(), pairs, {}, "init", tmp_path, 10.0).extra_pairs
    assert [pair.negative for pair in every] == ["contradiction", "bm25 neighbour", None]


REQUIRED = object()
# The recipe's flags as it declared them before its config's settings made them, with their defaults.
RECIPE_FLAGS = {
    "--data": REQUIRED, "--init": REQUIRED, "--work": REQUIRED, "--out": REQUIRED, "--seconds": REQUIRED, "--started": None,
    "--recipe": None, "--variants": None, "--pairs": [], "--retrieval-dev": None, "--retrieval-split": ["dev", "train"], "--wikipedia-pairs": 100_000,
    "--span-sources": [], "--span-rounds": 2,
    "--batch-size": 1024, "--lr": 1e-4, "--query-length": 64, "--passage-length": 128, "--eval-batch-size": 256, "--log-every": 50,
    "--max-steps": 0, "--reserve-s": 20.0, "--min-stage-s": 5.0, "--stage-overhead-s": 15.0, "--device": "auto", "--precision": "auto",
    "--seed": 0, "--compile": False, "--static-shapes": None, "--soup": True, "--export-variants": False,
}


def test_the_recipe_keeps_its_flags_and_defaults():
    parser = build_parser()
    flags = {a.option_strings[0]: REQUIRED if a.required else a.default for a in parser._actions if a.option_strings and a.dest != "help"}
    assert flags == RECIPE_FLAGS
    args = parser.parse_args(["--data", "d", "--init", "i", "--work", "w", "--out", "o", "--seconds", "60", "--pairs", "a", "b"])
    assert from_flags(DEFAULTS, args, names=FLAGS, started=0.0) == RecipeConfig("d", "i", "w", "o", 60.0, started=0.0, pairs_files=("a", "b"))


def test_the_selection_command_prints_the_dev_figures_of_any_checkpoint_and_its_score_against_a_baseline(tmp_path, tiny_checkpoint):
    make_data(tmp_path / "data")
    command = [sys.executable, "-m", "encoder.training.selection", "--data", str(tmp_path / "data")]
    result = subprocess.run([*command, str(tiny_checkpoint)], capture_output=True, text=True, timeout=120, env=_python_env())
    assert result.returncode == 0, result.stderr[-2000:]
    name, figures = result.stdout.strip().split(" ", 1)
    assert name == str(tiny_checkpoint) and set(json.loads(figures)) == {"stsb-dev", "nfcorpus_dev-dev", "scifact_train-train", HYBRID, HYBRID_WEIGHT}
    result = subprocess.run([*command, "--baseline", str(tiny_checkpoint), str(tiny_checkpoint)], capture_output=True, text=True,
                            timeout=120, env=_python_env())
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2 and "score" not in json.loads(lines[0].split(" ", 1)[1])
    assert json.loads(lines[1].split(" ", 1)[1])["score"] == pytest.approx(1.0)  # a checkpoint against itself


def test_hybrid_is_judged_at_the_best_dense_share_on_the_sets_that_carry_bm25_lists(tmp_path, tiny_checkpoint):
    make_data(tmp_path / "data")
    dev = DevSets(replace(DEFAULTS, data_dir=str(tmp_path / "data"), device="cpu", precision="float32"))
    assert set(dev.beir) == {"nfcorpus_dev-dev", "scifact_train-train"} and set(dev.lexical) == set(dev.beir)
    figures = dev.evaluate(str(tiny_checkpoint))
    dense = {name: dense_lists(Encoder.load(tiny_checkpoint, precision="float32"), beir) for name, beir in dev.beir.items()}
    by_weight = {weight: dev.hybrid(dense, weight) for weight in HYBRID_WEIGHTS}
    assert by_weight[0.0] == pytest.approx((100 + 100 / math.log2(3)) / 2)  # BM25 alone: the relevant document 1st, then 2nd
    assert figures[HYBRID] == pytest.approx(max(by_weight.values())) and by_weight[figures[HYBRID_WEIGHT]] == pytest.approx(figures[HYBRID])
    assert selection_score(figures, figures) == pytest.approx(1.0)  # the share is recorded, not scored
    assert selection_score({**figures, HYBRID_WEIGHT: 0.0}, {**figures, HYBRID_WEIGHT: 0.5}) == pytest.approx(1.0)


def test_test_queries_never_select_a_model(tmp_path):
    make_data(tmp_path / "data")
    with pytest.raises(ValueError, match="never selected on test queries"):
        DevSets(replace(DEFAULTS, data_dir=str(tmp_path / "data"), retrieval_split=("dev", "test")))
