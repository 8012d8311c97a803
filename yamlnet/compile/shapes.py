"""The shape pass: interpret the lowered graph (`codegen.lower_graph`, the same graph the compiled model's code
is generated from) on meta tensors, with the blocks built on the meta device (no weight memory), and turn
whatever a block raises into a diagnostic on its row. Also used for summaries and parameter counts.

Speed matters (validation should cost a small fraction of a real build), so
- rows whose declarations give their shapes (`static_shapes`) are not built at all in validation: the
  interpreter returns meta tensors of the declared shapes for them (`shape_facts`; `--deep` builds all);
- blocks are built under a torch-function mode that puts new tensors on the meta device and skips the
  in-place initialisers (on meta tensors they have nothing to initialise);
- the graph is interpreted (torch.fx's Interpreter, facts in `node.meta["shape"]`), not compiled to code;
- shape-preserving normalisations and activations check their input and return it, instead of dispatching
  to the meta kernels (BatchNorm's meta path costs milliseconds per call); not when FLOPs are counted.
Results are compared with the static inference: channels and strides that disagree are reported (YN306).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import fx, nn
from torch.overrides import TorchFunctionMode

from ..diagnostics import Diagnostic
from ..graph.declared import declared_rows, declared_shapes, params_limit, static_shape, undeclared_rows
from ..graph.ir import IR, Node, PortRef
from ..spec.limits import DEFAULT_LIMITS, Limits
from .codegen import generate, lower_graph, module_root
from .context import activation
from .instantiate import activation_factory, instantiate_node

# In-place tensor methods that only write values: on a meta tensor they can be skipped during construction.
_VALUE_ONLY_INPLACE = (
    "uniform_",
    "normal_",
    "zero_",
    "fill_",
    "erfinv_",
    "clamp_",
    "clamp_min_",
    "clamp_max_",
    "mul_",
    "add_",
    "sub_",
    "div_",
    "copy_",
    "exponential_",
    "bernoulli_",
    "random_",
    "log_normal_",
    "cauchy_",
    "geometric_",
    "fill_diagonal_",
    "abs_",
    "sqrt_",
    "neg_",
    "exp_",
    "log_",
    "masked_fill_",
    "index_fill_",
)
_SKIP = {getattr(torch.Tensor, n) for n in _VALUE_ONLY_INPLACE if hasattr(torch.Tensor, n)}
# nn.init's initialisers fill their first argument in place and return it (inside them the mode is off)
_SKIP |= {
    getattr(nn.init, n)
    for n in (
        "uniform_",
        "normal_",
        "trunc_normal_",
        "constant_",
        "ones_",
        "zeros_",
        "eye_",
        "dirac_",
        "xavier_uniform_",
        "xavier_normal_",
        "kaiming_uniform_",
        "kaiming_normal_",
        "orthogonal_",
        "sparse_",
    )
    if hasattr(nn.init, n)
}


def _constructors() -> set[Any]:
    try:
        from torch.utils._device import _device_constructors

        return set(_device_constructors())
    except Exception:  # pragma: no cover - a torch without that helper: fall back to torch.device("meta")
        return set()


_CONSTRUCTORS = _constructors()


class _MetaConstruction(TorchFunctionMode):
    """New tensors go to the meta device; value-only in-place ops on meta tensors are skipped."""

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        if func in _SKIP:
            t = args[0] if args else kwargs.get("tensor", kwargs.get("self"))  # nn.init passes `tensor=` by keyword
            if isinstance(t, torch.Tensor) and t.is_meta:
                return t
        if func in _CONSTRUCTORS and kwargs.get("device") is None:
            kwargs["device"] = "meta"
        return func(*args, **kwargs)


@contextmanager
def meta_construction() -> Iterator[None]:
    """Build modules with every parameter and buffer on the meta device (nothing allocated, nothing initialised)."""
    if not _CONSTRUCTORS:  # pragma: no cover
        with torch.device("meta"):
            yield
        return
    with _MetaConstruction():
        yield


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"[:300]


def meta_modules(ir: IR, positions: Collection[int] | None = None) -> tuple[dict[int, nn.Module], list[Diagnostic]]:
    """Every row's module (or those at `positions`) on the meta device; a row whose constructor raises gets a
    diagnostic (YN405)."""
    modules: dict[int, nn.Module] = {}
    diags: list[Diagnostic] = []
    with activation(activation_factory(ir.spec.activation)), meta_construction():
        for pos, node in ir.nodes.items():
            if node.decl.role == "select" or not node.ok or (positions is not None and pos not in positions):
                continue
            try:
                modules[pos] = instantiate_node(node)
            except Exception as e:  # the block refused its arguments: a diagnostic on its row, never a traceback
                diags.append(
                    Diagnostic(
                        "YN405",
                        f"{node.label} cannot be built: {_one_line(e)}",
                        node.row.span,
                        help="check this row's arguments against the block's reference (`yamlnet blocks "
                        f"{node.decl.name}`); the block's declaration accepted them, its constructor did not",
                    )
                )
    return modules, diags


def meta_model(ir: IR) -> tuple[fx.GraphModule | None, list[Diagnostic], dict[int, nn.Module]]:
    """The model built on the meta device (as built, no shape-only shortcuts: FLOPs can be counted on it);
    construction errors become diagnostics. Built once per IR: the shape pass of a summary runs on the same
    modules (`shape_pass(..., fast=False)`)."""
    mg = meta_graph(ir, fast=False)
    if mg.diagnostics:
        return None, mg.diagnostics, mg.modules
    return generate(ir, mg.modules), [], mg.modules


def meta_params(ir: IR) -> dict[int, int]:
    """Parameters of every row, counted on the meta device (nothing allocated)."""
    modules, _ = meta_modules(ir)
    return {pos: _count(m) for pos, m in modules.items()}


def meta_params_at(ir: IR, positions: Collection[int]) -> tuple[dict[int, int], list[Diagnostic]]:
    """Parameters of the rows at `positions`, counted on the meta device (the shape pass reuses the modules)."""
    mg = meta_graph(ir, positions)
    return {pos: _count(m) for pos, m in mg.modules.items()}, list(mg.diagnostics)


def _count(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def check_params(ir: IR, limits: Limits = DEFAULT_LIMITS, params: dict[int, int] | None = None) -> list[Diagnostic]:
    """The total parameter count against limits.params, counted on meta (never allocated): YN507."""
    if params is None:
        mg = meta_graph(ir)
        if mg.diagnostics:
            return mg.diagnostics
        params = {pos: _count(m) for pos, m in mg.modules.items()}
    return params_limit(ir, limits, params)


# ---------------------------------------------------------------------------------------------------------
# Shape-only forwards of layers whose output has the shape of their input.


def _channels_must_be(m: nn.Module, expected: int) -> Any:
    name = type(m).__name__

    def forward(x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if x.dim() < 2 or x.shape[1] != expected:
            got = x.shape[1] if x.dim() >= 2 else None
            raise RuntimeError(f"{name} expects {expected} channels, got {got} (input shape {tuple(x.shape)})")
        return x

    return forward


def _layernorm(m: nn.LayerNorm) -> Any:
    shape = tuple(m.normalized_shape)

    def forward(x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[x.dim() - len(shape) :]) != shape:
            raise RuntimeError(f"LayerNorm over {list(shape)} got an input of shape {tuple(x.shape)}")
        return x

    return forward


def _conv2d(m: nn.Conv2d) -> Any:
    """nn.Conv2d's output shape by its formula (torch's own meta kernel runs in Python and costs far more)."""
    k, s, d = m.kernel_size, m.stride, m.dilation
    pad = m.padding
    c_in, c_out, groups = m.in_channels, m.out_channels, m.groups

    def forward(x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != c_in:
            raise RuntimeError(f"Conv2d expects a 4-D input with {c_in} channels, got shape {tuple(x.shape)}")
        hw = []
        for i in (0, 1):
            size = int(x.shape[2 + i])
            if isinstance(pad, str):
                p2 = 0 if pad == "valid" else d[i] * (k[i] - 1)
            else:
                p2 = 2 * int(pad[i])
            out = (size + p2 - d[i] * (k[i] - 1) - 1) // (s[i] if not isinstance(pad, str) or pad == "valid" else 1) + 1
            if out < 1 or size + p2 < d[i] * (k[i] - 1) + 1:
                raise RuntimeError(f"Conv2d: the input is {size} pixels ({size + p2} padded), smaller than the kernel ({d[i] * (k[i] - 1) + 1})")
            hw.append(out)
        return torch.empty((x.shape[0], c_out, hw[0], hw[1]), dtype=x.dtype, device=x.device)

    if m.padding_mode != "zeros" or groups < 1:
        return None
    return forward


def _passthrough(x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    return x


_SHAPE_PRESERVING = (
    nn.SiLU,
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.GELU,
    nn.Mish,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.Sigmoid,
    nn.Tanh,
    nn.Identity,
    nn.Softplus,
    nn.Dropout,
    nn.Dropout2d,
    nn.Hardtanh,
)


def _fast_forwards(root: nn.Module) -> None:
    """Replace, on this meta copy only, the forwards of shape-preserving layers by checks that return the input."""
    for m in root.modules():
        t = type(m)
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and t.forward is nn.modules.batchnorm._BatchNorm.forward:
            m.forward = _channels_must_be(m, m.num_features)  # type: ignore[method-assign]
        elif t is nn.GroupNorm:
            m.forward = _channels_must_be(m, m.num_channels)  # type: ignore[method-assign]
        elif t is nn.LayerNorm:
            m.forward = _layernorm(m)  # type: ignore[method-assign]
        elif t is nn.Conv2d and type(m).forward is nn.Conv2d.forward:
            f = _conv2d(m)
            if f is not None:
                m.forward = f  # type: ignore[method-assign]
        elif t in _SHAPE_PRESERVING:
            m.forward = _passthrough  # type: ignore[method-assign]


# ---------------------------------------------------------------------------------------------------------
# Shape functions for common ops on meta tensors. torch's meta kernels for many ops are Python
# decompositions that cost 0.1-3 ms per call; these compute the result's shape directly. Each declines
# (returns None) on anything unusual, and then the real op runs, so torch's own errors still surface.

_Shape = tuple[int, ...]


def _meta(*xs: Any) -> bool:
    return any(isinstance(x, torch.Tensor) for x in xs) and all(x.is_meta for x in xs if isinstance(x, torch.Tensor))


def _broadcast(a: _Shape, b: _Shape) -> _Shape | None:
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if x != y and x != 1 and y != 1:
            return None
        out.append(y if x == 1 else x)
    return tuple(out)


def _binary(true_div: bool = False) -> Any:
    def shape(a: Any, b: Any, *rest: Any, **kw: Any) -> Any:
        if rest or set(kw) - {"alpha"} or not _meta(a, b):
            return None
        if not all(isinstance(v, (torch.Tensor, int, float, bool)) for v in (a, b)):
            return None
        sa = tuple(a.shape) if isinstance(a, torch.Tensor) else ()
        sb = tuple(b.shape) if isinstance(b, torch.Tensor) else ()
        out = _broadcast(sa, sb)
        if out is None:
            return None
        dtype = torch.result_type(a, b)
        if true_div and not dtype.is_floating_point and not dtype.is_complex:
            dtype = torch.get_default_dtype()
        return torch.empty(out, dtype=dtype, device="meta")

    return shape


def _unary(x: Any, *rest: Any, **kw: Any) -> Any:
    if not isinstance(x, torch.Tensor) or not x.is_meta or not x.dtype.is_floating_point:
        return None
    if any(not isinstance(v, (int, float, bool)) for v in rest) or set(kw) - {"inplace", "negative_slope", "approximate", "dim"}:
        return None
    return torch.empty(tuple(x.shape), dtype=x.dtype, device="meta")


def _softmax(x: Any, dim: Any = None, *rest: Any, **kw: Any) -> Any:
    if rest or kw.get("dtype") is not None or set(kw) - {"dim", "dtype", "_stacklevel"}:
        return None
    return _unary(x)


def _cat(tensors: Any, dim: int = 0, **kw: Any) -> Any:
    if kw or not isinstance(tensors, (list, tuple)) or not tensors or not isinstance(dim, int):
        return None
    ts = [t for t in tensors if not (isinstance(t, torch.Tensor) and t.dim() == 1 and t.shape[0] == 0)]
    if not ts or not all(isinstance(t, torch.Tensor) and t.is_meta for t in ts):
        return None
    n = ts[0].dim()
    if n == 0 or any(t.dim() != n for t in ts):
        return None
    d = dim % n
    first = tuple(ts[0].shape)
    if any(tuple(t.shape[:d]) != first[:d] or tuple(t.shape[d + 1 :]) != first[d + 1 :] for t in ts):
        return None
    dtype = ts[0].dtype
    for t in ts[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    return torch.empty(first[:d] + (sum(int(t.shape[d]) for t in ts),) + first[d + 1 :], dtype=dtype, device="meta")


def _stack(tensors: Any, dim: int = 0, **kw: Any) -> Any:
    if kw or not isinstance(tensors, (list, tuple)) or not tensors or not isinstance(dim, int):
        return None
    if not all(isinstance(t, torch.Tensor) and t.is_meta for t in tensors):
        return None
    first = tuple(tensors[0].shape)
    if any(tuple(t.shape) != first or t.dtype != tensors[0].dtype for t in tensors):
        return None
    d = dim % (len(first) + 1)
    return torch.empty(first[:d] + (len(tensors),) + first[d:], dtype=tensors[0].dtype, device="meta")


def _arange(*args: Any, **kw: Any) -> Any:
    device = kw.get("device")
    if device is None or torch.device(device).type != "meta" or set(kw) - {"device", "dtype"}:
        return None
    if not args or len(args) > 3 or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
        return None
    start, end, step = (0, args[0], 1) if len(args) == 1 else (args[0], args[1], args[2] if len(args) == 3 else 1)
    if step == 0:
        return None
    n = max(0, math.ceil((end - start) / step))
    dtype = kw.get("dtype") or (torch.get_default_dtype() if any(isinstance(a, float) for a in args) else torch.int64)
    return torch.empty((n,), dtype=dtype, device="meta")


def _layer_norm(x: Any, normalized_shape: Any, *rest: Any, **kw: Any) -> Any:
    if not isinstance(x, torch.Tensor) or not x.is_meta:
        return None
    shape = tuple(normalized_shape) if isinstance(normalized_shape, (list, tuple, torch.Size)) else (normalized_shape,)
    if tuple(x.shape[x.dim() - len(shape) :]) != shape:
        return None
    return _unary(x)


def _batch_norm(x: Any, running_mean: Any, *rest: Any, **kw: Any) -> Any:
    if not isinstance(x, torch.Tensor) or x.dim() < 2 or not x.is_meta:
        return None
    if isinstance(running_mean, torch.Tensor) and running_mean.numel() != x.shape[1]:
        return None
    return _unary(x)


def _mean(x: Any, dim: Any = None, keepdim: bool = False, **kw: Any) -> Any:
    if kw or not isinstance(x, torch.Tensor) or not x.is_meta or not x.dtype.is_floating_point:
        return None
    n = x.dim()
    if dim is None:
        dims = set(range(n))
    else:
        ds = dim if isinstance(dim, (list, tuple)) else (dim,)
        if not all(isinstance(d, int) for d in ds) or n == 0:
            return None
        dims = {d % n for d in ds}
    shape = [1 if i in dims else int(s) for i, s in enumerate(x.shape)] if keepdim else [int(s) for i, s in enumerate(x.shape) if i not in dims]
    return torch.empty(tuple(shape), dtype=x.dtype, device="meta")


def _adaptive_avg_pool2d(x: Any, output_size: Any) -> Any:
    if not isinstance(x, torch.Tensor) or not x.is_meta or x.dim() not in (3, 4):
        return None
    o = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    if len(o) != 2 or not all(isinstance(v, int) and v > 0 for v in o):
        return None
    return torch.empty(tuple(x.shape[:-2]) + o, dtype=x.dtype, device="meta")


def _pool_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pair(v: Any) -> tuple[int, int] | None:
    if isinstance(v, int) and not isinstance(v, bool):
        return v, v
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, int) for x in v):
        return int(v[0]), int(v[1])
    if isinstance(v, (list, tuple)) and len(v) == 1 and isinstance(v[0], int):
        return int(v[0]), int(v[0])
    return None


def _max_pool2d(
    x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False
) -> Any:
    if return_indices or not isinstance(x, torch.Tensor) or not x.is_meta or x.dim() != 4:
        return None
    k, s, p, d = _pair(kernel_size), _pair(kernel_size if stride is None or stride == [] else stride), _pair(padding), _pair(dilation)
    if None in (k, s, p, d) or min(*k, *s, *d) < 1 or p[0] > k[0] // 2 or p[1] > k[1] // 2:  # type: ignore[misc,index]
        return None
    hw = [_pool_size(int(x.shape[2 + i]), k[i], s[i], p[i], d[i], bool(ceil_mode)) for i in (0, 1)]  # type: ignore[index]
    if min(hw) < 1:
        return None
    return torch.empty((x.shape[0], x.shape[1], hw[0], hw[1]), dtype=x.dtype, device="meta")


def _interpolate(
    x: Any,
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: Any = None,
    recompute_scale_factor: Any = None,
    antialias: bool = False,
) -> Any:
    if not isinstance(x, torch.Tensor) or not x.is_meta or x.dim() != 4 or not x.dtype.is_floating_point:
        return None
    if size is not None and scale_factor is None:
        hw = _pair(size)
    elif scale_factor is not None and size is None:
        f = scale_factor if isinstance(scale_factor, (list, tuple)) else (scale_factor, scale_factor)
        if len(f) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in f):
            return None
        hw = (int(math.floor(int(x.shape[2]) * float(f[0]))), int(math.floor(int(x.shape[3]) * float(f[1]))))
    else:
        return None
    if hw is None or min(hw) < 1:
        return None
    return torch.empty((x.shape[0], x.shape[1], hw[0], hw[1]), dtype=x.dtype, device="meta")


def _fast_table() -> dict[Any, Any]:
    import torch.nn.functional as F

    table: dict[Any, Any] = {}
    for name in ("add", "sub", "mul", "maximum", "minimum", "pow"):
        for owner in (torch, torch.Tensor):
            if hasattr(owner, name):
                table[getattr(owner, name)] = _binary()
    for name in ("div", "true_divide"):
        for owner in (torch, torch.Tensor):
            if hasattr(owner, name):
                table[getattr(owner, name)] = _binary(true_div=True)
    for name in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__pow__", "__rpow__"):
        table[getattr(torch.Tensor, name)] = _binary()
    for name in ("__truediv__", "__rtruediv__"):
        table[getattr(torch.Tensor, name)] = _binary(true_div=True)
    for name in ("sigmoid", "tanh", "exp", "neg", "abs", "sqrt", "rsqrt", "relu", "__neg__", "__abs__"):
        for owner in (torch, torch.Tensor):
            if hasattr(owner, name):
                table[getattr(owner, name)] = _unary
    for f in (F.silu, F.relu, F.relu6, F.gelu, F.hardswish, F.hardsigmoid, F.leaky_relu, F.mish, F.sigmoid, F.tanh):
        table[f] = _unary
    for f in (torch.softmax, torch.Tensor.softmax, F.softmax):
        table[f] = _softmax
    table[torch.cat] = _cat
    table[torch.concat] = _cat
    table[torch.stack] = _stack
    table[torch.arange] = _arange
    table[F.layer_norm] = _layer_norm
    table[F.batch_norm] = _batch_norm
    table[torch.mean] = _mean
    table[torch.Tensor.mean] = _mean
    table[F.adaptive_avg_pool2d] = _adaptive_avg_pool2d
    table[F.max_pool2d] = _max_pool2d
    table[torch.max_pool2d] = _max_pool2d
    table[F.interpolate] = _interpolate
    return table


_FAST = _fast_table()


class _ShapeOps(TorchFunctionMode):
    """During the shape pass: ops with a shape function above skip torch's slower meta kernels."""

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        fast = _FAST.get(func)
        if fast is not None:
            try:
                out = fast(*args, **kwargs)
            except Exception:  # a case the shape function does not know: the real op decides
                out = None
            if out is not None:
                return out
        return func(*args, **kwargs)


