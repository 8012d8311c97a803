"""Export a built model to ONNX, TorchScript (trace) or a torch.export program, and check the file against
the eager model on the same input (onnxruntime for ONNX).

The detection head is put in YOLOv5's export form first: eval mode returns the decoded boxes only, as one
tensor (Segment: boxes and mask prototypes). `dynamic=True` leaves batch, height and width free; the check
then also runs a second, different input size.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from .compile.model import YamlnetModel

FORMATS = ("onnx", "torchscript", "torch.export")
SUFFIXES = {".onnx": "onnx", ".torchscript": "torchscript", ".ts": "torchscript", ".pt2": "torch.export"}
DEFAULT_SUFFIX = {"onnx": ".onnx", "torchscript": ".torchscript", "torch.export": ".pt2"}
INSTALL_HINT = "pip install 'yamlnet[export]' (onnx, onnxruntime, onnxscript)"


class ExportError(Exception):
    """An export that cannot be done as asked. `exit_code` 2: a usage problem (a missing package, a format,
    a missing file); 1: the model or its file is wrong (a failed check, weights of another spec)."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Check:
    """One comparison of the exported file with the eager model."""

    shape: tuple[int, ...]  # input shape
    outputs: list[tuple[int, ...]]  # output shapes of the exported file
    max_abs: float
    max_rel: float  # max |a - b| / (|b| + atol / rtol), elementwise: the check passes when it is <= rtol
    ok: bool


@dataclass
class ExportResult:
    path: Path
    format: str
    outputs: int  # number of outputs of the exported graph
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def summary(self) -> str:
        shapes = ", ".join(str(list(s)) for s in self.checks[0].outputs) if self.checks else "?"
        s = f"wrote {self.path} ({self.format}, {self.outputs} output{'s' * (self.outputs != 1)}: {shapes}) in {self.seconds:.1f} s"
        for c in self.checks:
            what = "onnxruntime" if self.format == "onnx" else "reloaded file"
            verdict = "ok" if c.ok else "MISMATCH"
            s += f"\n  {what} vs eager at {'x'.join(map(str, c.shape))}: max abs {c.max_abs:.2e}, max rel {c.max_rel:.2e} ({verdict})"
        return s


@contextlib.contextmanager
def export_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """The model in eval mode with its detection heads in export form; both restored afterwards."""
    was_training = model.training
    heads = [m for m in model.modules() if m is not model and getattr(m, "yamlnet_head", False) and hasattr(m, "export")]
    before = [m.__dict__.get("export") for m in heads]
    model.eval()
    for m in heads:
        m.export = True
    try:
        yield model
    finally:
        for m, b in zip(heads, before):
            if b is None:
                m.__dict__.pop("export", None)
            else:
                m.export = b
        model.train(was_training)


def _flat(out: Any) -> list[torch.Tensor]:
    import torch

    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (list, tuple)):
        return [t for o in out for t in _flat(o)]
    return []


def _compare(got: Sequence[Any], want: Sequence[torch.Tensor], shape: tuple[int, ...], rtol: float, atol: float) -> Check:
    import torch

    max_abs = max_rel = 0.0
    ok = len(got) == len(want)
    for g, w in zip(got, want):
        g = torch.as_tensor(g).float()
        w = w.detach().float().cpu()
        if g.shape != w.shape:
            ok = False
            continue
        d = (g - w).abs()
        max_abs = max(max_abs, float(d.max()) if d.numel() else 0.0)
        max_rel = max(max_rel, float((d / (w.abs() + atol / rtol)).max()) if d.numel() else 0.0)
        ok = ok and bool(torch.all(d <= atol + rtol * w.abs()))
    return Check(shape, [tuple(torch.as_tensor(g).shape) for g in got], max_abs, max_rel, ok)


