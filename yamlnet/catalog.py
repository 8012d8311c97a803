"""The diagnostic catalog: one entry per code, with the condition it reports, why it matters, what to do, and a
small bad spec that produces it (where the diagnostic lands, and how the example is run).

Pure data: no torch, no checks. tests/diagnostic_cases.py runs every example and asserts its code, line and
column (and that the fixes it carries make it go away); scripts/diagnostics_doc.py writes docs/diagnostics.md
from it; a test checks that every code the sources emit is here with the same severity.

Codes by range: YN1xx the spec's form, YN2xx references, YN3xx channels, YN4xx strides and sizes, YN5xx limits
and hostile input, YN9xx internal. One code = one condition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

FILE = "my-yolo.yaml"  # the name an example is saved under


@dataclass(frozen=True)
class Example:
    """A bad spec and where its diagnostic lands. It is validated as `my-yolo.yaml` in an empty working
    directory; `expect` is the (line, column) of the first diagnostic with the entry's code ((0, 0): none)."""

    yaml: str  # the spec text ("" when `kind` says otherwise)
    expect: tuple[int, int]
    imgsz: tuple[str, ...] = ("640",)
    static: bool = True  # rules only; False: also the meta-device shape pass over every block (--deep)
    limits: Mapping[str, int] = field(default_factory=dict)  # Limits overrides (the CLI's --max-* flags)
    via: str = "validate"  # "validate" or "build": which command reports it
    kind: str = "file"  # "file", "bytes" (content written as is), "dir" (a folder), "missing" (no such path)
    content: bytes = b""
    blocks: tuple[str, ...] = ()  # custom blocks (registered from Python) the example needs


@dataclass(frozen=True)
class Entry:
    code: str
    severity: str  # "error", "warning" or "note"
    title: str  # the condition, one line
    explanation: str  # why it matters and what to do
    example: Example
    other_severity: str = ""  # a second severity the code is reported with, and when (`other_when`)
    other_when: str = ""

    @property
    def severities(self) -> tuple[str, ...]:
        return (self.severity, self.other_severity) if self.other_severity else (self.severity,)


_TINY = "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n"

