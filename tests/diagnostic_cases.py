"""The test harness of the diagnostic catalog (yamlnet/catalog.py): its examples as cases, the custom blocks
some of them need, extra cases per code, and `run_case`. tests/cli/test_diagnostics.py and tests/cli/test_catalog.py run
them; scripts/diagnostics_doc.py writes docs/diagnostics.md from the same examples.

A case is validated as a file named `my-yolo.yaml` in an empty folder (the working directory), with the
given input sizes and limits; `expect` is the (line, column) of the first diagnostic with the case's code.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

import yamlnet
from yamlnet.catalog import CATALOG, FILE, Entry
from yamlnet.registry import FILL_C1, Arg, out_arg
from yamlnet.spec.limits import DEFAULT_LIMITS, Limits


@dataclass(frozen=True)
class Case:
    code: str
    title: str  # what the rule says, for the docs
    yaml: str  # the spec text ("" when `content`, `kind` say otherwise)
    expect: tuple[int, int]  # (line, column) of the first diagnostic with this code, 1-based; (0, 0): no position
    severity: str = "error"
    imgsz: tuple[str, ...] = ("640",)
    static: bool = True  # rules only; False: also the meta-device shape pass over every block (--deep)
    limits: dict[str, int] = field(default_factory=dict)  # Limits overrides (the CLI's --max-* flags)
    via: str = "validate"  # "validate" or "build": which command reports it
    kind: str = "file"  # "file", "bytes" (content written as is), "dir" (a folder), "missing" (no such path)
    content: bytes = b""
    note: str = ""  # the catalog's explanation (for the docs)

    @property
    def id(self) -> str:
        return self.code

    def make_limits(self) -> Limits:
        return replace(DEFAULT_LIMITS, **self.limits)

    def cli_args(self) -> list[str]:
        flags = {
            "file_bytes": "--max-file-bytes",
            "rows": "--max-rows",
            "repeats": "--max-repeats",
            "channels": "--max-channels",
            "params": "--max-params",
        }
        args = [self.via, FILE]
        if self.via == "validate":
            args.append("--static" if self.static else "--deep")
            if self.imgsz != ("640",):
                for s in self.imgsz:
                    args += ["--imgsz", s]
        for k, v in self.limits.items():
            args += [flags[k], str(v)]
        return args

    def write(self, folder: Path) -> Path:
        """Create what the case validates inside `folder`; returns the path to pass."""
        path = folder / FILE
        if self.kind == "file":
            path.write_text(self.yaml)
        elif self.kind == "bytes":
            path.write_bytes(self.content)
        elif self.kind == "dir":
            path.mkdir()
        return path


def run_case(case: Case, folder: Path) -> tuple[list[yamlnet.Diagnostic], Any]:
    """The diagnostics the case produces (path relative to `folder`, which must be the working directory)."""
    case.write(folder)
    limits = case.make_limits()
    if case.via == "build":
        try:
            yamlnet.build(FILE, limits=limits)
        except yamlnet.SpecError as e:
            return e.diagnostics, e.source
        return [], None
    report = yamlnet.validate(FILE, imgsz=list(case.imgsz), static=case.static, deep=not case.static, limits=limits)
    return report.diagnostics, report.source


# ---------------------------------------------------------------------------------------------------------
# Custom blocks some cases need: registered from Python, as users register theirs.


@yamlnet.block(
    name="LyingConv",
    args=(Arg("c1", "int", fill=FILL_C1), Arg("c2", "int", doc="output channels")),
    out_channels=lambda c1, a: a["c2"] * 2,
    doc="A 3x3 conv whose declaration claims twice the channels it gives.",
)
class LyingConv(nn.Module):
    def __init__(self, c1: int, c2: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def _broken_channels(c1: Any, args: Any) -> int:
    raise RuntimeError("channel table not loaded")


@yamlnet.block(
    name="BrokenDecl",
    args=(Arg("c1", "int", fill=FILL_C1), Arg("c2", "int")),
    out_channels=_broken_channels,
    doc="A block whose declaration itself fails (a bug in the block, not in the spec).",
)
class BrokenDecl(nn.Module):
    def __init__(self, c1: int, c2: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


@yamlnet.block(
    name="FlatHead",
    args=(Arg("c1", "int", fill=FILL_C1), Arg("c2", "int")),
    out_channels=out_arg("c2"),
    doc="A block that flattens its input: it only works at the input size it was written for.",
)
class FlatHead(nn.Module):
    def __init__(self, c1: int, c2: int) -> None:
        super().__init__()
        self.c2 = c2
        self.fc = nn.Linear(c1 * 20 * 20, c2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1)).view(-1, self.c2, 1, 1)


# ---------------------------------------------------------------------------------------------------------
# The cases, by code: the catalog's examples (yamlnet/catalog.py).

TINY = "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n"
CUSTOM_BLOCKS = {"LyingConv": LyingConv, "BrokenDecl": BrokenDecl, "FlatHead": FlatHead}


def from_entry(e: Entry) -> Case:
    x = e.example
    missing = [b for b in x.blocks if b not in CUSTOM_BLOCKS]
    assert not missing, f"{e.code}: the example needs custom blocks this harness does not register: {missing}"
    return Case(e.code, e.title, x.yaml, x.expect, e.severity, x.imgsz, x.static, dict(x.limits), x.via, x.kind, x.content, e.explanation)


CASES: list[Case] = [from_entry(e) for e in CATALOG.values()]

# Codes that a case above shows by another example (kept as extra test cases, not listed twice in the docs).
EXTRA: list[Case] = [
    Case("YN303", "C3TR's four attention heads must divide its hidden channels", TINY + "  - [-1, 1, C3TR, [64, True, 1, 0.3]]\n", (4, 20)),
    Case("YN303", "nn.Conv2d groups", TINY + "  - [-1, 1, nn.Conv2d, [16, 32, 3, 1, 1, 1, 3]]\n", (4, 45)),
    Case("YN507", "too many rows", "nc: 3\nbackbone:\n" + "  - [-1, 1, Conv, [16, 3, 1]]\n" * 5, (6, 5), limits={"rows": 3}),
    Case("YN507", "a row repeated too often", "nc: 3\nbackbone:\n  - [-1, 5000, Conv, [16, 3, 1]]\n", (3, 10)),
    Case("YN510", "a directory", "", (0, 0), kind="dir"),
    Case("YN107", "an argument cannot be a mapping", "nc: 3\nbackbone:\n  - [-1, 1, Conv, [{a: 1}, 3, 2]]\n", (3, 20)),
    Case("YN107", "a row's weights is not a path", "nc: 3\nbackbone:\n  - {from: -1, module: Conv, args: [16, 3, 2], weights: 3}\n", (3, 57)),
    Case("YN107", "an activation where a block takes none", TINY + "  - [-1, 1, nn.MaxPool2d, [nn.ReLU()]]\n", (4, 28)),
    Case("YN115", "an operator on a number and a word", "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16 + 'a', 3, 2]]\n", (3, 25)),
    Case("YN116", "a fractional number", "nc: 3\nbackbone:\n  - [-1, 1.5, Conv, [16, 3, 2]]\n", (3, 10)),
    Case(
        "YN117",
        "a head's class count below 1",
        "nc: 3\nanchors: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, Conv, [32, 3, 2]]\n  - [-1, 1, Conv, [64, 3, 2]]\n"
        "head:\n  - [[0, 1, 2], 1, Detect, [0, anchors]]\n",
        (8, 29),
    ),
    Case("YN117", "nn.Conv2d groups of 0", TINY + "  - [-1, 1, nn.Conv2d, [16, 32, 3, 1, 1, 1, 0]]\n", (4, 45)),
    Case("YN118", "a backbone feature that does not exist", "nc: 3\nbackbone:\n  - [-1, 1, TimmBackbone, [resnet18, False, [1, 9]]]\n", (3, 27)),
    Case("YN511", "build refuses a missing weights file", "nc: 3\nbackbone:\n  - [-1, 1, EfficientViT_M0, [m0.pth]]\n", (3, 5), via="build"),
]
