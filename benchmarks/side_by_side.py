"""What the build-versus-probe benchmarks share: timing a build or a validation, and running several timed
functions side by side (one warm-up each, then alternating), reported as minimum and median per function."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yamlnet


def build_seconds(path: Path, **overrides: Any) -> float:
    """Seconds for yamlnet.build(path)."""
    t = time.perf_counter()
    model = yamlnet.build(path, **overrides)
    dt = time.perf_counter() - t
    del model
    return dt


def validate_seconds(path: Path, imgsz: Any = 640, **overrides: Any) -> float:
    """Seconds for yamlnet.validate(path) at `imgsz`; the spec must validate."""
    t = time.perf_counter()
    report = yamlnet.validate(path, imgsz=imgsz, **overrides)
    dt = time.perf_counter() - t
    assert report.ok, report.render()
    return dt


def alternate(fns: dict[str, Callable[[], float]], repeats: int) -> tuple[dict[str, float], dict[str, float]]:
    """(minimum, median) seconds per function: one warm-up of each, then `repeats` rounds in turn."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for f in fns.values():
        f()
    for _ in range(repeats):
        for k, f in fns.items():
            times[k].append(f())
    return {k: min(v) for k, v in times.items()}, {k: statistics.median(v) for k, v in times.items()}
