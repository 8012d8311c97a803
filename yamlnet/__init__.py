"""yamlnet: a compiler from YOLO-style YAML specs to checked graphs, torch.fx modules and diagrams.

    import yamlnet
    spec = yamlnet.load_spec("specs/yolov5s.yaml")
    report = yamlnet.validate("specs/yolov5s.yaml", imgsz=640)
    model = yamlnet.build("specs/yolov5s.yaml")

Importing yamlnet does not import torch; `build` and the shape pass of `validate` do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# The public names load on first use, so `yamlnet validate --static` pays only for what it runs.
_WHERE = {
    "Report": "api",
    "analyze": "api",
    "build": "api",
    "load_spec": "api",
    "validate": "api",
    "Diagnostic": "diagnostics",
    "SpecError": "diagnostics",
    "yolov5_block": "plugins",
    "Arg": "registry",
    "BlockDecl": "registry",
    "SizeRule": "registry",
    "TapDecl": "registry",
    "block": "registry",
    "declare": "registry",
    "register": "registry",
}

if TYPE_CHECKING:
    from .api import Report, analyze, build, load_spec, validate
    from .diagnostics import Diagnostic, SpecError
    from .plugins import yolov5_block
    from .registry import Arg, BlockDecl, SizeRule, TapDecl, block, declare, register


def _module(name: str) -> Any:
    """The submodule a public name lives in (static imports: nothing is imported by a computed name)."""
    if name == "api":
        from . import api

        return api
    if name == "diagnostics":
        from . import diagnostics

        return diagnostics
    if name == "plugins":
        from . import plugins

        return plugins
    from . import registry

    return registry


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'yamlnet' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


__all__ = [
    "Arg",
    "BlockDecl",
    "Diagnostic",
    "Report",
    "SizeRule",
    "SpecError",
    "TapDecl",
    "analyze",
    "block",
    "build",
    "declare",
    "load_spec",
    "register",
    "validate",
    "yolov5_block",
]
