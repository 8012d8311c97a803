"""Declaration of `TorchVision` (Ultralytics dialect): `[c2, model, weights, unwrap, truncate, split]`.

The model name must be one that torchvision's own registry lists (`torchvision.models.list_models()`),
recorded with its layers' channels and strides in `catalog.json` by `generate_catalog.py`; a name is never
imported from a spec. This module reads the catalog with the standard library only, so validating a
TorchVision spec imports neither torch nor torchvision.

Rules, as the ultralytics package builds the block (measured):
- c2 is not width-scaled; yamlnet checks it against the recorded channels of the block's output.
- unwrap=True: the model's top-level children without the last `truncate`; when the first kept child is an
  nn.Sequential (VGG's, ConvNeXt's, EfficientNet's `features`) its children take its place. unwrap=False: the
  whole model (truncate is ignored).
- split=True returns the input and every layer's output as a list (for Index rows). yamlnet gives a row one
  output unless its block declares taps for every argument value, so split=True is refused with a diagnostic
  that says what to use instead.

Weights are never downloaded. `weights` is False/None (random weights) or the path of a local state_dict file,
which the compiler loads (a torchvision checkpoint's own key names are mapped to the unwrapped layers).
Ultralytics' `DEFAULT`, `True` or a weights name such as `IMAGENET1K_V1` ask torchvision to download; yamlnet
refuses them with a diagnostic that gives the file's address, rather than build a model with random weights
that the file says is pretrained (a different model than the one asked for).
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from yamlnet.registry import WEIGHTS_ARG, Arg, declare

CATALOG_FILE = Path(__file__).with_name("catalog.json")
_REGENERATE = "python -m blocks.torchvision_backbone.generate_catalog"


@functools.cache
def catalog() -> dict[str, Any]:
    with open(CATALOG_FILE, encoding="utf-8") as f:
        return dict(json.load(f))


def layer_tap_name(source: str) -> str:
    """An identifier for a layer of the unwrapped model: `layer1`, `features.3` -> `features_3`."""
    name = re.sub(r"[^0-9A-Za-z_]", "_", source)
    return name if name and not name[0].isdigit() else f"l{name}"


def known_model(model_name: str) -> dict[str, Any]:
    """The catalog entry of a model name torchvision's registry lists; ValueError (with close names) otherwise."""
    models = catalog()["models"]
    if not isinstance(model_name, str) or model_name not in models:
        close = difflib.get_close_matches(str(model_name), list(models), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(f'`{c}`' for c in close)}?" if close else f"; see `{_REGENERATE}` for the list"
        raise ValueError(f"`{model_name}` is not a model in torchvision {catalog()['torchvision']}'s registry ({len(models)} models){hint}")
    entry = models[model_name]
    if "unsupported" in entry:
        raise ValueError(f"torchvision's `{model_name}` cannot be used: {entry['unsupported']}")
    return dict(entry)


def _stride(s: str | None) -> Fraction:
    return Fraction(s) if s else Fraction(1)


def kept_layers(entry: Mapping[str, Any], model_name: str, truncate: int) -> int:
    """How many layers of the unwrapped model a truncation keeps (ValueError when none, or when one of them
    cannot run on the previous one's output, such as a Linear after a feature map)."""
    children = entry["children"]
    n = len(children)
    if truncate < 0:
        raise ValueError(f"truncate counts children removed from the end; it cannot be negative ({truncate})")
    if truncate >= n:
        raise ValueError(f"`{model_name}` has {n} top-level children ({', '.join(children)}); truncate={truncate} leaves none")
    first = int(entry["first_child_layers"])  # layers the first child became (its children, when flattened)
    count = first + n - truncate - 1
    runs = len(entry["layers"])  # the layers that run in a row from the image; then entry["stops_at"] says why not
    if count > runs:
        stop = entry["stops_at"]
        least = first + n - 1 - runs
        if least > n - 1 or runs < first:
            raise ValueError(f"`{model_name}` cannot be unwrapped: its layer `{stop['layer']}` cannot run in a chain from the image ({stop['why']})")
        raise ValueError(
            f"with truncate={truncate}, `{model_name}` keeps its `{stop['layer']}`, which cannot run on the previous layer's output "
            f"({stop['why']}); use truncate >= {least}"
        )
    return count


