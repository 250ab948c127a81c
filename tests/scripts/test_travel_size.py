"""travel_size counts what a device call would carry: tracked and untracked-not-ignored files, plus carried paths."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "travel_size.py"


def run(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--repo", str(repo), *args], capture_output=True, text=True, timeout=60)


def test_ignored_files_stay_behind_unless_carried_and_over_the_limit_fails(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("/data/\n")
    (tmp_path / "code.py").write_bytes(b"x" * 1000)
    subprocess.run(["git", "add", "code.py", ".gitignore"], cwd=tmp_path, check=True)
    (tmp_path / "scratch").mkdir()
    (tmp_path / "scratch" / "notes.txt").write_bytes(b"y" * 3000)  # untracked, not ignored: it travels
    (tmp_path / "data" / "part").mkdir(parents=True)
    (tmp_path / "data" / "part" / "big.bin").write_bytes(b"z" * 50_000)  # ignored: only when carried

    alone = run(tmp_path, "--limit-mib", "0.01")
    assert alone.returncode == 0 and "in 3 files: fits" in alone.stdout and "scratch" in alone.stdout
    carried = run(tmp_path, "--carry", "data", "--limit-mib", "0.01")
    assert carried.returncode == 1 and "in 4 files: OVER the limit" in carried.stdout
    assert carried.stdout.splitlines()[0].endswith("data/part")  # the biggest folder first
    missing = run(tmp_path, "--carry", "nowhere")
    assert missing.returncode == 1 and "nowhere: carried path does not exist" in missing.stderr