@dataclass
class MetaGraph:
    """The lowered graph of an IR with (some of) its rows built on the meta device: what the shape
    interpreter runs. `modules` holds the rows that were built; the others are taken from declarations."""

    graph: fx.Graph
    root: nn.Module
    modules: dict[int, nn.Module]
    diagnostics: list[Diagnostic]


def meta_graph(ir: IR, positions: Collection[int] | None = None, fast: bool = True) -> MetaGraph:
    """The IR lowered once (`lower_graph`) with the rows at `positions` (all when None) built on the meta
    device, heads bound to their strides. `fast` lets shape-preserving layers skip their meta kernels (shapes
    only; a FLOPs count needs `fast=False`). Kept in the IR's cache: several input sizes, the parameter check
    and a summary's FLOPs count share one construction."""
    key = ("meta_graph", None if positions is None else frozenset(positions), fast)
    if key in ir.cache:
        return ir.cache[key]  # type: ignore[no-any-return]
    if fast and positions is None and ("meta_graph", None, False) in ir.cache:
        return ir.cache[("meta_graph", None, False)]  # type: ignore[no-any-return]  # as built serves shapes too
    modules, diags = meta_modules(ir, positions)
    for m in modules.values():
        if fast:
            _fast_forwards(m)
        m.eval()
    for node in ir.heads():
        m = modules.get(node.position)
        if m is not None and hasattr(m, "bind_strides") and all(s is not None for s in node.in_strides):
            try:
                m.bind_strides([float(s) for s in node.in_strides if s is not None])
            except Exception as e:
                diags.append(
                    Diagnostic(
                        "YN405",
                        f"{node.label} cannot be set up for strides {[str(s) for s in node.in_strides]}: {_one_line(e)}",
                        node.row.span,
                        help="give the head one input per level, in increasing stride",
                    )
                )
    mg = MetaGraph(lower_graph(ir), module_root(modules), modules, diags)
    ir.cache[key] = mg
    return mg


