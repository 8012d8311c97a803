"""The intermediate representation: one node per row, one edge per tensor, one port per tap."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Literal

from ..diagnostics import Diagnostic, Span
from ..registry import BlockDecl
from ..spec.model import Row, Spec

if TYPE_CHECKING:
    import networkx as nx

INPUT = -1  # the position of the model input in the graph


@dataclass(frozen=True)
class PortRef:
    """A tensor: the output of node `node` (INPUT for the image), or its tap `tap` when it has several."""

    node: int
    tap: str | None = None

    def __str__(self) -> str:
        base = "input" if self.node == INPUT else str(self.node)
        return f"{base}.{self.tap}" if self.tap else base


@dataclass
class Port:
    """What flows through a port: channels and stride (None where unknown after an error)."""

    channels: int | None
    stride: Fraction | None


@dataclass
class Node:
    position: int  # 0-based over backbone + head; the module is `model.{position}`
    index: int  # the number the spec's `from` uses for this row (seeds' numbering shifts it)
    row: Row
    decl: BlockDecl
    inputs: list[PortRef] = field(default_factory=list)
    input_spans: list[Span] = field(default_factory=list)
    n: int = 1  # depth after scaling
    bound: dict[str, Any] = field(default_factory=dict)  # constructor arguments after binding
    ok: bool = True  # false once a diagnostic made this node unusable
    c_in: list[int | None] = field(default_factory=list)
    in_strides: list[Fraction | None] = field(default_factory=list)
    out: Port = field(default_factory=lambda: Port(None, None))
    taps: dict[str, Port] = field(default_factory=dict)  # name -> port, in the order the block returns them
    weights: str | None = None

    @property
    def multi(self) -> bool:
        return self.decl.taps is not None

    @property
    def label(self) -> str:
        return f"layer {self.index} ({self.row.module})"


@dataclass
class IR:
    spec: Spec
    nodes: dict[int, Node]
    numbering: Literal["seeds", "rows"]
    outputs: list[PortRef] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    forward_refs: list[tuple[int, int, Any, str]] = field(default_factory=list)  # (source, row, ref, text): errors
    # what later stages computed from this IR and may reuse (meta modules, nearest working sizes): owned by the
    # IR, so two analyses in two threads never share or overwrite each other's results
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)

    def port(self, ref: PortRef) -> Port:
        if ref.node == INPUT:
            return Port(self.spec.ch, Fraction(1))
        node = self.nodes[ref.node]
        return node.taps[ref.tap] if ref.tap is not None else node.out

    @property
    def graph(self) -> nx.MultiDiGraph:
        """The IR as a networkx graph: nodes are rows (and INPUT), edges are tensors with their tap and slot.
        Derived from the nodes' inputs on demand, so the static checker never imports networkx."""
        import networkx as nx

        g = nx.MultiDiGraph()
        g.add_node(INPUT)
        for pos, node in self.nodes.items():
            g.add_node(pos, node=node)
            for slot, p in enumerate(node.inputs):
                g.add_edge(p.node, pos, tap=p.tap, slot=slot)
        return g

    def consumers(self, position: int) -> list[int]:
        return [pos for pos, n in self.nodes.items() if any(p.node == position for p in n.inputs)]

    def heads(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.decl.role == "head"]
