"""Declarations of MV2Block and MobileViTBlock (YAML layers, the seed's argument order) and of the MobileViT
XXS/XS/S backbones (taps P1..P5)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from blocks.backbone_params import params_of
from yamlnet.registry import (
    FILL_C1,
    WEIGHTS_ARG,
    Arg,
    SizeRule,
    TapDecl,
    declare,
    out_arg,
    stride_arg,
    stride_fixed,
)

# variant -> (transformer dims of the three MobileViT blocks, the seed's 11 channel entries, MV2 expansion)
VARIANTS: dict[str, tuple[tuple[int, ...], tuple[int, ...], int]] = {
    "xxs": ((64, 80, 96), (16, 16, 24, 24, 48, 48, 64, 64, 80, 80, 320), 2),
    "xs": ((96, 120, 144), (16, 32, 48, 48, 64, 64, 80, 80, 96, 96, 384), 4),
    "s": ((144, 192, 240), (16, 32, 64, 64, 96, 96, 128, 128, 160, 160, 640), 4),
}
# Which of the seed's channel entries each tap carries: P1 after mv2[0], P2 after mv2[3], P3/P4 after the
# first/second MobileViT block, P5 after the final 1x1 expansion conv (conv2, the seed's last feature map).
_TAP_CHANNEL_INDEX = {"P1": 1, "P2": 3, "P3": 5, "P4": 7, "P5": 10}
_TAP_STRIDE = {"P1": 2, "P2": 4, "P3": 8, "P4": 16, "P5": 32}
BACKBONE_MULTIPLE = 64  # the last MobileViT block (stride 32) unfolds 2x2 patches: H/32 and W/32 must be even


def _patch_multiple(args: Mapping[str, Any]) -> int:
    p = args["patch_size"]
    if isinstance(p, (list, tuple)):
        return math.lcm(*(int(v) for v in p))
    return int(p)


declare(
    "MV2Block",
    "blocks.mobilevit.model:MV2Block",
    args=(
        Arg("c1", "int", fill=FILL_C1, doc="input channels (from the compiler)"),
        Arg("c2", "int", width=True, doc="output channels"),
        Arg("stride", "int", default=1, doc="stride of the depthwise conv (1 or 2)"),
        Arg("expansion", "float", default=4, doc="hidden width = int(c1 * expansion)"),
    ),
    out_channels=out_arg("c2"),
    stride=stride_arg("stride"),
    doc="MobileNetV2 inverted residual (MobileViT's MV2). YAML: [c2, stride, expansion], e.g. [32, 1, 2].",
)

declare(
    "MobileViTBlock",
    "blocks.mobilevit.model:MobileViTBlock",
    args=(
        Arg("c1", "int", fill=FILL_C1, doc="input channels (from the compiler)"),
        Arg("c2", "int", width=True, doc="output channels"),
        Arg("dim", "int", doc="transformer width"),
        Arg("depth", "int", doc="transformer layers"),
        Arg("kernel_size", "int", doc="kernel of the local convs (conv1, conv4)"),
        Arg("patch_size", "int|list", doc="patch height/width (int, or [ph, pw])"),
        Arg("mlp_dim", "int", doc="hidden width of the transformer MLP"),
    ),
    out_channels=out_arg("c2"),
    sizes=(
        SizeRule(
            multiple=_patch_multiple,
            why="the feature map is cut into patch_size x patch_size patches; its height and width must be multiples of patch_size",
        ),
    ),
    doc=(
        "MobileViT block (arXiv 2110.02178): local conv + patch-wise transformer (4 heads of 8) + fusion conv "
        "over [x, input]. YAML: [c2, dim, depth, kernel_size, patch_size, mlp_dim], e.g. "
        "[64, 96, 2, 3, 2, 192]. Stride 1."
    ),
)


def _declare_backbone(name: str, variant: str) -> None:
    channels = VARIANTS[variant][1]
    taps = tuple(TapDecl(t, channels[i], _TAP_STRIDE[t]) for t, i in _TAP_CHANNEL_INDEX.items())

    def tap_list(args: Mapping[str, Any]) -> tuple[TapDecl, ...]:
        return taps

    declare(
        name,
        f"blocks.mobilevit.model:{name}",
        args=(
            WEIGHTS_ARG,
            Arg("in_channels", "int", default=3, fill=FILL_C1, doc="input channels (from the compiler)"),
        ),
        role="backbone",
        params=params_of(name),
        taps=tap_list,
        out_channels=lambda c1, args, c=taps[-1].channels: c,
        stride=stride_fixed(32),
        sizes=(
            SizeRule(
                multiple=lambda args: BACKBONE_MULTIPLE,
                why="the MobileViT block at stride 32 cuts 2x2 patches, so the input must be a multiple of 64",
            ),
        ),
        doc=(
            f"MobileViT-{variant.upper()} backbone as in the seed (dims {list(VARIANTS[variant][0])}, MV2 "
            f"expansion {VARIANTS[variant][2]}), without pooling and classifier. Taps: "
            + ", ".join(f"{t.name} ({t.channels} ch, stride {t.stride})" for t in taps)
            + ". P1 = after the first MV2 block, P2 = after the last MV2 block at stride 4, P3/P4 = after the "
            "MobileViT blocks at stride 8/16, P5 = after the final 1x1 expansion conv that follows the "
            "stride-32 MobileViT block."
        ),
    )


_declare_backbone("MobileViT_XXS", "xxs")
_declare_backbone("MobileViT_XS", "xs")
_declare_backbone("MobileViT_S", "s")
