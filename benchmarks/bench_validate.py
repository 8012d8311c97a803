"""Validation against building: how much cheaper is `yamlnet.validate` (static rules + the meta-device shape
pass at 640) than what a training script does to learn the same facts (build the model with real weights,
then run the 256x256 dummy forward that YOLOv5 uses to find the strides)?

Both are measured side by side in one process, alternating, after one warm-up of each; the minimum and the
median of the repeats are reported. Also measured: `yamlnet validate --static` as a whole process (against
`python -c pass`), and the peak RSS of validating yolov5x6 against a process that only imports torch.
Run: python benchmarks/bench_validate.py [--repeats 5] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

import yamlnet

ROOT = Path(__file__).resolve().parents[1]

SPECS = {"yolov5s": ROOT / "specs" / "yolov5s.yaml", "yolov5x6": ROOT / "specs" / "yolov5x6.yaml"}
TARGET = {"yolov5s": 20.0, "yolov5x6": 30.0}


def validate_once(path: Path) -> float:
    t = time.perf_counter()
    report = yamlnet.validate(path, imgsz=640)
    dt = time.perf_counter() - t
    assert report.ok, report.render()
    return dt


def build_once(path: Path) -> float:
    t = time.perf_counter()
    model = yamlnet.build(path)
    model.train()
    out = model(torch.zeros(1, 3, 256, 256))  # as YOLOv5's DetectionModel does (autograd on)
    strides = [256 / o.shape[-2] for o in out]
    dt = time.perf_counter() - t
    assert strides == model.stride.tolist(), (strides, model.stride)
    del model, out
    return dt


def _wall(cmd: list[str], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
        out.append(time.perf_counter() - t)
    return out


def _rss_mb(code: str) -> float:
    code += "\nimport resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True)
    return int(r.stdout.split()[-1]) / 1024


def processes(n: int) -> None:
    bare = _wall([sys.executable, "-c", "pass"], n)
    static = _wall([sys.executable, "-m", "yamlnet.cli", "validate", "--static", "specs/yolov5s.yaml"], n)
    print(
        f"`yamlnet validate --static specs/yolov5s.yaml`, whole process: min {min(static):.3f} s, median {statistics.median(static):.3f} s "
        f"(python -c pass: min {min(bare):.3f} s)"
    )
    base = _rss_mb("import torch")
    used = _rss_mb("import torch, yamlnet\nassert yamlnet.validate('specs/yolov5x6.yaml', imgsz=[640, '640x384']).ok")
    print(
        f"peak RSS: import torch {base:.0f} MB; + validate yolov5x6 (static + shape pass at 640 and 640x384) {used:.0f} MB: "
        f"delta {used - base:.0f} MB (the weights would be {140_794_780 * 4 / 2**20:.0f} MB)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's default)")
    ap.add_argument("--only", choices=sorted(SPECS), action="append")
    ap.add_argument("--no-processes", action="store_true", help="skip the whole-process timings and the RSS comparison")
    a = ap.parse_args()
    if not a.no_processes:
        processes(max(a.repeats, 5))
    if a.threads:
        torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {a.repeats} repeats (after one warm-up each)")
    print(f"{'model':10} {'validate min/median':>22} {'build+fwd256 min/median':>26} {'ratio (min)':>12} {'ratio (median)':>15} {'target':>7}")
    for name in a.only or sorted(SPECS):
        path = SPECS[name]
        validate_once(path)
        build_once(path)
        v, b = [], []
        for _ in range(a.repeats):
            v.append(validate_once(path))
            b.append(build_once(path))
        vmin, vmed, bmin, bmed = min(v), statistics.median(v), min(b), statistics.median(b)
        print(
            f"{name:10} {vmin * 1e3:9.1f} / {vmed * 1e3:7.1f} ms {bmin * 1e3:11.1f} / {bmed * 1e3:8.1f} ms "
            f"{bmin / vmin:11.1f}x {bmed / vmed:14.1f}x {TARGET[name]:6.0f}x"
        )


if __name__ == "__main__":
    main()
