"""The typed spec: what a YAML file says, checked for form (pydantic), every value with its source span."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..diagnostics import SourceText, Span
from ..registry import Scaling
from .expr import ActivationCall


class Ref(BaseModel):
    """One entry of a row's `from`: a row index (negative = relative), a row name, and optionally a tap.

    `-1`, `6`, `[-1, 6]`, `backbone.P4`, `0.P4` all parse to Refs.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, defer_build=True)

    index: int | None = None
    row_name: str | None = None
    tap: str | None = None
    text: str
    span: Span


class Row(BaseModel):
    """One layer of the spec: `[from, number, module, args]` or a mapping with the same keys and a `name`."""

    model_config = ConfigDict(arbitrary_types_allowed=True, defer_build=True)

    position: int  # 0-based position over backbone + head
    section: Literal["backbone", "head"]
    name: str | None = None
    refs: list[Ref]
    number: int
    module: str
    args: list[Any] = Field(default_factory=list)
    weights: str | None = None
    span: Span
    from_span: Span
    number_span: Span
    module_span: Span
    args_span: Span
    arg_spans: list[Span] = Field(default_factory=list)


class Header(BaseModel):
    """The top-level scalars of a spec, validated for type and range."""

    model_config = ConfigDict(extra="allow", strict=False, defer_build=True)

    nc: int | None = Field(default=None, ge=1, le=1_000_000)
    depth_multiple: float = Field(default=1.0, gt=0, le=100)
    width_multiple: float = Field(default=1.0, gt=0, le=100)
    anchors: list[list[float]] | int | None = None
    ch: int = Field(default=3, ge=1, le=65536)
    # the Ultralytics dialect's keys
    dialect: Literal["yolov5", "ultralytics", "yolov7", "yolov9"] | None = None
    scales: dict[str, list[float]] | None = None
    scale: str | None = None
    end2end: bool | None = None
    reg_max: int | None = Field(default=None, ge=1, le=1024)
    kpt_shape: list[int] | None = None
    text_model: str | None = None

    @field_validator("scales")
    @classmethod
    def _scales(cls, v: Any) -> Any:
        if v is None:
            return v
        if not v:
            raise ValueError("scales must list at least one scale, e.g. `n: [0.50, 0.25, 1024]`")
        for k, t in v.items():
            if not isinstance(k, str) or not k.isidentifier():
                raise ValueError(f"a scale is named by a letter such as n or s, not {k!r}")
            if len(t) != 3:
                raise ValueError(f"scale `{k}` is [depth, width, max_channels]; it has {len(t)} values")
            if any(not math.isfinite(x) or x <= 0 for x in t):
                raise ValueError(f"scale `{k}`: depth, width and max_channels must be positive finite numbers")
        return v

    @field_validator("kpt_shape")
    @classmethod
    def _kpt_shape(cls, v: Any) -> Any:
        if v is not None and (len(v) != 2 or v[0] < 1 or v[1] not in (2, 3)):
            raise ValueError("kpt_shape is [number of keypoints, 2 or 3 (x, y[, visible])], e.g. [17, 3]")
        return v

    @field_validator("depth_multiple", "width_multiple")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v

    @field_validator("nc", "ch", mode="before")
    @classmethod
    def _no_bool(cls, v: Any) -> Any:
        if isinstance(v, bool) or isinstance(v, float):
            raise ValueError("must be a whole number")
        return v

    @field_validator("anchors")
    @classmethod
    def _anchors(cls, v: Any) -> Any:
        if isinstance(v, int):
            if not 1 <= v <= 100:
                raise ValueError("the number of anchors per level must be between 1 and 100")
            return v
        if v is None:
            return v
        if not v:
            raise ValueError("anchors must list at least one level")
        for level in v:
            if not level or len(level) % 2:
                raise ValueError("each anchor level is a list of w,h pairs (an even count of numbers)")
            if any(not math.isfinite(x) or x <= 0 for x in level):
                raise ValueError("anchor sizes must be positive finite numbers")
        if len({len(level) for level in v}) > 1:
            raise ValueError("every anchor level must have the same number of anchors")
        return v


