"""`manage.py adapt` measured as an operator runs it: dense nDCG@10 through the search service on a BEIR
collection before and after adapting an instance to it.

    .venv/bin/python bench/adapt.py ../shared/data/nfcorpus/beir_test --work /tmp/adapt --tag lr1e-3 -- --budget 1200 --lr 1e-3
    .venv/bin/python bench/adapt.py nfcorpus-dev --split dev --work /tmp/adapt --tag lr1e-3 -- --budget 360 --lr 1e-3

The unadapted instance is indexed once with the shipped model into WORK/base-<collection> and kept; each
run copies it to WORK/<tag>-<collection>, runs `manage.py --instance THAT adapt --quiet ARGS` (timed
whole: tokenising, training, re-encoding every passage, the switch) and measures it again. With
`--elsewhere` the training takes the road of a run on another machine instead, each step timed:
`adapt --export [--passages]`, `python3 -m encoder.training adapt --data … --parts … ARGS` here, `adapt --from`. The name
`nfcorpus-dev` stands for NFCorpus's dev split as a BEIR folder (written into WORK from
`../shared/data/nfcorpus/original` by scripts/prepare_gpu_data.py's `write_nfcorpus_dev`): adaptation's
settings are chosen on it, and the test collections are measured with the chosen ones once.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from encoder.paths import DEFAULT_MODEL  # noqa: E402
from encoder.training import DEFAULT_DATA_DIR  # noqa: E402
from indexer.adaptation import read_record  # noqa: E402
from indexer.evaluation import evaluate_beir  # noqa: E402
from prepare_gpu_data import write_nfcorpus_dev  # noqa: E402  (scripts/prepare_gpu_data.py)

NFCORPUS_DEV = "nfcorpus-dev"


def dense(folder: Path, instance: Path, split: str) -> dict[str, float]:
    """Dense mode's figures for the instance (indexed from `folder` first if it is new), with its own model."""
    return evaluate_beir(folder, DEFAULT_MODEL, modes=("dense",), work=instance, split=split)["dense"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("collection", help=f"a BEIR folder, or {NFCORPUS_DEV}")
    parser.add_argument("--split", default="test", help="the judged queries to measure (qrels/SPLIT.tsv)")
    parser.add_argument("--work", type=Path, required=True, help="keeps the unadapted instance and each adapted one")
    parser.add_argument("--tag", required=True, help="names this run's instance")
    parser.add_argument("--elsewhere", action="store_true", help="export, train with the encoder-only command, take the model back")
    parser.add_argument("--passages", action="store_true", help="with --elsewhere: the passages are encoded there too (adapt --export --passages)")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args, adapt_args = parser.parse_args(argv[:cut]), argv[cut + 1:]  # after --: `manage.py adapt`'s flags

    if args.collection == NFCORPUS_DEV:
        folder = args.work / NFCORPUS_DEV
        if not (folder / "corpus.jsonl").exists():
            write_nfcorpus_dev(DEFAULT_DATA_DIR / "nfcorpus" / "original", folder)
    else:
        folder = Path(args.collection).resolve()
    name = folder.name if folder.name != "beir_test" else folder.parent.name
    base = args.work / f"base-{name}"
    before = dense(folder, base, args.split)
    adapted = args.work / f"{args.tag}-{name}"
    shutil.rmtree(adapted, ignore_errors=True)
    shutil.copytree(base, adapted)
    manage = [sys.executable, str(ROOT / "manage.py"), "--instance", str(adapted), "adapt", "--quiet"]
    steps_s = {}
    started = time.perf_counter()
    if args.elsewhere:
        moved = {part: args.work / f"{args.tag}-{name}-{part}" for part in ("export", "run", "parts")}
        for folder_path in moved.values():
            shutil.rmtree(folder_path, ignore_errors=True)
        commands = {"export": [*manage, "--export", str(moved["export"]), *(["--passages"] if args.passages else [])],
                    "train": [sys.executable, "-m", "encoder.training", "adapt", "--data", str(moved["export"]), "--out", str(moved["run"]),
                              "--parts", str(moved["parts"]), "--quiet", *adapt_args],
                    "take_and_encode": [*manage, "--from", str(moved["parts"])]}
        for step, command in commands.items():
            step_started = time.perf_counter()
            subprocess.run(command, check=True, cwd=ROOT)
            steps_s[step] = round(time.perf_counter() - step_started, 1)
        steps_s["export_mib"] = round(sum(f.stat().st_size for f in moved["export"].rglob("*") if f.is_file()) / 2**20, 1)
    else:
        subprocess.run([*manage, *adapt_args], check=True)
    whole_s = time.perf_counter() - started
    after = dense(folder, adapted, args.split)
    record = read_record(Path(after["model"]))
    row = {"collection": name, "split": args.split, "adapt": " ".join(adapt_args), "before": before["ndcg@10"], "after": after["ndcg@10"],
           "recall@100": [before["recall@100"], after["recall@100"]], "mrr@10": [before["mrr@10"], after["mrr@10"]],
           "steps": record["steps"], "train_s": record["seconds"], "whole_adapt_s": round(whole_s), **steps_s}
    print(json.dumps(row))
    print(f"| {name} {args.split} | `{row['adapt']}` | {before['ndcg@10']:.2f} | {after['ndcg@10']:.2f} "
          f"({after['ndcg@10'] - before['ndcg@10']:+.2f}) | {after['recall@100']:.2f} | {after['mrr@10']:.2f} | {record['steps']} | {whole_s:.0f} s |")


if __name__ == "__main__":
    main()
