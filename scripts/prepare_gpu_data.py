"""Build the data folder that travels with the checkout to the GPU machine (git-ignored `gpu_data/`).

    .venv/bin/python scripts/prepare_gpu_data.py [--wikipedia-files 3] [--out gpu_data]

Wikipedia stays xz-compressed (denser than token ids: about 0.8M word pieces per MiB); the labelled
pair sets are reduced here to their training pairs, minus anything that is an evaluation pair, in one
small compressed file; STS-B dev comes along for the run's closing evaluation. Prints the sizes, which
must leave the repository and this folder under the 64 MiB that travels.
"""

import argparse
import shutil
from pathlib import Path

from encoder.finetune import DEFAULT_SOURCES, FinetuneConfig, gather_pairs
from encoder.pairs import write_pairs
from encoder.pipeline import PAIRS_FILE

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared-data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "gpu_data")
    parser.add_argument("--wikipedia-files", type=int, default=3, help="how many enwiki2014_*.txt.xz files to carry")
    args = parser.parse_args()

    wiki = args.out / "wikipedia"
    wiki.mkdir(parents=True, exist_ok=True)
    for source in sorted((args.shared_data / "wikipedia_en_2014").glob("*.xz"))[: args.wikipedia_files]:
        shutil.copyfile(source, wiki / source.name)
    (args.out / "stsb").mkdir(exist_ok=True)
    shutil.copyfile(args.shared_data / "stsb" / "sts-dev.csv", args.out / "stsb" / "sts-dev.csv")
    pairs, dropped = gather_pairs(FinetuneConfig(init_checkpoint="", output_dir="", data_dir=str(args.shared_data), sources=DEFAULT_SOURCES))
    count = write_pairs(pairs, args.out / PAIRS_FILE)
    total = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(f"{args.out}: {count} pairs ({dropped} dropped as evaluation pairs), {total / 2**20:.1f} MiB in all")


if __name__ == "__main__":
    main()