_ENTRIES: tuple[Entry, ...] = (
    # --- YN1xx: the spec's form ------------------------------------------------------------------------------
    Entry(
        "YN101",
        "error",
        "YAML syntax error",
        "The file is not valid YAML, so nothing else can be checked. The message is the YAML parser's, placed where "
        "it noticed the problem, which is often just after the real mistake (an unclosed bracket, a bad indent).",
        Example("nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]\n  - [-1, 1, Conv, [32, 3, 2]]\n", (4, 3)),
    ),
    Entry(
        "YN102",
        "error",
        "the spec is not a mapping of plain-word keys",
        "A spec is a mapping of keys (nc, backbone, head, ...) to values. A file whose top level is a list or a "
        "scalar, or a mapping key that is itself a list or mapping, is not a spec. Write `key: value` lines.",
        Example("just a string\n", (1, 1)),
    ),
    Entry(
        "YN103",
        "error",
        "a row is not [from, number, module, args]",
        "Each row of backbone and head is a list of four items (or a mapping with `from`, `module`, `args` and "
        "optional `number`, `name`), and `args` is a list. A missing item shifts the others, so the row is refused "
        "as a whole.",
        Example("nc: 3\nbackbone:\n  - [-1, 1, Conv]\n", (3, 5)),
    ),
    Entry(
        "YN104",
        "error",
        "a header value has the wrong type or range (nc >= 1, multiples > 0 and finite, anchors well formed)",
        "Header values scale or size every row: a class count of 0 or an infinite multiple gives a model that "
        "cannot be built. Write the value in its range.",
        Example("nc: 0\ndepth_multiple: .inf\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n", (1, 5)),
    ),
    Entry(
        "YN105",
        "error",
        "unknown module",
        "The row names a block that is not registered for the spec's dialect. Usually a typo (the help suggests the "
        "closest names); `yamlnet blocks` lists what exists, and custom blocks must be registered before loading.",
        Example("nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, C33, [32]]\n", (4, 13)),
    ),
    Entry(
        "YN106",
        "error",
        "wrong number of arguments",
        "The row gives more arguments than the block takes, or leaves out one it needs. Arguments are positional, "
        "so an extra one usually means the others are in the wrong places too. `yamlnet blocks NAME` shows them.",
        Example("nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2, None, 1, 1, True, 7]]\n", (3, 48)),
    ),
    Entry(
        "YN107",
        "error",
        "an argument of the wrong type",
        "An argument (or a row's `weights`) is not of the type the block takes: a word where a channel count goes, a "
        "mapping as an argument, an activation in another argument's place. Write a value of the stated type; the "
        "help lists the block's arguments.",
        Example("nc: 3\nbackbone:\n  - [-1, 1, Conv, [sixteen, 3, 2]]\n", (3, 20)),
    ),
    Entry(
        "YN108",
        "error",
        "an argument expression that cannot be read",
        "Arguments may be small arithmetic expressions over numbers and the spec's names (`nc * 2`). This one does "
        "not parse: an operator without an operand, an unclosed bracket, or syntax expressions do not have.",
        Example("nc: 3\nbackbone:\n  - [-1, 1, Conv, ['nc *', 3, 2]]\n", (3, 24)),
    ),
    Entry(
        "YN109",
        "error",
        "an unknown name in an expression",
        "An expression uses a name that is neither a header key nor a spec variable. Define it at the top level of "
        "the spec or correct the spelling (a name close to a defined one gets a fix).",
        Example("nc: 3\nwidth: 16\nbackbone:\n  - [-1, 1, Conv, [widht * 2, 3, 2]]\n", (4, 20)),
    ),
    Entry(
        "YN110",
        "warning",
        "`depth_multiple` or `width_multiple` beside `scales:` (the scale's values are used)",
        "A spec with `scales:` takes depth, width and max_channels from the chosen scale, so a `depth_multiple:` "
        "or `width_multiple:` key has no effect and the model is not scaled as the key says. Remove the key, or "
        "remove `scales:` to use it.",
        Example("nc: 3\nwidth_multiple: 0.5\nscales:\n  n: [0.33, 0.25, 1024]\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n", (2, 1)),
    ),
    Entry(
        "YN111",
        "error",
        "unknown or unreadable activation",
        "The spec's `activation:` (or an activation argument) names no activation yamlnet knows. Activations are "
        "written as torch.nn modules, such as `nn.SiLU()` or `nn.LeakyReLU(0.1)`.",
        Example("nc: 3\nactivation: nn.Swish()\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n", (2, 13)),
    ),
    Entry(
        "YN112",
        "error",
        "the spec has no backbone",
        "Every spec needs a `backbone:` list of rows (the head is optional). A spec with only a head is usually a "
        "misspelled or mis-indented `backbone` key.",
        Example("nc: 3\nhead:\n  - [-1, 1, Conv, [16, 3, 2]]\n", (1, 1)),
    ),
    Entry(
        "YN113",
        "warning",
        "an unknown top-level key that no row uses (a typo of a known key gets a fix)",
        "A key that yamlnet does not read and no row uses by name has no effect, which for a misspelled "
        "`depth_multiple` means the model is silently unscaled. A warning: it fails validation only with --strict. "
        "A key that rows use by name is a spec variable, not a typo.",
        Example("nc: 3\ndepth_multiplier: 0.33\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n", (2, 1)),
    ),
    Entry(
        "YN114",
        "error",
        "a row uses `nc` but the spec does not give it (never a silent 80)",
        "A detection head sized for a guessed class count loads no checkpoint and trains the wrong number of "
        "outputs. State `nc:` at the top of the spec.",
        Example("anchors: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\nhead:\n  - [[0], 1, Detect, [nc, anchors]]\n", (5, 23)),
    ),
    Entry(
        "YN115",
        "error",
        "an expression that cannot be evaluated (division by zero, an operator on values it does not take)",
        "The expression parses, but its value cannot be computed: a division by zero, or an operator applied to "
        "values of kinds it does not combine (a number and a word, `-` before a list). Correct the expression.",
        Example("nc: 3\nbackbone:\n  - [-1, 1, Conv, [16 / 0, 3, 2]]\n", (3, 25)),
    ),
    Entry(
        "YN116",
        "error",
        "a row's `number` is not a whole number >= 0",
        "`number` is how often the block repeats (scaled by depth_multiple); a negative or a fractional count "
        "gives no block at all. Write a whole number >= 1 (0 is accepted with a warning, YN125).",
        Example("nc: 3\nbackbone:\n  - [-1, -2, Conv, [16, 3, 2]]\n", (3, 10)),
    ),
    Entry(
        "YN117",
        "error",
        "an argument outside its allowed range",
        "The argument has the right type, but a value the block cannot use: a kernel or stride of 0, groups below 1, "
        "a class count below 1, a dropout probability above 1; the ranges are part of each block's declaration "
        "(`yamlnet blocks NAME` shows them). Write a value in the range the message gives.",
        Example(_TINY + "  - [-1, 1, Conv, [32, 0, 2]]\n", (4, 24)),
    ),
    Entry(
        "YN118",
        "error",
        "arguments the block's declaration rejects together (its output cannot be worked out from them)",
        "Each argument may be fine alone, but the block's own rules refuse the combination (an index list that does "
        "not match the number of inputs, a feature a backbone does not have), so its output channels and stride "
        "are unknown. The message is the block's; check its reference (`yamlnet blocks NAME`).",
        Example("nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, Conv, [32, 3, 2]]\n  - [[0, 1], 1, CBFuse, [[0, 1]]]\n", (5, 25)),
    ),
    Entry(
        "YN119",
        "error",
        "an argument that is not a number (`.nan`)",
        "YAML's `.nan` is a float that is no number: every size or ratio computed from it is undefined, and it "
        "compares unequal to itself. Write a finite number.",
        Example("nc: 3\nbackbone:\n  - [-1, 1, Conv, [.nan, 3, 2]]\n", (3, 20)),
    ),
    Entry(
        "YN120",
        "warning",
        "the dialect (YOLOv5 or Ultralytics) cannot be told, or the spec's evidence is split evenly between them",
        "The dialects give blocks of one name different arguments and heads, so a spec read in the wrong one "
        "builds a different model. A `dialect:` key decides; otherwise the evidence is weighed: `scales:` "
        "(Ultralytics) and `anchors:` (YOLOv5, YOLOv7, YOLOv9) count three, a block only some dialects have and a "
        "row whose arguments fit only some dialects' block count one. This warning comes when Ultralytics and "
        "YOLOv5 tie with evidence for both, or when nothing tells and a row's block differs between them. A "
        "top-level `dialect: ultralytics` (or --dialect) settles it.",
        Example("nc: 3\nanchors: 3\nscales:\n  n: [0.33, 0.25, 1024]\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n", (3, 1)),
    ),
    Entry(
        "YN121",
        "error",
        "a scale that the spec does not have (or any scale for a spec without `scales:`)",
        "The requested scale (from `scale=`, --scale, a `scale:` key or the file name) is not one of the spec's "
        "`scales:`. Pick one of those the help lists.",
        Example("nc: 3\nscale: q\nscales:\n  n: [0.33, 0.25, 1024]\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n", (2, 8)),
    ),
    Entry(
        "YN122",
        "warning",
        "no scale given: the first of `scales:` is used",
        "As Ultralytics does. The scale comes from `scale=`/--scale, a `scale:` key, or the file name "
        "(yolo11n.yaml -> n); without one the model may be a different size than meant.",
        Example("nc: 3\nscales:\n  n: [0.33, 0.25, 1024]\n  s: [0.33, 0.50, 1024]\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n", (2, 1)),
    ),
    # --- YN2xx: references -----------------------------------------------------------------------------------
    Entry(
        "YN210",
        "note",
        "later rows take outputs of a row 0 whose module is unknown (read as a multi-output block)",
        "When row 0's module is not known (YN105) but later rows refer to indices 0..4 or to taps of row 0's name, "
        "row 0 is probably a backbone with several outputs. Those rows stay silent instead of giving reference "
        "errors; the note says how to register such a block from Python with its taps.",
        Example("nc: 3\nbackbone:\n  - [-1, 1, MyBackbone, []]\nhead:\n  - [4, 1, Conv, [64, 1, 1]]\n  - [[-1, 3], 1, Concat, [1]]\n", (5, 6)),
    ),
    Entry(
        "YN211",
        "error",
        "two rows have the same name",
        "Rows refer to named rows by name, so a name given twice makes every reference to it ambiguous. Give each row its own name.",
        Example(
            "nc: 3\nbackbone:\n  - {name: stem, from: -1, module: Conv, args: [16, 3, 2]}\n"
            "  - {name: stem, from: -1, module: Conv, args: [32, 3, 2]}\n",
            (4, 5),
        ),
    ),
    Entry(
        "YN212",
        "error",
        "a block given the wrong number or kind of inputs",
        "A single-input block (Conv) given a list of rows, or a selection row (Index) whose input is not one "
        "multi-output row, cannot be built. Give one input, or join several with Concat first.",
        Example(_TINY + "  - [[-1, 0], 1, Conv, [32, 3, 2]]\n", (4, 6)),
    ),
    Entry(
        "YN123",
        "error",
        "a key appears twice in a mapping",
        "Most YAML loaders silently keep the last of two values for one key, so the spec means something other "
        "than one of the lines says. yamlnet refuses it and labels where the key was first given; remove or "
        "rename one of them.",
        Example("nc: 3\nnc: 4\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n", (2, 1)),
    ),
    Entry(
        "YN124",
        "error",
        "a block that cannot be repeated has `number` > 1",
        "Some blocks (multi-output projections, fusions, selections) cannot be stacked as n copies, since a copy "
        "could not take the previous one's outputs. Set number to 1, or write the rows out.",
        Example("nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 2, CBLinear, [[16, 32]]]\n", (4, 10)),
    ),
    Entry(
        "YN125",
        "warning",
        "a row's `number` is 0: the block is still built (once, or with n = 0 inner blocks)",
        "YOLOv5 and Ultralytics scale depth by `max(round(n * depth), 1) if n > 1 else n`, so 0 stays 0: a block "
        "repeated as copies is built once (as if number were 1), and a block that takes the depth as its `n` "
        "argument (C3, C2f, C3k2, ...) is built with n = 0, no inner blocks. yamlnet builds the same. Write 1 to "
        "say so (for copies the model is unchanged, a safe fix; for an `n` block 1 adds an inner block).",
        Example("nc: 3\nbackbone:\n  - [-1, 0, Conv, [16, 3, 2]]\n", (3, 10)),
    ),
    Entry(
        "YN135",
        "error",
        "an anchor-free head is given anchors (a YOLOv5-era `[nc, anchors]` head row)",
        "In the YOLOv9 (original) and Ultralytics dialects Detect is anchor-free and takes `[nc]`; the row passes "
        "the spec's anchors after nc, as YOLOv5 files do. YOLOv9's own parse_model fails on such a row (the anchors "
        "land where the input channels go). Read the file as YOLOv5 (`dialect: yolov5`), where Detect is the anchor "
        "head, or remove the anchors argument to build the anchor-free head.",
        Example(
            "nc: 3\ndialect: yolov9\nanchors: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, Conv, [32, 3, 2]]\n"
            "  - [-1, 1, Conv, [64, 3, 2]]\nhead:\n  - [[1, 2], 1, Detect, [nc, anchors]]\n",
            (9, 30),
        ),
    ),
    Entry(
        "YN201",
        "error",
        "`from` points outside the spec",
        "A relative `from` (-1, -2, ...) reaches before the first row, or an absolute one past the last. Rows are "
        "numbered from 0 over backbone and head together.",
        Example(_TINY + "  - [[-1, 5], 1, Concat, [1]]\n", (4, 11)),
    ),
    Entry(
        "YN202",
        "error",
        "`from` names a later row",
        "Rows run in order, so a row can only take the outputs of rows before it. Move the row, or point `from` at an earlier one.",
        Example(_TINY + "  - [2, 1, Conv, [32, 3, 2]]\n  - [0, 1, Conv, [64, 3, 2]]\n", (4, 6)),
    ),
    Entry(
        "YN203",
        "error",
        "a row takes its own output",
        "A row whose `from` is its own index would need its output to compute it. Use -1 for the previous row.",
        Example(_TINY + "  - [1, 1, Conv, [32, 3, 2]]\n", (4, 6)),
    ),
    Entry(
        "YN204",
        "error",
        "rows that feed each other in a cycle",
        "Named rows may refer to each other in any order, but the references must not form a loop: no row of a cycle could run first. "
        "Point one of the rows at an earlier row to break the loop.",
        Example(
            "nc: 3\nbackbone:\n  - {name: a, from: b, module: Conv, args: [16, 3, 2]}\n  - {name: b, from: a, module: Conv, args: [16, 3, 1]}\n",
            (3, 21),
        ),
    ),
    Entry(
        "YN205",
        "error",
        "a tap the multi-output row does not have (the help lists its taps)",
        "Rows with several outputs (backbones) are referred to as `ROW.TAP`. The tap named does not exist; the help lists the ones the row has.",
        Example("nc: 3\nbackbone:\n  - [-1, 1, EfficientViT_M0, []]\nhead:\n  - [0.P2, 1, Conv, [64, 1, 1]]\n", (5, 6)),
    ),
    Entry(
        "YN206",
        "warning",
        "a row whose output nothing uses",
        "A row that neither feeds another row nor is the model's output costs parameters and time and usually means "
        "a `from` points at the wrong row. A warning: it fails validation only with --strict.",
        Example(_TINY + "  - [-1, 1, Conv, [32, 3, 2]]\n  - [-2, 1, Conv, [64, 3, 2]]\n", (4, 5)),
    ),
    Entry(
        "YN207",
        "error",
        "a `from` that is not a row index or tap",
        "`from` is an index, a row name, `ROW.TAP`, or a non-empty list of those. Anything else (a fraction, an "
        "empty list, a mapping) names no row. Write the index of the row to take.",
        Example(_TINY + "  - [1.5, 1, Conv, [32, 3, 2]]\n", (4, 6)),
    ),
    Entry(
        "YN208",
        "error",
        "`from` names a row that does not exist",
        "A `from` given by name must match the `name:` of a row. Correct the spelling or name the row.",
        Example(_TINY + "  - [stem, 1, Conv, [32, 3, 2]]\n", (4, 6)),
    ),
    Entry(
        "YN209",
        "warning",
        "index comments (`# 4`, `# 17 (P3/8-small)`) disagree with the rows' indices: a row was inserted or removed",
        "Specs number their rows in comments, and absolute `from` indices are written against those numbers. When "
        "a row is inserted, every later reference silently points at another row. The fix points the references at "
        "the rows they were written for and renumbers the comments (`yamlnet fix`).",
        Example(
            "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]  # 0\n  - [-1, 1, Conv, [16, 3, 1]]\n  - [-1, 1, Conv, [32, 3, 2]]  # 1\n"
            "  - [-1, 1, Conv, [64, 3, 2]]  # 2\nhead:\n  - [-1, 1, nn.Upsample, [None, 2, nearest]]  # 3\n  - [[-1, 1], 1, Concat, [1]]  # 4\n",
            (5, 5),
        ),
    ),
    # --- YN3xx: channels -------------------------------------------------------------------------------------
    Entry(
        "YN301",
        "error",
        "stated input channels differ from what arrives (nn.Conv2d, nn.BatchNorm2d, repeated blocks)",
        "torch.nn layers state their input channels; when the previous row gives another count, the model fails "
        "at its first forward pass. A repeated block must also keep its channels, since each copy feeds the next.",
        Example(_TINY + "  - [-1, 1, nn.Conv2d, [32, 64, 3]]\n", (4, 25)),
    ),
    Entry(
        "YN302",
        "error",
        "a detection head's inputs do not match its anchor levels (or the anchors are malformed)",
        "An anchor head predicts one output per anchor level, so it takes one input per level; anchors are pairs of "
        "width and height. Give the head as many inputs as anchor rows.",
        Example(
            "nc: 3\nanchors:\n  - [10,13, 16,30, 33,23]\n  - [30,61, 62,45, 59,119]\n  - [116,90, 156,198, 373,326]\nbackbone:\n"
            "  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, Conv, [32, 3, 2]]\n  - [-1, 1, Conv, [64, 3, 2]]\nhead:\n"
            "  - [[1, 2], 1, Detect, [nc, anchors]]\n",
            (11, 6),
        ),
    ),
    Entry(
        "YN303",
        "error",
        "groups or attention heads that do not divide the channels they split",
        "Grouped convolutions and attention split channels evenly; a count that does not divide them makes torch "
        "refuse the layer. Choose a divisor or change the channels.",
        Example(_TINY + "  - [-1, 1, Conv, [48, 3, 1, None, 32]]\n", (4, 36)),
    ),
    Entry(
        "YN304",
        "error",
        "channels outside the limits",
        "A channel count below 1 or above the limit (--max-channels) gives no model, or one too large to build; often a misplaced argument. "
        "Check the channel argument and width_multiple, or raise the limit.",
        Example(_TINY + "  - [-1, 1, Conv, [100000, 3, 2]]\n", (4, 19)),
    ),
    Entry(
        "YN305",
        "error",
        "an Index row states channels the chosen output does not have",
        "A selection row picks one output of a multi-output row and states its channels; they must be that "
        "output's, or every later row is sized wrong. Write the channels the help gives, or pick another output.",
        Example("nc: 3\nbackbone:\n  - [-1, 1, EfficientViT_M0, []]\n  - [0, 1, Index, [128, 0]]\n", (4, 20)),
    ),
    Entry(
        "YN306",
        "error",
        "the shape pass disagrees with the block's declaration (channels, stride, taps)",
        "With --deep, every block runs on the meta device and its real output is compared with what its "
        "declaration promises; a difference is a bug in the block's declaration, which static checks trust. "
        "LyingConv is a custom block registered from Python whose declaration says it gives 2 x c2 channels.",
        Example("nc: 3\nbackbone:\n  - [-1, 1, LyingConv, [8]]\n", (3, 5), imgsz=("64",), static=False, blocks=("LyingConv",)),
    ),
    Entry(
        "YN309",
        "error",
        "an element-wise sum of feature maps with different channel counts (YOLOv7's Shortcut)",
        "Shortcut adds its inputs, so they must have one channel count (as they must have one stride); otherwise the "
        "first forward pass fails. Give every input the first one's channels (a 1x1 Conv before it), or join them with Concat.",
        Example(
            "dialect: yolov7\nnc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, Conv, [32, 3, 1]]\n  - [[-1, -2], 1, Shortcut, [1]]\n",
            (6, 11),
        ),
    ),
    # --- YN4xx: strides and sizes ----------------------------------------------------------------------------
    Entry(
        "YN402",
        "error",
        "a Concat joins feature maps of different strides",
        "Concatenated maps must have the same height and width; inputs at different strides never do. Upsample or downsample one input first.",
        Example(_TINY + "  - [-1, 1, Conv, [32, 3, 2]]\n  - [[-1, 0], 1, Concat, [1]]\n", (5, 6)),
    ),
    Entry(
        "YN403",
        "error",
        "a detection head's inputs are not in increasing stride",
        "Heads pair each input with an anchor level and a stride, smallest stride first; inputs in another order "
        "pair large anchors with fine maps. List the inputs from the finest to the coarsest.",
        Example(
            "nc: 3\nanchors: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, Conv, [32, 3, 2]]\n  - [-1, 1, Conv, [64, 3, 2]]\n"
            "head:\n  - [[2, 1], 1, Detect, [nc, anchors]]\n",
            (8, 10),
        ),
    ),
    Entry(
        "YN404",
        "error",
        "at an input size, a block gets a spatial size it cannot use (patch sizes, Focus, joins that drift apart)",
        "Some blocks need sizes divisible by a patch or by 2, and joins need equal sizes, which odd input sizes can "
        "break after rounding. Use an input size that is a multiple of the model's largest stride.",
        Example("nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, MobileViTBlock, [16, 32, 1, 3, 2, 64]]\n", (4, 5), imgsz=("66",)),
    ),
    Entry(
        "YN405",
        "error",
        "a block raises in the shape pass (the error, on its row, never a traceback)",
        "With --deep, a block that raises on the meta device would raise when the model runs. The exception is "
        "reported on the row. FlatHead is a custom block whose Linear layer expects a 20x20 input (input size 80).",
        Example(
            "nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, Conv, [32, 3, 2]]\n  - [-1, 1, FlatHead, [10]]\n",
            (5, 5),
            imgsz=("320",),
            static=False,
            blocks=("FlatHead",),
        ),
    ),
    Entry(
        "YN406",
        "warning",
        "a row's kernel or padding changes the size of a map that reaches the model's outputs",
        "YOLOv5 and Ultralytics pad by k // 2 (autopad), which keeps a map at input / stride only for odd kernels; an "
        "even kernel grows it by one pixel (at stride 1) or gives h / 2 + 1 (at stride 2). Where no join fails, the "
        "model runs, but a head's level is not input / stride (the references then measure a fractional stride and "
        "scale their anchors by it). The warning is on the row whose kernel does it, with a label at the head.",
        Example(
            "nc: 3\nanchors: 1\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, Conv, [32, 2, 1]]\n"
            "head:\n  - [[1], 1, Detect, [nc, anchors]]\n",
            (5, 24),
        ),
    ),
    Entry(
        "YN407",
        "error",
        "a row's kernel or padding changes a map's size, so a later join gets maps of different sizes",
        "The strides of the join's inputs agree, but an even kernel (padded by k // 2) or a padding made one map a "
        "pixel larger or smaller, and the Concat fails when the model runs (as it does in YOLOv5 and Ultralytics: "
        "`Sizes of tensors must match`). The error is on the row that changes the size, with a label at the join; "
        "use an odd kernel (the fix offers k + 1).",
        Example(
            _TINY + "  - [-1, 1, Conv, [32, 2, 2]]\n  - [-1, 1, Conv, [32, 3, 2]]\n  - [-1, 1, nn.Upsample, [None, 2]]\n"
            "  - [[-1, 1], 1, Concat, [1]]\n",
            (4, 24),
            imgsz=("64",),
        ),
    ),
    Entry(
        "YN408",
        "error",
        "a block cannot run at its own kernel: an add or concatenation inside it gets maps of two sizes",
        "Some blocks join a conv's output with its input (a residual add: Ultralytics' Bottleneck, CrossConv and "
        "MixConv2d with a shortcut). Padded by k // 2, an even kernel changes the size and the join inside the "
        "block fails. Use odd kernels, or turn the shortcut off.",
        Example(
            "nc: 3\ndialect: ultralytics\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, Bottleneck, [16, True, 1, [2, 3]]]\n",
            (5, 39),
            imgsz=("64",),
        ),
    ),
    Entry(
        "YN412",
        "error",
        "a head's later set of levels has other strides than its first",
        "YOLOv9's DualDDetect (TripleDDetect, DualDSegment) takes its inputs as sets of levels: the auxiliary P3..P5, "
        "then the main P3..P5; YOLOv7's IAuxDetect the lead P3..P6, then the auxiliary P3..P6. Every set is decoded "
        "on (or trained against) the first set's anchor grid, so each must have the same strides in the same order; "
        "a set that differs would pair its maps with the wrong grid cells.",
        Example(
            "nc: 3\ndialect: yolov9\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, Conv, [32, 3, 2]]\n"
            "  - [-1, 1, Conv, [64, 3, 2]]\n  - [-1, 1, Conv, [64, 3, 2]]\nhead:\n  - [[2, 3, 1, 3], 1, DualDDetect, [nc]]\n",
            (9, 13),
        ),
    ),
    # --- YN5xx: limits and hostile input ---------------------------------------------------------------------
    Entry(
        "YN501",
        "error",
        "code in a spec (never run)",
        "A spec is data: Python in an argument (`__import__`, attribute access, calls) is refused, never evaluated. "
        "Write literal values or names the spec defines.",
        Example('nc: 3\nbackbone:\n  - [-1, 1, Conv, ["__class__.__init__", 3, 2]]\n', (3, 21)),
    ),
    Entry(
        "YN502",
        "error",
        "a YAML tag that asks for Python objects (never constructed)",
        "Tags such as `!!python/object` make unsafe YAML loaders run code. yamlnet reads specs with a safe loader and reports the tag; remove it.",
        Example("nc: !!python/object/apply:os.system ['ls']\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n", (1, 5)),
    ),
    Entry(
        "YN503",
        "error",
        "the file is larger than the limit",
        "Specs are a few kilobytes; a much larger file is refused before it is parsed. Check that the path names a spec, or raise --max-file-bytes.",
        Example(_TINY, (0, 0), limits=MappingProxyType({"file_bytes": 32})),
    ),
    Entry(
        "YN504",
        "error",
        "YAML aliases expanded too often, or merge keys",
        "Aliases that refer to aliases grow exponentially when expanded (a 'billion laughs' file); merge keys (`<<`) "
        "hide where values come from. Write the values out.",
        Example("base: &b {nc: 3}\nmodel:\n  <<: *b\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n", (3, 3)),
    ),
    Entry(
        "YN505",
        "error",
        "nesting deeper than the limit",
        "Deeply nested lists exhaust parsers' stacks and are never needed by a spec. Write the value flat.",
        Example("nc: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, " + "[" * 40 + "2" + "]" * 40 + "]]\n", (3, 56)),
    ),
    Entry(
        "YN506",
        "error",
        "a value beyond the limits (number size, string or list length)",
        "Huge numbers, strings or lists (often from an expression) would allocate without bound. Specs use small values; correct the value.",
        Example('nc: 3\nbackbone:\n  - [-1, 1, Conv, ["16 * 10000000000", 3, 2]]\n', (3, 26)),
    ),
    Entry(
        "YN507",
        "error",
        "more rows, repeats or parameters than the limits (the parameter count is taken on the meta device)",
        "Limits keep validation of untrusted specs cheap (--max-rows, --max-repeats, --max-params). Raise the limit "
        "when the model is meant to be this large.",
        Example(_TINY + "  - [-1, 1, Conv, [64, 3, 2]]\n", (4, 5), static=False, limits=MappingProxyType({"params": 5_000})),
    ),
    Entry(
        "YN508",
        "error",
        "a binary or non-UTF-8 file",
        "Specs are UTF-8 text. A file with other bytes is usually not a spec (a checkpoint, an image) or was saved in another encoding.",
        Example("", (2, 5), kind="bytes", content=b"nc: 3\nbb: \xff\xfe\n"),
    ),
    Entry(
        "YN509",
        "error",
        "an empty file",
        "The file has no content but whitespace or comments. Check that the right file was saved and passed.",
        Example("", (1, 1), kind="bytes", content=b"\n  \n"),
    ),
    Entry(
        "YN510",
        "error",
        "a missing path or a directory",
        "The path given does not name a readable file. Check the path (directories are validated file by file only by `yamlnet validate DIR`).",
        Example("", (0, 0), kind="missing"),
    ),
    Entry(
        "YN511",
        "warning",
        "a weights file that cannot be found or read",
        "A row loads weights from a file that is not there. A warning for `validate` (the file is read only by `build`, where it is an error).",
        Example("nc: 3\nbackbone:\n  - [-1, 1, EfficientViT_M0, [m0.pth]]\n", (3, 31)),
        other_severity="error",
        other_when="reported by `build`, which reads the file",
    ),
    # --- YN9xx: internal -------------------------------------------------------------------------------------
    Entry(
        "YN901",
        "error",
        "an internal error: a bug in a block's declaration or in yamlnet, reported instead of a traceback",
        "The spec may be fine: code that should not fail raised. A failing block declaration is reported on the row "
        "that uses it, other failures on the file. Report it to the block's author or to yamlnet with the spec "
        "(YAMLNET_DEBUG=1 prints the traceback). BrokenDecl is a custom block whose out_channels function raises.",
        Example("nc: 3\nbackbone:\n  - [-1, 1, BrokenDecl, [8]]\n", (3, 5), blocks=("BrokenDecl",)),
        other_severity="warning",
        other_when="the FLOPs count of a model whose shape pass succeeded fails (the summary has no FLOPs)",
    ),
)

CATALOG: Mapping[str, Entry] = MappingProxyType({e.code: e for e in sorted(_ENTRIES, key=lambda e: e.code)})
assert len(CATALOG) == len(_ENTRIES), "one entry per code"


def entry(code: str) -> Entry:
    """The catalog entry of a code (KeyError for an unknown code)."""
    return CATALOG[code]
