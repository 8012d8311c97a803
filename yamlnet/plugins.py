"""User blocks: the one-line registration of a YOLOv5-style block, and plugins the user names for the CLI.

A plugin is a Python file or an importable module that registers blocks when it is imported. The user names
it, never a spec: `--plugin FILE_OR_MODULE` (repeatable), or `[tool.yamlnet] plugins = [...]` in the
pyproject.toml found upward from the spec, which is honoured when that project directory is the working
directory or above it (running yamlnet inside a project is taking its configuration; a spec downloaded into
some other folder cannot bring code along). An installed package can instead declare the entry point group
`yamlnet.blocks`, which the registry loads by itself.

A file is loaded as a module named after its stem (`my_blocks.py` -> `my_blocks`); a module name is loaded
as an entry point of the `yamlnet.blocks` group would be. Importing this module does not import torch.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import os
import sys
import tomllib
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from . import registry
from .registry import FILL_C1, FILL_N, REQUIRED, Arg, out_arg, stride_arg, stride_fixed

# -- @yamlnet.yolov5_block -------------------------------------------------------------------------------

_TYPE_WORDS = {
    "int": "int",
    "float": "float",
    "bool": "bool",
    "str": "str",
    "None": "none",
    "NoneType": "none",
    "list": "list",
    "tuple": "list",
    "Sequence": "list",
    "List": "list",
    "Tuple": "list",
}


def _arg_type(annotation: Any) -> str:
    """A declaration type ("int", "int|none", ...) from a parameter's annotation, read as text (never run)."""
    if annotation is inspect.Parameter.empty:
        return "any"
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    out = []
    for part in text.replace("Optional[", "None|").replace("]", "").split("|"):
        word = part.strip().split("[")[0].split(".")[-1]
        if word not in _TYPE_WORDS:
            return "any"
        out.append(_TYPE_WORDS[word])
    return "|".join(dict.fromkeys(out))


