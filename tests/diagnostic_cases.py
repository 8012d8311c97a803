"""One small bad spec per diagnostic code: the single source of tests/test_diagnostics.py and of
docs/diagnostics.md (scripts/diagnostics_doc.py), so the documented messages are the ones the tests see.

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
from yamlnet.registry import FILL_C1, Arg, out_arg
from yamlnet.spec.limits import DEFAULT_LIMITS, Limits

FILE = "my-yolo.yaml"


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
    note: str = ""  # extra explanation for the docs

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
# The cases, by code.

TINY = "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n"

CASES: list[Case] = [
    # --- YN1xx: the spec's form --------------------------------------------------------------------------
    Case("YN101", "YAML syntax error", "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]\n  - [-1, 1, Conv, [32, 3, 2]]\n", (4, 3)),
    Case("YN102", "the spec is not a mapping, or a key appears twice", "nc: 3\nnc: 4\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n", (2, 1)),
    Case("YN103", "a row is not [from, number, module, args]", "nc: 3\nbackbone:\n  - [-1, 1, Conv]\n", (3, 5)),
    Case(
        "YN104",
        "a header value has the wrong type or range (nc >= 1, multiples > 0 and finite, anchors well formed)",
        "nc: 0\ndepth_multiple: .inf\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n",
        (1, 5),
    ),
    Case("YN105", "unknown module", "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, C33, [32]]\n", (4, 13)),
    Case("YN106", "wrong number of arguments", "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2, None, 1, 1, True, 7]]\n", (3, 48)),
    Case("YN107", "an argument of the wrong type or value", "nc: 3\nbackbone:\n  - [-1, 1, Conv, [sixteen, 3, 2]]\n", (3, 20)),
    Case("YN108", "an argument expression that cannot be read", "nc: 3\nbackbone:\n  - [-1, 1, Conv, ['nc *', 3, 2]]\n", (3, 24)),
    Case("YN109", "an unknown name in an expression", "nc: 3\nbackbone:\n  - [-1, 1, Conv, [width * 16, 3, 2]]\n", (3, 20)),
    Case(
        "YN120",
        "the dialect (YOLOv5 or Ultralytics) cannot be told, or the spec mixes both",
        "nc: 3\nanchors: 3\nscales:\n  n: [0.33, 0.25, 1024]\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n",
        (3, 1),
        severity="warning",
        note="Evidence, strongest first: a `dialect:` key, `scales:` (Ultralytics), `anchors:` (YOLOv5), a block only one "
        "dialect has, a row whose arguments fit only one dialect's block. A top-level `dialect: ultralytics` (or --dialect) settles it.",
    ),
    Case(
        "YN121",
        "a scale that the spec does not have (or any scale for a spec without `scales:`)",
        "nc: 3\nscale: q\nscales:\n  n: [0.33, 0.25, 1024]\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n",
        (2, 8),
    ),
    Case(
        "YN122",
        "no scale given: the first of `scales:` is used",
        "nc: 3\nscales:\n  n: [0.33, 0.25, 1024]\n  s: [0.33, 0.50, 1024]\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n",
        (2, 1),
        severity="warning",
        note="As Ultralytics does. The scale comes from `scale=`/--scale, a `scale:` key, or the file name (yolo11n.yaml -> n).",
    ),
    Case("YN111", "unknown or unreadable activation", "nc: 3\nactivation: nn.Swish()\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n", (2, 13)),
    Case("YN112", "the spec has no backbone", "nc: 3\nhead:\n  - [-1, 1, Conv, [16, 3, 2]]\n", (1, 1)),
    Case(
        "YN113",
        "an unknown top-level key that no row uses (a typo of a known key gets a fix)",
        "nc: 3\ndepth_multiplier: 0.33\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n",
        (2, 1),
        severity="warning",
        note="A warning: it fails validation only with --strict. A key that rows use by name is a spec variable, not a typo.",
    ),
    Case(
        "YN114",
        "a row uses `nc` but the spec does not give it (never a silent 80)",
        "anchors: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\nhead:\n  - [[0], 1, Detect, [nc, anchors]]\n",
        (5, 23),
    ),
    # --- YN2xx: references -------------------------------------------------------------------------------
    Case("YN201", "`from` points outside the spec", TINY + "  - [[-1, 5], 1, Concat, [1]]\n", (4, 11)),
    Case("YN202", "`from` names a later row", TINY + "  - [2, 1, Conv, [32, 3, 2]]\n  - [0, 1, Conv, [64, 3, 2]]\n", (4, 6)),
    Case("YN203", "a row takes its own output", TINY + "  - [1, 1, Conv, [32, 3, 2]]\n", (4, 6)),
    Case(
        "YN204",
        "rows that feed each other in a cycle",
        "nc: 3\nbackbone:\n  - {name: a, from: b, module: Conv, args: [16, 3, 2]}\n  - {name: b, from: a, module: Conv, args: [16, 3, 1]}\n",
        (3, 21),
    ),
    Case(
        "YN205",
        "a tap the multi-output row does not have (the help lists its taps)",
        "nc: 3\nbackbone:\n  - [-1, 1, EfficientViT_M0, []]\nhead:\n  - [0.P2, 1, Conv, [64, 1, 1]]\n",
        (5, 6),
    ),
    Case(
        "YN206",
        "a row whose output nothing uses",
        TINY + "  - [-1, 1, Conv, [32, 3, 2]]\n  - [-2, 1, Conv, [64, 3, 2]]\n",
        (4, 5),
        severity="warning",
        note="A warning: it fails validation only with --strict.",
    ),
    Case("YN207", "a `from` that is not a row index or tap, or the wrong number of inputs", TINY + "  - [[-1, 0], 1, Conv, [32, 3, 2]]\n", (4, 6)),
    Case("YN208", "`from` names a row that does not exist", TINY + "  - [stem, 1, Conv, [32, 3, 2]]\n", (4, 6)),
    Case(
        "YN209",
        "index comments (`# 4`, `# 17 (P3/8-small)`) disagree with the rows' indices: a row was inserted or removed",
        "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]  # 0\n  - [-1, 1, Conv, [16, 3, 1]]\n  - [-1, 1, Conv, [32, 3, 2]]  # 1\n"
        "  - [-1, 1, Conv, [64, 3, 2]]  # 2\nhead:\n  - [-1, 1, nn.Upsample, [None, 2, nearest]]  # 3\n  - [[-1, 1], 1, Concat, [1]]  # 4\n",
        (5, 5),
        severity="warning",
        note="The fix points the references at the rows they were written for and renumbers the comments (`yamlnet fix`).",
    ),
    # --- YN3xx: channels ---------------------------------------------------------------------------------
    Case(
        "YN301",
        "stated input channels differ from what arrives (nn.Conv2d, nn.BatchNorm2d, repeated blocks)",
        TINY + "  - [-1, 1, nn.Conv2d, [32, 64, 3]]\n",
        (4, 25),
    ),
    Case(
        "YN302",
        "a detection head's inputs do not match its anchor levels (or the anchors are malformed)",
        "nc: 3\nanchors:\n  - [10,13, 16,30, 33,23]\n  - [30,61, 62,45, 59,119]\n  - [116,90, 156,198, 373,326]\nbackbone:\n"
        "  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, Conv, [32, 3, 2]]\n  - [-1, 1, Conv, [64, 3, 2]]\nhead:\n"
        "  - [[1, 2], 1, Detect, [nc, anchors]]\n",
        (11, 6),
    ),
    Case(
        "YN303", "groups or attention heads that do not divide the channels they split", TINY + "  - [-1, 1, Conv, [48, 3, 1, None, 32]]\n", (4, 36)
    ),
    Case("YN304", "channels outside the limits", TINY + "  - [-1, 1, Conv, [100000, 3, 2]]\n", (4, 19)),
    Case(
        "YN305",
        "an Index row states channels the chosen output does not have",
        "nc: 3\nbackbone:\n  - [-1, 1, EfficientViT_M0, []]\n  - [0, 1, Index, [128, 0]]\n",
        (4, 20),
    ),
    Case(
        "YN306",
        "the shape pass disagrees with the block's declaration (channels, stride, taps)",
        "nc: 3\nbackbone:\n  - [-1, 1, LyingConv, [8]]\n",
        (3, 5),
        static=False,
        imgsz=("64",),
        note="LyingConv is a custom block registered from Python whose declaration says it gives 2 x c2 channels.",
    ),
    # --- YN4xx: strides and sizes ------------------------------------------------------------------------
    Case(
        "YN402", "a Concat joins feature maps of different strides", TINY + "  - [-1, 1, Conv, [32, 3, 2]]\n  - [[-1, 0], 1, Concat, [1]]\n", (5, 6)
    ),
    Case(
        "YN403",
        "a detection head's inputs are not in increasing stride",
        "nc: 3\nanchors: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, Conv, [32, 3, 2]]\n  - [-1, 1, Conv, [64, 3, 2]]\nhead:\n"
        "  - [[2, 1], 1, Detect, [nc, anchors]]\n",
        (8, 10),
    ),
    Case(
        "YN404",
        "at an input size, a block gets a spatial size it cannot use (patch sizes, Focus, joins that drift apart)",
        "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, MobileViTBlock, [16, 32, 1, 3, 2, 64]]\n",
        (4, 5),
        imgsz=("66",),
    ),
    Case(
        "YN405",
        "a block raises in the shape pass (the error, on its row, never a traceback)",
        "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, Conv, [32, 3, 2]]\n  - [-1, 1, FlatHead, [10]]\n",
        (5, 5),
        static=False,
        imgsz=("320",),
        note="FlatHead is a custom block whose Linear layer expects a 20x20 input (input size 80).",
    ),
    # --- YN5xx: limits and hostile input -------------------------------------------------------------------
    Case("YN501", "code in a spec (never run)", "nc: 3\nbackbone:\n  - [-1, 1, Conv, [\"__import__('os').system('ls')\", 3, 2]]\n", (3, 21)),
    Case(
        "YN502",
        "a YAML tag that asks for Python objects (never constructed)",
        "nc: !!python/object/apply:os.system ['ls']\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n",
        (1, 5),
    ),
    Case("YN503", "the file is larger than the limit", TINY, (0, 0), limits={"file_bytes": 32}),
    Case(
        "YN504",
        "YAML aliases expanded too often, or merge keys",
        "base: &b {nc: 3}\nmodel:\n  <<: *b\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n",
        (3, 3),
    ),
    Case("YN505", "nesting deeper than the limit", "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, " + "[" * 40 + "2" + "]" * 40 + "]]\n", (3, 56)),
    Case(
        "YN506",
        "a value beyond the limits (number size, string or list length)",
        'nc: 3\nbackbone:\n  - [-1, 1, Conv, ["16 * 10000000000", 3, 2]]\n',
        (3, 26),
    ),
    Case(
        "YN507",
        "more rows, repeats or parameters than the limits (the parameter count is taken on the meta device)",
        TINY + "  - [-1, 1, Conv, [64, 3, 2]]\n",
        (4, 5),
        static=False,
        limits={"params": 5_000},
    ),
    Case("YN508", "a binary or non-UTF-8 file", "", (2, 5), kind="bytes", content=b"nc: 3\nbb: \xff\xfe\n"),
    Case("YN509", "an empty file", "", (1, 1), kind="bytes", content=b"\n  \n"),
    Case("YN510", "a missing path or a directory", "", (0, 0), kind="missing"),
    Case(
        "YN511",
        "a weights file that cannot be found or read",
        "nc: 3\nbackbone:\n  - [-1, 1, EfficientViT_M0, [m0.pth]]\n",
        (3, 31),
        severity="warning",
        note="A warning for `validate` (the file is read only by `build`, where it is an error).",
    ),
    # --- YN9xx: internal -----------------------------------------------------------------------------------
    Case(
        "YN901",
        "a block's declaration fails (a bug in the block, reported on the row that uses it)",
        "nc: 3\nbackbone:\n  - [-1, 1, BrokenDecl, [8]]\n",
        (3, 5),
        note="BrokenDecl is a custom block whose out_channels function raises.",
    ),
]

# Codes that a case above shows by another example (kept as extra test cases, not listed twice in the docs).
EXTRA: list[Case] = [
    Case("YN303", "C3TR's four attention heads must divide its hidden channels", TINY + "  - [-1, 1, C3TR, [64, True, 1, 0.3]]\n", (4, 19)),
    Case("YN303", "nn.Conv2d groups", TINY + "  - [-1, 1, nn.Conv2d, [16, 32, 3, 1, 1, 1, 3]]\n", (4, 45)),
    Case("YN507", "too many rows", "nc: 3\nbackbone:\n" + "  - [-1, 1, Conv, [16, 3, 1]]\n" * 5, (6, 5), limits={"rows": 3}),
    Case("YN507", "a row repeated too often", "nc: 3\nbackbone:\n  - [-1, 5000, Conv, [16, 3, 1]]\n", (3, 10)),
    Case("YN510", "a directory", "", (0, 0), kind="dir"),
    Case("YN511", "build refuses a missing weights file", "nc: 3\nbackbone:\n  - [-1, 1, EfficientViT_M0, [m0.pth]]\n", (3, 5), via="build"),
]
