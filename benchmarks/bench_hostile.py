"""How long yamlnet takes to refuse each hostile input of tests/spec/test_hostile.py (validate, then build), against a
limit (default 20 s per case): a refusal must never hang. The tests assert the refusals, this measures the time,
which depends on the machine. Exit 1 when a case exceeds the limit.
Run: python benchmarks/bench_hostile.py [--limit 20] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "spec"))

from test_hostile import CASES, Hostile  # noqa: E402

import yamlnet  # noqa: E402


def refuse_once(case: Hostile) -> float:
    with tempfile.TemporaryDirectory() as d:
        path = case.make(Path(d))
        t = time.perf_counter()
        report = yamlnet.validate(path, static=case.static)
        try:
            yamlnet.build(path)
        except yamlnet.SpecError:
            pass
        else:
            raise AssertionError(f"{case.name}: build accepted a hostile spec")
        dt = time.perf_counter() - t
        assert not report.ok, case.name
        return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=float, default=20.0, help="seconds allowed per case (validate + build)")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    slow = []
    for case in CASES:
        if case.kind == "fifo" and not hasattr(__import__("os"), "mkfifo"):
            continue
        times = [refuse_once(case) for _ in range(a.repeats)]
        worst = max(times)
        flag = "" if worst < a.limit else f"  OVER {a.limit:.0f} s"
        print(f"{case.name:24s} min {min(times):7.3f} s  median {statistics.median(times):7.3f} s  max {worst:7.3f} s{flag}")
        if worst >= a.limit:
            slow.append(case.name)
    print(f"{len(CASES)} cases, limit {a.limit:.0f} s per case: " + (f"over the limit: {', '.join(slow)}" if slow else "all within"))
    sys.exit(1 if slow else 0)


if __name__ == "__main__":
    main()
