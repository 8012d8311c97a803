"""Ultralytics dialect: is yamlnet's build (strides from declarations, no probe) as fast as a build that also runs
the package's stride probe (a 256x256 forward), and how much cheaper is full validation (static rules + the
meta-device shape pass at 640) than that build?

Measured side by side in one process, alternating, after one warm-up of each; minimum and median reported.
Run: python benchmarks/bench_ultralytics.py [--repeats 5] [--threads N]
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
CASES = {"yolo11n": ("yolo11.yaml", "n"), "yolo11x": ("yolo11.yaml", "x"), "yolov8n": ("yolov8.yaml", "n")}


def build_probe(path: Path, scale: str) -> float:
    """Build, then learn the strides as the package does: one 256x256 forward in train mode."""
    t = time.perf_counter()
    model = yamlnet.build(path, scale=scale)
    model.train()
    out = model(torch.zeros(1, 3, 256, 256))
    strides = [256 / f.shape[-2] for f in out["feats"]]
    dt = time.perf_counter() - t
    assert strides == model.stride.tolist(), (strides, model.stride)
    del model, out
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--only", choices=sorted(CASES), action="append")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {a.repeats} repeats (after one warm-up each)")
    print(f"{'model':8} {'build':>18} {'build+probe':>18} {'validate':>18} {'build/probe':>12} {'probe/validate':>15}")
    for name in a.only or list(CASES):
        spec, scale = CASES[name]
        path = ROOT / "specs" / spec
        mn, med = alternate(
            {
                "build": partial(build_seconds, path, scale=scale),
                "probe": partial(build_probe, path, scale),
                "validate": partial(validate_seconds, path, scale=scale),
            },
            a.repeats,
        )
        print(
            f"{name:8} {mn['build'] * 1e3:7.0f}/{med['build'] * 1e3:7.0f} ms {mn['probe'] * 1e3:7.0f}/{med['probe'] * 1e3:7.0f} ms "
            f"{mn['validate'] * 1e3:7.0f}/{med['validate'] * 1e3:7.0f} ms "
            f"{med['build'] / med['probe']:11.2f}x {med['probe'] / med['validate']:14.1f}x"
        )
    print("min/median per cell; ratios of medians. Targets: build/probe <= 1.0, probe/validate >= 20x.")


if __name__ == "__main__":
    main()
