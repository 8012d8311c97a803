"""YOLOv5's model entry point, backed by yamlnet: in a YOLOv5 checkout, train.py's

    from models.yolo import Model
becomes
    from yamlnet.yolov5 import Model

and train.py, val.py, detect.py and export.py work on the model and its checkpoints. Nothing here imports
YOLOv5; the model keeps the protocol its scripts use (see yamlnet.compile.model).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .compile.model import YamlnetModel

LOG = logging.getLogger("yamlnet")


def Model(  # noqa: N802 - named as YOLOv5's class, which scripts call
    cfg: str | os.PathLike[str] | dict[str, Any] = "yolov5s.yaml",
    ch: int = 3,
    nc: int | None = None,
    anchors: int | float | list[list[float]] | None = None,
) -> YamlnetModel:
    """A yamlnet model from a spec file or a spec dict (a checkpoint's `model.yaml`), with YOLOv5's overrides:

    - `nc`: the number of classes, replacing the spec's (the Detect layer and the model agree);
    - `anchors`: anchors per level as a number (YOLOv5's `hyp["anchors"]`, rounded; sizes then come from
      autoanchor) or anchor sizes per level;
    - `ch`: input channels, used when the spec does not state `ch` (as in YOLOv5, the spec's value wins).

    Raises yamlnet.SpecError, with every diagnostic, when the spec has errors.
    """
    from .api import build, load_spec
    from .compile.build import compile_text
    from .compile.model import spec_text

    if isinstance(anchors, float):
        anchors = round(anchors)
    has_ch = "ch" in cfg if isinstance(cfg, dict) else (ch == 3 or "ch" in load_spec(cfg).spans)  # the file is read again only when ch matters
    over: dict[str, Any] = {"nc": nc or None, "anchors": anchors or None, "ch": None if has_ch else ch}
    if over["nc"] is not None:
        LOG.info("overriding the spec's nc with nc=%s", nc)
    if isinstance(cfg, dict):
        return compile_text(spec_text(cfg), **over)
    return build(cfg, **over)


DetectionModel = Model  # YOLOv5's name for the detection model class
SegmentationModel = Model  # a spec whose head is Segment gives YOLOv5's segmentation model


def attempt_load(weights: str | os.PathLike[str], device: Any = None, fuse: bool = True) -> YamlnetModel:
    """Load a YOLOv5 checkpoint of a yamlnet model (or a pickled yamlnet model) with weights_only=True, as
    YOLOv5's attempt_load would: the EMA model if present, float, fused and in eval mode."""
    from .export import load_checkpoint

    model = load_checkpoint(weights).model
    if model is None:
        raise ValueError(f"{weights} holds no yamlnet model (a state_dict? build the spec and load it: yamlnet.build(spec, weights=...))")
    model = model.float()
    if device is not None:
        model = model.to(device)
    model.eval()
    return model.fuse() if fuse else model


__all__ = ["DetectionModel", "Model", "SegmentationModel", "attempt_load"]