class _RowFailed(Exception):
    def __init__(self, diag: Diagnostic):
        self.diag = diag


class ShapeInterpreter(fx.Interpreter):
    """Runs the lowered graph on meta tensors: each built row's module is called (its output compared with its
    declaration, YN306); a row in `declared` returns meta tensors of the shapes its declaration gives, without
    a module. The shape of every value is stored in its node's `meta["shape"]` (as torch.fx's ShapeProp does)
    and collected per row; the first row that fails stops the run with a diagnostic on that row (YN405)."""

    def __init__(self, ir: IR, mg: MetaGraph, hw: tuple[int, int], declared: Collection[int] = ()) -> None:
        super().__init__(mg.root, graph=mg.graph)
        self.ir, self.hw, self.declared = ir, hw, set(declared)
        self.sizes: dict[PortRef, tuple[int, int]] = {}
        if self.declared:
            from ..graph.sizes import propagate

            self.sizes = propagate(ir, hw)
        self.shapes: dict[int, Any] = {}
        self.diagnostics: list[Diagnostic] = []

    def run_shapes(self) -> tuple[dict[int, Any], list[Diagnostic]]:
        x = torch.empty(1, self.ir.spec.ch, self.hw[0], self.hw[1], device="meta")
        try:
            with torch.no_grad(), _ShapeOps():
                self.run(x)
        except _RowFailed as e:
            self.diagnostics.append(e.diag)
        return self.shapes, self.diagnostics

    def run_node(self, n: fx.Node) -> Any:
        try:
            if "tap" in n.meta:  # a tap of a multi-output row: the row must have returned that many values
                base = self.env[n.args[0]]  # type: ignore[index]
                if not isinstance(base, (list, tuple)) or len(base) <= n.args[1]:  # type: ignore[operator]
                    raise _TapError(self.ir.nodes[n.meta["tap"][0]], n.meta["tap"][1], base)
            out = super().run_node(n)
        except (_RowFailed, _Unknown):
            raise
        except _TapError as e:
            src = e.node
            raise _RowFailed(
                Diagnostic(
                    "YN306",
                    f"{src.label} is declared with {len(src.taps)} outputs ({', '.join(src.taps)}) but returns {_describe(e.out)}",
                    src.row.span,
                    help="the block's declaration disagrees with its implementation; fix the declaration's taps",
                )
            ) from None
        except Exception as e:  # any failure of a block becomes a diagnostic on its row
            pos = n.meta.get("row", n.meta.get("tap", (None,))[0])
            node = self.ir.nodes.get(pos) if pos is not None else None
            if node is None:
                raise
            raise _RowFailed(
                Diagnostic(
                    "YN405",
                    f"at input {self.hw[0]}x{self.hw[1]}, {node.label} fails: {_one_line(e)}",
                    node.row.span,
                    help="check the input size against this block's needs (try a multiple of 32 or 64) and its input channels",
                )
            ) from None
        n.meta["shape"] = _shape_of(out)
        if "row" in n.meta:
            self.shapes[n.meta["row"]] = n.meta["shape"]
        for pos in n.meta.get("index_rows", ()):
            self.shapes[pos] = n.meta["shape"]
        return out

    def call_module(self, target: Any, args: Any, kwargs: dict[str, Any]) -> Any:
        pos = int(str(target).rsplit(".", 1)[1])
        node = self.ir.nodes[pos]
        if pos in self.declared:
            if node.decl.role == "head":
                return None
            if node.multi:
                return [self._empty(PortRef(pos, t)) for t in node.taps]
            return self._empty(PortRef(pos))
        out = super().call_module(target, args, kwargs)
        first = args[0]
        ins = list(first) if node.decl.inputs != "one" and isinstance(first, (list, tuple)) else [first]
        self.diagnostics += _compare(self.ir, node, ins, out)
        return out

    def _empty(self, ref: PortRef) -> torch.Tensor:
        shape = static_shape(self.ir, self.sizes, ref)
        if shape is None:
            raise _Unknown
        return torch.empty(shape, device="meta")


