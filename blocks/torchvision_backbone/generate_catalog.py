"""Record `catalog.json`: every model name in torchvision's own registry (`torchvision.models.list_models()`)
with what the `TorchVision` declaration needs to know without importing torch: the top-level children, the
unwrapped layers with the channels and stride each one's output has, the whole model's output, and the
names (and download addresses, for help messages) of its pretrained weights.

Every model is built with random weights on the meta device and probed at two input sizes (224 and 320), so
a stride is recorded only where both sizes agree (global pooling and flattening give none). Nothing is
downloaded.

    python -m blocks.torchvision_backbone.generate_catalog
"""

from __future__ import annotations

import json
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

from .decl import CATALOG_FILE, layer_tap_name
from .model import build_random

SIZES = (224, 320)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:160]}" if text else type(e).__name__


def _layout(shapes: list[Any]) -> tuple[int, str | None, bool]:
    """(channels, stride, channels_last) of an output at the probe sizes. The stride is a string ("8", "1/2")
    when both sizes agree on it, None when the output is not a feature map (pooled to a fixed size, flat).
    A square input gives a square map, so a 4-d output whose dims 1 and 2 are equal and follow the input size
    is channels-last (N, H, W, C), as torchvision's Swin features are."""
    first = shapes[0]
    if len(first) != 4:
        return (int(first[1]) if len(first) > 1 else 0), None, False
    nhwc = all(s[1] == s[2] and s[2] != s[3] for s in shapes)
    h_dim, c_dim = (1, 3) if nhwc else (2, 1)
    ratios = {Fraction(size, s[h_dim]) for size, s in zip(SIZES, shapes) if s[h_dim] > 0}
    stride = str(ratios.pop()) if len(ratios) == 1 else None
    return int(first[c_dim]), stride, nhwc


def _children_flat(model: nn.Module) -> tuple[list[tuple[str, nn.Module]], bool]:
    children = list(model.named_children())
    if children and isinstance(children[0][1], nn.Sequential):
        name, first = children[0]
        return [(f"{name}.{n}", m) for n, m in first.named_children()] + children[1:], True
    return children, False


def probe(name: str) -> dict[str, Any]:
    builder = torchvision.models.get_model_builder(name)
    family = builder.__module__.split(".")[2] if builder.__module__.count(".") >= 3 else "classification"
    entry: dict[str, Any] = {"family": family}
    try:
        weights = torchvision.models.get_model_weights(name)
        entry["weights"] = [w.name for w in weights]
        entry["default_weights"] = {"name": weights.DEFAULT.name, "url": weights.DEFAULT.url}
    except Exception:  # a model without pretrained weights
        entry["weights"] = []
    with torch.device("meta"):
        try:
            model = build_random(name).eval()
        except Exception as e:
            entry["unsupported"] = f"cannot be built ({_first_line(e)})"
            return entry
    entry["children"] = [n for n, _ in model.named_children()]
    flat, flattened = _children_flat(model)
    entry["flattened"] = flattened
    entry["first_child_layers"] = len(flat) - (len(entry["children"]) - 1)
    layers: list[list[Any]] = []
    xs = [torch.empty(1, 3, s, s, device="meta") for s in SIZES]
    with torch.no_grad():
        for lname, layer in flat:
            try:
                xs = [layer(x) for x in xs]
                if not all(isinstance(x, torch.Tensor) for x in xs):
                    raise TypeError(f"returns {type(xs[0]).__name__}, not a tensor")
            except Exception as e:
                entry["stops_at"] = {"layer": lname, "why": _first_line(e)}
                break
            shapes = [list(x.shape) for x in xs]
            channels, stride, nhwc = _layout(shapes)
            layer = {"name": layer_tap_name(lname), "channels": channels, "stride": stride, "shape": shapes[0]}
            if nhwc:
                layer["channels_last"] = True
            layers.append(layer)
        entry["layers"] = layers
        try:
            outs = [model(torch.empty(1, 3, s, s, device="meta")) for s in SIZES]
            if not all(isinstance(o, torch.Tensor) for o in outs):
                raise TypeError(f"returns {type(outs[0]).__name__}, not a tensor")
            shapes = [list(o.shape) for o in outs]
            channels, stride, nhwc = _layout(shapes)
            entry["whole"] = {"channels": channels, "stride": stride, "shape": shapes[0]}
            if nhwc:
                entry["whole"]["channels_last"] = True
        except Exception as e:
            entry["whole_error"] = _first_line(e)
    return entry


def main(argv: list[str]) -> int:
    torch.set_num_threads(1)
    names = argv or torchvision.models.list_models()
    data: dict[str, Any] = {"torchvision": torchvision.__version__, "probe_sizes": list(SIZES), "models": {}}
    if argv and Path(CATALOG_FILE).is_file():
        data = json.loads(Path(CATALOG_FILE).read_text(encoding="utf-8"))
    for name in sorted(names):
        data["models"][name] = probe(name)
        e = data["models"][name]
        stops = f", stops at {e['stops_at']['layer']}" if "stops_at" in e else ""
        print(name, e.get("unsupported") or f"{len(e.get('layers', []))} layers{stops}")
    data["models"] = dict(sorted(data["models"].items()))
    Path(CATALOG_FILE).write_text(json.dumps(data, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