def yolov5_block(
    obj: Any = None,
    *,
    name: str | None = None,
    stride: int | str | None = None,
    repeat: str | None = None,
    doc: str | None = None,
    replace: bool = False,
) -> Any:
    """Register a block written the YOLOv5 way, `__init__(self, c1, c2, *more)`, in one line:

        @yamlnet.yolov5_block
        class CBAM(nn.Module):
            def __init__(self, c1: int, c2: int, kernel_size: int = 7): ...

    The compiler fills c1 (the input channels); the row's first argument is c2, scaled by width_multiple like
    YOLOv5's own layers; the other parameters follow in order, typed by their annotations. A parameter named
    `n` takes the row's repeat count (after depth_multiple), as in C3; without one, a row with number > 1
    stacks copies. `stride`: the block's downsampling, an int or the name of the parameter that holds it.
    `repeat` overrides the rule ("arg", "sequential", "none"); `replace=True` replaces a block of that name.
    """

    def wrap(target: Any) -> Any:
        decl_name = name or target.__name__
        try:
            params = list(inspect.signature(target).parameters.values())
        except (TypeError, ValueError) as e:
            raise TypeError(f"yolov5_block {decl_name}: cannot read the constructor's parameters ({e})") from None
        plain = [p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if len(plain) < 2 or inspect.Parameter.KEYWORD_ONLY in (plain[0].kind, plain[1].kind):
            raise TypeError(f"yolov5_block {decl_name}: the constructor must start with (c1, c2, ...) - input and output channels")
        c1, c2, rest = plain[0], plain[1], plain[2:]
        args = [
            Arg(c1.name, "int", fill=FILL_C1, doc="input channels (filled by the compiler)"),
            Arg(c2.name, "int", width=True, doc="output channels"),
        ]
        has_n = any(p.name == "n" for p in rest)
        for p in rest:
            if p.name == "n":
                args.append(Arg("n", "int", default=1, fill=FILL_N, doc="repeats (the row's number after depth_multiple)"))
            else:
                default = REQUIRED if p.default is inspect.Parameter.empty else p.default
                args.append(Arg(p.name, _arg_type(p.annotation), default=default))
        mode = repeat or ("arg" if has_n else "sequential")
        if isinstance(stride, str):
            if stride not in [a.name for a in args]:
                raise TypeError(f"yolov5_block {decl_name}: stride names `{stride}`, which is not a parameter")
            stride_rule: Any = stride_arg(stride)
        else:
            stride_rule = None if stride in (None, 1) else stride_fixed(int(stride))
        text = doc if doc is not None else (inspect.getdoc(target) or "").strip()
        impl = f"{target.__module__}:{target.__qualname__}"
        old = registry.lookup(decl_name, dialect=None)
        registry.declare(
            decl_name,
            impl,
            args=tuple(args),
            out_channels=out_arg(c2.name),
            stride=stride_rule,
            repeat=mode,
            doc=text,
            replace=replace or (old is not None and old.impl == impl),  # the same class declared again (its module re-run)
        )
        return target

    return wrap(obj) if obj is not None else wrap


# -- loading plugins -------------------------------------------------------------------------------------


class PluginError(Exception):
    """A plugin that cannot be found or that fails while it loads; the message says where and why."""


@dataclass(frozen=True)
class PluginRef:
    """One plugin to load: a file path or a module name, and who asked for it (for messages)."""

    ref: str
    base: str  # folder a relative file path is taken from
    origin: str  # "--plugin" or "pyproject.toml:LINE"


_LOADED: list[PluginRef] = []  # in load order, so worker processes can load the same


def _looks_like_file(ref: str) -> bool:
    return ref.endswith(".py") or "/" in ref or os.sep in ref


def load_plugin(ref: str, base: str | os.PathLike[str] | None = None, origin: str = "--plugin") -> ModuleType:
    """Import one plugin (a .py file, relative to `base`, or a module name); its import registers its blocks."""
    registry.names()  # the built-in blocks first, so a plugin that reuses a name is told at once
    if _looks_like_file(ref):
        module = _load_file(Path(base or ".") / ref if not Path(ref).is_absolute() else Path(ref), origin)
    else:
        module = _load_module(ref, origin)
    item = PluginRef(ref, os.fspath(base or "."), origin)
    if item not in _LOADED:
        _LOADED.append(item)
    return module


def _load_file(path: Path, origin: str) -> ModuleType:
    if not path.is_file():
        raise PluginError(f"{origin}: no such plugin file {path}")
    name = path.stem
    if not name.isidentifier():
        raise PluginError(f"{origin}: a plugin file is loaded as a module named after it; `{name}` is not a Python name (rename {path.name})")
    resolved = path.resolve()
    old = sys.modules.get(name)
    if old is not None:
        old_file = getattr(old, "__file__", None)
        if old_file and Path(old_file).resolve() == resolved:
            return old  # loaded already (its blocks are registered)
        raise PluginError(f"{origin}: a module named `{name}` is already loaded (from {old_file or 'a package'}); rename {path.name}")
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise PluginError(f"{origin}: cannot load {path} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pickles of models name their blocks by module: keep it findable
    try:
        spec.loader.exec_module(module)
    except BaseException as e:
        del sys.modules[name]
        raise PluginError(f"{origin}: plugin {path} failed while loading: {_where(e, resolved)}") from None
    return module


def _load_module(name: str, origin: str) -> ModuleType:
    if not all(part.isidentifier() for part in name.split(".")):
        raise PluginError(f"{origin}: `{name}` is neither a .py file nor a module name")
    # loaded exactly as an installed package's `yamlnet.blocks` entry point is (see registry._load_declarations)
    import importlib.metadata

    ep = importlib.metadata.EntryPoint(name=name, value=name, group="yamlnet.blocks")
    try:
        module = ep.load()
    except ModuleNotFoundError as e:
        if e.name and name.startswith(e.name):
            raise PluginError(f"{origin}: no module named `{name}` (give a .py file's path, or install the package)") from None
        raise PluginError(f"{origin}: plugin {name} failed while loading: {_where(e, None)}") from None
    except BaseException as e:
        raise PluginError(f"{origin}: plugin {name} failed while loading: {_where(e, None)}") from None
    return module  # type: ignore[no-any-return]


def _where(e: BaseException, file: Path | None) -> str:
    """The exception and the plugin's own line that raised it (not a whole traceback)."""
    frames = traceback.extract_tb(e.__traceback__)
    mine = [f for f in frames if file is None or Path(f.filename).resolve() == file]
    last = mine[-1] if mine else (frames[-1] if frames else None)
    at = f" at {last.filename}:{last.lineno}" if last else ""
    return f"{type(e).__name__}: {e}{at}"


# -- [tool.yamlnet] in pyproject.toml --------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectPlugins:
    pyproject: Path
    plugins: tuple[str, ...]
    line: int  # of the `plugins` key, for messages
    trusted: bool  # the project is the working directory or above it


def project_plugins(start: str | os.PathLike[str], cwd: str | os.PathLike[str] | None = None) -> ProjectPlugins | None:
    """The `[tool.yamlnet] plugins` of the nearest pyproject.toml with a [tool.yamlnet] table, looking
    upward from `start` (a spec file or folder)."""
    here = Path(start).resolve()
    folder = here if here.is_dir() else here.parent
    work = Path(cwd or os.getcwd()).resolve()
    for d in (folder, *folder.parents):
        f = d / "pyproject.toml"
        if not f.is_file():
            continue
        try:
            text = f.read_text(encoding="utf-8")
            data = tomllib.loads(text)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise PluginError(f"{f}: cannot read it as TOML ({e})") from None
        table = data.get("tool", {}).get("yamlnet")
        if table is None:
            continue
        line = _key_line(text, "plugins")
        plugins = table.get("plugins", [])
        if not isinstance(plugins, list) or not all(isinstance(p, str) for p in plugins):
            raise PluginError(f'{f}:{line}: [tool.yamlnet] plugins is a list of file paths or module names, e.g. plugins = ["my_blocks.py"]')
        return ProjectPlugins(f, tuple(plugins), line, work == d or d in work.parents)
    return None


def _key_line(text: str, key: str) -> int:
    inside = False
    for i, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if s.startswith("["):
            inside = s.replace(" ", "") == "[tool.yamlnet]"
        elif inside and s.split("=")[0].strip() == key:
            return i
    return 1


# -- the CLI ---------------------------------------------------------------------------------------------


def add_plugin_option(*parsers: argparse.ArgumentParser) -> None:
    """`--plugin MODULE_OR_FILE`, repeatable, on each parser."""
    for p in parsers:
        p.add_argument(
            "--plugin",
            action="append",
            default=[],
            metavar="MODULE_OR_FILE",
            help="import a Python file or module that registers blocks (repeatable); see also [tool.yamlnet] plugins in pyproject.toml",
        )


def load_cli_plugins(a: argparse.Namespace, stream: Any = None) -> int | None:
    """Load what the command line and the specs' projects name. Returns None when all loaded, else the exit
    code (2) after printing why."""
    stream = stream if stream is not None else sys.stderr
    refs = [PluginRef(r, ".", "--plugin") for r in getattr(a, "plugin", None) or []]
    starts = [getattr(a, "spec", None)] if getattr(a, "spec", None) else list(getattr(a, "paths", None) or [])
    try:
        seen: set[Path] = set()
        for s in starts:
            if not Path(s).exists():
                continue  # the command reports the missing path itself
            proj = project_plugins(s)
            if proj is None or proj.pyproject in seen or not proj.plugins:
                continue
            seen.add(proj.pyproject)
            where = f"{proj.pyproject}:{proj.line}"
            if not proj.trusted:
                print(
                    f"note: {where}: [tool.yamlnet] plugins not loaded: that project is not the working directory or above it "
                    f"(run yamlnet from {proj.pyproject.parent}, or pass --plugin)",
                    file=stream,
                )
                continue
            refs += [PluginRef(r, os.fspath(proj.pyproject.parent), where) for r in proj.plugins]
        for r in refs:
            load_plugin(r.ref, r.base, r.origin)
    except (PluginError, registry.RegistrationError) as e:
        print(f"yamlnet: error: {e}", file=stream)
        return 2
    return None


def pool_options() -> dict[str, Any]:
    """ProcessPoolExecutor keywords that load the same plugins in each worker process."""
    return {"initializer": _load_all, "initargs": (tuple(_LOADED),)} if _LOADED else {}


def _load_all(items: Sequence[PluginRef]) -> None:
    for r in items:
        load_plugin(r.ref, r.base, r.origin)


def loaded() -> list[PluginRef]:
    return list(_LOADED)


__all__ = [
    "PluginError",
    "PluginRef",
    "ProjectPlugins",
    "add_plugin_option",
    "load_cli_plugins",
    "load_plugin",
    "loaded",
    "pool_options",
    "project_plugins",
    "yolov5_block",
]
