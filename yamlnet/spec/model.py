"""The typed spec: what a YAML file says, checked for form (pydantic), every value with its source span."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..diagnostics import SourceText, Span
from .expr import ActivationCall


class Ref(BaseModel):
    """One entry of a row's `from`: a row index (negative = relative), a row name, and optionally a tap.

    `-1`, `6`, `[-1, 6]`, `backbone.P4`, `0.P4` all parse to Refs.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    index: int | None = None
    row_name: str | None = None
    tap: str | None = None
    text: str
    span: Span


class Row(BaseModel):
    """One layer of the spec: `[from, number, module, args]` or a mapping with the same keys and a `name`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

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

    model_config = ConfigDict(extra="allow", strict=False)

    nc: int | None = Field(default=None, ge=1, le=1_000_000)
    depth_multiple: float = Field(default=1.0, gt=0, le=100)
    width_multiple: float = Field(default=1.0, gt=0, le=100)
    anchors: list[list[float]] | int | None = None
    ch: int = Field(default=3, ge=1, le=65536)

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

    model_config = ConfigDict(arbitrary_types_allowed=True)

    path: str
    nc: int | None = None
    depth_multiple: float = 1.0
    width_multiple: float = 1.0
    anchors: list[list[float]] | int | None = None
    activation: ActivationCall | None = None
    ch: int = 3
    backbone: list[Row]
    head: list[Row]
    names: dict[str, Any] = Field(default_factory=dict)
    source: SourceText | None = Field(default=None, exclude=True, repr=False)
    spans: dict[str, Span] = Field(default_factory=dict, repr=False)  # where each top-level key is

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
