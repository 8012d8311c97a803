"""YOLOv7 dialect: is yamlnet's build (strides from declarations, no probe) as fast as a build that also runs
YOLOv7's stride probe (a 256x256 train-mode forward, as YOLOv7's Model(cfg) does), and how much cheaper is full
validation (static rules + sizes at 640) than that build?

The YOLOv7 repository itself is not installed here (and is not copied), so its `Model()` cannot be timed: the probe
is done with yamlnet's own model, which has YOLOv7's modules and parameter count, so "build + probe" stands in
for YOLOv7's build (its parse_model loop costs extra on top; it is not counted). Measured side by side in one
process, alternating, after one warm-up of each; minimum and median reported.
Run: python benchmarks/bench_yolov7.py [--repeats 5] [--threads N] [--reference DIR]
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from pathlib import Path

import torch
from side_by_side import alternate, build_seconds, validate_seconds

import yamlnet

ROOT = Path(__file__).resolve().parents[1]
CASES = {"yolov7": "training/yolov7.yaml", "yolov7-e6e": "training/yolov7-e6e.yaml", "yolov7-tiny": "training/yolov7-tiny.yaml"}


def build_probe(path: Path) -> float:
    """Build, then learn the strides as YOLOv7 does: one 256x256 forward in train mode (IAuxDetect: lead levels)."""
    t = time.perf_counter()
    model = yamlnet.build(path)
    model.train()
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 256, 256))
    n = len(model.stride)
    strides = [256 / o.shape[-2] for o in out[:n]]
    dt = time.perf_counter() - t
    assert strides == model.stride.tolist(), (strides, model.stride)
    del model, out
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--only", choices=sorted(CASES), action="append")
    ap.add_argument("--reference", default=str(ROOT.parent / "shared" / "reference" / "yolov7"), help="folder of the YOLOv7 YAMLs")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {a.repeats} repeats (after one warm-up each)")
    print(f"{'model':11} {'build':>18} {'build+probe':>18} {'validate':>18} {'build/probe':>12} {'probe/validate':>15}")
    for name in a.only or list(CASES):
        path = Path(a.reference) / CASES[name]
        mn, med = alternate(
            {"build": partial(build_seconds, path), "probe": partial(build_probe, path), "validate": partial(validate_seconds, path)}, a.repeats
        )
        print(
            f"{name:11} {mn['build'] * 1e3:7.0f}/{med['build'] * 1e3:7.0f} ms {mn['probe'] * 1e3:7.0f}/{med['probe'] * 1e3:7.0f} ms "
            f"{mn['validate'] * 1e3:7.0f}/{med['validate'] * 1e3:7.0f} ms "
            f"{med['build'] / med['probe']:11.2f}x {med['probe'] / med['validate']:14.1f}x"
        )
    print("min/median per cell; ratios of medians. Targets: build/probe <= 1.0, probe/validate >= 20x.")


if __name__ == "__main__":
    main()
