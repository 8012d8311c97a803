"""RT-DETR backbone and encoder layers in the Ultralytics dialect: the PP-HGNet stem and stages (HGStem,
HGBlock), the ResNet-vd style stages (ResNetLayer), the CSP-RepConv fusion block (RepC3) and AIFI, the
transformer encoder layer applied to the deepest feature map with a fixed 2D sine-cosine position embedding.

Written from the published architecture; attribute names are those of a built Ultralytics model
(`stem1.conv.weight`, `m.0.conv1.conv.weight`, `layer.0.cv1.bn.bias`, `ma.in_proj_weight`, `norm1.weight`), so
its checkpoints load unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from blocks.yolov5.common import Conv, DWConv
from blocks.yolov9.layers import RepConv


def _relu_if_default(act: Any) -> Any:
    """RT-DETR's HG layers use ReLU where no activation is given."""
    return nn.ReLU() if act is None or act is True else act


class HGStem(nn.Module):
    """PP-HGNet stem, stride 4: a stride-2 3x3 Conv, then two branches (a 2x2 max pool; two 2x2 Convs) on
    the right/bottom padded map, concatenated, a stride-2 3x3 Conv and a 1x1 Conv to c2. All ReLU."""

    def __init__(self, c1: int, cm: int, c2: int) -> None:
        super().__init__()
        self.stem1 = Conv(c1, cm, 3, 2, act=nn.ReLU())
        self.stem2a = Conv(cm, cm // 2, 2, 1, 0, act=nn.ReLU())
        self.stem2b = Conv(cm // 2, cm, 2, 1, 0, act=nn.ReLU())
        self.stem3 = Conv(cm * 2, cm, 3, 2, act=nn.ReLU())
        self.stem4 = Conv(cm, c2, 1, 1, act=nn.ReLU())
        self.pool = nn.MaxPool2d(kernel_size=2, stride=1, padding=0, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(self.stem1(x), [0, 1, 0, 1])
        branch = self.stem2b(F.pad(self.stem2a(x), [0, 1, 0, 1]))
        x = torch.cat([self.pool(x), branch], dim=1)
        return self.stem4(self.stem3(x))


class LightConv(nn.Module):
    """A 1x1 Conv without activation, then a k x k depth-wise Conv with the activation."""

    def __init__(self, c1: int, c2: int, k: int = 1, act: Any = None) -> None:
        super().__init__()
        self.conv1 = Conv(c1, c2, 1, act=False)
        self.conv2 = DWConv(c2, c2, k, act=_relu_if_default(act))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x))


class HGBlock(nn.Module):
    """PP-HGNet stage block: n chained k x k Convs (LightConvs when `lightconv`) of cm channels, the input and
    all n outputs concatenated, squeezed to c2/2 and expanded to c2 by 1x1 Convs; residual when `shortcut`
    and c1 == c2."""

    def __init__(self, c1: int, cm: int, c2: int, k: int, n: int = 6, lightconv: bool = False, shortcut: bool = False, act: Any = None) -> None:
        super().__init__()
        act = _relu_if_default(act)
        unit = LightConv if lightconv else Conv
        self.m = nn.ModuleList(unit(c1 if i == 0 else cm, cm, k=k, act=act) for i in range(n))
        self.sc = Conv(c1 + n * cm, c2 // 2, 1, 1, act=act)
        self.ec = Conv(c2 // 2, c2, 1, 1, act=act)
        self.add = shortcut and c1 == c2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for m in self.m:
            feats.append(m(feats[-1]))
        y = self.ec(self.sc(torch.cat(feats, 1)))
        return y + x if self.add else y


class RepC3(nn.Module):
    """Two 1x1 Conv branches; n RepConvs on the first; the sum, projected to c2 by a 1x1 Conv when the hidden
    width c2*e differs from c2."""

    def __init__(self, c1: int, c2: int, n: int = 3, e: float = 1.0) -> None:
        super().__init__()
        hidden = int(c2 * e)
        self.cv1 = Conv(c1, hidden, 1, 1)
        self.cv2 = Conv(c1, hidden, 1, 1)
        self.m = nn.Sequential(*(RepConv(hidden, hidden) for _ in range(n)))
        self.cv3: nn.Module = Conv(hidden, c2, 1, 1) if hidden != c2 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cv3(self.m(self.cv1(x)) + self.cv2(x))


class ResNetBlock(nn.Module):
    """ResNet bottleneck: 1x1, 3x3 (stride s), 1x1 to e*c2 without activation, plus the (projected) input, ReLU."""

    def __init__(self, c1: int, c2: int, s: int = 1, e: int = 4) -> None:
        super().__init__()
        c3 = e * c2
        self.cv1 = Conv(c1, c2, k=1, s=1, act=True)
        self.cv2 = Conv(c2, c2, k=3, s=s, p=1, act=True)
        self.cv3 = Conv(c2, c3, k=1, act=False)
        self.shortcut: nn.Module = nn.Sequential(Conv(c1, c3, k=1, s=s, act=False)) if s != 1 or c1 != c3 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.cv3(self.cv2(self.cv1(x))) + self.shortcut(x))


class ResNetLayer(nn.Module):
    """A ResNet stage of n bottlenecks (the first with stride s), or with `is_first` the ResNet stem
    (7x7 stride-2 Conv to c2, 3x3 stride-2 max pool). Output channels: c2 for the stem, e*c2 otherwise."""

    def __init__(self, c1: int, c2: int, s: int = 1, is_first: bool = False, n: int = 1, e: int = 4) -> None:
        super().__init__()
        self.is_first = is_first
        if is_first:
            self.layer = nn.Sequential(Conv(c1, c2, k=7, s=2, p=3, act=True), nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        else:
            blocks = [ResNetBlock(c1, c2, s, e=e)] + [ResNetBlock(e * c2, c2, 1, e=e) for _ in range(n - 1)]
            self.layer = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


def sincos_position_embedding_2d(w: int, h: int, dim: int = 256, temperature: float = 10000.0) -> torch.Tensor:
    """The fixed (1, h*w, dim) embedding AIFI adds to queries and keys, one row per pixel in row-major order:
    with dim/4 frequencies f, [sin(y f), cos(y f), sin(x f), cos(x f)] for row y and column x."""
    if dim % 4:
        raise ValueError(f"the 2D sin-cos position embedding needs channels divisible by 4, not {dim}")
    quarter = dim // 4
    freq = 1.0 / (temperature ** (torch.arange(quarter, dtype=torch.float32) / quarter))
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    py = ys.reshape(-1, 1) * freq.view(1, -1)
    px = xs.reshape(-1, 1) * freq.view(1, -1)
    return torch.cat([py.sin(), py.cos(), px.sin(), px.cos()], dim=1).unsqueeze(0)


class AIFI(nn.Module):
    """Attention-based intra-scale feature interaction: one transformer encoder layer (multi-head self-attention
    with the 2D sin-cos position embedding on queries and keys, then a c1 -> cm -> c1 feed-forward; post-norm
    unless `normalize_before`) over the pixels of a feature map. Channels are kept."""

    def __init__(self, c1: int, cm: int = 2048, num_heads: int = 8, dropout: float = 0.0, act: Any = None, normalize_before: bool = False) -> None:
        super().__init__()
        self.ma = nn.MultiheadAttention(c1, num_heads, dropout=dropout, batch_first=True)
        self.fc1 = nn.Linear(c1, cm)
        self.fc2 = nn.Linear(cm, c1)
        self.norm1 = nn.LayerNorm(c1)
        self.norm2 = nn.LayerNorm(c1)
        self.dropout = nn.Dropout(dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.act = nn.GELU() if act is None else act
        self.normalize_before = normalize_before

    def _attend(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        qk = x + pos
        return self.dropout1(self.ma(qk, qk, value=x)[0])

    def _ffn(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout2(self.fc2(self.dropout(self.act(self.fc1(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, h, w = x.shape[1:]
        pos = sincos_position_embedding_2d(w, h, c).to(device=x.device, dtype=x.dtype)
        seq = x.flatten(2).permute(0, 2, 1)
        if self.normalize_before:
            seq = seq + self._attend(self.norm1(seq), pos)
            seq = seq + self._ffn(self.norm2(seq))
        else:
            seq = self.norm1(seq + self._attend(seq, pos))
            seq = self.norm2(seq + self._ffn(seq))
        return seq.permute(0, 2, 1).view([-1, c, h, w]).contiguous()
