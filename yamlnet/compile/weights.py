"""Loading weights from a file: torch.load with weights_only=True, checkpoint layouts unwrapped, and a report
of matched, shape-mismatched, missing and unexpected keys (a partial load is never silent)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

_PREFIXES = ("module.", "backbone.", "model.backbone.", "_orig_mod.")


@dataclass
class LoadReport:
    path: str
    target: str  # what was loaded into ("model" or "layer 0 (EMO_1M)")
    matched: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)  # key, file, model
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not (self.mismatched or self.missing or self.unexpected)

    def summary(self) -> str:
        total = len(self.matched) + len(self.mismatched) + len(self.missing)
        s = f"loaded {len(self.matched)}/{total} tensors from {self.path} into {self.target}"
        if not self.complete:
            s += f" ({len(self.mismatched)} shape-mismatched, {len(self.missing)} missing, {len(self.unexpected)} unexpected)"
        return s

    def details(self, limit: int = 10) -> list[str]:
        out = [f"shape mismatch {k}: file {list(a)} vs model {list(b)}" for k, a, b in self.mismatched[:limit]]
        out += [f"missing {k}" for k in self.missing[:limit]]
        out += [f"unexpected {k}" for k in self.unexpected[:limit]]
        return out


class WeightsError(Exception):
    pass


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file, unwrapped from the usual layouts ({'model': ...}, {'state_dict': ...})."""
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"no weights file {path}")
    try:
        obj: Any = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling refused (not plain tensors), or not a torch file
        raise WeightsError(f"cannot read {path} as a weights file with weights_only=True: {str(e).splitlines()[0]}") from None
    for _ in range(3):
        if isinstance(obj, Mapping) and not _is_state_dict(obj):
            for key in ("model", "state_dict", "model_state_dict", "ema", "net"):
                if key in obj and isinstance(obj[key], Mapping):
                    obj = obj[key]
                    break
            else:
                break
    if not isinstance(obj, Mapping) or not _is_state_dict(obj):
        raise WeightsError(f"{path} holds no state_dict (a mapping of names to tensors)")
    return {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def _is_state_dict(obj: Mapping[Any, Any]) -> bool:
    return bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def _strip(sd: dict[str, torch.Tensor], own: set[str]) -> dict[str, torch.Tensor]:
    if set(sd) & own:
        return sd
    for prefix in _PREFIXES:
        if any(k.startswith(prefix) for k in sd):
            stripped = {k.removeprefix(prefix): v for k, v in sd.items()}
            if set(stripped) & own:
                return stripped
    # a checkpoint of a part: timm's resnet18 keys (`conv1.weight`) for a block that holds it as one attribute
    # (TimmBackbone's `m.conv1.weight`), or a backbone's own checkpoint (`stage0...`) for a whole model whose
    # row 0 is that backbone (`model.0.stage0...`): try the prefixes of one and two components, keep the best
    prefixes = {k.split(".", 1)[0] + "." for k in own} | {".".join(k.split(".")[:2]) + "." for k in own if k.count(".") >= 2}
    best, best_hits = sd, 0
    for prefix in sorted(prefixes):
        hits = sum(1 for k in sd if prefix + k in own)
        if hits > best_hits:
            best, best_hits = {prefix + k: v for k, v in sd.items()}, hits
    return best


def load_into(module: nn.Module, path: str | os.PathLike[str], target: str = "model") -> LoadReport:
    """Load every tensor whose name and shape match; report the rest."""
    own = module.state_dict()
    sd = read_state_dict(path)
    adapt = getattr(module, "adapt_state_dict", None)
    if callable(adapt):  # a block whose checkpoints use another layout (TorchVision: torchvision's own key names)
        sd = adapt(sd)
    sd = _strip(sd, set(own))
    report = LoadReport(str(path), target)
    take: dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        if k not in own:
            report.unexpected.append(k)
        elif tuple(v.shape) != tuple(own[k].shape):
            report.mismatched.append((k, tuple(v.shape), tuple(own[k].shape)))
        else:
            take[k] = v
            report.matched.append(k)
    report.missing = [k for k in own if k not in sd]
    module.load_state_dict(take, strict=False)
    return report
