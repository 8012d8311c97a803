"""Declarations of the EMO backbones (EMO_1M, EMO_2M, EMO_5M, EMO_6M): five taps, P1..P5."""

from __future__ import annotations

from dataclasses import replace

from blocks.backbone_params import params_of
from yamlnet.registry import WEIGHTS_ARG, TapDecl, declare, stride_fixed, tap_name

# Channels of (stem, stage1, stage2, stage3, stage4) per variant; must match blocks.emo.model.CONFIGS.
EMO_CHANNELS: dict[str, tuple[int, int, int, int, int]] = {
    "EMO_1M": (24, 32, 48, 80, 168),
    "EMO_2M": (24, 32, 48, 120, 200),
    "EMO_5M": (24, 48, 72, 160, 288),
    "EMO_6M": (24, 48, 72, 160, 320),
}
EMO_STRIDES = (2, 4, 8, 16, 32)

_WEIGHTS = replace(WEIGHTS_ARG, doc="False/None for random initialisation, or a checkpoint of the authors' EMO (loaded by key)")


def _declare(name: str) -> None:
    channels = EMO_CHANNELS[name]
    taps = tuple(TapDecl(tap_name(s), c, s) for c, s in zip(channels, EMO_STRIDES))
    declare(
        name,
        f"blocks.emo.model:{name}",
        args=(_WEIGHTS,),
        params=params_of(name),
        out_channels=lambda c1, args, _c=channels[-1]: _c,
        stride=stride_fixed(EMO_STRIDES[-1]),
        taps=lambda args, _t=taps: _t,
        role="backbone",
        doc=f"EMO backbone ({name}); outputs P1..P5 with channels {list(channels)}; any input size (attention windows are zero-padded).",
    )


for _name in EMO_CHANNELS:
    _declare(_name)