def _inputs(model: YamlnetModel, batch: int, hw: tuple[int, int], dynamic: bool) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
    """The example input and the eager outputs for it; for a dynamic export also a second input of another
    batch and size (the first of a few candidates the model accepts: some blocks need multiples of 2 * stride)."""
    import torch

    ch = int(getattr(model, "yaml", {}).get("ch", 3) or 3)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(batch, ch, *hw, generator=g)
    try:
        xs, want = [x], [_flat(model(x))]
    except Exception as e:
        raise ExportError(
            f"the model does not run at {hw[0]}x{hw[1]}: {type(e).__name__}: {_first_line(e)} (yamlnet validate SPEC --imgsz checks sizes)"
        ) from None
    if dynamic:
        gs = max(int(model.stride.max()) if model.stride.numel() else 32, 32)
        for dh, dw in ((gs, 2 * gs), (2 * gs, 4 * gs), (hw[0], hw[1])):
            xi = torch.rand(batch + 1, ch, hw[0] + dh, hw[1] + dw, generator=g)
            try:
                want.append(_flat(model(xi)))
            except Exception:
                continue
            xs.append(xi)
            break
    return xs, want


def export_model(
    model: YamlnetModel,
    path: str | os.PathLike[str],
    format: str | None = None,
    imgsz: int | tuple[int, int] = 640,
    batch: int = 1,
    dynamic: bool = False,
    opset: int | None = None,
    dynamo: bool = False,
    check: bool = True,
    rtol: float = 1e-4,
    atol: float = 1e-5,
) -> ExportResult:
    """Write `model` to `path` in `format` (from the suffix when None: .onnx, .torchscript, .pt2) and, with
    `check`, compare the written file with the eager model (|a - b| <= atol + rtol * |b| elementwise).

    ONNX uses the TorchScript-based exporter unless `dynamo=True` (torch.export-based: slower, newer).
    Raises ExportError when a package is missing or the check fails."""
    import torch

    out = Path(path)
    fmt = format or SUFFIXES.get(out.suffix.lower())
    if fmt not in FORMATS:
        raise ExportError(
            f"cannot tell the format of {out.name}: use a suffix .onnx, .torchscript or .pt2, or give the format ({', '.join(FORMATS)})"
        )
    hw = (imgsz, imgsz) if isinstance(imgsz, int) else (int(imgsz[0]), int(imgsz[1]))
    if fmt == "onnx":
        try:
            import onnx  # noqa: F401
            import onnxruntime  # noqa: F401
        except ImportError as e:
            raise ExportError(f"ONNX export needs {e.name}: {INSTALL_HINT}") from None
    t0 = time.perf_counter()
    with export_mode(model), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and deprecation notes of the exporters are not the user's business
        xs, want = _inputs(model, batch, hw, dynamic)
        n_out = len(want[0])
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            run = _write(model, fmt, out, xs[0], n_out, dynamic, opset, dynamo)
        except ExportError:
            raise
        except Exception as e:  # the exporter refused the model: say which and why, not a traceback
            raise ExportError(f"{fmt} export of {out.name} failed: {type(e).__name__}: {_first_line(e)}", 1) from None
        result = ExportResult(out, fmt, n_out, seconds=time.perf_counter() - t0)
        if check:
            for x, w in zip(xs, want):
                try:
                    got = run(x)
                except Exception as e:
                    size = "x".join(map(str, x.shape))
                    hint = " (a block fixes this size when traced: export without --dynamic)" if x is not xs[0] else ""
                    raise ExportError(f"wrote {out}, but it fails at {size}: {type(e).__name__}: {_first_line(e)}{hint}", 1) from None
                result.checks.append(_compare(got, w, tuple(x.shape), rtol, atol))
    if check and not result.ok:
        raise ExportError(result.summary() + f"\nthe exported file does not reproduce the eager model within rtol={rtol}, atol={atol}", 1)
    return result


def _first_line(e: BaseException) -> str:
    lines = [line for line in str(e).splitlines() if line.strip()]
    return lines[0][:400] if lines else ""


