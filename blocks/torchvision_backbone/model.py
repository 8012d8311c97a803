"""The `TorchVision` block: a torchvision model, created by a name from torchvision's own model registry (the
catalog that `generate_catalog.py` records) with random weights, optionally unwrapped into an nn.Sequential
of its top-level children with the last `truncate` children removed.

Unwrapping follows Ultralytics' rule as measured: the kept children form `m` (state_dict keys `m.0.weight`,
...), and when the first kept child is itself an nn.Sequential (torchvision's `features` of VGG, ConvNeXt,
EfficientNet, MobileNet, ...) its children take its place. With `split`, the forward returns the input and the
output of every layer of `m`, in order.

Nothing is downloaded: a weights file named by the row is loaded by the compiler (`adapt_state_dict` maps a
torchvision checkpoint's own keys, `layer1.0.conv1.weight`, to the unwrapped ones, `m.4.0.conv1.weight`).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import torch
import torchvision
from torch import nn

from .decl import known_model


def build_random(model_name: str) -> nn.Module:
    """torchvision's builder for `model_name` with random weights and no pretrained backbone (no download).

    A few builders (RegNet) compute their widths with tensors, which the meta device cannot give back: under a
    meta default device such a model is built on the CPU and then moved to meta.
    """
    builder = torchvision.models.get_model_builder(model_name)
    kw: dict[str, Any] = {"weights": None}
    if "weights_backbone" in inspect.signature(builder).parameters:
        kw["weights_backbone"] = None  # detection/segmentation builders would download an ImageNet backbone
    try:
        return builder(**kw)
    except NotImplementedError:
        if torch.get_default_device().type != "meta":
            raise
        with torch.device("cpu"):
            model = builder(**kw)
        return model.to("meta")


def create(model_name: str) -> nn.Module:
    """The torchvision model `model_name` with random weights (the name must be in the recorded catalog)."""
    known_model(model_name)  # raises ValueError for a name torchvision's registry did not list
    return build_random(model_name)


def unwrap_layers(model: nn.Module, truncate: int) -> list[tuple[str, nn.Module]]:
    """(dotted source name, module) of the layers the unwrapped model runs in order."""
    children = list(model.named_children())
    kept = children[: len(children) - truncate] if truncate > 0 else children
    if kept and isinstance(kept[0][1], nn.Sequential):
        first_name, first = kept[0]
        kept = [(f"{first_name}.{n}", m) for n, m in first.named_children()] + kept[1:]
    return kept


class TorchVision(nn.Module):
    """A torchvision model (random weights) as one row; see the module docstring for unwrap/truncate/split."""

    def __init__(self, c2: int, model: str, unwrap: bool = True, truncate: int = 2, split: bool = False) -> None:
        super().__init__()
        self.c2 = c2  # the output channels the row states (the declaration checked them against the catalog)
        net = create(model)
        self.split = bool(split)
        self.source_names: list[str] = []  # torchvision's name of each layer of `m` (unwrapped)
        self.removed: list[str] = []  # the top-level children that `truncate` removed
        if unwrap:
            layers = unwrap_layers(net, int(truncate))
            self.source_names = [n for n, _ in layers]
            kept_top = {n.split(".")[0] for n in self.source_names}
            self.removed = [n for n, _ in net.named_children() if n not in kept_top]
            self.m: nn.Module = nn.Sequential(*(m for _, m in layers))
        else:
            self.m = net

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        if not self.split:
            return self.m(x)
        outs = [x]
        for layer in self.m:  # type: ignore[union-attr]
            outs.append(layer(outs[-1]))
        return outs

    def adapt_state_dict(self, sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A torchvision checkpoint of the whole model (its own key names) in this module's key names.

        Keys already in this module's naming (`m.0.weight`) are kept. Keys of children that `truncate` removed
        are dropped (the spec removed those layers on purpose); every other key is kept as it is, so the
        weight loader reports it as unexpected.
        """
        own = self.state_dict()
        if not self.source_names or any(k in own for k in sd):
            return dict(sd)
        by_source = sorted(((name + ".", f"m.{i}.") for i, name in enumerate(self.source_names)), key=lambda p: -len(p[0]))
        removed = set(self.removed)
        out: dict[str, torch.Tensor] = {}
        for k, v in sd.items():
            for src, dst in by_source:
                if k.startswith(src):
                    out[dst + k[len(src) :]] = v
                    break
            else:
                if k.split(".")[0] not in removed:
                    out[k] = v  # matches no layer: the loader reports it as unexpected
        return out
