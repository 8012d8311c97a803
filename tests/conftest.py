"""Shared fixtures: where the YOLOv5 reference lives, and how its absence is handled (skip; fail under CI)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
REFERENCE_DIR = Path(os.environ.get("YAMLNET_REFERENCE", ROOT.parent / "shared" / "reference" / "yolov5"))


def _load(folder: Path) -> dict[str, Any] | None:
    """A reference folder's reference.json, or None when it is not there."""
    f = folder / "reference.json"
    return json.loads(f.read_text()) if f.is_file() else None


def _require(data: dict[str, Any] | None, what: str, folder: Path, env: str) -> dict[str, Any]:
    """A reference's numbers; skip when absent, except under CI where absence is a failure."""
    if data is None:
        msg = f"{what} reference not found at {folder} (set {env} to its folder)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return data


REFERENCE = _load(REFERENCE_DIR)
ULTRALYTICS_DIR = Path(os.environ.get("YAMLNET_ULTRALYTICS_REFERENCE", REFERENCE_DIR.parent / "ultralytics"))


ULTRALYTICS = _load(ULTRALYTICS_DIR)


def require_ultralytics() -> dict[str, Any]:
    """The Ultralytics reference numbers; skip when absent, except under CI where absence is a failure."""
    return _require(ULTRALYTICS, "Ultralytics", ULTRALYTICS_DIR, "YAMLNET_ULTRALYTICS_REFERENCE")


def ultralytics_pairs() -> list[tuple[str, str]]:
    """Every (file, scale) pair the reference measured (including ones whose measurement failed)."""
    if ULTRALYTICS is None:
        return [("<reference missing>", "-")]
    return [(f, s) for f, scales in sorted(ULTRALYTICS["models"].items()) for s in scales]


def require_reference() -> dict[str, Any]:
    """The reference numbers; skip when absent, except under CI where absence is a failure."""
    return _require(REFERENCE, "YOLOv5", REFERENCE_DIR, "YAMLNET_REFERENCE")


@pytest.fixture
def reference() -> dict[str, Any]:
    return require_reference()


def reference_models() -> list[str]:
    return sorted(REFERENCE["models"]) if REFERENCE else ["<reference missing>"]


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> Any:
    """The tests run small forwards, which are fastest on one thread (and steadier on a shared 2-core machine)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def output_shapes(o: Any) -> Any:
    """A model's output structure with every tensor replaced by its shape (tuples become lists), as the
    reference files record outputs."""
    import torch

    if isinstance(o, torch.Tensor):
        return list(o.shape)
    if isinstance(o, dict):
        return {k: output_shapes(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [output_shapes(x) for x in o]
    return o


YOLOV7_DIR = Path(os.environ.get("YAMLNET_YOLOV7_REFERENCE", REFERENCE_DIR.parent / "yolov7"))
YOLOV7 = _load(YOLOV7_DIR)


def require_yolov7() -> dict[str, Any]:
    """The YOLOv7 reference numbers; skip when absent, except under CI where absence is a failure."""
    return _require(YOLOV7, "YOLOv7", YOLOV7_DIR, "YAMLNET_YOLOV7_REFERENCE")


def yolov7_files() -> list[str]:
    """Every YAML the YOLOv7 reference measured ("training/yolov7.yaml", ...)."""
    return sorted(YOLOV7["models"]) if YOLOV7 else ["<reference missing>"]


YOLOV9_DIR = Path(os.environ.get("YAMLNET_YOLOV9_REFERENCE", REFERENCE_DIR.parent / "yolov9-original"))


YOLOV9 = _load(YOLOV9_DIR)


def require_yolov9() -> dict[str, Any]:
    """The YOLOv9 (original repository) reference numbers; skip when absent, except under CI where absence is a failure."""
    return _require(YOLOV9, "YOLOv9 (original)", YOLOV9_DIR, "YAMLNET_YOLOV9_REFERENCE")


def yolov9_files() -> list[str]:
    """Every file the YOLOv9 reference measured (including the ones its repository cannot build)."""
    return sorted(YOLOV9["models"]) if YOLOV9 else ["<reference missing>"]
