"""Attention layers of the Ultralytics dialect: PSA's multi-head attention (YOLOv10, YOLO11, YOLO26) and
YOLOv12's area attention, with the residual blocks that wrap them.

State_dict names (`qkv`, `proj`, `pe`, `ffn`, `mlp`) are the ones Ultralytics checkpoints use; the class
names here are yamlnet's own. Every projection is a Conv (1x1 conv + BatchNorm) working on feature maps.
"""

from __future__ import annotations

import torch
from torch import nn

from blocks.yolov5.common import Conv


class Attention(nn.Module):
    """Multi-head self-attention over all pixels of a feature map, plus a depth-wise 3x3 positional term.

    Queries and keys have `attn_ratio` x head_dim channels per head, values head_dim = dim / num_heads
    (num_heads must divide dim). The positional term is a depth-wise conv of the values.
    """

    def __init__(self, dim: int, num_heads: int = 8, attn_ratio: float = 0.5) -> None:
        super().__init__()
        if num_heads < 1 or dim % num_heads:
            raise ValueError(f"{num_heads} attention heads do not divide {dim} channels")
        self.heads = num_heads
        self.value_dim = dim // num_heads
        self.query_dim = int(self.value_dim * attn_ratio)
        self.factor = self.query_dim**-0.5
        total = dim + 2 * self.query_dim * num_heads
        self.qkv = Conv(dim, total, 1, act=False)
        self.proj = Conv(dim, dim, 1, act=False)
        self.pe = Conv(dim, dim, 3, 1, g=dim, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        qkv = self.qkv(x).view(b, self.heads, 2 * self.query_dim + self.value_dim, h * w)
        q, k, v = qkv.split((self.query_dim, self.query_dim, self.value_dim), dim=2)
        # the scale is applied to the queries before the product (the package's order: bit-equal training)
        weights = ((q * self.factor).transpose(-2, -1) @ k).softmax(dim=-1)  # (b, heads, n, n)
        out = (v @ weights.transpose(-2, -1)).view(b, c, h, w)
        out = out + self.pe(v.reshape(b, c, h, w))
        return self.proj(out)


class AttentionBlock(nn.Module):
    """Attention then a two-Conv feed-forward (2x wide), each added to its input when shortcut.
    Ultralytics calls it PSABlock."""

    def __init__(self, c: int, attn_ratio: float = 0.5, num_heads: int = 4, shortcut: bool = True) -> None:
        super().__init__()
        self.attn = Attention(c, num_heads=num_heads, attn_ratio=attn_ratio)
        self.ffn = nn.Sequential(Conv(c, 2 * c, 1), Conv(2 * c, c, 1, act=False))
        self.residual = bool(shortcut)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.residual:
            x = x + self.attn(x)
            return x + self.ffn(x)
        return self.ffn(self.attn(x))


class AreaAttention(nn.Module):
    """YOLOv12's area attention: the pixels (in row-major order) are cut into `area` equal runs and each
    run attends only within itself; heads of head_dim = dim // num_heads channels; plus a depth-wise 7x7
    positional term of the values. The pixel count must be divisible by `area`. Ultralytics calls it AAttn."""

    def __init__(self, dim: int, num_heads: int, area: int = 1) -> None:
        super().__init__()
        self.area = area
        self.heads = num_heads
        self.head_dim = dim // num_heads
        inner = self.head_dim * num_heads
        self.qkv = Conv(dim, 3 * inner, 1, act=False)
        self.proj = Conv(inner, dim, 1, act=False)
        self.pe = Conv(inner, dim, 7, 1, 3, g=dim, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        n = h * w
        inner = self.heads * self.head_dim
        tokens = self.qkv(x).flatten(2).transpose(1, 2)  # (b, n, 3 * inner)
        groups, length = b, n
        if self.area > 1:
            groups, length = b * self.area, n // self.area
            tokens = tokens.reshape(groups, length, 3 * inner)
        per_head = tokens.view(groups, length, self.heads, 3 * self.head_dim).permute(0, 2, 3, 1)  # (g, heads, 3hd, len)
        q, k, v = per_head.split((self.head_dim, self.head_dim, self.head_dim), dim=2)
        weights = ((q * self.head_dim**-0.5).transpose(-2, -1) @ k).softmax(dim=-1)  # (g, heads, len, len); queries scaled first
        out = v @ weights.transpose(-2, -1)  # (g, heads, hd, len)
        out = out.permute(0, 3, 1, 2).reshape(b, h, w, inner).permute(0, 3, 1, 2)
        v = v.permute(0, 3, 1, 2).reshape(b, h, w, inner).permute(0, 3, 1, 2)
        return self.proj(out + self.pe(v))


class AreaAttentionBlock(nn.Module):
    """Area attention then a two-Conv MLP (int(dim * mlp_ratio) wide), each residual. Its convs start from
    a truncated normal (std 0.02) with zero biases, as Ultralytics initialises them. Ultralytics: ABlock."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 1.2, area: int = 1) -> None:
        super().__init__()
        self.attn = AreaAttention(dim, num_heads=num_heads, area=area)
        wide = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(Conv(dim, wide, 1), Conv(wide, dim, 1, act=False))
        for m in self.modules():
            if isinstance(m, nn.Conv2d) and m.weight.device.type != "meta":
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x)
        return x + self.mlp(x)
