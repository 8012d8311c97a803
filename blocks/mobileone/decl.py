"""Declarations of MobileOneBlock (a YAML layer) and the MobileOne-S0 backbone (taps P1..P5)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from blocks.backbone_params import params_of
from yamlnet.registry import (
    FILL_C1,
    WEIGHTS_ARG,
    Arg,
    TapDecl,
    declare,
    out_arg,
    stride_arg,
    stride_fixed,
    tap_name,
)

# The seed's make_mobileone_s0: blocks, strides, branches k and widths (base widths times width multipliers
# 0.75, 0.75, 1, 1, 1, 2) per stage; stage 0 is a plain conv-BN-ReLU stem.
S0_BLOCKS = (1, 2, 8, 5, 5, 1)
S0_STRIDES = (2, 2, 2, 2, 1, 2)
S0_K = (4, 4, 4, 4, 4, 4)
S0_CHANNELS = (48, 48, 128, 256, 256, 1024)

# The last stage at each cumulative stride is the tap (stages 3 and 4 are both at stride 16: stage 4 wins).
_S0_TAPS: tuple[TapDecl, ...] = ()
_stride = 1
for _c, _s in zip(S0_CHANNELS, S0_STRIDES):
    _stride *= _s
    _S0_TAPS = tuple(t for t in _S0_TAPS if t.stride != _stride) + (TapDecl(tap_name(_stride), _c, _stride),)


def _s0_taps(args: Mapping[str, Any]) -> tuple[TapDecl, ...]:
    return _S0_TAPS


declare(
    "MobileOneBlock",
    "blocks.mobileone.model:MobileOneBlock",
    args=(
        Arg("in_channels", "int", fill=FILL_C1, doc="input channels (from the compiler)"),
        Arg("out_channels", "int", width=True, doc="output channels"),
        Arg("k", "int", doc="over-parameterisation: conv-BN branches per side (1 at deploy time)"),
        Arg("stride", "int", default=1, doc="stride of the depthwise 3x3 side"),
    ),
    out_channels=out_arg("out_channels"),
    stride=stride_arg("stride"),
    doc=(
        "MobileOne block (arXiv 2206.04040) as in the seed: depthwise 3x3 side (k conv-BN branches, a depthwise "
        "1x1 scale branch, a BN identity when in == out and stride 1) + ReLU, then pointwise 1x1 side (k conv-BN "
        "branches, BN identity under the same condition) + ReLU. YAML: [out_channels, k, stride]. fuse() "
        "reparameterises it into one depthwise 3x3 conv and one 1x1 conv. The seed gives no YAML for it; it is "
        "registered so a spec can build MobileOne-style stages row by row."
    ),
)

declare(
    "MobileOne_S0",
    "blocks.mobileone.model:MobileOne_S0",
    args=(
        WEIGHTS_ARG,
        Arg("in_channels", "int", default=3, fill=FILL_C1, doc="input channels, from the compiler (the seed's stem hard-codes 4, a bug)"),
    ),
    role="backbone",
    params=params_of("MobileOne_S0"),
    taps=_s0_taps,
    out_channels=lambda c1, args: _S0_TAPS[-1].channels,
    stride=stride_fixed(32),
    doc=(
        "MobileOne-S0 backbone as in the seed: stem conv 3x3/2 (48) then stages of "
        f"{list(S0_BLOCKS[1:])} MobileOneBlocks (k=4), widths {list(S0_CHANNELS[1:])}, strides "
        f"{list(S0_STRIDES[1:])}. Taps: "
        + ", ".join(f"{t.name} ({t.channels} ch, stride {t.stride})" for t in _S0_TAPS)
        + ". Stages 3 and 4 both end at stride 16; P4 is the output of the later one (stage 4). "
        "fuse() reparameterises every block and folds the stem BN."
    ),
)
