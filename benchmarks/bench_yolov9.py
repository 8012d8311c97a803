"""YOLOv9 (original repository dialect): yamlnet's build of YOLOv9-C (strides from declarations, no probe)
against the same build followed by the work the repository's own `Model(cfg)` adds after constructing the
layers (a train-mode 256x256 stride probe through both branches), and validation (static rules plus the
meta-device shape pass at 640 and 640x384) against that build.

The repository itself cannot run here (its import needs packages this environment lacks and it is GPL code
that is not vendored), so the repository's cost is stood in for by yamlnet's own layers plus the extra probe
it runs: the layers are the same modules with the same parameter counts, so the comparison measures what
yamlnet leaves out (the probe) and what validation saves (no weights at all). Measured side by side in one
process, alternating, after one warm-up of each; minimum and median reported.

Run: python benchmarks/bench_yolov9.py [--repeats 3] [--threads N] [--spec specs/yolov9-gelan-c.yaml]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from side_by_side import alternate, build_seconds, validate_seconds

import yamlnet

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "specs" / "yolov9-c-dual.yaml"


def build_probe(path: Path) -> float:
    """Build, then learn the strides as the repository does: one 256x256 train-mode forward (first branch)."""
    t = time.perf_counter()
    model = yamlnet.build(path)
    model.train()
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 256, 256))
    levels = out[0] if isinstance(out[0], list) else out
    strides = [256 / f.shape[-2] for f in levels]
    dt = time.perf_counter() - t
    assert strides == model.stride.tolist(), (strides, model.stride)
    del model, out
    return dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--spec", type=Path, default=DEFAULT)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    mn, med = alternate(
        {
            "build": lambda: build_seconds(a.spec),
            "probe": lambda: build_probe(a.spec),
            "validate": lambda: validate_seconds(a.spec, ["640", "640x384"]),
        },
        a.repeats,
    )
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {a.repeats} repeats (after one warm-up each); {a.spec.name}")
    for k, label in (("build", "build"), ("probe", "build + stride probe"), ("validate", "validate 640, 640x384")):
        print(f"  {label:24} min {mn[k] * 1e3:8.0f} ms   median {med[k] * 1e3:8.0f} ms")
    print(f"  build / (build + probe) = {med['build'] / med['probe']:.2f}x   (build + probe) / validate = {med['probe'] / med['validate']:.1f}x")


if __name__ == "__main__":
    main()
