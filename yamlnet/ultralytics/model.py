"""yamlnet models for the ultralytics package's trainer: built from what the package passes as a model config
(a spec path, a bare name such as `yolo11n.yaml`, or the `yaml` dict of a checkpoint's model) and loaded with
the weights of another model. Nothing here imports the package."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from ..spec.bundled import resolve_spec

if TYPE_CHECKING:
    from torch import nn

    from ..compile.model import YamlnetModel

LOG = logging.getLogger("yamlnet")

# keys the package adds to a model's yaml dict: where it was read from, and its input channels
_PACKAGE_KEYS = ("yaml_file", "channels")


def build_model(cfg: str | os.PathLike[str] | dict[str, Any], nc: int | None = None, ch: int | None = None, verbose: bool = False) -> YamlnetModel:
    """A yamlnet model from a spec path, a bare bundled name (`yolo11n.yaml`: specs/yolo11.yaml at scale n), or a
    spec dict (a checkpoint's `model.yaml`, yamlnet's or the package's). `nc` and `ch` replace the spec's (the
    trainer passes the dataset's). As in the package, a file name with a scale letter (`yolo11s.yaml`) picks that
    scale when the spec states none. `model.task` is the head's task ("detect", "segment", "pose", "obb").
    Raises yamlnet.SpecError with every diagnostic when the spec has errors."""
    from ..api import build

    if isinstance(cfg, dict):
        model = _build_dict(cfg, nc, ch)
    else:
        model = build(resolve_spec(cfg), nc=nc, ch=ch)
        model.yaml_file = str(cfg)
    model.task = getattr(model.model[-1], "task", "detect") if len(model.model) else "detect"
    if verbose:
        model.info()
    return model


def _build_dict(cfg: dict[str, Any], nc: int | None, ch: int | None) -> YamlnetModel:
    """A model from a spec dict. The package's own keys are read, not dropped: `channels` is the spec's `ch`
    (they must agree when both are there), `yaml_file` becomes the model's `yaml_file`."""
    from ..compile.build import compile_text
    from ..compile.model import spec_text

    spec = {k: v for k, v in cfg.items() if k not in _PACKAGE_KEYS}
    channels = cfg.get("channels")
    if channels is not None:
        if "ch" in spec and spec["ch"] != channels:
            raise ValueError(f"the spec dict says ch: {spec['ch']} and channels: {channels}; give one input channel count")
        spec["ch"] = channels
    model = compile_text(spec_text(spec), nc=nc, ch=ch)
    model.yaml_file = str(cfg.get("yaml_file") or getattr(model, "yaml_file", ""))
    return model


def check_sizes(cfg: str | os.PathLike[str] | dict[str, Any], train: int, stride: int, nc: int | None = None, ch: int | None = None) -> None:
    """Refuse a spec that cannot take the sizes the package's trainer will feed it: square training batches of
    `train`, and the validator's square rect batches of `train + stride` (it pads half a stride, rounded up to a
    multiple of it). Raises yamlnet.SpecError with the size diagnostics (YN4xx), each noting where the size
    comes from; other sizes (rect batches of non-square images) are not known before the data is read."""
    from dataclasses import replace

    from ..api import validate
    from ..compile.model import spec_text
    from ..diagnostics import SpecError, errors

    source: Any = spec_text({k: v for k, v in cfg.items() if k not in _PACKAGE_KEYS}) if isinstance(cfg, dict) else resolve_spec(cfg)
    val = train + stride
    report = validate(source, imgsz=[train, val], static=True, nc=nc, ch=ch)
    bad = errors(report.diagnostics)
    if bad:
        note = f"the trainer feeds {train}x{train} batches (imgsz={train}) and its validator {val}x{val} (square images in rect batches)"
        raise SpecError([replace(d, notes=(*d.notes, note)) for d in bad], report.source)


def load_weights(model: nn.Module, weights: Any, verbose: bool = True) -> tuple[int, int]:
    """Copy into `model` every tensor of `weights` (a model, a checkpoint dict with "ema"/"model", or a
    state_dict) whose name and shape it has, as the package's fine-tuning does. The state_dict keys of a yamlnet
    model are the package's, so the package's own checkpoints (yolo11n.pt) load too. Returns (copied, total)."""
    import torch

    if isinstance(weights, dict) and ("ema" in weights or "model" in weights):
        weights = weights.get("ema") or weights.get("model")
    if isinstance(weights, torch.nn.Module):
        weights = weights.float().state_dict()
    if not isinstance(weights, dict):
        raise TypeError(f"weights are a model, a checkpoint dict or a state_dict, not {type(weights).__name__}")
    own = model.state_dict()
    same = {k: v for k, v in weights.items() if k in own and isinstance(v, torch.Tensor) and v.shape == own[k].shape}
    model.load_state_dict(same, strict=False)
    if verbose:
        LOG.info("transferred %d/%d tensors from the pretrained weights", len(same), len(own))
    return len(same), len(own)


__all__ = ["build_model", "check_sizes", "load_weights"]
