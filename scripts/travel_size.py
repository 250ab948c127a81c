"""What a device call would carry, against its 64 MiB limit: the checkout's files that travel (tracked
ones still present, and untracked ones git does not ignore) plus the ignored paths named in `carry`.

    python scripts/travel_size.py --carry gpu_data [--limit-mib 64] [--repo .]

A call over the limit is refused, and device time is scarce, so check here first. Prints the total and
the biggest folders two levels down (a scratch folder left in the checkout shows up at once) and exits 1
when over the limit.
"""

import argparse
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIB = 2**20


def travelling_files(repo: Path, carry: list[str]) -> dict[Path, int]:
    """Each file that would travel, relative to the repo, with its size in bytes."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo, check=True,
                            capture_output=True).stdout.decode().split("\0")
    files = {Path(name) for name in listed if name and (repo / name).is_file()}
    for path in carry:
        root = repo / path
        if not root.exists():
            raise SystemExit(f"error: {root}: carried path does not exist")
        files |= {p.relative_to(repo) for p in ([root] if root.is_file() else root.rglob("*")) if p.is_file()}
    return {path: (repo / path).stat().st_size for path in files}


def folder_of(path: Path) -> str:
    return str(Path(*path.parts[:2])) if len(path.parts) > 2 else str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--carry", nargs="*", default=[], help="ignored paths the call names in carry")
    parser.add_argument("--limit-mib", type=float, default=64.0)
    parser.add_argument("--repo", type=Path, default=ROOT)
    parser.add_argument("--top", type=int, default=8, help="folders listed")
    args = parser.parse_args()
    sizes = travelling_files(args.repo, args.carry)
    by_folder = Counter()
    for path, size in sizes.items():
        by_folder[folder_of(path)] += size
    total = sum(sizes.values())
    for folder, size in by_folder.most_common(args.top):
        print(f"{size / MIB:8.1f} MiB  {folder}")
    verdict = "fits" if total <= args.limit_mib * MIB else "OVER the limit"
    print(f"{total / MIB:8.1f} MiB  in {len(sizes)} files: {verdict} ({args.limit_mib:g} MiB)")
    sys.exit(0 if total <= args.limit_mib * MIB else 1)


if __name__ == "__main__":
    main()
