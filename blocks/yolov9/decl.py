"""Declarations of the YOLOv9 layers (Ultralytics dialect), following the package's parse rules as measured:

- RepNCSPELAN4, ELAN1, SPPELAN: input channels filled, the first argument (c2) width-scaled, the hidden
  widths (c3, c4) taken as written; RepNCSPELAN4's `n` is its own 4th argument (the row's number is not
  passed in: a number > 1 makes copies in an nn.Sequential, which only works when c1 == c2).
- ADown, AConv: [c2] width-scaled, stride 2.
- CBLinear: [c2s] (not scaled) gives one output per entry of c2s, taps `out0`, `out1`, ...
- CBFuse: [idx] sums the last input and, resized to its size, output idx[i] of each other input; its
  channels and stride are the last input's. `idx` is a pick argument (CHECK_PICK): the compiler wires input
  i to tap idx[i] of its row, so every picked tensor's channels are checked against the last input's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from yamlnet.registry import CHECK_PICK, FILL_C1, Arg, TapDecl, conv_size, declare, out_arg, stride_fixed

UL = "ultralytics"
IMPL = "blocks.yolov9.layers"

C1 = Arg("c1", "int", fill=FILL_C1, doc="input channels (filled by the compiler)")
C2 = Arg("c2", "int", width=True, doc="output channels, width-scaled (make_divisible(min(c2, max_channels) * width, 8))")
C3 = Arg("c3", "int", doc="width of the first 1x1 conv (split in two halves), not scaled")
C4 = Arg("c4", "int", doc="width of each of the two chained stages, not scaled")


def _positive(name: str, v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{name} must be a whole number >= 1, not {v!r}")


def _check_elan(args: dict[str, Any], n_inputs: int) -> dict[str, Any]:
    _positive("c3", args["c3"])
    _positive("c4", args["c4"])
    if args["c3"] % 2:
        raise ValueError(f"c3 ({args['c3']}) is split into two halves, so it must be even")
    if "n" in args:
        _positive("n", args["n"])
    return args


def _check_sppelan(args: dict[str, Any], n_inputs: int) -> dict[str, Any]:
    _positive("c3", args["c3"])
    k = args["k"]
    if isinstance(k, bool) or not isinstance(k, int) or k < 1 or k % 2 == 0:
        raise ValueError(f"k is the max-pool kernel and must be an odd whole number (the size is kept), not {k!r}")
    return args


declare(
    "RepNCSPELAN4",
    f"{IMPL}:RepNCSPELAN4",
    dialect=UL,
    args=(C1, C2, C3, C4, Arg("n", "int", default=1, doc="RepBottlenecks in each of the two RepCSP stages (the row's number is not used)")),
    out_channels=out_arg("c2"),
    prepare=_check_elan,
    doc="YOLOv9 GELAN stage: 1x1 conv split in two, two (RepCSP, 3x3 conv) stages chained, concat, 1x1 conv. [c2, c3, c4, n]",
)
declare(
    "ELAN1",
    f"{IMPL}:ELAN1",
    dialect=UL,
    args=(C1, C2, C3, C4),
    out_channels=out_arg("c2"),
    prepare=_check_elan,
    doc="YOLOv9-t light GELAN stage: 1x1 conv split in two, two chained 3x3 convs, concat, 1x1 conv. [c2, c3, c4]",
)


def _adown_check(args: dict[str, Any], n_inputs: int) -> dict[str, Any]:
    if args["c2"] % 2:
        raise ValueError(f"ADown makes c2 from two halves, so c2 ({args['c2']}) must be even")
    return args


declare(
    "ADown",
    f"{IMPL}:ADown",
    dialect=UL,
    args=(C1, C2),
    out_channels=out_arg("c2"),
    stride=stride_fixed(2),
    size=lambda args, hw: (hw[0] // 2, hw[1] // 2),  # a 2x2 stride-1 average pool first: odd sizes round down
    prepare=_adown_check,
    doc="YOLOv9 downsampling by 2: 2x2 average pool, then half the channels by a stride-2 3x3 conv, half by a max pool and 1x1 conv. [c2]",
)
declare(
    "AConv",
    f"{IMPL}:AConv",
    dialect=UL,
    args=(C1, C2),
    out_channels=out_arg("c2"),
    stride=stride_fixed(2),
    size=lambda args, hw: (hw[0] // 2, hw[1] // 2),  # a 2x2 stride-1 average pool first: odd sizes round down
    doc="YOLOv9-t downsampling by 2: 2x2 stride-1 average pool, then a stride-2 3x3 conv. [c2]",
)
declare(
    "SPPELAN",
    f"{IMPL}:SPPELAN",
    dialect=UL,
    args=(C1, C2, Arg("c3", "int", doc="hidden width, not scaled"), Arg("k", "int", default=5, doc="max-pool kernel size")),
    out_channels=out_arg("c2"),
    prepare=_check_sppelan,
    doc="YOLOv9 SPP in ELAN layout: 1x1 conv to c3, three chained stride-1 max pools, concat of the four, 1x1 conv. [c2, c3, k]",
)


# --- CBLinear / CBFuse -------------------------------------------------------------------------------------


def cblinear_tap(i: int) -> str:
    """The name of CBLinear's output i (`10.out2` in a `from`)."""
    return f"out{i}"


