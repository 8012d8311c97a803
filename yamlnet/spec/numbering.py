"""How `from` indices count rows: the one rule, used by the parser (index comments) and by lowering.

The seeds' numbering applies when row 0 is a multi-output block (it has taps) and no row is a selection
layer (Ultralytics' Index): row 0 then fills indices 0..4, one per stride 2, 4, 8, 16, 32, and the next row is
index 5. Otherwise row i is index i.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import registry

SEED_SLOTS = 5  # P1..P5: the indices a multi-output row 0 fills


def uses_seed_numbering(modules: Sequence[str | None], dialect: str | None) -> bool:
    """`modules`: the module names of the rows in order (None where a row cannot be read)."""
    if not modules or modules[0] is None:
        return False
    first = registry.lookup(modules[0], dialect)
    if first is None or first.taps is None:
        return False
    for m in modules[1:]:
        d = registry.lookup(m, dialect) if m is not None else None
        if d is not None and d.role == "select":
            return False
    return True
