"""Issue 2 benchmarks, measured side by side in one run (ratios, not absolute times).

1. `yamlnet.build` versus a build that also runs YOLOv5's stride-probing dummy forward at 256x256 (YOLOv5
   learns strides that way; yamlnet knows them from the declarations).
2. The generated straight-line forward versus a loop-over-layers executor like YOLOv5's `_forward_once`
   (written below) on the same modules and weights, batch 1, 640x640.

Run: python benchmarks/bench_build.py [--specs yolov5s yolov5x6] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import yamlnet

SPECS = Path(__file__).resolve().parents[1] / "specs"


def timed(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


class LoopExecutor(torch.nn.Module):
    """YOLOv5's way of running a model: a loop over layers with a list of saved outputs."""

    def __init__(self, model: torch.nn.Module, spec: Path) -> None:
        super().__init__()
        ir = yamlnet.analyze(spec).ir
        assert ir is not None
        self.layers = torch.nn.ModuleList(model.get_submodule(f"model.{p}") for p in ir.nodes)
        self.froms = [[-1 if p.node < 0 else p.node for p in n.inputs] for n in ir.nodes.values()]
        self.single = [n.decl.inputs == "one" for n in ir.nodes.values()]
        used = {f for fs in self.froms for f in fs}
        self.save = [i in used for i in range(len(self.layers))]

    def forward(self, x: torch.Tensor) -> Any:
        y: list[Any] = []
        for i, m in enumerate(self.layers):
            f = self.froms[i]
            inputs = [x if j in (-1, i - 1) else y[j] for j in f]  # x is the previous row's output
            x = m(inputs[0] if self.single[i] else inputs)
            y.append(x if self.save[i] else None)
        return x


def bench(name: str, repeats: int, imgsz: int = 640) -> dict[str, float]:
    spec = SPECS / f"{name}.yaml"

    def build() -> Any:
        return yamlnet.build(spec)

    def build_and_probe() -> Any:
        m = yamlnet.build(spec)
        with torch.no_grad():
            m.eval()(torch.zeros(1, 3, 256, 256))
        return m

    t_build = timed(build, repeats)
    t_probe = timed(build_and_probe, repeats)
    model = yamlnet.build(spec).eval()
    loop = LoopExecutor(model, spec).eval()
    x = torch.rand(1, 3, imgsz, imgsz)
    with torch.no_grad():
        a, b = model(x), loop(x)
        assert torch.equal(a[0], b[0]), "the two executors disagree"
        for _ in range(2):  # warm up
            model(x), loop(x)
        t_fx, t_loop = [], []
        for _ in range(repeats):  # interleaved, so both see the same machine load
            t = time.perf_counter()
            model(x)
            t_fx.append(time.perf_counter() - t)
            t = time.perf_counter()
            loop(x)
            t_loop.append(time.perf_counter() - t)
    return {"build_s": t_build, "build_probe_s": t_probe, "fx_s": statistics.median(t_fx), "loop_s": statistics.median(t_loop)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--specs", nargs="+", default=["yolov5s", "yolov5x6"])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--imgsz", type=int, default=640, help="forward input size (small sizes expose per-layer overhead)")
    a = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name in a.specs:
        r = bench(name, a.repeats, a.imgsz)
        print(
            f"{name}: build {r['build_s']:.3f} s vs build+probe {r['build_probe_s']:.3f} s "
            f"-> probing costs {r['build_probe_s'] / r['build_s']:.2f}x; "
            f"forward {a.imgsz}: fx {r['fx_s'] * 1000:.1f} ms vs loop {r['loop_s'] * 1000:.1f} ms -> ratio {r['fx_s'] / r['loop_s']:.3f}"
        )


if __name__ == "__main__":
    main()
