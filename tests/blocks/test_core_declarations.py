"""DESIGN decision 4: declarations are data, readable without torch, and cannot drift from implementations.

One test checks every registered declaration against its implementation's signature; another builds every
multi-output block on the meta device and compares its declared taps with a real (meta) forward.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
from typing import Any

import pytest
import torch

import yamlnet
from yamlnet import registry

# the project's declarations (blocks/ and torch layers); tests register blocks of their own, checked where they live
DECLS = {f"{d.dialect}:{d.name}" if d.dialect else d.name: d for d in registry.declarations() if d.impl.startswith(("blocks.", "torch."))}
NAMES = sorted(DECLS)


def _params(decl: registry.BlockDecl) -> list[inspect.Parameter]:
    impl = registry.load_impl(decl)
    sig = inspect.signature(impl)
    return [p for p in sig.parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


@pytest.mark.parametrize("name", NAMES)
def test_declaration_matches_signature(name: str) -> None:
    decl = DECLS[name]
    assert decl is not None
    assert decl.doc, f"{name} has no doc"
    params = _params(decl)
    declared = [a for a in decl.args if a.to_constructor]
    assert [p.name for p in params[: len(declared)]] == [a.name for a in declared], name
    for p, a in zip(params, declared):
        assert all(t.strip() in registry.ARG_TYPES for t in a.type.split("|")), (name, a.name, a.type)
        if a.fill is None and a.check is None:
            want = registry.REQUIRED if p.default is inspect.Parameter.empty else p.default
            assert a.default == want, (name, a.name, a.default, want)
    assert all(p.default is not inspect.Parameter.empty for p in params[len(declared) :]), name
    assert decl.inputs in ("one", "join", "list") and decl.repeat in ("sequential", "arg", "none")
    assert decl.role in ("layer", "join", "head", "backbone", "select")


# values for required arguments of blocks that have them
SAMPLE_ARGS: dict[str, dict[str, Any]] = {"TimmBackbone": {"model_name": "resnet18"}}


def _default_kwargs(decl: registry.BlockDecl, c1: int = 3) -> dict[str, Any]:
    kw: dict[str, Any] = dict(SAMPLE_ARGS.get(decl.name, {}))
    for a in decl.args:
        if a.name in kw:
            continue
        if a.fill == registry.FILL_C1 or a.check == registry.CHECK_C1:
            kw[a.name] = c1
        elif a.fill == registry.FILL_WEIGHTS:
            kw[a.name] = False
        else:
            assert a.default is not registry.REQUIRED, f"add a sample value for {decl.name}.{a.name} to SAMPLE_ARGS"
            kw[a.name] = a.default
    return kw


# backbones: taps named by stride; a layer with several outputs of one stride (CBLinear) is checked by its own tests
BACKBONES = [n for n in NAMES if DECLS[n].taps is not None and DECLS[n].role != "layer"]


@pytest.mark.parametrize("name", BACKBONES)
def test_declared_taps_equal_a_meta_forward(name: str) -> None:
    decl = DECLS[name]
    assert decl is not None and decl.role == "backbone"
    kw = _default_kwargs(decl)
    taps = decl.taps_of(kw)
    assert taps and all(t.name == registry.tap_name(t.stride) for t in taps), taps
    ctor = {a.name: kw[a.name] for a in decl.args if a.to_constructor}
    with torch.device("meta"):
        module = registry.load_impl(decl)(**ctor)
    size = 256
    outs = module.eval()(torch.empty(1, 3, size, size, device="meta"))
    got = [(o.shape[1], size // o.shape[-1]) for o in outs]
    assert got == [(t.channels, t.stride) for t in taps]
    assert decl.out_channels is None or decl.out_channels(3, kw) == taps[-1].channels


def test_declaration_modules_do_not_import_torch() -> None:
    code = "import sys; from yamlnet import registry; registry.names(); print('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == "False", r.stderr


def test_a_taken_name_cannot_be_registered_again() -> None:
    decl = registry.lookup("Conv")
    assert decl is not None
    with pytest.raises(registry.RegistrationError, match="already registered"):
        registry.declare("Conv", "blocks.yolov5.common:Conv", args=decl.args, out_channels=decl.out_channels)
    assert registry.lookup("Conv") is decl  # unchanged


def test_replace_true_replaces_and_dialects_keep_one_name_apart() -> None:
    """One name, two blocks: a dialect's own declaration wins in that dialect; the shared one elsewhere."""
    a = registry.declare("ZzTwoMeanings", "blocks.yolov5.common:Conv", doc="shared")
    b = registry.declare("ZzTwoMeanings", "blocks.yolov5.common:DWConv", dialect="ultralytics", doc="ultralytics")
    try:
        assert registry.lookup("ZzTwoMeanings", "yolov5") is a
        assert registry.lookup("ZzTwoMeanings", "ultralytics") is b
        assert registry.dialects_of("ZzTwoMeanings") == ["ultralytics"]
        c = registry.declare("ZzTwoMeanings", "blocks.yolov5.common:GhostConv", dialect="ultralytics", doc="again", replace=True)
        assert registry.lookup("ZzTwoMeanings", "ultralytics") is c
    finally:
        registry._DECLS.pop((None, "ZzTwoMeanings"), None)
        registry._DECLS.pop(("ultralytics", "ZzTwoMeanings"), None)


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"inputs": "many"}, "inputs must be"),
        ({"repeat": "arg"}, "needs an argument with fill=FILL_N"),
        ({"role": "neck"}, "role must be"),
        ({"dialect": "yolov99"}, "dialect must be"),
        ({"args": (registry.Arg("c2"), registry.Arg("c2"))}, "argument names repeat"),
    ],
)
def test_declarations_are_validated_when_created(kw: dict[str, Any], msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        registry.BlockDecl(name="Bad", impl="m:Bad", **kw)


@pytest.mark.parametrize(("channels", "stride"), [(0, 8), (-3, 8), (64, 0)])
def test_tap_declarations_are_validated_when_created(channels: int, stride: int) -> None:
    with pytest.raises(ValueError, match="tap P3"):
        registry.TapDecl("P3", channels, stride)


def _shape_cases() -> list[tuple[str, str | None]]:
    from conftest import REFERENCE_DIR, SPECS, ULTRALYTICS, YOLOV7, YOLOV7_DIR

    cases: list[tuple[str, str | None]] = [(str(p), None) for p in sorted(SPECS.glob("*.yaml"))]
    cases += [(str(p), None) for p in sorted(REFERENCE_DIR.rglob("*.yaml"))]
    for name, scales in sorted((ULTRALYTICS or {}).get("models", {}).items()):
        scale = next(iter(scales))
        cases.append((str(REFERENCE_DIR.parent / "ultralytics" / name), None if scale == "-" else scale))
    # YOLOv7: one file for each of its blocks (SP/MP/IDetect, ReOrg/IAuxDetect, DownC/Shortcut, Stem/ResCSP, ResXCSP,
    # RepConv/Detect, BottleneckCSPA/B/C)
    v7 = ("training/yolov7-tiny", "training/yolov7-w6", "training/yolov7-e6e", "baseline/r50-csp", "baseline/x50-csp", "deploy/yolov7")
    cases += [(str(YOLOV7_DIR / f"{n}.yaml"), None) for n in v7 + ("baseline/yolor-p6", "baseline/yolov4-csp") if YOLOV7]
    return cases


@pytest.mark.parametrize(("path", "scale"), _shape_cases(), ids=lambda v: str(v).split("reference/")[-1].split("main/")[-1])
def test_declared_shapes_equal_running_every_block(path: str, scale: str | None) -> None:
    """Issue 8: validation takes output shapes from declarations marked `static_shapes`; here every row of every
    bundled and reference spec gets the same shape from the declarations as from running all blocks on meta."""
    from yamlnet.graph.sizes import size_step

    over = {"scale": scale} if scale else {}
    report = yamlnet.analyze(path, **over)
    if not report.ok or report.ir is None:
        # only a spec that asks for a download (yolo11-cls-resnet18's DEFAULT weights) is refused by design
        assert report.errors and all("never downloads" in d.message for d in report.errors), report.render()
        pytest.skip(f"the spec is refused by design, so it has no shapes to compare: {report.errors[0].message}")
    step = size_step(report.ir)
    sizes = [str(step * 10), f"{step * 10}x{step * 8}"]
    fast = yamlnet.validate(path, imgsz=sizes, **over)
    deep = yamlnet.validate(path, imgsz=sizes, deep=True, **over)
    assert fast.ok and deep.ok, (fast.render(), deep.render())
    for size in fast.shapes:
        declared = {p: s for p, s in fast.shapes[size].items() if s is not None}
        ran = {p: deep.shapes[size][p] for p in declared}
        assert declared == ran, size
