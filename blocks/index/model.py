"""`Index` as a module, for use outside the compiler (the compiler turns an Index row into a plain getitem)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class Index(nn.Module):
    """Returns element `index` of a list/tuple of feature maps; `c2` records the channels it should have."""

    def __init__(self, c2: int, index: int = 0) -> None:
        super().__init__()
        self.c2 = c2
        self.index = index

    def forward(self, x: Sequence[torch.Tensor]) -> torch.Tensor:
        return x[self.index]
