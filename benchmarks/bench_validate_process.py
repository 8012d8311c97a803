"""Full validation as a whole process (issue 14): `yamlnet validate specs/yolo11.yaml --scale n` and
`yamlnet validate specs/yolov5s.yaml` (not --static: the shape facts at 640 too), next to `python -c "import torch"`
and `python -c pass` in the same run, interleaved, median of N. With every row's shapes and parameter count
declared, validation imports no torch, so it should cost a fraction of the torch import.
Run: python benchmarks/bench_validate_process.py [--repeats 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    'python -c "import torch"': [sys.executable, "-c", "import torch"],
    "yamlnet validate yolo11.yaml --scale n": [sys.executable, "-m", "yamlnet", "validate", "specs/yolo11.yaml", "--scale", "n"],
    "yamlnet validate yolov5s.yaml": [sys.executable, "-m", "yamlnet", "validate", "specs/yolov5s.yaml"],
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=10)
    a = p.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times: dict[str, list[float]] = {k: [] for k in COMMANDS}
    for cmd in COMMANDS.values():  # warm the file cache
        subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True)
    for _ in range(a.repeats):
        for name, cmd in COMMANDS.items():  # interleaved, so load from other processes hits all alike
            t = time.perf_counter()
            r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
            times[name].append(time.perf_counter() - t)
            assert r.returncode == 0, (name, r.stdout, r.stderr)
    torch_s = statistics.median(times['python -c "import torch"'])
    print(f"whole process, median of {a.repeats} (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"  {name:42s} {med:6.3f} s  (min {min(ts):.3f})  {med / torch_s:5.2f} x import torch")


if __name__ == "__main__":
    main()
