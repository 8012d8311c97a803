"""`yamlnet validate --static` over many files (issue 14): specs per second for the bundled specs and for a
directory of 1,000 specs (copies of the bundled ones, each with a last line of its own, each file read and checked
on its own), one process (`-j 1`) against the default (a process pool of the CPU count; --static: from 64 files), in
the same run, alternating.
The machine may be shared: the serial/pool ratio and the CPU time per spec are what carry over.
Run: python benchmarks/bench_validate_static.py [--files 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its children)."""
    before = os.times()
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "yamlnet", "validate", "--static", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = os.times()
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--files", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    bundled = sorted((ROOT / "specs").glob("*.yaml"))
    with tempfile.TemporaryDirectory() as tmp:
        many = Path(tmp) / "specs"
        many.mkdir()
        for i in range(a.files):
            src = bundled[i % len(bundled)]
            # each copy differs from every other (its own last line): nothing can be answered from an earlier file
            (many / f"{i:05d}-{src.name}").write_text(src.read_text() + f"\n# copy {i} of {src.name}\n")
        cases = {"bundled": (str(ROOT / "specs"), len(bundled)), f"{a.files} files": (str(many), a.files)}
        print(f"validate --static, best and median of {a.repeats} (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
        for name, (folder, n) in cases.items():
            res: dict[str, list[tuple[float, float]]] = {"-j 1": [], "pool": []}
            for _ in range(a.repeats):
                res["-j 1"].append(_run([folder, "-j", "1"], env))
                res["pool"].append(_run([folder], env))
            for mode, runs in res.items():
                walls = [w for w, _ in runs]
                cpu = statistics.median(c for _, c in runs) / n * 1000
                best, med = n / min(walls), n / statistics.median(walls)
                print(f"  {name:11s} {mode:5s} {best:7.1f} specs/s best, {med:7.1f} median; {cpu:.2f} ms CPU per spec")
            ratio = statistics.median(w for w, _ in res["-j 1"]) / statistics.median(w for w, _ in res["pool"])
            print(f"  {name:11s} pool / serial speed-up {ratio:.2f}x")


if __name__ == "__main__":
    main()