class Spec(BaseModel):
    """A parsed spec. `names` are the values an argument expression may use (nc, anchors, other top-level keys)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, defer_build=True)

    path: str
    nc: int | None = None
    depth_multiple: float = 1.0
    width_multiple: float = 1.0
    anchors: list[list[float]] | int | None = None
    activation: ActivationCall | None = None
    ch: int = 3
    dialect: Literal["yolov5", "ultralytics", "yolov7", "yolov9"] = "yolov5"
    scale: str | None = None  # the Ultralytics scale letter in use
    scales: dict[str, list[float]] | None = None  # every scale the file offers: letter -> [depth, width, max_channels]
    max_channels: float = math.inf  # the scale's channel cap (Ultralytics), inf for none
    backbone: list[Row]
    head: list[Row]
    names: dict[str, Any] = Field(default_factory=dict)
    source: SourceText | None = Field(default=None, exclude=True, repr=False)
    spans: dict[str, Span] = Field(default_factory=dict, repr=False)  # where each top-level key is
    # the header values the rows were read with (nc, anchors, ch, scale, dialect): a copy edited in Python
    # differs from them and is re-read from its text before it is analysed
    read_as: dict[str, Any] = Field(default_factory=dict, repr=False)

    @property
    def scaling(self) -> Scaling:
        """What width and scale rules of blocks need to know (`yamlnet.registry.Scaling`)."""
        return Scaling(self.dialect, self.scale, self.depth_multiple, self.width_multiple, self.max_channels, self.nc or 80)

    @property
    def rows(self) -> list[Row]:
        return self.backbone + self.head

    def resolve_path(self, name: str) -> Path:
        """A file the spec names (a weights file): as given when it exists (absolute, or relative to the working
        directory), else beside the spec file."""
        p = Path(name)
        if p.is_absolute() or p.exists() or self.path == "<string>":
            return p
        beside = Path(self.path).parent / p
        return beside if beside.exists() else p

    def span_of(self, key: str) -> Span:
        return self.spans.get(key, Span(self.path, 1, 1))


M = TypeVar("M", bound=BaseModel)
_TEMPLATES: dict[type[BaseModel], tuple[dict[str, Any], frozenset[str], tuple[tuple[str, Any], ...]]] = {}


def checked(cls: type[M], **values: Any) -> M:
    """`cls.model_construct(**values)` for values the parser has already checked, without its per-field loop (the
    parser makes a Ref or Row per `from` entry and row: model_construct's loop was a tenth of `validate --static`).
    The instance is the one model_construct gives: the same `__dict__` in field order, the same fields set
    (tests/spec/test_checked_models.py compares them)."""
    t = _TEMPLATES.get(cls)
    if t is None:
        assert not cls.__pydantic_post_init__ and not cls.__private_attributes__ and cls.model_config.get("extra") != "allow"
        fields = cls.model_fields
        template = {n: (f.default if f.default_factory is None and not f.is_required() else None) for n, f in fields.items()}
        required = frozenset(n for n, f in fields.items() if f.is_required())
        factories = tuple((n, f.default_factory) for n, f in fields.items() if f.default_factory is not None)
        t = _TEMPLATES[cls] = (template, required, factories)
    template, required, factories = t
    if not required <= values.keys() or not values.keys() <= template.keys():
        raise TypeError(f"{cls.__name__}: checked() needs every required field and no other: {sorted(required ^ values.keys())}")
    d = dict(template)
    d.update(values)
    for name, factory in factories:
        if name not in values:
            d[name] = factory()  # type: ignore[call-arg]
    m = cls.__new__(cls)
    object.__setattr__(m, "__dict__", d)
    object.__setattr__(m, "__pydantic_fields_set__", set(values))
    object.__setattr__(m, "__pydantic_extra__", None)
    object.__setattr__(m, "__pydantic_private__", None)
    return m