def shape_pass(ir: IR, hw: tuple[int, int], limits: Limits = DEFAULT_LIMITS, fast: bool = True) -> tuple[dict[int, Any], list[Diagnostic]]:
    """Output shapes of every row at input size hw (position -> shape or list of shapes), and diagnostics,
    running every block on meta tensors (the lowered graph, interpreted).

    Also checks the total parameter count (YN507) and compares channels and strides with the static
    inference (YN306). A block that raises stops the pass with a diagnostic on its row (YN405)."""
    mg = meta_graph(ir, fast=fast)
    if mg.diagnostics:
        return {}, list(mg.diagnostics)
    diags = check_params(ir, limits, {pos: _count(m) for pos, m in mg.modules.items()})
    if diags:
        return {}, diags
    return ShapeInterpreter(ir, mg, hw).run_shapes()


def shape_facts(ir: IR, hw: tuple[int, int], limits: Limits = DEFAULT_LIMITS, deep: bool = False) -> tuple[dict[int, Any], list[Diagnostic]]:
    """Output shapes of every row at input size hw, and diagnostics, trusting the declarations that tests check.

    Rows whose block declares `static_shapes` take (1, C, H, W) from the static inference (channels and strides
    from the declaration, sizes from `propagate`) without being built; the other rows (user blocks, timm
    backbones) are built on the meta device and run on meta tensors, their outputs compared with their
    declarations (YN306). Heads with static shapes report None (their outputs are not feature maps). Both
    kinds run through one interpreter of the lowered graph. `deep=True` builds and runs every block
    (`shape_pass`), which also checks the parameter limit."""
    if deep:
        return shape_pass(ir, hw, limits)
    declared = declared_rows(ir)
    untrusted = undeclared_rows(ir)
    if not untrusted:  # nothing to run: every shape is the declaration's
        return declared_shapes(ir, hw), []
    mg = meta_graph(ir, untrusted)
    if mg.diagnostics:
        return {}, list(mg.diagnostics)
    try:
        shapes, diags = ShapeInterpreter(ir, mg, hw, declared).run_shapes()
    except _Unknown:
        return {}, []
    for pos in ir.nodes:
        shapes.setdefault(pos, None)
    return shapes, diags