def _cblinear_check(args: dict[str, Any], n_inputs: int) -> dict[str, Any]:
    c2s = args["c2s"]
    if not c2s:
        raise ValueError("c2s lists the channels of each output; it is empty")
    for c in c2s:
        _positive("every entry of c2s", c)
    for name in ("k", "s", "g"):
        _positive(name, args[name])
    return args


def _cblinear_taps(args: Mapping[str, Any]) -> tuple[TapDecl, ...]:
    s = int(args["s"])
    return tuple(TapDecl(cblinear_tap(i), int(c), s) for i, c in enumerate(args["c2s"]))


declare(
    "CBLinear",
    f"{IMPL}:CBLinear",
    dialect=UL,
    args=(
        C1,
        Arg("c2s", "list", doc="channels of each output (not scaled); output i is the tap `out{i}`"),
        Arg("k", "int", default=1, doc="kernel size"),
        Arg("s", "int", default=1, doc="stride"),
        Arg("p", "int|none", default=None, doc="padding; None keeps the size at stride 1"),
        Arg("g", "int", default=1, doc="groups"),
    ),
    repeat="none",
    taps=_cblinear_taps,
    out_channels=lambda c1, args: int(args["c2s"][-1]),
    stride=lambda args: Fraction(int(args["s"])),
    size=conv_size("k", "s", "p", None),  # one conv (autopad k // 2), split into the taps
    prepare=_cblinear_check,
    doc="YOLOv9 auxiliary projections: one conv (with bias) split into len(c2s) outputs `out0`, `out1`, ... that CBFuse rows pick from. [c2s]",
)


def _cbfuse_check(args: dict[str, Any], n_inputs: int) -> dict[str, Any]:
    idx = args["idx"]
    if len(idx) != n_inputs - 1:
        raise ValueError(f"idx picks one output of every input but the last: {n_inputs - 1} entries for {n_inputs} inputs, not {len(idx)}")
    for i in idx:
        if isinstance(i, bool) or not isinstance(i, int) or i < 0:
            raise ValueError(f"every entry of idx is an output index >= 0, not {i!r}")
    return args


def cbfuse_channels(c1: Sequence[int] | int, args: Mapping[str, Any]) -> int:
    """The last input's channels; every picked input must have as many (they are summed)."""
    chans = list(c1) if isinstance(c1, (list, tuple)) else [int(c1)]
    last = int(chans[-1])
    bad = [i for i, c in enumerate(chans[:-1]) if int(c) != last]
    if bad:
        raise ValueError(f"CBFuse sums its inputs, but input {bad[0]} has {chans[bad[0]]} channels and the last input {last}")
    return last


declare(
    "CBFuse",
    f"{IMPL}:CBFuse",
    dialect=UL,
    args=(
        Arg(
            "idx",
            "list",
            check=CHECK_PICK,
            doc="for each input but the last: which output of that (CBLinear) row to take; the compiler wires that tap",
        ),
    ),
    inputs="list",
    repeat="none",
    out_channels=cbfuse_channels,
    prepare=_cbfuse_check,
    doc="YOLOv9 fusion: the last input plus output idx[i] of each other (CBLinear) input, resized (nearest) to the last input's size. [idx]",
)