def _write(model: YamlnetModel, fmt: str, out: Path, x: torch.Tensor, n_out: int, dynamic: bool, opset: int | None, dynamo: bool) -> Any:
    """Write the file; return a function that runs the written file (loaded back) on an input."""
    import torch

    if fmt == "onnx":
        _to_onnx(model, x, out, n_out, dynamic, opset, dynamo)
        return _onnx_runner(out)
    if fmt == "torchscript":
        ts = torch.jit.trace(model, x, strict=False, check_trace=False)
        extra = {"config.txt": json.dumps({"shape": list(x.shape), "stride": _max_stride(model), "names": _names(model)})}
        torch.jit.save(ts, str(out), _extra_files=extra)
        loaded = torch.jit.load(str(out))
        return lambda xi: _flat(loaded(xi))
    ep = torch.export.export(model, (_export_example(x, dynamic),), dynamic_shapes=_dynamic_shapes(model) if dynamic else None)
    torch.export.save(ep, str(out))
    program = torch.export.load(str(out)).module()
    return lambda xi: _flat(program(xi))


def _max_stride(model: YamlnetModel) -> int:
    return int(model.stride.max()) if model.stride.numel() else 32


def _names(model: YamlnetModel) -> dict[int, str]:
    names = getattr(model, "names", None) or {}
    return dict(enumerate(names)) if isinstance(names, (list, tuple)) else dict(names)


def _export_example(x: torch.Tensor, dynamic: bool) -> torch.Tensor:
    """torch.export fixes a dimension of size 1 as a constant: a dynamic export traces a batch of 2."""
    return x.expand(2, *x.shape[1:]).contiguous() if dynamic and x.shape[0] == 1 else x


