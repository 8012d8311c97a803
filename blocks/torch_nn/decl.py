"""Declarations of the `torch.nn` layers YOLOv5 YAMLs use, named as the YAMLs spell them (`nn.Upsample`).

Arguments are torch's own, in torch's order (without `device`/`dtype`), except nn.ConvTranspose2d: YOLOv5 and
Ultralytics treat it as part of the conv family, so its row is `[out_channels, kernel_size, stride, padding, ...]`
with in_channels filled by the compiler and out_channels width-scaled. Channel counts that a YAML row states
(nn.Conv2d's in_channels, nn.BatchNorm2d's num_features) are checked against the channels that arrive.
nn.Conv2d's out_channels is not width-scaled (YOLOv5 does not scale it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

from blocks.yolov5.counts import conv2d
from yamlnet.registry import CHECK_C1, FILL_C1, REQUIRED, Arg, conv_out, declare, out_arg, out_same, stride_arg, transpose_out


def _first(v: Any) -> Any:
    return v[0] if isinstance(v, (list, tuple)) else v


def _upsample_stride(args: Mapping[str, Any]) -> Fraction:
    f = args.get("scale_factor")
    if f is None:
        raise ValueError("nn.Upsample with `size` instead of `scale_factor` has no fixed stride")
    return 1 / Fraction(_first(f)).limit_denominator(1000)


def _maxpool_stride(args: Mapping[str, Any]) -> Fraction:
    s = args.get("stride")
    return Fraction(int(_first(args["kernel_size"] if s is None else s)))


def _transpose_stride(args: Mapping[str, Any]) -> Fraction:
    return Fraction(1, int(_first(args["stride"])))


# --- argument rules (Arg.valid): a problem in words, "" when the value is fine -----------------------------------


def _ints(v: Any) -> list[int]:
    if isinstance(v, bool):
        return []
    if isinstance(v, int):
        return [v]
    return [x for x in v if isinstance(x, int) and not isinstance(x, bool)] if isinstance(v, (list, tuple)) else []


def _padding_fits(p: Any, args: Mapping[str, Any]) -> str:
    """At most half the dilated kernel (torch's rule for pooling): more only adds zeros around the output."""
    ks, ps, ds = _ints(args.get("kernel_size")), _ints(p), _ints(args.get("dilation", 1)) or [1]
    limit = (max(ds) * (max(ks) - 1) + 1) // 2 if ks else 0
    if ks and ps and max(ps) > limit:
        return f"is {p}; a kernel of {max(ks)} takes at most {limit} (half the kernel): more only adds zeros around the output"
    return ""


def _conv_padding(p: Any, args: Mapping[str, Any]) -> str:
    if isinstance(p, str):
        return "" if p in ("same", "valid") else f"is {p!r}; write a number, 'same' or 'valid'"
    return _padding_fits(p, args)


def _output_padding(p: Any, args: Mapping[str, Any]) -> str:
    """torch: output padding must be smaller than the stride or the dilation."""
    ps, ss, ds = _ints(p), _ints(args.get("stride", 1)) or [1], _ints(args.get("dilation", 1)) or [1]
    if ps and max(ps) >= max(max(ss), max(ds)):
        return f"is {p}; it must be smaller than the stride ({max(ss)}) or the dilation ({max(ds)})"
    return ""


def _positive(v: Any, args: Mapping[str, Any]) -> str:
    bad = [x for x in (v if isinstance(v, (list, tuple)) else [v]) if isinstance(x, (int, float)) and not isinstance(x, bool) and x <= 0]
    return f"is {v}; it must be > 0" if bad else ""


def _one_of(*allowed: str) -> Callable[[Any, Mapping[str, Any]], str]:
    def valid(v: Any, args: Mapping[str, Any]) -> str:
        return "" if v in allowed else f"is {v!r}; it must be one of " + ", ".join(repr(a) for a in allowed)

    return valid


IN_CHANNELS = Arg(
    "in_channels", "int|none", check=CHECK_C1, low=1, doc="input channels as the YAML states them; checked against what arrives (None: take them)"
)
KERNEL = Arg("kernel_size", "int|list", low=1, doc="kernel size")
STRIDE = Arg("stride", "int|list", default=1, low=1, doc="stride")
DILATION = Arg("dilation", "int|list", default=1, low=1, doc="dilation")
GROUPS = Arg("groups", "int", default=1, low=1, doc="groups")


def _axes(v: Any) -> list[int]:
    return [int(x) for x in v] if isinstance(v, (list, tuple)) else [int(v), int(v)]


# --- torch's size arithmetic (BlockDecl.size): what each layer makes of an input size ------------------------------

Size = tuple[int, int]


def _conv_size(args: Mapping[str, Any], hw: Size) -> Size:
    p = args["padding"]
    ks, ss, ds = _axes(args["kernel_size"]), _axes(args["stride"]), _axes(args["dilation"])
    if p == "same":
        return hw
    ps = (0, 0) if p == "valid" else _axes(p)
    return (conv_out(hw[0], ks[0], ss[0], ps[0], ds[0]), conv_out(hw[1], ks[1], ss[1], ps[1], ds[1]))


def _pool_out(size: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    span = size + 2 * p - d * (k - 1) - 1
    if not ceil:
        return span // s + 1
    out = -(-span // s) + 1
    return out - 1 if (out - 1) * s >= size + p else out  # the last window must start inside the input or its left padding


def _pool_size(args: Mapping[str, Any], hw: Size) -> Size:
    ks = _axes(args["kernel_size"])
    ss = _axes(args["stride"] if args["stride"] is not None else args["kernel_size"])
    ps, ds = _axes(args["padding"]), _axes(args["dilation"])
    return tuple(_pool_out(hw[i], ks[i], ss[i], ps[i], ds[i], bool(args["ceil_mode"])) for i in (0, 1))  # type: ignore[return-value]


def _transpose_size(args: Mapping[str, Any], hw: Size) -> Size:
    ks, ss, ps = _axes(args["kernel_size"]), _axes(args["stride"]), _axes(args["padding"])
    ops, ds = _axes(args["output_padding"]), _axes(args["dilation"])
    return tuple(transpose_out(hw[i], ks[i], ss[i], ps[i], ops[i], ds[i]) for i in (0, 1))  # type: ignore[return-value]


def _pad_size(args: Mapping[str, Any], hw: Size) -> Size:
    p = args["padding"]
    left, right, top, bottom = (int(p),) * 4 if not isinstance(p, (list, tuple)) else tuple(int(v) for v in p)
    return (hw[0] + top + bottom, hw[1] + left + right)


def _upsample_size(args: Mapping[str, Any], hw: Size) -> Size:
    """torch: floor(size x scale_factor)."""
    f = args["scale_factor"]
    fh, fw = (f[0], f[1] if len(f) > 1 else f[0]) if isinstance(f, (list, tuple)) else (f, f)
    return (int(hw[0] * float(fh)), int(hw[1] * float(fw)))


declare(
    "nn.Upsample",
    "torch.nn:Upsample",
    args=(
        Arg("size", "int|list|none", default=None, low=1, doc="output size (instead of scale_factor)"),
        Arg("scale_factor", "float|list|none", default=None, valid=_positive, doc="upsampling factor"),
        Arg("mode", "str", default="nearest", doc="'nearest', 'bilinear', ..."),
        Arg("align_corners", "bool|none", default=None, doc="for the linear modes"),
        Arg("recompute_scale_factor", "bool|none", default=None, doc="see torch.nn.Upsample"),
    ),
    out_channels=out_same,
    stride=_upsample_stride,
    size=_upsample_size,
    doc="Upsample by scale_factor (nearest by default).",
    params=lambda c1, b: 0,
)
declare(
    "nn.BatchNorm2d",
    "torch.nn:BatchNorm2d",
    args=(Arg("num_features", "int|none", default=None, check=CHECK_C1, low=1, doc="channels; checked against the input, filled when left out"),),
    out_channels=out_same,
    doc="Batch normalisation; a stated channel count is checked against the input (YOLOv5 ignores it).",
    params=lambda c1, b: 2 * c1,
)
declare(
    "nn.Conv2d",
    "torch.nn:Conv2d",
    args=(
        IN_CHANNELS,
        Arg("out_channels", "int", low=1, doc="output channels (not width-scaled)"),
        KERNEL,
        STRIDE,
        Arg("padding", "int|list|str", default=0, low=0, valid=_conv_padding, doc="padding, or 'same' / 'valid'"),
        DILATION,
        GROUPS,
        Arg("bias", "bool", default=True, doc="add a learned bias"),
        Arg("padding_mode", "str", default="zeros", valid=_one_of("zeros", "reflect", "replicate", "circular"), doc="how padding is filled"),
    ),
    out_channels=out_arg("out_channels"),
    stride=stride_arg("stride"),
    size=_conv_size,
    doc="Plain 2-D convolution.",
    params=lambda c1, b: conv2d(c1, b["out_channels"], b["kernel_size"], b["groups"], b["bias"]),
)
declare(
    "nn.ConvTranspose2d",
    "torch.nn:ConvTranspose2d",
    args=(
        Arg("in_channels", "int", fill=FILL_C1, doc="input channels (filled by the compiler; the row starts with out_channels)"),
        Arg("out_channels", "int", width=True, low=1, doc="output channels, scaled by width_multiple"),
        KERNEL,
        Arg("stride", "int|list", default=1, low=1, doc="upsampling factor"),
        Arg("padding", "int|list", default=0, low=0, valid=_padding_fits, doc="padding"),
        Arg("output_padding", "int|list", default=0, low=0, valid=_output_padding, doc="extra size on one side of the output"),
        GROUPS,
        Arg("bias", "bool", default=True, doc="add a learned bias"),
        DILATION,
        Arg("padding_mode", "str", default="zeros", valid=_one_of("zeros"), doc="only 'zeros' is supported by torch"),
    ),
    out_channels=out_arg("out_channels"),
    stride=_transpose_stride,
    size=_transpose_size,
    doc="Transposed 2-D convolution; upsamples by stride. Row: [out_channels, kernel_size, stride, padding, ...].",
    params=lambda c1, b: conv2d(c1, b["out_channels"], b["kernel_size"], b["groups"], b["bias"]),
)
declare(
    "nn.MaxPool2d",
    "torch.nn:MaxPool2d",
    args=(
        KERNEL,
        Arg("stride", "int|list|none", default=None, low=1, doc="stride; None means kernel_size"),
        Arg("padding", "int|list", default=0, low=0, valid=_padding_fits, doc="padding, at most half the kernel"),
        DILATION,
        Arg("return_indices", "bool", default=False, doc="must stay False in a model"),
        Arg("ceil_mode", "bool", default=False, doc="round the output size up"),
    ),
    out_channels=out_same,
    stride=_maxpool_stride,
    size=_pool_size,
    doc="Max pooling; downsamples by stride (kernel_size when stride is None).",
    params=lambda c1, b: 0,
)
declare(
    "nn.ZeroPad2d",
    "torch.nn:ZeroPad2d",
    args=(Arg("padding", "int|list", default=REQUIRED, doc="int or [left, right, top, bottom]"),),
    out_channels=out_same,
    size=_pad_size,
    doc="Zero padding; stride 1, but the spatial size grows by the padding.",
    params=lambda c1, b: 0,
)
declare(
    "nn.Identity",
    "torch.nn:Identity",
    args=(),
    out_channels=out_same,
    doc="Passes its input through.",
    params=lambda c1, b: 0,
)
declare(
    "nn.Dropout",
    "torch.nn:Dropout",
    args=(
        Arg("p", "float", default=0.5, low=0, high=1, doc="probability of zeroing an element"),
        Arg("inplace", "bool", default=False, doc="operate in place"),
    ),
    out_channels=out_same,
    doc="Dropout (identity in eval mode).",
    params=lambda c1, b: 0,
)
