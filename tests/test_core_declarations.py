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

from yamlnet import registry

NAMES = registry.names()


def _params(decl: registry.BlockDecl) -> list[inspect.Parameter]:
    impl = registry.load_impl(decl)
    sig = inspect.signature(impl)
    return [p for p in sig.parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


@pytest.mark.parametrize("name", NAMES)
def test_declaration_matches_signature(name: str) -> None:
    decl = registry.lookup(name)
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
    assert decl.role in ("layer", "join", "head", "backbone")


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


BACKBONES = [n for n in NAMES if registry.lookup(n).taps is not None]  # type: ignore[union-attr]


@pytest.mark.parametrize("name", BACKBONES)
def test_declared_taps_equal_a_meta_forward(name: str) -> None:
    decl = registry.lookup(name)
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
