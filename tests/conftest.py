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


def _reference() -> dict[str, Any] | None:
    f = REFERENCE_DIR / "reference.json"
    if not f.is_file():
        return None
    return json.loads(f.read_text())


REFERENCE = _reference()
ULTRALYTICS_DIR = Path(os.environ.get("YAMLNET_ULTRALYTICS_REFERENCE", REFERENCE_DIR.parent / "ultralytics"))


def _ultralytics_reference() -> dict[str, Any] | None:
    f = ULTRALYTICS_DIR / "reference.json"
    return json.loads(f.read_text()) if f.is_file() else None


ULTRALYTICS = _ultralytics_reference()


def require_ultralytics() -> dict[str, Any]:
    """The Ultralytics reference numbers; skip when absent, except under CI where absence is a failure."""
    if ULTRALYTICS is None:
        msg = f"Ultralytics reference not found at {ULTRALYTICS_DIR} (set YAMLNET_ULTRALYTICS_REFERENCE to its folder)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return ULTRALYTICS


def ultralytics_pairs() -> list[tuple[str, str]]:
    """Every (file, scale) pair the reference measured (including ones whose measurement failed)."""
    if ULTRALYTICS is None:
        return [("<reference missing>", "-")]
    return [(f, s) for f, scales in sorted(ULTRALYTICS["models"].items()) for s in scales]


def require_reference() -> dict[str, Any]:
    """The reference numbers; skip when absent, except under CI where absence is a failure."""
    if REFERENCE is None:
        msg = f"YOLOv5 reference not found at {REFERENCE_DIR} (set YAMLNET_REFERENCE to its folder)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return REFERENCE


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
YOLOV7 = json.loads((YOLOV7_DIR / "reference.json").read_text()) if (YOLOV7_DIR / "reference.json").is_file() else None


def require_yolov7() -> dict[str, Any]:
    """The YOLOv7 reference numbers; skip when absent, except under CI where absence is a failure."""
    if YOLOV7 is None:
        msg = f"YOLOv7 reference not found at {YOLOV7_DIR} (set YAMLNET_YOLOV7_REFERENCE to its folder)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return YOLOV7


def yolov7_files() -> list[str]:
    """Every YAML the YOLOv7 reference measured ("training/yolov7.yaml", ...)."""
    return sorted(YOLOV7["models"]) if YOLOV7 else ["<reference missing>"]


YOLOV9_DIR = Path(os.environ.get("YAMLNET_YOLOV9_REFERENCE", REFERENCE_DIR.parent / "yolov9-original"))


def _yolov9_reference() -> dict[str, Any] | None:
    f = YOLOV9_DIR / "reference.json"
    return json.loads(f.read_text()) if f.is_file() else None


YOLOV9 = _yolov9_reference()


def require_yolov9() -> dict[str, Any]:
    """The YOLOv9 (original repository) reference numbers; skip when absent, except under CI where absence is a failure."""
    if YOLOV9 is None:
        msg = f"YOLOv9 (original) reference not found at {YOLOV9_DIR} (set YAMLNET_YOLOV9_REFERENCE to its folder)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return YOLOV9


def yolov9_files() -> list[str]:
    """Every file the YOLOv9 reference measured (including the ones its repository cannot build)."""
    return sorted(YOLOV9["models"]) if YOLOV9 else ["<reference missing>"]
