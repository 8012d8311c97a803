"""Declaration of `Index` (`[0, 1, Index, [c, k]]`, as Ultralytics spells it).

The compiler resolves an Index row itself (yamlnet/graph/lower.py): it checks `c` against the channels of
output `k` of the source row (YN305) and wires the consumer straight to that tap, so an Index row has no
module in the compiled model and no parameters. The implementation named here exists so that the
declaration can be checked against a signature and so that the block can be used in plain PyTorch code.
"""

from __future__ import annotations

from yamlnet.registry import Arg, declare

declare(
    "Index",
    "blocks.index.model:Index",
    args=(
        Arg("c2", "int", doc="the channels that output `index` has; checked against the source row's tap, not trusted"),
        Arg("index", "int", default=0, doc="which output to pick, in the order of the source row's taps (0 = first)"),
    ),
    inputs="one",
    repeat="none",
    role="select",
    doc="Pick output `index` of a multi-output row (Ultralytics' Index). YAML: [c2, index], e.g. [0, 1, Index, [128, 1]].",
)
