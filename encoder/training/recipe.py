"""Several fine-tuning variants from one checkpoint, each evaluated in the run, the best one exported:
an ablation and a model selection inside one GPU lease.

    python3 -m encoder.training.recipe --data gpu_data --init gpu_init --work /tmp/w --out $OUT --seconds 480

A variant is a list of stages; a stage is a `FinetuneConfig` with its own share of the time, learning
rate and pairs, chosen by source prefix (`FinetuneConfig.source_prefixes`). The default variants:
  A  the labelled pairs, old and new (everything but mined and Wikipedia pairs)
  B  A plus the BM25-mined pairs ("mined:*")
  C  a stage on the Wikipedia pairs (the pairs file's, plus `wikipedia_pairs.wikipedia_span_pairs` from
     DATA/wikipedia/ when present), then B
  D  every pair in one stage: C's control (the same data mixed, not staged)
Every variant starts from the same checkpoint, so the mean of their weights (`soup`) is judged too.
With `--span-sources medquad …`, span pairs cut from those sets' passages ("spans:medquad:span") are there
to select too: a contrastive stage on text of the labelled pairs' domain, as `adapt` runs on a collection.
`--recipe` replaces them with JSON: {"name": [{"sources": ["!mined:"], "weight": 1, "lr": 1e-4, "negatives": ["snli"]}, ...]}.

The clock is the whole process's: the time left is shared out again before every stage, after what the
stages and evaluations so far really cost, so the run ends on time whatever start-up, tokenisation and
evaluation take on the day. Every variant (and the starting checkpoint) is measured on development
sets only: STS-B dev and a BEIR folder's dev split (NFCorpus dev); test sets are for afterwards, on the
CPU (`selection`). `eval.json` holds every figure; the best variant's checkpoint is exported
(`transfer.export`), and with `--export-variants` every variant's too, for an ablation on test sets.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
import torch._dynamo  # noqa: F401  torch.optim imports it on first use (4 s on a CPU): here, it is start-up, not a stage's cost

from ..flags import add_flags, from_flags, setting
from ..precision import PRECISIONS
from .corpus import read_corpus
from .finetune import FinetuneConfig, finetune
from .pair_selection import select_sources, source_named
from .pair_sets import licence_of
from .pair_tensors import TokenCache
from .pairs import Pair, read_pairs
from .pipeline import log
from .selection import DevSets, publish
from .soup import average_checkpoints
from .transfer import export
from .wikipedia_pairs import QUERY_LIKE_SPAN_WORDS, passage_span_pairs, wikipedia_span_pairs

SOUP = "soup"  # the name the mean of the variants is judged and exported under
REQUIRED = ("data_dir", "init_checkpoint", "work_dir", "out_dir", "seconds")
# The settings made flags: all but the clock's start and the variants, which have flags of their own.
FLAGS = (*REQUIRED, "pairs_files", "retrieval_dev", "retrieval_split", "wikipedia_pairs", "span_sources", "span_rounds",
         "batch_size", "lr", "query_length", "passage_length", "eval_batch_size", "log_every", "max_steps", "reserve_s",
         "min_stage_s", "stage_overhead_s", "device", "precision", "seed", "compile", "static_shapes", "soup", "export_variants")


@dataclass
class Stage:
    """One fine-tuning stage of a variant: which pairs (source prefixes, "!" to exclude), its share of
    the variant's training time, its peak learning rate (None: the recipe's), and whose hard negatives
    it keeps (source prefixes again; None: every pair's). A negative that BM25 found among a QA set's
    own passages is often on the query's topic, which a topical collection would call relevant: an
    ablation keeps the NLI contradictions and drops those (`"negatives": ["snli"]`)."""

    sources: tuple[str, ...] = ()
    weight: float = 1.0
    lr: float | None = None
    negatives: tuple[str, ...] | None = None


DEFAULT_VARIANTS: dict[str, list[Stage]] = {
    "A": [Stage(("!mined:", "!wikipedia", "!spans:"))],
    "B": [Stage(("!wikipedia", "!spans:"))],
    "C": [Stage(("wikipedia",), weight=0.5, lr=2e-4), Stage(("!wikipedia", "!spans:"))],
    "D": [Stage(())],
}


@dataclass
class RecipeConfig:
    """The whole run: where things are, the variants, the clock, and what every stage shares; the
    command's flags come from here."""

    data_dir: str = setting(help="folder with the pairs files, stsb/sts-dev.csv, a BEIR dev folder, [wikipedia/]", flag="--data")
    init_checkpoint: str = setting(help="checkpoint folder every variant starts from", flag="--init")
    work_dir: str = setting(help="scratch folder (full-precision checkpoints, logs)", flag="--work")
    out_dir: str = setting(help="folder for eval.json and the exported best checkpoint", flag="--out")
    seconds: float = setting(help="the whole run, start-up to export")
    started: float = field(default_factory=time.time)  # epoch seconds the clock started (the shell's, when given)
    variants: dict[str, list[Stage]] = field(default_factory=lambda: dict(DEFAULT_VARIANTS))
    pairs_files: tuple[str, ...] = setting((), "pairs files (default: DATA/*pairs*.jsonl[.xz])", flag="--pairs")
    retrieval_dev: str | None = setting(None, "a BEIR folder (default: every folder in DATA with a corpus.jsonl)")
    retrieval_split: tuple[str, ...] = setting(("dev", "train"), "the splits that select the model: a BEIR folder's first one present (never test)")
    wikipedia_pairs: int = setting(100_000, 'span/title pairs from DATA/wikipedia/*, for stages that select "wikipedia"')
    span_sources: tuple[str, ...] = setting((), 'pair sources whose passages also give unlabelled span pairs ("spans:<source>:span"), e.g. medquad')
    span_rounds: int = setting(2, "span pairs cut from each such passage")
    batch_size: int = setting(1024, "pairs per step")
    lr: float = setting(1e-4, "peak learning rate of a stage that names none")
    query_length: int = setting(64, "tokens per query while training")
    passage_length: int = setting(128, "tokens per passage while training (the init checkpoint's positions past its pretraining are untrained)")
    compile: bool = setting(False, "torch.compile the model")
    static_shapes: bool | None = setting(None, "fixed batch widths (default: on CUDA only)")
    eval_batch_size: int = setting(256, "texts per batch when evaluating")
    log_every: int = setting(50, "steps between log lines")
    max_steps: int = setting(0, "a cap on each stage's steps besides its time (0: none); for rehearsals")
    reserve_s: float = setting(20.0, "seconds kept for the export and the closing lines")
    min_stage_s: float = setting(5.0, "a stage given less is not started")
    stage_overhead_s: float = setting(15.0, "first guess of a stage's loading, tokenising and saving (then measured)")
    device: str = setting("auto", "cpu, cuda, cuda:N, or auto (CUDA when there is one)")
    precision: str = setting("auto", "number format of the matrix products", choices=PRECISIONS)
    seed: int = setting(0, "seed of the pair order and of the Wikipedia pairs")
    soup: bool = setting(True, "also judge the mean of the finished variants' weights (a uniform model soup), which the selection may pick")
    export_variants: bool = setting(False, "also export every variant to OUT/variants/NAME, so that an ablation's test figures can be measured afterwards")

    def remaining(self) -> float:
        return self.started + self.seconds - self.reserve_s - time.time()


DEFAULTS = RecipeConfig(data_dir="", init_checkpoint="", work_dir="", out_dir="", seconds=0)  # the REQUIRED ones are placeholders


@dataclass
class Costs:
    """What the fixed parts of a stage and an evaluation cost so far (seconds), to plan the rest."""

    stage_overhead: float  # loading, tokenising, saving: a stage's wall time beyond its budget
    evaluation: float = 0.0  # evaluating a variant and exporting it when it is the best so far
    extra_evaluations: int = 0  # candidates judged after the variants (the soup)


def run_recipe(config: RecipeConfig) -> dict:
    """Train every variant that the clock allows, evaluate each, export the best; returns eval.json's content."""
    work, out = Path(config.work_dir), Path(config.out_dir)
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    pairs = load_recipe_pairs(config)
    variants = {name: stages for name, stages in config.variants.items()
                if all(len(select_sources(pairs, s.sources)) >= config.batch_size for s in stages)}
    for name in config.variants.keys() - variants.keys():
        log(f"variant {name} skipped: one of its stages selects fewer pairs than a batch of {config.batch_size}")
    dev = DevSets(config)
    started = time.time()
    results: dict = {"init": dev.evaluate(config.init_checkpoint), "variants": {}}
    costs = Costs(config.stage_overhead_s, evaluation=time.time() - started, extra_evaluations=int(config.soup))
    log(f"init: {results['init']}")
    names = list(variants)
    cache: TokenCache = {}  # every text tokenised once in the whole run, whichever stage needs it first
    exported = None

    def judge(name: str, checkpoint: str, made: dict) -> None:
        """Evaluate one candidate on the dev sets, export it if it leads, and learn what that cost."""
        nonlocal exported
        started = time.time()
        results["variants"][name] = {**dev.evaluate(checkpoint), "checkpoint": checkpoint, **made}
        log(f"variant {name}: {results['variants'][name]}")
        exported = publish(config, results, exported)
        if config.export_variants:
            export(Path(checkpoint), [], out / "variants" / name)
        costs.evaluation = time.time() - started

    for index, name in enumerate(names):
        checkpoint = train_variant(config, name, [variants[n] for n in names[index:]], pairs, cache, costs)
        if checkpoint is None:
            break
        judge(name, checkpoint, {"stages": [vars(s) for s in variants[name]]})
    finished = [name for name in names if name in results["variants"]]
    if config.soup and len(finished) > 1:
        if config.remaining() + config.reserve_s > costs.evaluation:  # the plan kept one evaluation for it
            soup = average_checkpoints([results["variants"][name]["checkpoint"] for name in finished], work / SOUP)
            judge(SOUP, str(soup), {"soup_of": finished})
        else:
            log(f"no time left to evaluate the soup of {finished}")
    if exported is None:
        publish(config, results, exported)
        log("no variant finished: nothing exported")
    log(f"selected {exported}; whole run {time.time() - config.started:.0f}s")
    return results


def train_variant(config: RecipeConfig, name: str, ahead: list[list[Stage]], pairs: list[Pair], cache: TokenCache, costs: Costs) -> str | None:
    """Run the stages of `ahead[0]`, each given its weight's share of the training time left for all the
    stages ahead; returns the last checkpoint, or None when the time left is too short for a stage."""
    checkpoint, stages = config.init_checkpoint, ahead[0]
    for number, stage in enumerate(stages):
        budget = stage_budget(config.remaining(), ahead, number, costs)
        if budget < config.min_stage_s:
            log(f"variant {name} stage {number}: {budget:.0f}s left for it, too little; no more variants")
            return None
        started = time.time()
        output = Path(config.work_dir) / name / f"stage{number}"
        checkpoint = str(finetune(stage_config(config, stage, pairs, cache, checkpoint, output, budget),
                                  show_progress=False))
        wall = time.time() - started
        costs.stage_overhead = max(0.0, wall - budget)
        log(f"variant {name} stage {number} ({','.join(stage.sources) or 'all pairs'}): {budget:.0f}s budget, {wall:.0f}s wall")
    return checkpoint


def stage_budget(remaining: float, ahead: list[list[Stage]], number: int, costs: Costs) -> float:
    """Training seconds for stage `number` of `ahead[0]`: its weight's share of what is left once every
    stage ahead has had its overhead and every variant ahead its evaluation."""
    stages = ahead[0]
    stages_left = sum(len(v) for v in ahead) - number
    weights_left = sum(s.weight for s in stages[number:]) + sum(s.weight for v in ahead[1:] for s in v)
    training_left = remaining - stages_left * costs.stage_overhead - (len(ahead) + costs.extra_evaluations) * costs.evaluation
    return training_left * stages[number].weight / weights_left


def stage_config(config: RecipeConfig, stage: Stage, pairs: list[Pair], cache: TokenCache, init: str, output: Path, budget: float) -> FinetuneConfig:
    """The FinetuneConfig of one stage: the recipe's pairs, already in memory, filtered by the stage's
    sources, the hard negatives of the sources it does not keep them for dropped."""
    if stage.negatives is not None:
        pairs = [pair if pair.negative is None or source_named(pair.source, stage.negatives) else replace(pair, negative=None)
                 for pair in pairs]
    return FinetuneConfig(
        init_checkpoint=init, output_dir=str(output), data_dir=config.data_dir, sources=(), extra_pairs=pairs,
        source_prefixes=stage.sources, time_budget_s=budget, batch_size=config.batch_size, lr=stage.lr or config.lr,
        query_length=config.query_length, max_length=config.passage_length, compile=config.compile,
        static_shapes=config.static_shapes, log_every=config.log_every, token_cache=cache, max_steps=config.max_steps or None,
        device=config.device, precision=config.precision, seed=config.seed)


def load_recipe_pairs(config: RecipeConfig) -> list[Pair]:
    """Every pair the variants may select: the pairs files, plus Wikipedia span pairs when a stage wants them,
    plus span pairs cut from the passages of `span_sources`."""
    data = Path(config.data_dir)
    files = [Path(f) for f in config.pairs_files] or sorted(f for f in data.glob("*pairs*.jsonl*") if f.is_file())
    if not files:
        raise FileNotFoundError(f"{data}: no *pairs*.jsonl[.xz] file")
    pairs = [pair for path in files for pair in read_pairs(path)]
    wikipedia = sorted((data / "wikipedia").glob("*")) if (data / "wikipedia").is_dir() else []
    # Wanted by any stage that would select one of them: by name, by "wikipedia", or by selecting all pairs ("D").
    probes = [Pair("", "", "wikipedia:span"), Pair("", "", "wikipedia:title")]
    wanted = any(select_sources(probes, s.sources) for v in config.variants.values() for s in v)
    if wikipedia and wanted and config.wikipedia_pairs:
        pairs += wikipedia_span_pairs(read_corpus(wikipedia), config.wikipedia_pairs, config.seed)
    pairs += passage_span_pairs(pairs, config.span_sources, config.span_rounds, config.seed, QUERY_LIKE_SPAN_WORDS)
    counts = Counter(p.source for p in pairs)
    log(f"{len(pairs)} pairs from {[f.name for f in files]} and {len(wikipedia)} Wikipedia files: {dict(sorted(counts.items()))}")
    research_only = sorted(source for source in counts if not licence_of(source)[1])
    if research_only:
        log(f"warning: research-only sources {research_only}: a model trained on them may not be shipped")
    return pairs


def parse_recipe(text: str) -> dict[str, list[Stage]]:
    """Variants from JSON text or a JSON file: {"name": [{"sources": [...], "weight": 1, "lr": 1e-4, "negatives": [...]}]}."""
    raw = json.loads(Path(text).read_text() if os.path.isfile(text) else text)
    return {name: [Stage(tuple(s.get("sources", ())), float(s.get("weight", 1.0)), s.get("lr"),
                         None if s.get("negatives") is None else tuple(s["negatives"])) for s in stages]
            for name, stages in raw.items()}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python3 -m encoder.training.recipe", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--started", type=float, default=None, help="epoch seconds the clock started (default: now)")
    parser.add_argument("--recipe", type=parse_recipe, default=None, help="variants as JSON text or a JSON file")
    parser.add_argument("--variants", nargs="*", default=None, help="run only these of the variants, in this order")
    add_flags(parser, DEFAULTS, names=FLAGS, required=REQUIRED)
    return parser


def main() -> None:
    args = build_parser().parse_args()
    variants = args.recipe or dict(DEFAULT_VARIANTS)
    if args.variants:
        unknown = [v for v in args.variants if v not in variants]
        if unknown:
            raise SystemExit(f"unknown variant(s) {unknown}; known: {list(variants)}")
        variants = {name: variants[name] for name in args.variants}
    config = from_flags(DEFAULTS, args, names=FLAGS, started=args.started or time.time(), variants=variants)
    log(f"torch {torch.__version__}, cuda {torch.cuda.is_available()}, {os.cpu_count()} cpus; variants {list(variants)}; "
        f"{config.remaining():.0f}s left for training and evaluation")
    try:
        run_recipe(config)
    except FileNotFoundError as error:  # an input the user named (pairs, data, init checkpoint) is not there
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    main()