def _dynamic_shapes(model: YamlnetModel) -> dict[str, Any]:
    """Batch free; height and width free multiples of the largest stride (what the model accepts)."""
    from torch.export import Dim

    gs = _max_stride(model)
    return {"x": {0: Dim("batch", min=1, max=1024), 2: gs * Dim("h", min=1, max=8192 // gs), 3: gs * Dim("w", min=1, max=8192 // gs)}}


def _to_onnx(model: YamlnetModel, x: torch.Tensor, out: Path, n_out: int, dynamic: bool, opset: int | None, dynamo: bool) -> None:
    import onnx
    import torch

    output_names = ["output0", "output1"][:n_out] if n_out <= 2 else [f"output{i}" for i in range(n_out)]
    kw: dict[str, Any] = {"input_names": ["images"], "output_names": output_names, "opset_version": opset}
    if dynamo:
        shapes = _dynamic_shapes(model) if dynamic else None
        torch.onnx.export(model, (_export_example(x, dynamic),), str(out), dynamo=True, dynamic_shapes=shapes, external_data=False, **kw)
    else:
        axes = None
        if dynamic:
            axes = {"images": {0: "batch", 2: "height", 3: "width"}, "output0": {0: "batch", 1: "anchors"}}
            if n_out > 1:
                axes["output1"] = {0: "batch", 2: "mask_height", 3: "mask_width"}
        torch.onnx.export(model, (x,), str(out), dynamo=False, dynamic_axes=axes, do_constant_folding=True, **kw)
    proto = onnx.load(str(out))
    onnx.checker.check_model(proto)
    for k, v in {"stride": str(_max_stride(model)), "names": str(_names(model))}.items():  # what YOLOv5's loaders read
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(proto, str(out))


def _onnx_runner(path: Path) -> Any:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(x: torch.Tensor) -> list[Any]:
        import torch

        return [torch.from_numpy(o) for o in session.run(None, {name: x.numpy()})]

    return run


# -- checkpoints ---------------------------------------------------------------------------------------------


@dataclass
class Checkpoint:
    """What a weights file holds: a yamlnet model (a YOLOv5 checkpoint of a yamlnet model, or a pickled
    model), or only a state_dict."""

    path: Path
    model: YamlnetModel | None
    raw: Any


def _safe_globals() -> list[Any]:
    """What a YOLOv5 checkpoint of a yamlnet model holds beyond tensors: yamlnet's data-only model rebuild,
    numpy scalars and arrays (best_fitness), and the classes of plugin blocks already loaded (the user chose
    them with --plugin; nothing is imported here). Globals already allowed process-wide are left out: leaving
    torch's safe_globals context removes what it added, and restore_model must stay allowed."""
    from . import registry
    from .compile.model import restore_model

    allowed: list[Any] = [restore_model]
    try:
        import numpy as np

        core = getattr(np, "_core", None) or np.core
        for obj, names in (
            (core.multiarray._reconstruct, ("numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct")),
            (core.multiarray.scalar, ("numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar")),
        ):
            allowed += [(obj, n) for n in names]
        allowed += [np.ndarray, np.dtype]
        allowed += [type(np.dtype(t)) for t in ("float64", "float32", "int64", "int32", "bool")]
    except ImportError:  # pragma: no cover - numpy comes with torch's usual installs
        pass
    import torch

    for decl in registry.declarations():
        module_name = decl.impl.split(":")[0]
        if module_name.split(".")[0] in ("blocks", "torch", "yamlnet") or module_name not in sys.modules:
            continue
        module = sys.modules[module_name]
        allowed += [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, torch.nn.Module) and v.__module__ == module_name]

    def key(g: Any) -> tuple[int, str | None]:
        return (id(g[0]), g[1]) if isinstance(g, tuple) else (id(g), None)

    already = {key(g) for g in torch.serialization.get_safe_globals()}
    return [g for g in allowed if key(g) not in already]


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a weights file with torch.load(weights_only=True). A YOLOv5 checkpoint's model (`ema`, else
    `model`) is rebuilt as a yamlnet model from its spec; any other file is returned as it is."""
    import torch

    from .compile.model import YamlnetModel

    p = Path(path)
    if not p.is_file():
        raise ExportError(f"no weights file {path}")
    try:
        with torch.serialization.safe_globals(_safe_globals()):
            obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:
        msg = str(e)
        hint = ""
        if "Unsupported global" in msg or "GLOBAL" in msg:
            hint = "; a checkpoint of a model with plugin blocks needs the plugin loaded (--plugin FILE_OR_MODULE)"
        raise ExportError(f"cannot read {path} with weights_only=True: {msg.splitlines()[0][:300]}{hint}") from None
    model = None
    if isinstance(obj, YamlnetModel):
        model = obj
    elif isinstance(obj, dict):
        for key in ("ema", "model"):
            if isinstance(obj.get(key), YamlnetModel):
                model = obj[key]
                break
    return Checkpoint(p, model, obj)


def model_for_export(
    spec: str | os.PathLike[str], weights: str | os.PathLike[str] | None = None, fuse: bool = False, limits: Any = None, **overrides: Any
) -> tuple[YamlnetModel, list[str]]:
    """The spec built with the weights of `weights` (a YOLOv5 checkpoint of a yamlnet model or a state_dict),
    fused when asked. A checkpoint's nc, anchors, scale and class names are used, so a model trained with nc=3
    exports with 3 classes. `overrides` (scale=, dialect=, nc=, ...) go to yamlnet.build. Returns the model and
    notes for the user."""
    from .api import build
    from .spec.limits import DEFAULT_LIMITS

    limits = limits or DEFAULT_LIMITS
    notes: list[str] = []
    if weights is None:
        model = build(spec, limits=limits, **overrides)
        notes.append("no --weights: the export has freshly initialised weights")
    else:
        ckpt = load_checkpoint(weights)
        if ckpt.model is not None:
            trained = ckpt.model
            y = trained.yaml
            trained_over = {k: y.get(k) for k in ("nc", "anchors", "scale") if y.get(k) is not None}
            model = build(spec, limits=limits, **{**trained_over, **overrides})
            own, theirs = model.state_dict(), trained.float().state_dict()
            if trained.fused and not fuse:
                model.eval()
                model.fuse(backbones=trained.fused == "all")
                own = model.state_dict()
            bad = sorted(set(own) ^ set(theirs)) + sorted(k for k in set(own) & set(theirs) if own[k].shape != theirs[k].shape)
            if bad:
                raise ExportError(
                    f"{weights} was trained from another spec: {len(bad)} tensors differ from {spec} (first: {bad[0]}); "
                    f"its own spec is in the checkpoint (model.yaml)",
                    1,
                )
            model.load_state_dict(theirs)
            model.names = _names(trained)
            notes.append(f"loaded {len(theirs)} tensors and {len(model.names)} class names from {weights}")
        else:
            model = build(spec, weights=weights, limits=limits, **overrides)
            rep = model.load_reports[-1]
            if not rep.complete:
                raise ExportError(rep.summary() + "\n  " + "\n  ".join(rep.details()), 1)
            notes.append(rep.summary())
    model.eval()
    if fuse and model.fused != "all":
        model.fuse()
    return model, notes


# -- the `yamlnet export` command ----------------------------------------------------------------------------


def add_export_parser(sub: Any) -> argparse.ArgumentParser:
    """Register `yamlnet export` on the CLI's subparsers."""
    e: argparse.ArgumentParser = sub.add_parser("export", help="export to ONNX, TorchScript or torch.export, checked against the eager model")
    e.add_argument("spec", help="a spec file (.yaml)")
    e.add_argument("-o", "--output", help="output file; the suffix picks the format (.onnx, .torchscript, .pt2); default SPEC.onnx")
    e.add_argument("--format", choices=FORMATS, help="the format, when the suffix does not say it")
    e.add_argument("--weights", help="a YOLOv5 checkpoint of a yamlnet model (best.pt) or a state_dict (read with weights_only=True)")
    e.add_argument("--fuse", action="store_true", help="fold BatchNorms and reparameterise blocks first")
    e.add_argument("--imgsz", default="640", help="input size (640 or 640x384, height x width)")
    e.add_argument("--batch", type=int, default=1, help="batch size of the example input")
    e.add_argument("--dynamic", action="store_true", help="batch, height and width free in the exported graph")
    e.add_argument("--opset", type=int, help="ONNX opset (default: the exporter's)")
    e.add_argument("--dynamo", action="store_true", help="ONNX through torch.export (slower) instead of the TorchScript-based exporter")
    e.add_argument("--no-check", action="store_true", help="do not compare the file with the eager model")
    return e


def run_export(a: argparse.Namespace, limits: Any = None) -> int:
    from .api import parse_imgsz
    from .diagnostics import SpecError

    try:
        hw = parse_imgsz(a.imgsz)
    except ValueError as err:
        print(f"yamlnet: error: --imgsz: {err}", file=sys.stderr)
        return 2
    if a.weights and not Path(a.weights).is_file():
        print(f"yamlnet: error: --weights: no such file {a.weights}", file=sys.stderr)
        return 2
    out = Path(a.output) if a.output else Path(a.spec).with_suffix(DEFAULT_SUFFIX[a.format or "onnx"]).name
    out = Path(out)
    fmt = a.format or SUFFIXES.get(out.suffix.lower())
    if fmt is None:
        print(f"yamlnet: error: cannot tell the format of {out}: use .onnx, .torchscript or .pt2, or --format", file=sys.stderr)
        return 2
    try:
        from .cli import spec_overrides

        model, notes = model_for_export(a.spec, a.weights, a.fuse, limits, **spec_overrides(a))
        for n in notes:
            print(n, file=sys.stderr)
        result = export_model(model, out, fmt, hw, a.batch, a.dynamic, a.opset, a.dynamo, check=not a.no_check)
    except SpecError:
        raise  # the CLI prints the diagnostics
    except ExportError as err:
        print(f"yamlnet: error: {err}", file=sys.stderr)
        return err.exit_code
    print(result.summary())
    return 0


__all__ = ["Check", "Checkpoint", "ExportError", "ExportResult", "export_mode", "export_model", "load_checkpoint", "model_for_export"]
