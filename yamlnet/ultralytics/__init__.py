"""Train, validate, predict and export yamlnet models with the ultralytics package (a test-only dependency
of yamlnet: install it yourself to use this).

    from yamlnet.ultralytics import YOLO
    YOLO("my-yolo11-emo.yaml").train(data="my.yaml", epochs=100)     # yamlnet builds the model
    YOLO("runs/detect/train/weights/best.pt").val()

or, with the package's own YOLO class, `YOLO(...).train(..., trainer=yamlnet.ultralytics.Trainer)`.
`build_model` and `resolve_spec` need no ultralytics; `YOLO` and the trainers import it when first used.
See docs/training-ultralytics.md.
"""

from __future__ import annotations

from typing import Any

from ..spec.bundled import resolve_spec
from .model import build_model, check_sizes, load_weights

_TRAINING = ("YOLO", "Trainer", "DetectionTrainer", "SegmentationTrainer", "PoseTrainer", "OBBTrainer", "TRAINERS")


def __getattr__(name: str) -> Any:
    if name in _TRAINING:  # these subclass the package's classes: imported only when asked for
        from . import train

        return getattr(train, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["build_model", "check_sizes", "load_weights", "resolve_spec", *_TRAINING]
