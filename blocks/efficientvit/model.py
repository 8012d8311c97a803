"""EfficientViT backbone for dense prediction: cascaded group attention in local windows, sandwich blocks.

Module and parameter names follow the authors' downstream code (patch_embed, blocks1..blocks3, Conv2d_BN's
`c`/`bn`, attention_biases, ...) so that their checkpoints load by key. The model returns the outputs of its
three stages, at strides 8, 16 and 32.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from timm.layers import SqueezeExcite
from torch import nn

__all__ = [
    "CONFIGS",
    "Conv2d_BN",
    "EfficientViT",
    "EfficientViT_M0",
    "EfficientViT_M1",
    "EfficientViT_M2",
    "EfficientViT_M3",
    "EfficientViT_M4",
    "EfficientViT_M5",
]


class Conv2d_BN(nn.Sequential):
    """A bias-free convolution followed by batch norm; `fuse()` folds the two into one biased convolution."""

    def __init__(
        self,
        a: int,
        b: int,
        ks: int = 1,
        stride: int = 1,
        pad: int = 0,
        dilation: int = 1,
        groups: int = 1,
        bn_weight_init: float = 1.0,
    ) -> None:
        super().__init__()
        self.add_module("c", nn.Conv2d(a, b, ks, stride, pad, dilation, groups, bias=False))
        self.add_module("bn", nn.BatchNorm2d(b))
        nn.init.constant_(self.bn.weight, bn_weight_init)
        nn.init.constant_(self.bn.bias, 0.0)

    @torch.no_grad()
    def fuse(self) -> nn.Conv2d:
        conv, bn = self.c, self.bn
        scale = bn.weight / (bn.running_var + bn.eps).sqrt()
        fused = nn.Conv2d(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            stride=conv.stride,
            padding=conv.padding,
            dilation=conv.dilation,
            groups=conv.groups,
            bias=True,
            device=conv.weight.device,
            dtype=conv.weight.dtype,
        )
        fused.weight.copy_(conv.weight * scale[:, None, None, None])
        fused.bias.copy_(bn.bias - bn.running_mean * scale)
        return fused


class Residual(nn.Module):
    """x + m(x); with `drop` > 0, the branch is dropped per sample while training."""

    def __init__(self, m: nn.Module, drop: float = 0.0) -> None:
        super().__init__()
        self.m = m
        self.drop = drop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.drop > 0:
            keep = torch.rand(x.size(0), 1, 1, 1, device=x.device).ge_(self.drop).div(1 - self.drop)
            return x + self.m(x) * keep.detach()
        return x + self.m(x)


class FFN(nn.Module):
    """Pointwise expansion, ReLU, pointwise projection (the projection's BN starts at zero)."""

    def __init__(self, ed: int, h: int) -> None:
        super().__init__()
        self.pw1 = Conv2d_BN(ed, h)
        self.act = nn.ReLU()
        self.pw2 = Conv2d_BN(h, ed, bn_weight_init=0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw2(self.act(self.pw1(x)))


class PatchMerging(nn.Module):
    """Stride-2 downsampling: 1x1 expand x4, 3x3 depthwise stride 2, squeeze-excite, 1x1 project."""

    def __init__(self, dim: int, out_dim: int) -> None:
        super().__init__()
        hid_dim = int(dim * 4)
        self.conv1 = Conv2d_BN(dim, hid_dim, 1, 1, 0)
        self.act = nn.ReLU()
        self.conv2 = Conv2d_BN(hid_dim, hid_dim, 3, 2, 1, groups=hid_dim)
        self.se = SqueezeExcite(hid_dim, 0.25)
        self.conv3 = Conv2d_BN(hid_dim, out_dim, 1, 1, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.conv1(x))
        x = self.act(self.conv2(x))
        return self.conv3(self.se(x))


def _relative_offset_index(resolution: int) -> tuple[int, torch.Tensor]:
    """Number of distinct |dy|, |dx| offsets in a resolution x resolution window, and the N x N index."""
    points = list(itertools.product(range(resolution), range(resolution)))
    offsets: dict[tuple[int, int], int] = {}
    idxs = []
    for p1 in points:
        for p2 in points:
            off = (abs(p1[0] - p2[0]), abs(p1[1] - p2[1]))
            idxs.append(offsets.setdefault(off, len(offsets)))
    n = len(points)
    return len(offsets), torch.tensor(idxs, dtype=torch.long).view(n, n)


class CascadedGroupAttention(nn.Module):
    """Attention whose heads each see one channel split; each head's input adds the previous head's output.

    `resolution` is the side of the (window) token grid the attention biases are learned for; inputs must
    have exactly that size (LocalWindowAttention guarantees it).
    """

    def __init__(
        self,
        dim: int,
        key_dim: int,
        num_heads: int = 8,
        attn_ratio: float = 4,
        resolution: int = 14,
        kernels: tuple[int, ...] | list[int] = (5, 5, 5, 5),
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.scale = key_dim**-0.5
        self.key_dim = key_dim
        self.d = int(attn_ratio * key_dim)
        self.attn_ratio = attn_ratio
        self.resolution = resolution
        self.qkvs = nn.ModuleList(Conv2d_BN(dim // num_heads, self.key_dim * 2 + self.d) for _ in range(num_heads))
        self.dws = nn.ModuleList(Conv2d_BN(self.key_dim, self.key_dim, kernels[i], 1, kernels[i] // 2, groups=self.key_dim) for i in range(num_heads))
        self.proj = nn.Sequential(nn.ReLU(), Conv2d_BN(self.d * num_heads, dim, bn_weight_init=0.0))
        n_offsets, idxs = _relative_offset_index(resolution)
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, n_offsets))
        self.register_buffer("attention_bias_idxs", idxs, persistent=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, _, H, W = x.shape
        # computed on every call (not cached on .eval()) so that weights loaded later are always used
        biases = self.attention_biases[:, self.attention_bias_idxs]
        feats_in = x.chunk(len(self.qkvs), dim=1)
        feats_out = []
        feat = feats_in[0]
        for i, qkv in enumerate(self.qkvs):
            if i > 0:
                feat = feat + feats_in[i]
            feat = qkv(feat)
            q, k, v = feat.view(B, -1, H, W).split([self.key_dim, self.key_dim, self.d], dim=1)
            q = self.dws[i](q)
            q, k, v = q.flatten(2), k.flatten(2), v.flatten(2)
            attn = (q.transpose(-2, -1) @ k) * self.scale + biases[i]
            attn = attn.softmax(dim=-1)
            feat = (v @ attn.transpose(-2, -1)).view(B, self.d, H, W)
            feats_out.append(feat)
        return self.proj(torch.cat(feats_out, 1))


class LocalWindowAttention(nn.Module):
    """Cascaded group attention inside non-overlapping windows; the map is zero-padded to whole windows.

    The authors' code skips the windowing when the map fits in one window, which only works when it is
    exactly one window; here smaller maps are padded to one window instead (identical wherever theirs runs).
    """

    def __init__(
        self,
        dim: int,
        key_dim: int,
        num_heads: int = 8,
        attn_ratio: float = 4,
        window_resolution: int = 7,
        kernels: tuple[int, ...] | list[int] = (5, 5, 5, 5),
    ) -> None:
        super().__init__()
        assert window_resolution > 0, "window_resolution must be positive"
        self.dim = dim
        self.num_heads = num_heads
        self.window_resolution = window_resolution
        self.attn = CascadedGroupAttention(dim, key_dim, num_heads, attn_ratio=attn_ratio, resolution=window_resolution, kernels=kernels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        ws = self.window_resolution
        pad_b = (ws - H % ws) % ws
        pad_r = (ws - W % ws) % ws
        x = x.permute(0, 2, 3, 1)
        if pad_b > 0 or pad_r > 0:
            x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
        pH, pW = H + pad_b, W + pad_r
        nH, nW = pH // ws, pW // ws
        # B,pH,pW,C -> (B nH nW),C,ws,ws
        x = x.reshape(B, nH, ws, nW, ws, C).transpose(2, 3).reshape(B * nH * nW, ws, ws, C).permute(0, 3, 1, 2)
        x = self.attn(x)
        # (B nH nW),C,ws,ws -> B,pH,pW,C
        x = x.permute(0, 2, 3, 1).reshape(B, nH, nW, ws, ws, C).transpose(2, 3).reshape(B, pH, pW, C)
        if pad_b > 0 or pad_r > 0:
            x = x[:, :H, :W]
        return x.permute(0, 3, 1, 2).contiguous()


class EfficientViTBlock(nn.Module):
    """Sandwich block: depthwise conv + FFN, windowed attention, depthwise conv + FFN (all residual)."""

    def __init__(
        self,
        type: str,
        ed: int,
        kd: int,
        nh: int = 8,
        ar: float = 4,
        window_resolution: int = 7,
        kernels: tuple[int, ...] | list[int] = (5, 5, 5, 5),
    ) -> None:
        super().__init__()
        self.dw0 = Residual(Conv2d_BN(ed, ed, 3, 1, 1, groups=ed, bn_weight_init=0.0))
        self.ffn0 = Residual(FFN(ed, int(ed * 2)))
        if type == "s":
            self.mixer: nn.Module = Residual(LocalWindowAttention(ed, kd, nh, attn_ratio=ar, window_resolution=window_resolution, kernels=kernels))
        else:
            self.mixer = nn.Identity()
        self.dw1 = Residual(Conv2d_BN(ed, ed, 3, 1, 1, groups=ed, bn_weight_init=0.0))
        self.ffn1 = Residual(FFN(ed, int(ed * 2)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ffn1(self.dw1(self.mixer(self.ffn0(self.dw0(x)))))


def _dw_ffn(dim: int) -> nn.Sequential:
    return nn.Sequential(
        Residual(Conv2d_BN(dim, dim, 3, 1, 1, groups=dim)),
        Residual(FFN(dim, int(dim * 2))),
    )


class EfficientViT(nn.Module):
    """The three-stage EfficientViT; forward returns [stage1, stage2, stage3] at strides 8, 16, 32."""

    def __init__(
        self,
        in_chans: int = 3,
        stages: tuple[str, ...] = ("s", "s", "s"),
        embed_dim: tuple[int, ...] = (64, 128, 192),
        key_dim: tuple[int, ...] = (16, 16, 16),
        depth: tuple[int, ...] = (1, 2, 3),
        num_heads: tuple[int, ...] = (4, 4, 4),
        window_size: tuple[int, ...] = (7, 7, 7),
        kernels: tuple[int, ...] = (5, 5, 5, 5),
        down_ops: tuple[tuple, ...] = (("subsample", 2), ("subsample", 2), ("",)),
    ) -> None:
        super().__init__()
        e0 = embed_dim[0]
        self.patch_embed = nn.Sequential(
            Conv2d_BN(in_chans, e0 // 8, 3, 2, 1),
            nn.ReLU(),
            Conv2d_BN(e0 // 8, e0 // 4, 3, 2, 1),
            nn.ReLU(),
            Conv2d_BN(e0 // 4, e0 // 2, 3, 2, 1),
            nn.ReLU(),
            Conv2d_BN(e0 // 2, e0, 3, 1, 1),
        )
        attn_ratio = [embed_dim[i] / (key_dim[i] * num_heads[i]) for i in range(len(embed_dim))]
        stage_layers: list[list[nn.Module]] = [[] for _ in range(len(embed_dim))]
        for i, (stg, ed, kd, dpth, nh, ar, wd, do) in enumerate(zip(stages, embed_dim, key_dim, depth, num_heads, attn_ratio, window_size, down_ops)):
            for _ in range(dpth):
                stage_layers[i].append(EfficientViTBlock(stg, ed, kd, nh, ar, wd, kernels))
            if do[0] == "subsample":
                nxt = stage_layers[i + 1]
                nxt.append(_dw_ffn(embed_dim[i]))
                nxt.append(PatchMerging(embed_dim[i], embed_dim[i + 1]))
                nxt.append(_dw_ffn(embed_dim[i + 1]))
        self.blocks1 = nn.Sequential(*stage_layers[0])
        self.blocks2 = nn.Sequential(*stage_layers[1])
        self.blocks3 = nn.Sequential(*stage_layers[2])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.patch_embed(x)
        p3 = self.blocks1(x)
        p4 = self.blocks2(p3)
        p5 = self.blocks3(p4)
        return [p3, p4, p5]


# The authors' configurations (img_size and patch_size do not change the downstream model's parameters).
CONFIGS: dict[str, dict] = {
    "M0": {"embed_dim": (64, 128, 192), "depth": (1, 2, 3), "num_heads": (4, 4, 4), "window_size": (7, 7, 7), "kernels": (7, 5, 3, 3)},
    "M1": {"embed_dim": (128, 144, 192), "depth": (1, 2, 3), "num_heads": (2, 3, 3), "window_size": (7, 7, 7), "kernels": (7, 5, 3, 3)},
    "M2": {"embed_dim": (128, 192, 224), "depth": (1, 2, 3), "num_heads": (4, 3, 2), "window_size": (7, 7, 7), "kernels": (7, 5, 3, 3)},
    "M3": {"embed_dim": (128, 240, 320), "depth": (1, 2, 3), "num_heads": (4, 3, 4), "window_size": (7, 7, 7), "kernels": (5, 5, 5, 5)},
    "M4": {"embed_dim": (128, 256, 384), "depth": (1, 2, 3), "num_heads": (4, 4, 4), "window_size": (7, 7, 7), "kernels": (7, 5, 3, 3)},
    "M5": {"embed_dim": (192, 288, 384), "depth": (1, 3, 4), "num_heads": (3, 3, 4), "window_size": (7, 7, 7), "kernels": (7, 5, 3, 3)},
}


def EfficientViT_M0() -> EfficientViT:
    return EfficientViT(**CONFIGS["M0"])


def EfficientViT_M1() -> EfficientViT:
    return EfficientViT(**CONFIGS["M1"])


def EfficientViT_M2() -> EfficientViT:
    return EfficientViT(**CONFIGS["M2"])


def EfficientViT_M3() -> EfficientViT:
    return EfficientViT(**CONFIGS["M3"])


def EfficientViT_M4() -> EfficientViT:
    return EfficientViT(**CONFIGS["M4"])


def EfficientViT_M5() -> EfficientViT:
    return EfficientViT(**CONFIGS["M5"])