def _download_request(weights: Any, entry: Mapping[str, Any]) -> bool:
    return weights is True or (isinstance(weights, str) and (weights.upper() == "DEFAULT" or weights in entry.get("weights", ())))


def _check(args: dict[str, Any], n_inputs: int) -> dict[str, Any]:
    name = args["model"]
    entry = known_model(name)
    w = args.get("weights")
    if _download_request(w, entry):
        default = entry.get("default_weights") or {}
        where = f" ({default['name']}: {default['url']})" if default else ""
        raise ValueError(
            f"weights {w!r} asks torchvision to download `{name}`'s pretrained weights, and yamlnet never downloads; "
            f"download the file yourself{where} and write its path, or write None for random weights"
        )
    if args["split"]:
        raise ValueError(
            "split=True (every layer's output as a list, for Index rows) is not supported: a TorchVision row has one output; "
            "for several feature maps use TimmBackbone (its taps are P3, P4, ...), or unwrap and truncate to the layer you need"
        )
    c2 = args["c2"]
    channels, _ = output_of(args)
    if c2 != channels:
        how = f"unwrapped and truncated by {args['truncate']}" if args["unwrap"] else "whole (unwrap=False)"
        raise ValueError(f"`{name}` {how} gives {channels} channels, but c2 says {c2}; write {channels}")
    return args


def output_of(args: Mapping[str, Any]) -> tuple[int, Fraction]:
    """Channels and stride of the block's output, from the recorded catalog. A stride is recorded only for
    feature maps; an output pooled to a fixed size or flattened is given stride 1."""
    name = args["model"]
    entry = known_model(name)
    if not args["unwrap"]:
        if "whole" not in entry:
            raise ValueError(f"`{name}` as a whole cannot run on an image tensor ({entry.get('whole_error', 'unknown')}); unwrap it")
        out = entry["whole"]
    else:
        out = entry["layers"][kept_layers(entry, name, int(args["truncate"])) - 1]
    if out.get("channels_last"):
        where = "as a whole" if not args["unwrap"] else f"truncated by {args['truncate']} (its last layer `{out['name']}`)"
        raise ValueError(
            f"`{name}` {where} returns channels-last (N, H, W, C) maps {out['shape']}, which the next rows read as (N, C, H, W); "
            "take its features through TimmBackbone instead"
        )
    return int(out["channels"]), _stride(out["stride"])


_WEIGHTS = replace(
    WEIGHTS_ARG,
    type="bool|str|none",
    default=False,
    doc="None/False for random weights, or a local state_dict file (torchvision's own keys or this block's); "
    "DEFAULT/True/a weights name would download and is refused",
)

declare(
    "TorchVision",
    "blocks.torchvision_backbone.model:TorchVision",
    dialect="ultralytics",
    args=(
        Arg("c2", "int", doc="output channels as the row states them (not scaled); checked against the model's recorded output"),
        Arg("model", "str", doc="a model name from torchvision's registry (torchvision.models.list_models()), e.g. resnet18"),
        _WEIGHTS,
        Arg("unwrap", "bool", default=True, doc="True: the top-level children as an nn.Sequential (the first, if a Sequential, flattened)"),
        Arg("truncate", "int", default=2, doc="with unwrap: how many top-level children to drop from the end (e.g. avgpool and fc)"),
        Arg("split", "bool", default=False, doc="every layer's output as a list (refused: a row has one output)"),
    ),
    repeat="none",
    out_channels=lambda c1, args: output_of(args)[0],
    stride=lambda args: output_of(args)[1],
    prepare=_check,
    role="backbone",
    doc="A torchvision model by name (random weights, or a local file): unwrapped into its top-level layers and truncated "
    "as Ultralytics does. [c2, model, weights, unwrap, truncate, split]",
)
