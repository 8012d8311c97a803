"""Declarations of the timm backbones: `TimmBackbone` (any model recorded in feature_info.json) and a curated
set of popular timm models under their own names (the seeds' spelling `[-1, 1, resnet18, [False]]`).

Taps come from `feature_info.json`, which `generate_feature_info.py` writes by building each model on the
meta device and reading timm's `feature_info` (channels and reduction of every feature, the default
out_indices). This module reads it with the standard library only: validating a timm spec imports neither
torch nor timm and runs no forward pass.

A model that is not in the file is refused with a ValueError (a YN107 diagnostic on the row) that says how to
add it: `python -m blocks.timm_backbones.generate_feature_info NAME`. Taps are never computed lazily by
importing timm, so `yamlnet validate --static` stays torch-free for every spec.

Taps are named P{log2 reduction} (P3 = stride 8; a reduction that is not a power of two, as in patch-14
ViTs, takes the floor: 14 -> P3). When several selected features share a reduction (ViT's blocks are all
stride 16; some CNNs report two features at one stride) only the last, deepest one is kept, and the wrapper
returns only the kept features, so the taps and the forward's outputs stay one to one.

Fixed-input-size models (ViT, DeiT, Swin, ...) are created with timm's `dynamic_img_size=True` where they
take it; their input must then be a multiple of the patch size (a size rule, YN404). Swin's channels-last
features are permuted to NCHW by the wrapper. A fixed-size model without that option (LeViT) runs only at its
recorded size: any other size fails in the shape pass (YN405) with a message that names the size.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from yamlnet.registry import WEIGHTS_ARG, Arg, SizeRule, TapDecl, declare, tap_name

FEATURE_INFO_FILE = Path(__file__).with_name("feature_info.json")

# Registered under their own timm names; every one must be in feature_info.json (a test checks it).
CURATED: tuple[str, ...] = (
    "resnet18",
    "resnet34",
    "resnet50",
    "mobilenetv3_large_100",
    "mobilenetv3_small_100",
    "efficientnet_b0",
    "convnext_tiny",
    "regnety_008",
    "cspdarknet53",
    "mobilevitv2_050",
    "ghostnet_100",
    "fastvit_t8",
)

_ADD_HINT = "add it with `python -m blocks.timm_backbones.generate_feature_info {name}` (records its feature_info)"


@functools.cache
def catalog() -> dict[str, dict[str, Any]]:
    """Model name -> recorded entry: {"features": [[channels, reduction], ...], "out_indices": [...],
    "fmt": "NCHW"|"NHWC", "options": {...}, "size_multiple": k} or {"unsupported": reason}."""
    with open(FEATURE_INFO_FILE, encoding="utf-8") as f:
        data = json.load(f)
    return dict(data["models"])


def _entry(model_name: str) -> dict[str, Any]:
    models = catalog()
    entry = models.get(model_name) or models.get(model_name.split(".")[0])  # "resnet18.a1_in1k": the tag only picks weights
    if entry is None:
        close = difflib.get_close_matches(model_name, list(models), n=3, cutoff=0.7)
        hint = f"did you mean {' or '.join(f'`{c}`' for c in close)}? " if close else ""
        raise ValueError(
            f"timm model `{model_name}` is not in feature_info.json ({len(models)} models are); {hint}{_ADD_HINT.format(name=model_name)}"
        )
    if "unsupported" in entry:
        raise ValueError(f"timm model `{model_name}` cannot be a backbone: {entry['unsupported']}")
    return entry


def normalise_out_indices(out_indices: Sequence[int] | None, count: int, model_name: str) -> list[int]:
    """Feature positions as sorted, distinct, non-negative indices (negative ones count from the end)."""
    result = set()
    for i in out_indices or ():
        if isinstance(i, bool) or not isinstance(i, int):
            raise TypeError(f"out_indices are whole numbers, not {i!r}")
        if not -count <= i < count:
            raise ValueError(f"`{model_name}` has {count} features (out_indices 0..{count - 1}); there is no feature {i}")
        result.add(i % count)
    if not result:
        raise ValueError("out_indices is empty; leave it out (None) for timm's default")
    return sorted(result)


def keep_last_per_tap(reductions: Sequence[int]) -> list[int]:
    """Positions (in the features' order) to keep so that every tap name appears once: the last of each."""
    last: dict[str, int] = {}
    for pos, r in enumerate(reductions):
        last[tap_name(int(r))] = pos
    return sorted(last.values())


def timm_taps(model_name: str, out_indices: Sequence[int] | None = None) -> tuple[TapDecl, ...]:
    """The taps of a recorded timm model at `out_indices` (timm's default when None), shallow to deep."""
    entry = _entry(model_name)
    features = entry["features"]
    chosen = entry["out_indices"] if out_indices is None else normalise_out_indices(out_indices, len(features), model_name)
    selected = [features[i] for i in chosen]
    return tuple(
        TapDecl(tap_name(int(selected[p][1])), int(selected[p][0]), int(selected[p][1])) for p in keep_last_per_tap([r for _, r in selected])
    )


def _size_multiple(model_name: str) -> int:
    entry = catalog().get(model_name) or catalog().get(model_name.split(".")[0]) or {}
    return int(entry.get("size_multiple", 1))


# ---------------------------------------------------------------------------------------------------------

_WEIGHTS = replace(
    WEIGHTS_ARG,
    doc="False/None for random weights, or a local state_dict file (e.g. a timm checkpoint saved with torch.save); nothing is ever downloaded",
)
_OUT_INDICES = Arg(
    "out_indices",
    "list|none",
    default=None,
    doc="which of timm's features to return (indices into feature_info; negative count from the end); None for timm's default",
)


def _check(model_name: str) -> Any:
    def prepare(args: dict[str, Any], n_inputs: int) -> dict[str, Any]:
        if args.get("weights") is True:
            raise ValueError(
                "weights True means timm's pretrained download, which yamlnet never does; give the path of a local weights file, or False"
            )
        name = model_name or args["model_name"]
        entry = _entry(name)
        if args.get("out_indices") is not None:
            args = dict(args, out_indices=normalise_out_indices(args["out_indices"], len(entry["features"]), name))
        return args

    return prepare


def _taps(args: Mapping[str, Any], name: str | None = None) -> tuple[TapDecl, ...]:
    return timm_taps(name or args["model_name"], args.get("out_indices"))


def _sizes(fixed_name: str | None) -> tuple[SizeRule, ...]:
    why = "the model embeds patches (timm's dynamic_img_size): the input must be a multiple of the patch size"
    return (SizeRule(multiple=lambda args: _size_multiple(fixed_name or args["model_name"]), why=why),)


declare(
    "TimmBackbone",
    "blocks.timm_backbones.model:TimmBackbone",
    args=(
        Arg("model_name", "str", doc="a timm model name listed in blocks/timm_backbones/feature_info.json, e.g. resnet18"),
        _WEIGHTS,
        _OUT_INDICES,
    ),
    taps=_taps,
    out_channels=lambda c1, args: _taps(args)[-1].channels,
    stride=lambda args: Fraction(_taps(args)[-1].stride),
    sizes=_sizes(None),
    prepare=_check(""),
    role="backbone",
    static_shapes=False,  # 1,371 models: their taps are recorded, their exact sizes are measured on meta
    doc="any timm model with features_only=True (pretrained=False; a local weights file is loaded by the compiler); "
    "taps P{log2 reduction} from the recorded feature_info",
)


def _declare_named(name: str) -> None:
    declare(
        name,
        f"blocks.timm_backbones.model:{name}",
        args=(_WEIGHTS, _OUT_INDICES),
        taps=lambda args, _n=name: _taps(args, _n),
        out_channels=lambda c1, args, _n=name: _taps(args, _n)[-1].channels,
        stride=lambda args, _n=name: Fraction(_taps(args, _n)[-1].stride),
        sizes=_sizes(name),
        prepare=_check(name),
        role="backbone",
        static_shapes=False,
        doc=f"timm {name} (features_only, pretrained=False); the same as [TimmBackbone, [{name}, weights, out_indices]]",
    )


for _name in CURATED:
    _declare_named(_name)
