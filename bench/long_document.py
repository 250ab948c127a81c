"""Peak memory of `manage.py index` on one very long document (issue 10: a 50 MB document once took
7.0 GB and more than 8.5 minutes).

Writes one JSONL document of --mb megabytes (SciFact abstracts, one paragraph each, repeated), then
runs `manage.py index` on it under `/usr/bin/time -v` with each checkout given (this one by default;
`--before DIR` adds an older one, e.g. `git archive fa7c89f | tar -x -C /tmp/before`), and prints
peak RSS, wall time and passages. `--max-chars` is passed to checkouts that have it.

The model is the shipped one's tokenizer and max length (so the passages are the same as with the
shipped model) in a 1-layer, 32-wide random BERT, so that the run measures reading, chunking,
tokenising and storing rather than 50,000 passages of BERT on a CPU; `--model DIR` uses a real one.

    .venv/bin/python bench/long_document.py [--mb 50] [--before /tmp/before] [--model models/default]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from encoder import BertConfig, BertModel, TextTokenizer, save_checkpoint  # noqa: E402
from encoder.paths import DEFAULT_MODEL  # noqa: E402

SCIFACT = ROOT.parent / "shared" / "data" / "scifact" / "corpus.jsonl"
SHIPPED = DEFAULT_MODEL


def write_document(path: Path, megabytes: int) -> int:
    """One JSONL line whose text has `megabytes` million characters; returns that count."""
    abstracts = [json.loads(line)["text"] for line in SCIFACT.open(encoding="utf-8")]
    target, parts, size = megabytes * 1_000_000, [], 0
    while size < target:
        for abstract in abstracts:
            parts.append(abstract)
            size += len(abstract) + 2
            if size >= target:
                break
    text = "\n\n".join(parts)
    path.write_text(json.dumps({"id": "long", "title": "One long document", "text": text}, ensure_ascii=False) + "\n")
    return len(text)


def tiny_model(folder: Path) -> Path:
    tokenizer = TextTokenizer.from_file(SHIPPED / "tokenizer.json", max_length=256)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_layers=1, num_heads=2,
                        intermediate_size=64, max_position_embeddings=256)
    return save_checkpoint(folder / "tiny", BertModel(config), tokenizer, max_length=256)


def run(code: Path, instance: Path, source: Path, model: Path, chars: int) -> dict:
    manage = code / "manage.py"
    command = [sys.executable, str(manage), "--instance", str(instance), "index", str(source), "--model", str(model), "--quiet"]
    if "--max-chars" in manage.read_text():
        command += ["--max-chars", str(chars)]
    result = subprocess.run(["/usr/bin/time", "-v", *command], cwd=code, capture_output=True, text=True)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", result.stderr).group(1)
    summary = result.stdout.strip().splitlines()[-1] if result.returncode == 0 else result.stderr.strip().splitlines()[-1]
    return {"code": str(code), "peak_rss_mib": rss / 1024, "wall": wall, "status": result.returncode, "summary": summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=50, help="millions of characters in the document")
    parser.add_argument("--before", type=Path, help="an older checkout to measure first")
    parser.add_argument("--model", type=Path, help="a real checkpoint (default: the tiny one described above)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        source = folder / "long.jsonl"
        chars = write_document(source, args.mb)
        model = (args.model or tiny_model(folder)).resolve()
        print(f"one document of {chars:,} characters ({source.stat().st_size / 1e6:.1f} MB), model {args.model or 'tiny, shipped tokenizer'}")
        print("| code | peak RSS MiB | wall | exit | summary |\n|---|---|---|---|---|")
        for number, code in enumerate(path for path in (args.before, ROOT) if path):
            row = run(code.resolve(), folder / f"instance{number}", source, model, chars)
            print(f"| {row['code']} | {row['peak_rss_mib']:,.0f} | {row['wall']} | {row['status']} | {row['summary']} |", flush=True)


if __name__ == "__main__":
    main()
