"""The GPU script, end to end on the CPU at toy size: data folder in, exported parts out, reassembled."""

import json
import lzma
import subprocess
from pathlib import Path

from samples import SENTENCES
from encoder import Encoder
from encoder.pairs import Pair, write_pairs
from encoder.pipeline import PART_BYTES, SMALL_FILES_ARCHIVE, assemble

ROOT = Path(__file__).resolve().parents[2]


def make_data(folder: Path) -> None:
    (folder / "wikipedia").mkdir(parents=True)
    with lzma.open(folder / "wikipedia" / "wiki.txt.xz", "wt", encoding="utf-8") as handle:
        for i in range(120):
            paragraph = " ".join(SENTENCES[i % 8:] + SENTENCES[: i % 8])
            handle.write(f'<doc id="{i}" url="u" title="Title {i}">\nTitle {i}\n\n{paragraph}\n{paragraph}\n</doc>\n')
    pairs = [Pair(a, b, "toy") for a, b in zip(SENTENCES, SENTENCES[1:] + SENTENCES[:1])] * 4
    write_pairs([Pair(p.query + f" {i}", p.positive, p.source) for i, p in enumerate(pairs)], folder / "pairs.jsonl.xz")
    (folder / "stsb").mkdir()
    rows = [f"main-news\tfile\t2012\t{i:04d}\t{i % 6}.0\t{SENTENCES[i % 8]}\t{SENTENCES[(i * 3) % 8]}" for i in range(40)]
    (folder / "stsb" / "sts-dev.csv").write_text("\n".join(rows) + "\n")


def test_gpu_script_runs_end_to_end_on_the_cpu(tmp_path):
    make_data(tmp_path / "data")
    out = tmp_path / "out"
    result = subprocess.run(
        [str(ROOT / "encoder" / "gpu_run.sh"), str(tmp_path / "data"), str(out), "3", "3",
         "--workers", "2", "--vocab-size", "300", "--tokenizer-docs", "50", "--layers", "1", "--hidden", "32", "--heads", "2",
         "--max-length", "32", "--max-positions", "64", "--batch-size", "8", "--finetune-batch-size", "8",
         "--wikipedia-pairs", "40", "--log-every", "2"],
        capture_output=True, text=True, timeout=300, env={"WORK_DIR": str(tmp_path / "work"), "PATH": "/usr/bin:/bin", **_python_env()},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "STS-B dev Spearman" in result.stdout and "prepared" in result.stdout
    parts = sorted(out.glob("model.safetensors.part*"))
    assert parts and all(p.stat().st_size <= PART_BYTES for p in parts)
    assert (out / SMALL_FILES_ARCHIVE).is_file() and (out / "pipeline.log").is_file()
    assert len(list(out.iterdir())) <= 8  # what one device call can bring back

    folder = assemble(out, tmp_path / "model")
    assert json.loads((folder / "config.json").read_text())["dtype"] == "float16"
    assert (folder / "train_log.jsonl").is_file() and "spearman" in (folder / "eval.json").read_text()
    vectors = Encoder.load(folder).encode(["the pen is red"])
    assert vectors.shape == (1, 32)


def _python_env() -> dict:
    """The test's own interpreter first on PATH, as `python3` is on the GPU machine."""
    import os
    import sys

    bin_dir = Path(sys.executable).parent
    shim = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    return {**{k: v for k, v in os.environ.items() if k not in ("PATH",)}, **shim}
