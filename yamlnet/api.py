"""The public API: load_spec, analyze, validate, build. Each stage is a function of the previous stage's
output; torch is imported only by the stages that need it (build, the shape pass)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .diagnostics import Diagnostic, SourceText, SpecError, errors
from .graph.ir import IR
from .graph.lower import lower
from .spec.limits import DEFAULT_LIMITS, Limits
from .spec.model import Spec
from .spec.parse import load_spec_with_diagnostics

if TYPE_CHECKING:
    from .compile.model import YamlnetModel
    from .compile.weights import LoadReport


OVERRIDABLE = ("nc", "anchors", "ch", "scale", "dialect")
ONCE_PER_ROW = ("YN406", "YN407", "YN408")  # size diagnostics about a row's own arguments: reported at the first input size


def _overrides(**kw: Any) -> dict[str, Any]:
    """Keyword overrides of top-level spec keys (None = keep the file's value)."""
    unknown = set(kw) - set(OVERRIDABLE)
    if unknown:
        raise TypeError(f"unknown override(s) {sorted(unknown)}; yamlnet can override {', '.join(OVERRIDABLE)}")
    return {k: v for k, v in kw.items() if v is not None}


def load_spec(
    path_or_text: str | os.PathLike[str],
    limits: Limits = DEFAULT_LIMITS,
    *,
    scale: str | None = None,
    nc: int | None = None,
    anchors: Any = None,
    ch: int | None = None,
    dialect: str | None = None,
) -> Spec:
    """The typed Spec of a file (or of YAML text). Raises SpecError with every diagnostic if it has errors.
    `scale`, `nc`, `anchors`, `ch`, `dialect` replace the file's top-level keys before it is read."""
    over = _overrides(scale=scale, nc=nc, anchors=anchors, ch=ch, dialect=dialect)
    spec, diags, src = load_spec_with_diagnostics(path_or_text, limits, overrides=over)
    if spec is None or errors(diags):
        raise SpecError(diags, src)
    return spec


def _edited(spec: Spec, over: dict[str, Any]) -> dict[str, Any]:
    """The overrides to re-read a Spec object with: none when its header is what its rows were read with;
    its current header values (with explicit overrides on top) when it was edited in Python, e.g.
    `spec.model_copy(update={"nc": 3})`."""
    if spec.source is None or all(getattr(spec, k) == spec.read_as.get(k) for k in OVERRIDABLE):
        return over
    return {**{k: getattr(spec, k) for k in OVERRIDABLE if getattr(spec, k) is not None}, **over}


@dataclass
class Report:
    """The result of validation: `ok` is true when no diagnostic is an error."""

    path: str
    diagnostics: list[Diagnostic]
    source: SourceText | None = None
    ir: IR | None = None
    shapes: dict[str, dict[int, Any]] = field(default_factory=dict)  # imgsz label -> position -> output shapes

    @property
    def ok(self) -> bool:
        return not errors(self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return errors(self.diagnostics)

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]

    def render(self, color: bool = False) -> str:
        from .diagnostics import render_text

        return render_text(self.diagnostics, self.source, color)


def analyze(path_or_spec: str | os.PathLike[str] | Spec, limits: Limits = DEFAULT_LIMITS, **overrides: Any) -> Report:
    """Static analysis, torch never imported: parse, lower, infer channels and strides, check the rules.
    Keyword overrides (scale=, nc=, anchors=, ch=, dialect=) replace the spec's top-level keys.

    A Spec object is re-read from its source text when its header was edited in Python (or overrides are
    given), so that every row sees the new values (a head built for nc=80 under a Spec saying nc=3 would be
    a model the user did not mean)."""
    over = _overrides(**overrides)
    if isinstance(path_or_spec, Spec):
        src = path_or_spec.source
        over = _edited(path_or_spec, over)
        if over and src is not None:
            spec, diags, _ = load_spec_with_diagnostics(src.text, limits, overrides=over)
            if spec is not None:
                spec = spec.model_copy(update={"path": path_or_spec.path})
        else:
            spec, diags = path_or_spec, []
    else:
        spec, diags, src = load_spec_with_diagnostics(path_or_spec, limits, overrides=over)
    name = spec.path if spec is not None else (src.name if src else os.fspath(path_or_spec))  # type: ignore[arg-type]
    if spec is None:
        return Report(name, diags, src)
    ir = lower(spec, limits)
    return Report(name, diags + ir.diagnostics, src, ir)


def parse_imgsz(value: int | str | Sequence[int]) -> tuple[int, int]:
    """640 -> (640, 640); "640x384" -> (640, 384) as (height, width); (h, w) stays."""
    if isinstance(value, int):
        return value, value
    if isinstance(value, str):
        parts = value.lower().replace(",", "x").split("x")
        if len(parts) == 1:
            return int(parts[0]), int(parts[0])
        if len(parts) == 2:
            return int(parts[0]), int(parts[1])
        raise ValueError(f"image size `{value}`: write 640 or 640x384 (height x width)")
    h, w = value
    return int(h), int(w)


def validate(
    path_or_spec: str | os.PathLike[str] | Spec,
    imgsz: int | str | Sequence[Any] = 640,
    static: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    deep: bool = False,
    **overrides: Any,
) -> Report:
    """All problems of a spec: static rules, size rules at each `imgsz`, then (unless `static`) the shape facts:
    output shapes from the declarations that tests check against their implementations, and a meta-device run
    of the blocks without such a declaration (user blocks, timm backbones). `deep=True` instantiates every
    block on the meta device (no weight memory) and propagates meta tensors through all of them.
    Keyword overrides (scale=, nc=, anchors=, ch=, dialect=) replace the spec's top-level keys."""
    report = analyze(path_or_spec, limits, **overrides)
    if report.ir is None:
        return report
    sizes = (
        [imgsz]
        if isinstance(imgsz, (int, str)) or (isinstance(imgsz, tuple) and len(imgsz) == 2 and all(isinstance(v, int) for v in imgsz))
        else list(imgsz)
    )
    from .graph.sizes import check_sizes

    hw_list = [parse_imgsz(s) for s in sizes]  # type: ignore[arg-type]
    seen: set[tuple[str, Any]] = set()
    for hw in hw_list:
        for d in check_sizes(report.ir, hw, limits):
            if d.code in ONCE_PER_ROW and (d.code, d.span) in seen:
                continue  # a kernel that changes the size does so at every input size: one diagnostic
            seen.add((d.code, d.span))
            report.diagnostics.append(d)
    if not report.ok:
        return report
    if not deep:  # the parameter limit build applies; --deep checks it on the meta device with the shapes
        report.diagnostics += _params_limit(report.ir, limits, exact=not static)
        if static or not report.ok:
            return report
    from .graph.declared import declared_shapes, undeclared_rows

    if not deep and not undeclared_rows(report.ir):  # every shape is the declarations': torch is not imported
        for hw in hw_list:
            report.shapes[f"{hw[0]}x{hw[1]}"] = declared_shapes(report.ir, hw)
        return report
    from .compile.shapes import shape_facts

    for hw in hw_list:
        shapes, diags = shape_facts(report.ir, hw, limits, deep=deep)
        report.shapes[f"{hw[0]}x{hw[1]}"] = shapes
        report.diagnostics += diags
        if diags and errors(diags):
            break
    return report


def _params_limit(ir: IR, limits: Limits, exact: bool) -> list[Diagnostic]:
    """The parameter limit (YN507), from the declared counts; rows without one are counted on the meta device
    when `exact` (torch imported, nothing allocated), else left out (a sum already over the limit is reported)."""
    from .graph.declared import declared_params, params_limit

    counted, unknown = declared_params(ir)
    if unknown and exact:
        from .compile.shapes import meta_params_at

        more, diags = meta_params_at(ir, unknown)
        if diags:
            return diags
        counted.update(more)
        unknown = []
    return params_limit(ir, limits, counted, complete=not unknown)


def build(
    path_or_spec: str | os.PathLike[str] | Spec,
    weights: str | os.PathLike[str] | None = None,
    fuse: bool = False,
    device: Any = None,
    limits: Limits = DEFAULT_LIMITS,
    **overrides: Any,
) -> YamlnetModel:
    """The compiled nn.Module (a torch.fx.GraphModule). Raises SpecError when the spec has errors.
    Keyword overrides (scale=, nc=, anchors=, ch=, dialect=) replace the spec's top-level keys, so the head
    and the model agree (`build("yolo11.yaml", scale="s", nc=3)`)."""
    report = analyze(path_or_spec, limits, **overrides)
    if not report.ok or report.ir is None:
        raise SpecError(report.diagnostics, report.source)
    from .compile.build import compile_ir
    from .compile.shapes import check_params

    refused = check_params(report.ir, limits)  # parameters counted on meta: nothing allocated for a refused spec
    if refused:
        raise SpecError(report.diagnostics + refused, report.source)

    model = compile_ir(report.ir, weights=weights, device=device, limits=limits)
    if fuse:
        model.eval()
        model.fuse()
    return model


__all__ = ["LoadReport", "Report", "analyze", "build", "load_spec", "parse_imgsz", "validate"]
