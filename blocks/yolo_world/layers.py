"""Text-guided layers of YOLO-World and YOLOE (Ultralytics dialect), written from the published designs and
checked against the measured behaviour of Ultralytics 8.4 (keys, shapes, parameter counts, outputs for identical
weights). Submodule attribute names equal Ultralytics' so its checkpoints load unchanged.

Text embeddings arrive as a tensor (B, K, E): K class (prompt) embeddings of size E. The compiled model passes
them as its second forward argument (see `blocks.yolo_world`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from blocks.yolov5.common import Conv

BN_EPS = 1e-3
BN_MOMENTUM = 0.03


class Bottleneck3x3(nn.Module):
    """Two 3x3 Convs at constant width, residual when asked (the inner block of C2f-style stages)."""

    def __init__(self, c: int, shortcut: bool = True, g: int = 1) -> None:
        super().__init__()
        self.cv1 = Conv(c, c, 3, 1)
        self.cv2 = Conv(c, c, 3, 1, g=g)
        self.add = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class MaxSigmoidAttnBlock(nn.Module):
    """Scales each head's channels of a 3x3-conv projection by sigmoid(max over texts of <pixel, text> similarity)."""

    def __init__(self, c1: int, c2: int, nh: int = 1, ec: int = 128, gc: int = 512, scale: bool = False) -> None:
        super().__init__()
        self.nh = nh
        self.hc = c2 // nh
        self.ec = Conv(c1, ec, 1, act=False) if c1 != ec else None
        self.gl = nn.Linear(gc, ec)
        self.bias = nn.Parameter(torch.zeros(nh))
        self.proj_conv = Conv(c1, c2, 3, 1, act=False)
        self.scale = nn.Parameter(torch.ones(1, nh, 1, 1)) if scale else 1.0

    def forward(self, x: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        text = self.gl(guide)  # (B, K, ec)
        text = text.view(b, text.shape[1], self.nh, self.hc).permute(0, 2, 3, 1)  # (B, nh, hc, K)
        pix = (self.ec(x) if self.ec is not None else x).view(b, self.nh, self.hc, h * w).transpose(2, 3)  # (B, nh, HW, hc)
        sim = (pix @ text).max(dim=-1).values.view(b, self.nh, h, w)
        gate = (sim / math.sqrt(self.hc) + self.bias.view(1, -1, 1, 1)).sigmoid() * self.scale
        y = self.proj_conv(x).view(b, self.nh, -1, h, w) * gate.unsqueeze(2)
        return y.view(b, -1, h, w)


class C2fAttn(nn.Module):
    """C2f stage whose last branch is re-weighted by the text embeddings (MaxSigmoidAttnBlock).

    forward(x, guide=None): guide (B, K, gc); None uses one zero embedding (the package's placeholder when no
    text model is loaded is random; every row of it gets the same treatment)."""

    text_io = "in"  # codegen passes the current text embeddings

    def __init__(
        self, c1: int, c2: int, n: int = 1, ec: int = 128, nh: int = 1, gc: int = 512, shortcut: bool = False, g: int = 1, e: float = 0.5
    ) -> None:
        super().__init__()
        self.c = int(c2 * e)
        if self.c % nh or ec != self.c // nh * nh:
            raise ValueError(f"C2fAttn: the hidden channels {self.c} (c2 x e) and embedding channels {ec} must split into {nh} equal heads")
        self.gc = gc
        self.cv1 = Conv(c1, 2 * self.c, 1, 1)
        self.cv2 = Conv((3 + n) * self.c, c2, 1)
        self.m = nn.ModuleList(Bottleneck3x3(self.c, shortcut, g) for _ in range(n))
        self.attn = MaxSigmoidAttnBlock(self.c, self.c, gc=gc, ec=ec, nh=nh)

    def forward(self, x: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        if guide is None:
            guide = x.new_zeros(x.shape[0], 1, self.gc)
        parts = list(self.cv1(x).chunk(2, 1))
        for block in self.m:
            parts.append(block(parts[-1]))
        parts.append(self.attn(parts[-1], guide))
        return self.cv2(torch.cat(parts, 1))


class ImagePoolingAttn(nn.Module):
    """Updates the text embeddings with multi-head attention over max-pooled (k x k) patches of several levels.

    forward(levels, text=None) -> new text (B, K, ct); None uses one zero embedding."""

    text_io = "update"  # codegen passes the current text embeddings and takes the result as the new ones

    def __init__(self, ec: int = 256, ch: tuple[int, ...] | list[int] = (), ct: int = 512, nh: int = 8, k: int = 3, scale: bool = False) -> None:
        super().__init__()
        self.query = nn.Sequential(nn.LayerNorm(ct), nn.Linear(ct, ec))
        self.key = nn.Sequential(nn.LayerNorm(ec), nn.Linear(ec, ec))
        self.value = nn.Sequential(nn.LayerNorm(ec), nn.Linear(ec, ec))
        self.proj = nn.Linear(ec, ct)
        self.scale = nn.Parameter(torch.tensor([0.0])) if scale else 1.0
        self.projections = nn.ModuleList(nn.Conv2d(c, ec, 1) for c in ch)
        self.im_pools = nn.ModuleList(nn.AdaptiveMaxPool2d((k, k)) for _ in ch)
        self.ec, self.ct, self.nh, self.nf, self.hc, self.k = ec, ct, nh, len(ch), ec // nh, k

    def forward(self, x: list[torch.Tensor], text: torch.Tensor | None = None) -> torch.Tensor:
        b = x[0].shape[0]
        if text is None:
            text = x[0].new_zeros(b, 1, self.ct)
        if len(x) != self.nf:
            raise ValueError(f"ImagePoolingAttn was built for {self.nf} inputs, got {len(x)}")
        patches = torch.cat([pool(proj(xi)).view(b, self.ec, -1) for xi, proj, pool in zip(x, self.projections, self.im_pools, strict=True)], -1)
        patches = patches.transpose(1, 2)  # (B, nf*k*k, ec)
        q = self.query(text).reshape(b, -1, self.nh, self.hc).transpose(1, 2)  # (B, nh, K, hc)
        k = self.key(patches).reshape(b, -1, self.nh, self.hc).transpose(1, 2)
        v = self.value(patches).reshape(b, -1, self.nh, self.hc).transpose(1, 2)
        attn = ((q @ k.transpose(-1, -2)) / math.sqrt(self.hc)).softmax(-1)
        out = (attn @ v).transpose(1, 2).reshape(b, -1, self.ec)
        return self.proj(out) * self.scale + text


class ContrastiveHead(nn.Module):
    """Class logits as scaled cosine similarity between pixel embeddings and text embeddings."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.tensor([-10.0]))
        self.logit_scale = nn.Parameter(torch.ones([]) * math.log(1 / 0.07))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x = F.normalize(x, dim=1, p=2)
        w = F.normalize(w, dim=-1, p=2)
        return (w @ x.flatten(2)).view(-1, w.shape[1], *x.shape[2:]) * self.logit_scale.exp() + self.bias


class BNContrastiveHead(nn.Module):
    """ContrastiveHead with a BatchNorm on the pixel embeddings instead of their L2 normalisation."""

    def __init__(self, embed_dims: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(embed_dims, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.bias = nn.Parameter(torch.tensor([-10.0]))
        self.logit_scale = nn.Parameter(-1.0 * torch.ones([]))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        w = F.normalize(w, dim=-1, p=2)
        return (w @ x.flatten(2)).view(-1, w.shape[1], *x.shape[2:]) * self.logit_scale.exp() + self.bias


class SwiGLUFFN(nn.Module):
    """SwiGLU feed-forward: silu(a) * b over the two halves of one Linear, then a Linear back."""

    def __init__(self, gc: int, ec: int, e: int = 4) -> None:
        super().__init__()
        self.w12 = nn.Linear(gc, e * ec)
        self.w3 = nn.Linear(e * ec // 2, ec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.w12(x).chunk(2, dim=-1)
        return self.w3(F.silu(a) * b)


class Residual(nn.Module):
    """x + m(x); the wrapped SwiGLUFFN's output layer starts at zero, so it starts as the identity."""

    def __init__(self, m: nn.Module) -> None:
        super().__init__()
        self.m = m
        nn.init.zeros_(self.m.w3.bias)
        nn.init.zeros_(self.m.w3.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.m(x)


def _up(i: int) -> nn.Module:
    return nn.Upsample(scale_factor=i * 2) if i in (1, 2) else nn.Identity()


class SAVPE(nn.Module):
    """Spatial-aware visual prompt embedding: pools each prompt mask's region of the (P3-sized) fused features."""

    def __init__(self, ch: list[int] | tuple[int, ...], c3: int, embed: int) -> None:
        super().__init__()
        self.cv1 = nn.ModuleList(nn.Sequential(Conv(c, c3, 3), Conv(c3, c3, 3), _up(i)) for i, c in enumerate(ch))
        self.cv2 = nn.ModuleList(nn.Sequential(Conv(c, c3, 1), _up(i)) for i, c in enumerate(ch))
        self.c = 16
        self.cv3 = nn.Conv2d(3 * c3, embed, 1)
        self.cv4 = nn.Conv2d(3 * c3, self.c, 3, padding=1)
        self.cv5 = nn.Conv2d(1, self.c, 3, padding=1)
        self.cv6 = nn.Sequential(Conv(2 * self.c, self.c, 3), nn.Conv2d(self.c, self.c, 3, padding=1))

    def forward(self, x: list[torch.Tensor], vp: torch.Tensor) -> torch.Tensor:
        """x: the head's input levels; vp (B, Q, H, W) prompt masks at the first level's size. Returns (B, Q, embed)."""
        gate_feat = self.cv4(torch.cat([m(xi) for m, xi in zip(self.cv2, x, strict=True)], 1))
        feat = self.cv3(torch.cat([m(xi) for m, xi in zip(self.cv1, x, strict=True)], 1))
        b, c, h, w = feat.shape
        q = vp.shape[1]
        masks = vp.reshape(b * q, 1, h, w)
        gate_feat = gate_feat.reshape(b, 1, self.c, h, w).expand(-1, q, -1, -1, -1).reshape(b * q, self.c, h, w)
        logits = self.cv6(torch.cat((gate_feat, self.cv5(masks)), 1)).reshape(b, q, self.c, h * w)
        masks = masks.reshape(b, q, 1, h * w)
        logits = logits * masks + torch.logical_not(masks) * torch.finfo(logits.dtype).min
        weight = logits.softmax(-1).to(logits.dtype)  # (B, Q, 16, HW)
        groups = feat.reshape(b, self.c, c // self.c, h * w).transpose(-1, -2)  # (B, 16, HW, C/16)
        pooled = weight.transpose(1, 2) @ groups  # (B, 16, Q, C/16)
        return F.normalize(pooled.transpose(1, 2).reshape(b, q, -1), dim=-1, p=2)