class _Unknown(Exception):
    """An input's shape is not known statically (after an error): the row is not run."""


class _TapError(Exception):
    def __init__(self, node: Node, tap: str | None, out: Any):
        self.node, self.tap, self.out = node, tap, out


def _describe(out: Any) -> str:
    if isinstance(out, torch.Tensor):
        return "one tensor"
    if isinstance(out, (list, tuple)):
        return f"{len(out)} values"
    return type(out).__name__


def _compare(ir: IR, node: Node, ins: list[Any], out: Any) -> list[Diagnostic]:
    """Channels and strides of what a block returned against the static inference (YN306)."""
    if node.decl.role == "head":
        return []
    first = ins[0] if ins else None
    s_in = node.in_strides[0] if node.in_strides else None
    ports = list(node.taps.items()) if node.multi else [("output", node.out)]
    outs = list(out) if node.multi and isinstance(out, (list, tuple)) else [out]
    diags: list[Diagnostic] = []
    for (name, port), t in zip(ports, outs):
        if not isinstance(t, torch.Tensor) or t.dim() != 4:
            continue
        what = f"tap {name}" if node.multi else "its output"
        if port.channels is not None and t.shape[1] != port.channels:
            diags.append(
                Diagnostic(
                    "YN306",
                    f"{node.label}: {what} is declared with {port.channels} channels but has {t.shape[1]}",
                    node.row.span,
                    help="the block's declaration disagrees with its implementation; fix the declaration's channels",
                )
            )
            continue
        # torch's own layers are declared from their documented arithmetic (padding may shift sizes at small
        # inputs); for other blocks, an output size that a different stride explains is a declaration error
        trusted = node.decl.impl.startswith("torch.")
        if not trusted and isinstance(first, torch.Tensor) and first.dim() == 4 and port.stride is not None and s_in:
            rel = port.stride / s_in
            h_in, h_out = int(first.shape[2]), int(t.shape[2])
            expected = math.ceil(h_in / rel) if rel >= 1 else int(h_in / rel)
            if h_out > 0 and h_in > 0 and abs(h_out - expected) > 2:
                apparent = h_in / h_out
                if max(apparent / float(rel), float(rel) / apparent) > 1.5:
                    diags.append(
                        Diagnostic(
                            "YN306",
                            f"{node.label}: {what} is declared at stride {_frac(rel)} of its input but the block turns {h_in} rows into {h_out}",
                            node.row.span,
                            help="the block's declaration disagrees with its implementation; fix the declaration's stride",
                        )
                    )
    return diags


def _frac(f: Any) -> str:
    return str(int(f)) if getattr(f, "denominator", 1) == 1 else str(f)


def _shape_of(out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        return tuple(out.shape)
    if isinstance(out, (list, tuple)):
        return [_shape_of(o) for o in out]
    return None


__all__ = ["PortRef", "check_params", "meta_params_at", "meta_construction", "meta_model", "meta_modules", "meta_params", "shape_facts", "shape_pass"]
