"""Declarations of the RIFormer backbones (multi-output: P2..P5 at strides 4, 8, 16, 32)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from blocks.backbone_params import params_of
from yamlnet.registry import FILL_C1, WEIGHTS_ARG, Arg, TapDecl, declare, stride_fixed, tap_name

# arch -> (blocks per stage, channels per stage, layer-scale init); the PoolFormer grid the seed uses.
ARCHS: dict[str, tuple[tuple[int, ...], tuple[int, ...], float]] = {
    "s12": ((2, 2, 6, 2), (64, 128, 320, 512), 1e-5),
    "s24": ((4, 4, 12, 4), (64, 128, 320, 512), 1e-5),
    "s36": ((6, 6, 18, 6), (64, 128, 320, 512), 1e-6),
    "m36": ((6, 6, 18, 6), (96, 192, 384, 768), 1e-6),
    "m48": ((8, 8, 24, 8), (96, 192, 384, 768), 1e-6),
}
STRIDES = (4, 8, 16, 32)

_WEIGHTS_DOC = (
    "pretrained weights: False/None for none, or a checkpoint path loaded by the compiler. The seed YAML "
    "writes `RIFormer, [False]`, which does not fit the seed class's own (arch, weights, ...) signature; it is "
    "read as the other seeds mean it: the first argument is the weights, the architecture is fixed by the name."
)


def _declare(name: str, arch: str) -> None:
    dims = ARCHS[arch][1]
    taps = tuple(TapDecl(tap_name(s), c, s) for c, s in zip(dims, STRIDES))

    def tap_list(args: Mapping[str, Any]) -> tuple[TapDecl, ...]:
        return taps

    declare(
        name,
        f"blocks.riformer.model:RIFormer_{arch}",
        args=(
            replace(WEIGHTS_ARG, doc=_WEIGHTS_DOC),
            Arg("in_channels", "int", default=3, fill=FILL_C1, doc="input channels (from the compiler)"),
        ),
        role="backbone",
        params=params_of(name),
        taps=tap_list,
        out_channels=lambda c1, args, c=dims[-1]: c,
        stride=stride_fixed(32),
        doc=(
            f"RIFormer-{arch.upper()} backbone (arXiv 2304.05659): stages of {list(ARCHS[arch][0])} blocks, "
            f"widths {list(dims)}; each stage output passes through its own GroupNorm(1, C) and is a tap: "
            + ", ".join(f"{t.name} ({t.channels} ch, stride {t.stride})" for t in taps)
            + ". No P1 tap: in the seeds' row-0 numbering index 0 (P1) is empty, 1..4 are P2..P5. "
            "Architecture is fixed by the name; fuse() folds each affine token mixer into its norm."
            + (" `RIFormer` is RIFormer-S12." if arch == "s12" else "")
        ),
    )


_declare("RIFormer", "s12")
for _arch in ARCHS:
    _declare(f"RIFormer_{_arch}", _arch)
