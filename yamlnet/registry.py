"""Block declarations: what the compiler knows of a block without importing it.

A declaration (`BlockDecl`) is plain data plus small pure functions (no torch): the block's arguments
(names, types, defaults, which are width-scaled, which the compiler fills), how its output channels and
stride follow from its arguments, its taps when it has several outputs, and the input-size constraints it
imposes. The implementation (an ``nn.Module`` class or factory) is named by ``impl`` ("package.module:attr")
and imported only when a model is built.

Declarations come from the ``decl`` module of every sub-package of ``blocks/`` and from the entry point group
``yamlnet.blocks``. A spec can only name a registered block: no name from a spec is ever imported.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

# What the compiler itself puts into an argument instead of taking it from the YAML row.
FILL_C1 = "c1"  # the input channels (an int)
FILL_C1S = "c1s"  # the list of input channels, one per input (Detect, Segment)
FILL_N = "n"  # the depth (repeat count) after depth scaling (C3, BottleneckCSP, ...)
FILL_WEIGHTS = "weights"  # taken from the YAML, but loaded by the compiler, not passed to the constructor
CHECK_C1 = "c1"  # an argument the YAML states (nn.Conv2d's in_channels) that must equal the arriving channels
CHECK_PICK = "pick"  # a list argument whose entry i picks the output (by position) of input i when `from` names a
# multi-output row without a tap (CBFuse's idx); such a block resizes its inputs to the last one: its stride is the last input's

FILL_HEADER = "header:"  # prefix: "header:reg_max" fills the argument from the spec's top-level key `reg_max`

ARG_TYPES = ("int", "float", "bool", "str", "list", "none", "any", "activation")  # activation: nn.LeakyReLU(0.1) in a row

DIALECT_TITLES = {  # the YAML dialects a spec can be written in, and how messages name them
    "yolov5": "YOLOv5",
    "ultralytics": "Ultralytics",
    "yolov7": "YOLOv7",
    "yolov9": "YOLOv9 (original)",
}
DIALECTS = tuple(DIALECT_TITLES)


def dialect_title(dialect: str) -> str:
    """How a message names a dialect ("YOLOv5", "Ultralytics", ...)."""
    return DIALECT_TITLES.get(dialect, dialect)


@dataclass(frozen=True)
class Scaling:
    """The model-scaling facts of a spec that width and scale rules need (see `Arg.width`, `BlockDecl.scale_args`).

    `scale` is the Ultralytics scale letter in use (n, s, m, l, x) or None; `max_channels` is inf without a cap.
    """

    dialect: str = "yolov5"
    scale: str | None = None
    depth: float = 1.0
    width: float = 1.0
    max_channels: float = float("inf")
    nc: int = 80


@dataclass(frozen=True)
class Arg:
    """One constructor argument of a block.

    `type` is one of ARG_TYPES or a union joined by "|" ("int|list", "str|none"); "float" accepts ints.
    `width` marks a channel count scaled by the spec's width: True applies the dialect's rule
    (make_divisible(min(v, max_channels) * width, 8), a value equal to the head's outputs left unscaled); a
    function `(value, Scaling) -> value` states a block's own rule.
    `fill` names what the compiler supplies (FILL_*); such arguments are not written in the YAML row,
    except FILL_WEIGHTS, which is written there and consumed by the weight loader.
    `check=CHECK_C1` marks a channel count the row states (nn.Conv2d's in_channels): it is checked against the
    channels that arrive (YN301), and filled with them when the row leaves it out or writes None.
    `low`, `high` and `valid` state which values a row may write; a value outside them is reported at the
    argument itself (YN117), before any channel or stride is worked out from it.
    """

    name: str
    type: str = "any"
    default: Any = REQUIRED
    width: bool | Callable[[Any, Scaling], Any] = False
    fill: str | None = None
    doc: str = ""
    check: str | None = None  # CHECK_C1: the YAML may state the input channels; they are checked, else filled
    low: float | None = None  # the smallest value a row may write (each number of a list, e.g. a kernel [3, 3])
    high: float | None = None  # the largest
    valid: Callable[[Any, Mapping[str, Any]], str] | None = None  # (value, the row's arguments) -> what is wrong; "" if fine

    @property
    def from_yaml(self) -> bool:
        return self.fill is None or self.fill == FILL_WEIGHTS

    @property
    def header_key(self) -> str | None:
        """The top-level spec key this argument is filled from (`fill="header:reg_max"`), else None."""
        return self.fill[len(FILL_HEADER) :] if self.fill and self.fill.startswith(FILL_HEADER) else None

    @property
    def to_constructor(self) -> bool:
        return self.fill != FILL_WEIGHTS


WEIGHTS_ARG = Arg(
    "weights",
    "bool|str|none",
    default=False,
    fill=FILL_WEIGHTS,
    doc="pretrained weights: False/None for none, or a local checkpoint file that the compiler loads (weights_only=True)",
)


@dataclass(frozen=True)
class TapDecl:
    """One output of a multi-output block: a name (P3), its channels and its stride."""

    name: str
    channels: int
    stride: int

    def __post_init__(self) -> None:
        if not isinstance(self.channels, int) or self.channels < 1:
            raise ValueError(f"tap {self.name}: channels must be a whole number >= 1, not {self.channels!r}")
        if not self.stride or self.stride < 0:
            raise ValueError(f"tap {self.name}: stride must be positive, not {self.stride!r}")


@dataclass(frozen=True)
class SizeRule:
    """The spatial size arriving at a block must be a multiple of `multiple(args)` (e.g. a patch size)."""

    multiple: Callable[[Mapping[str, Any]], int]
    why: str


Size = tuple[int, int]  # (height, width)
# (bound args, input (h, w)) -> output (h, w): the real padding arithmetic, where it is not the stride rule
SizeFn = Callable[[Mapping[str, Any], Size], Size]
Params = Callable[[Any, Mapping[str, Any]], int]  # (c1 or [c1, ...], bound args) -> parameter count


class SizeError(ValueError):
    """Raised by a `size` function when the block cannot run at its own arguments at this input size (a residual
    add or a concatenation inside it that a kernel makes unequal); `arg` names the argument to blame."""

    def __init__(self, message: str, arg: str | None = None) -> None:
        super().__init__(message)
        self.arg = arg


Channels = Callable[[Any, Mapping[str, Any]], int]  # (c1 or [c1, ...], bound args) -> output channels
Stride = Callable[[Mapping[str, Any]], Fraction]  # bound args -> output stride / input stride
Taps = Callable[[Mapping[str, Any]], Sequence[TapDecl]]
Prepare = Callable[[dict[str, Any], int], dict[str, Any]]  # (bound args, number of inputs) -> bound args
ScaleArgs = Callable[[dict[str, Any], Scaling], dict[str, Any]]  # (bound args, scaling) -> bound args

_INPUTS = ("one", "join", "list")
_REPEATS = ("sequential", "arg", "none")
_ROLES = ("layer", "join", "head", "backbone", "select")


@dataclass(frozen=True)
class BlockDecl:
    """What the compiler needs to know about a block, readable without importing torch.

    - `inputs`: "one" (a single tensor), "join" (several tensors of one stride, e.g. Concat), "list" (several
      tensors of increasing stride passed as a list, e.g. Detect).
    - `repeat`: how a row's depth n > 1 is realised: "sequential" (n copies in nn.Sequential, YOLOv5's rule),
      "arg" (passed to the constructor through the FILL_N argument), "none" (n must be 1).
    - `out_channels`: None for heads (Detect, Segment, Classify), whose output is not a feature map.
    - `taps`: for a multi-output block (a backbone), its outputs in the order its forward returns them.
    - `role`: "layer", "join", "head", "backbone", or "select": a row that picks one output of a multi-output row
      (Ultralytics' Index: YAML `[channels, k]`); it has no module, the output it picks stands for it.
    - `dialect`: None for a block every dialect knows; "yolov5" or "ultralytics" for one that only that
      dialect's files may name (a dialect's block wins over a shared one of the same name).
    - `scale_args`: scale-dependent argument changes (Ultralytics changes some arguments by scale letter).
    """

    name: str
    impl: str
    args: tuple[Arg, ...] = ()
    inputs: str = "one"
    repeat: str = "sequential"
    out_channels: Channels | None = None
    stride: Stride | None = None
    taps: Taps | None = None
    sizes: tuple[SizeRule, ...] = ()
    prepare: Prepare | None = None
    role: str = "layer"
    doc: str = ""
    source: str = field(default="", compare=False)  # which module declared it
    dialect: str | None = None
    scale_args: ScaleArgs | None = None
    # True: the output shapes follow from `out_channels`, `stride` and `taps` at every input size that the size
    # rules admit, so validation takes them from the declaration (no meta-device forward). The project's own
    # blocks and torch.nn layers are trusted: tests/blocks/test_core_declarations.py checks each against a meta forward.
    # User blocks and backbones whose outputs are only known by running them are not.
    static_shapes: bool | Callable[[Mapping[str, Any]], bool] = False
    # header values this block's presence implies for the rows after it, when the spec does not state the key:
    # `fill="header:KEY"` arguments of later rows take them (Ultralytics' heads drop their YOLOv8-era class
    # branch, `legacy`, once a C3k2, A2C2f or C2fCIB row came before them)
    implies: tuple[tuple[str, Any], ...] = ()
    # channel rules the static checker applies (YN303, YN301), stated by the block instead of by name in the core:
    # `groups(c1, c2, args)`: (what, channels) that its `g`/`groups` argument must divide (None: the input and
    # the output channels); `heads(c1, c2, args)`: (divisor, problem, channels) where the divisor must divide the
    # channels, for attention heads the block fixes itself, and `problem` says what is wrong when it does not
    # ("4 attention heads do not divide ..."); `keeps_channels`: its output channels must equal its input's.
    groups: Callable[[int, int, Mapping[str, Any]], list[tuple[str, int]]] | None = None
    heads: Callable[[int, int, Mapping[str, Any]], list[tuple[int, str, int]]] | None = None
    keeps_channels: bool = False
    # `same_channels`: a join whose inputs must all have one channel count (an element-wise sum, YOLOv7's
    # Shortcut; YN309).
    same_channels: bool = False
    # how the block uses text embeddings (YOLO-World, YOLOE): "in" takes the current ones as a second input,
    # "update" also returns new ones (ImagePoolingAttn), "original" takes those given to the model
    text_io: str | None = None
    # a head whose inputs are several sets of levels (YOLOv9's DualDDetect: auxiliary P3..P5, then main P3..P5;
    # YOLOv7's IAuxDetect: lead P3..P6, then auxiliary P3..P6; DSegment: the levels, then its prototype input):
    # `level_sets(n_inputs)` gives the (start, stop) ranges that are each one set, in increasing stride; later
    # sets must repeat the first one's strides (one anchor grid), and a head with anchors has one anchor level per
    # input of each set; inputs outside every range are not levels. None: all inputs are one set.
    # `level_sets_of(k, extra)` below says "k sets, then `extra` other inputs".
    level_sets: Callable[[int], Sequence[tuple[int, int]]] | None = None
    # the spatial output size for an input size when it is not the stride rule (ceil(h / s), h x upsampling):
    # convs and pools with a kernel and padding from the arguments (YOLOv5's autopad k // 2 grows an even-kernel
    # conv's output by one). Applied n times for a row repeated as copies. `conv_size` and friends below.
    size: SizeFn | None = None
    # the parameter count from the arguments (so validation can apply the parameter limit without building the
    # block); None: counted on the meta device. tests/blocks/test_declared_params.py checks it against the block.
    params: Params | None = None

    def shapes_static(self, args: Mapping[str, Any]) -> bool:
        """Whether this row's output shapes follow from the declaration (`static_shapes`, or its rule of the
        bound arguments: a padding that changes the size is only known by running the layer)."""
        if callable(self.static_shapes):
            try:
                return bool(self.static_shapes(args))
            except Exception:  # an odd argument: let the layer itself tell
                return False
        return self.static_shapes

    def __post_init__(self) -> None:
        where = f"block {self.name!r}"
        if not self.name or not all(p.isidentifier() for p in self.name.split(".")):
            raise ValueError(f"{where}: a block name is a dotted identifier")
        if ":" not in self.impl:
            raise ValueError(f"{where}: impl is 'package.module:attr', not {self.impl!r}")
        if self.inputs not in _INPUTS:
            raise ValueError(f"{where}: inputs must be one of {_INPUTS}, not {self.inputs!r}")
        if self.repeat not in _REPEATS:
            raise ValueError(f"{where}: repeat must be one of {_REPEATS}, not {self.repeat!r}")
        if self.role not in _ROLES:
            raise ValueError(f"{where}: role must be one of {_ROLES}, not {self.role!r}")
        if self.dialect is not None and self.dialect not in DIALECTS:
            raise ValueError(f"{where}: dialect must be one of {DIALECTS} or None, not {self.dialect!r}")
        names = [a.name for a in self.args]
        if len(set(names)) != len(names):
            raise ValueError(f"{where}: argument names repeat: {names}")
        if self.text_io not in (None, "in", "update", "original"):
            raise ValueError(f"{where}: text_io must be None, 'in', 'update' or 'original', not {self.text_io!r}")
        if self.repeat == "arg" and not any(a.fill == FILL_N for a in self.args):
            raise ValueError(f"{where}: repeat='arg' needs an argument with fill=FILL_N")

    def kept(self, key: str, make: Callable[[], Any]) -> Any:
        """A fact worked out from the (frozen) declaration once and kept on it: the compiler asks per row."""
        value = self.__dict__.get(key)
        if value is None:
            value = make()
            object.__setattr__(self, key, value)
        return value

    def yaml_args(self) -> tuple[Arg, ...]:
        """The arguments a row writes, in order."""
        return self.kept("_yaml_args", lambda: tuple(a for a in self.args if a.from_yaml))  # type: ignore[no-any-return]

    def stride_of(self, args: Mapping[str, Any]) -> Fraction:
        if self.stride is None:
            return ONE
        s = self.stride(args)
        return s if type(s) is Fraction else Fraction(s)

    def taps_of(self, args: Mapping[str, Any]) -> tuple[TapDecl, ...]:
        return () if self.taps is None else tuple(self.taps(args))


# ---------------------------------------------------------------------------------------------------------
# Helpers that declaration modules use to say common things in one word.


def out_arg(name: str) -> Channels:
    """Output channels are the (already width-scaled) argument `name`."""
    return lambda c1, args: int(args[name])


def out_same(c1: Any, args: Mapping[str, Any]) -> int:
    """Output channels equal the input channels."""
    return int(c1[0] if isinstance(c1, list) else c1)


def out_sum(c1: Any, args: Mapping[str, Any]) -> int:
    """Output channels are the sum over the inputs (Concat)."""
    return int(sum(c1) if isinstance(c1, list) else c1)


def stride_arg(name: str) -> Stride:
    """The block downsamples by its integer argument `name` (Conv's s)."""

    def stride(args: Mapping[str, Any]) -> Fraction:
        s = args[name]
        if isinstance(s, (list, tuple)):
            s = s[0]
        return integer_fraction(int(s))

    return stride


ONE = Fraction(1)
_INTEGERS = {k: Fraction(k) for k in range(1, 65)}


def integer_fraction(k: int) -> Fraction:
    """Fraction(k), the same object for the small strides every row has (a Fraction is slow to make)."""
    f = _INTEGERS.get(k)
    return Fraction(k) if f is None else f


def stride_fixed(factor: int | Fraction) -> Stride:
    return lambda args: Fraction(factor)


def stride_upsample(name: str) -> Stride:
    """The block upsamples by its argument `name` (nn.Upsample's scale_factor)."""

    def stride(args: Mapping[str, Any]) -> Fraction:
        f = args[name]
        if isinstance(f, (list, tuple)):
            f = f[0]
        return 1 / Fraction(f).limit_denominator(1000)

    return stride


def axes(v: Any) -> tuple[int, int]:
    """An int or [h, w] (a kernel, stride, padding) as (h, w)."""
    if isinstance(v, (list, tuple)):
        return (int(v[0]), int(v[1] if len(v) > 1 else v[0]))
    return (int(v), int(v))


def autopad(k: int, d: int = 1) -> int:
    """YOLOv5's and Ultralytics' default padding: half the dilated kernel, rounded down ('same' for odd kernels;
    an even kernel grows the output by one at stride 1)."""
    return (d * (k - 1) + 1) // 2


def conv_out(size: int, k: int, s: int = 1, p: int | None = None, d: int = 1) -> int:
    """torch's size rule for a convolution or pooling: floor((size + 2p - d(k - 1) - 1) / s) + 1 (autopad when p is None)."""
    p = autopad(k, d) if p is None else p
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def conv_size(k: str = "k", s: str | None = "s", p: str | None = "p", d: str | None = "d") -> SizeFn:
    """A `size` rule: one convolution with the row's kernel, stride, padding (None: autopad) and dilation arguments."""

    def size(args: Mapping[str, Any], hw: Size) -> Size:
        ks = axes(args[k])
        ss = axes(args[s]) if s and args.get(s) is not None else (1, 1)
        ps = axes(args[p]) if p and args.get(p) is not None else (None, None)
        ds = axes(args[d]) if d and args.get(d) is not None else (1, 1)
        return (conv_out(hw[0], ks[0], ss[0], ps[0], ds[0]), conv_out(hw[1], ks[1], ss[1], ps[1], ds[1]))

    return size


def transpose_out(size: int, k: int, s: int, p: int = 0, op: int = 0, d: int = 1) -> int:
    """torch's size rule for a transposed convolution: (size - 1)s - 2p + d(k - 1) + op + 1."""
    return (size - 1) * s - 2 * p + d * (k - 1) + op + 1


def odd_kernel(v: Any, args: Mapping[str, Any]) -> str:
    """An `Arg.valid` rule for kernels of stride-1 convs or pools whose output is joined with their input inside
    the block (SPPF, SPP, C3k): padded by k // 2, an even kernel grows the map by one and the join fails."""
    ks = [v] if isinstance(v, int) and not isinstance(v, bool) else [x for x in v if isinstance(x, int)] if isinstance(v, (list, tuple)) else []
    even = [k for k in ks if k % 2 == 0]
    if even:
        return (
            f"is {v}; padded by k // 2, an even kernel ({even[0]}) grows the map by one pixel and the block's own "
            f"concatenation (or residual add) of maps of two sizes fails: use an odd kernel such as {even[0] + 1}"
        )
    return ""


def level_sets_of(k: int, extra: int = 0) -> Callable[[int], list[tuple[int, int]]]:
    """A `level_sets` rule: the inputs are k sets of equally many levels, then `extra` single inputs that are not
    levels (prototype sources): k = 2, extra = 0 splits 8 inputs into (0, 4) and (4, 8)."""

    def level_sets(n: int) -> list[tuple[int, int]]:
        nl = max((n - extra) // k, 0)
        return [(i * nl, (i + 1) * nl) for i in range(k)]

    return level_sets


def tap_name(stride: int) -> str:
    """Taps are named by stride: P{log2 stride} (P3 = stride 8)."""
    return f"P{max(int(stride).bit_length() - 1, 0)}"


# ---------------------------------------------------------------------------------------------------------
# The registry.

_DECLS: dict[tuple[str | None, str], BlockDecl] = {}  # (dialect or None for shared, name) -> declaration
_LOADED = False
_ENTRY_POINTS_LOADED = False
_GENERATION = 0  # registrations so far (state())


class RegistrationError(ValueError):
    """A block name registered twice in one dialect without `replace=True`."""


def register(decl: BlockDecl, replace: bool = False) -> BlockDecl:
    """Add a declaration. A name already taken in the same dialect is an error unless `replace=True`."""
    key = (decl.dialect, decl.name)
    old = _DECLS.get(key)
    if old is not None and not replace:
        where = f" in the {decl.dialect} dialect" if decl.dialect else ""
        raise RegistrationError(
            f"block {decl.name!r} is already registered{where} (by {old.source or old.impl}); "
            f"pass replace=True to replace it, or register it under another name"
        )
    _DECLS[key] = decl
    global _GENERATION
    _GENERATION += 1
    return decl


def state() -> tuple[int, int]:
    """Changes whenever a declaration is added or removed: a key for what is worked out from the registry and
    kept (the dialect evidence of a block name). Registrations count up; removals shrink the table."""
    return _GENERATION, len(_DECLS)


def declare(name: str, impl: str, **kw: Any) -> BlockDecl:
    """Shorthand used by the `decl` modules: register(BlockDecl(name, impl, ...))."""
    replace = kw.pop("replace", False)
    kw.setdefault("static_shapes", impl.startswith(("blocks.", "torch.")))
    return register(BlockDecl(name=name, impl=impl, source=kw.pop("source", impl.split(":")[0]), **kw), replace=replace)


def block(name: str | None = None, **kw: Any) -> Callable[[Any], Any]:
    """Class decorator that registers a custom block written in Python:

        @yamlnet.block(args=(Arg("c1", "int", fill=FILL_C1), Arg("c2", "int", width=True)), out_channels=out_arg("c2"))
        class MyConv(nn.Module): ...

    The module that defines the class must be imported before the spec is compiled (or listed under the
    entry point group `yamlnet.blocks` of an installed package). A spec can only name it, never define it.
    """

    def wrap(obj: Any) -> Any:
        declare(name or obj.__name__, f"{obj.__module__}:{obj.__qualname__}", doc=kw.pop("doc", (obj.__doc__ or "").strip()), **kw)
        return obj

    return wrap


def _load_declarations() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    try:
        import blocks  # the project's block library: one `decl` module per sub-package
    except ImportError:  # pragma: no cover - only when yamlnet is installed without blocks
        blocks = None
    if blocks is not None:
        for info in sorted(pkgutil.iter_modules(blocks.__path__), key=lambda i: i.name):
            if info.ispkg:
                try:
                    importlib.import_module(f"blocks.{info.name}.decl")
                except ModuleNotFoundError as e:
                    if e.name != f"blocks.{info.name}.decl":
                        raise


def _load_entry_points() -> None:
    """Declarations of installed packages (entry point group `yamlnet.blocks`). Read when a name is not among
    the project's own blocks, or when every name is asked for: scanning the installed distributions costs more
    than validating a spec, and a name never has two declarations in one dialect (register refuses it)."""
    global _ENTRY_POINTS_LOADED
    _load_declarations()
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True
    import importlib.metadata

    for ep in importlib.metadata.entry_points(group="yamlnet.blocks"):
        if not ep.value.startswith("blocks."):
            ep.load()  # a third-party package's declaration module registers its blocks


def _find(name: str, dialect: str | None) -> BlockDecl | None:
    if dialect is not None and (dialect, name) in _DECLS:
        return _DECLS[(dialect, name)]
    return _DECLS.get((None, name))


def lookup(name: str, dialect: str | None = "yolov5") -> BlockDecl | None:
    """The declaration a spec of `dialect` means by `name`: the dialect's own, else the shared one."""
    if not _LOADED:
        _load_declarations()
    found = _DECLS.get((dialect, name)) if dialect is not None else None
    if found is None:
        found = _DECLS.get((None, name))
    if found is None and not _ENTRY_POINTS_LOADED:
        _load_entry_points()
        found = _find(name, dialect)
    return found


def names(dialect: str | None = None) -> list[str]:
    """Block names a spec of `dialect` can use (every registered name when `dialect` is None)."""
    _load_entry_points()
    return sorted({n for (d, n) in _DECLS if dialect is None or d is None or d == dialect})


_BY_NAME: tuple[tuple[int, int], dict[str, list[str | None]]] = ((-1, -1), {})  # (state() when built, name -> dialects): parsing asks per row


def _by_name() -> dict[str, list[str | None]]:
    global _BY_NAME
    if _BY_NAME[0] != state():
        index: dict[str, list[str | None]] = {}
        for d, n in _DECLS:
            index.setdefault(n, []).append(d)
        _BY_NAME = (state(), index)
    return _BY_NAME[1]


def dialects_of(name: str) -> list[str]:
    """The dialects that declare `name` as their own (empty for a shared block or an unknown name)."""
    _load_declarations()
    if name not in _by_name():
        _load_entry_points()
    return sorted(d for d in _by_name().get(name, ()) if d is not None)


def declarations(dialect: str | None = None) -> list[BlockDecl]:
    """Every declaration (or those visible in `dialect`), ordered by name then dialect."""
    _load_entry_points()
    out = [d for (dl, _), d in _DECLS.items() if dialect is None or dl is None or dl == dialect]
    if dialect is not None:  # a dialect's own block hides the shared one of the same name
        own = {d.name for d in out if d.dialect == dialect}
        out = [d for d in out if d.dialect == dialect or d.name not in own]
    return sorted(out, key=lambda d: (d.name, d.dialect or ""))


def load_impl(decl: BlockDecl) -> Callable[..., Any]:
    """Import a registered block's implementation (the name comes from the registry, never from a spec)."""
    module, _, attr = decl.impl.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj  # type: ignore[no-any-return]
