"""Declarations of the EfficientViT backbones (EfficientViT_M0 .. EfficientViT_M5): taps P3, P4, P5."""

from __future__ import annotations

from dataclasses import replace

from blocks.backbone_params import params_of
from yamlnet.registry import WEIGHTS_ARG, TapDecl, declare, stride_fixed, tap_name

# embed_dim per variant (the channels of the three stages); must match blocks.efficientvit.model.CONFIGS.
EFFICIENTVIT_CHANNELS: dict[str, tuple[int, int, int]] = {
    "M0": (64, 128, 192),
    "M1": (128, 144, 192),
    "M2": (128, 192, 224),
    "M3": (128, 240, 320),
    "M4": (128, 256, 384),
    "M5": (192, 288, 384),
}
EFFICIENTVIT_STRIDES = (8, 16, 32)

_WEIGHTS = replace(WEIGHTS_ARG, doc="False/None for random initialisation, or a checkpoint of the authors' EfficientViT (loaded by key)")


def _declare(variant: str) -> None:
    channels = EFFICIENTVIT_CHANNELS[variant]
    taps = tuple(TapDecl(tap_name(s), c, s) for c, s in zip(channels, EFFICIENTVIT_STRIDES))
    name = f"EfficientViT_{variant}"
    declare(
        name,
        f"blocks.efficientvit.model:{name}",
        args=(_WEIGHTS,),
        params=params_of(name),
        out_channels=lambda c1, args, _c=channels[-1]: _c,
        stride=stride_fixed(EFFICIENTVIT_STRIDES[-1]),
        taps=lambda args, _t=taps: _t,
        role="backbone",
        doc=f"EfficientViT-{variant} backbone (downstream variant); outputs P3, P4, P5 with channels "
        f"{list(channels)}; any input size (attention windows are zero-padded).",
    )


for _variant in EFFICIENTVIT_CHANNELS:
    _declare(_variant)
