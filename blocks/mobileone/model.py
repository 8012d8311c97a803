"""MobileOne (the seed's formulation): MobileOneBlock and the S0 backbone, with deploy-time reparameterisation.

A MobileOneBlock is a depthwise 3x3 stage followed by a pointwise 1x1 stage, each a sum of k conv-BN branches
(plus a depthwise 1x1 "scale" branch on the depthwise side, plus a BN identity branch on each side when the
block keeps width and resolution), each stage followed by ReLU. `fuse()` folds every stage into one conv.
Attribute names follow the seed, so its checkpoints load.
"""

from __future__ import annotations

import torch
from torch import nn

from blocks.mobileone.decl import S0_BLOCKS, S0_CHANNELS, S0_K, S0_STRIDES


def _conv_bn(c1: int, c2: int, kernel: int, stride: int, padding: int, groups: int = 1) -> nn.Sequential:
    seq = nn.Sequential()
    seq.add_module("conv", nn.Conv2d(c1, c2, kernel, stride, padding, groups=groups, bias=False))
    seq.add_module("bn", nn.BatchNorm2d(c2))
    return seq


class DepthWiseConv(nn.Module):
    def __init__(self, channels: int, kernel: int, stride: int = 1) -> None:
        super().__init__()
        self.conv = _conv_bn(channels, channels, kernel, stride, kernel // 2, groups=channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class PointWiseConv(nn.Module):
    def __init__(self, c1: int, c2: int) -> None:
        super().__init__()
        self.conv = _conv_bn(c1, c2, 1, 1, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Kernel and bias of conv followed by BN (eval statistics)."""
    std = (bn.running_var + bn.eps).sqrt()
    t = bn.weight / std
    bias = bn.bias - bn.running_mean * t
    if conv.bias is not None:
        bias = bias + conv.bias * t
    return conv.weight * t.reshape(-1, 1, 1, 1), bias


def _fold_identity(bn: nn.BatchNorm2d, kernel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Kernel and bias of a BN-only branch, given the identity kernel of the conv it is summed with."""
    std = (bn.running_var + bn.eps).sqrt()
    t = bn.weight / std
    return kernel * t.reshape(-1, 1, 1, 1), bn.bias - bn.running_mean * t


class MobileOneBlock(nn.Module):
    """Over-parameterised depthwise-separable block: k branches per side; stride on the depthwise side."""

    def __init__(self, in_channels: int, out_channels: int, k: int, stride: int = 1) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.k, self.stride = in_channels, out_channels, k, stride
        self.deploy = False
        self.nonlinearity = nn.ReLU()
        self.se = nn.Identity()
        keep = in_channels == out_channels and stride == 1
        self.dw_bn_layer = nn.BatchNorm2d(in_channels) if keep else None
        for i in range(k):
            setattr(self, f"dw_3x3_{i}", DepthWiseConv(in_channels, 3, stride))
        self.dw_1x1 = DepthWiseConv(in_channels, 1, stride)
        self.pw_bn_layer = nn.BatchNorm2d(in_channels) if keep else None
        for i in range(k):
            setattr(self, f"pw_1x1_{i}", PointWiseConv(in_channels, out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.deploy:
            x = self.nonlinearity(self.dw_reparam(x))
            return self.nonlinearity(self.pw_reparam(x))
        y = self.dw_1x1(x)
        for i in range(self.k):
            y = y + getattr(self, f"dw_3x3_{i}")(x)
        if self.dw_bn_layer is not None:
            y = y + self.dw_bn_layer(x)
        x = self.nonlinearity(self.se(y))
        y = self.pw_1x1_0(x)
        for i in range(1, self.k):
            y = y + getattr(self, f"pw_1x1_{i}")(x)
        if self.pw_bn_layer is not None:
            y = y + self.pw_bn_layer(x)
        return self.nonlinearity(y)

    @torch.no_grad()
    def equivalent_kernels(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(depthwise 3x3 kernel, bias, pointwise 1x1 kernel, bias) equal to the branches in eval mode."""
        c = self.in_channels
        ref = self.dw_1x1.conv.conv.weight
        dw_k, dw_b = _fold(self.dw_1x1.conv.conv, self.dw_1x1.conv.bn)
        dw_k = nn.functional.pad(dw_k, [1, 1, 1, 1])
        for i in range(self.k):
            kk, bb = _fold(*getattr(self, f"dw_3x3_{i}").conv)
            dw_k, dw_b = dw_k + kk, dw_b + bb
        if self.dw_bn_layer is not None:
            ident = torch.zeros(c, 1, 3, 3, dtype=ref.dtype, device=ref.device)
            ident[:, 0, 1, 1] = 1.0
            kk, bb = _fold_identity(self.dw_bn_layer, ident)
            dw_k, dw_b = dw_k + kk, dw_b + bb
        pw_k = torch.zeros(self.out_channels, c, 1, 1, dtype=ref.dtype, device=ref.device)
        pw_b = torch.zeros(self.out_channels, dtype=ref.dtype, device=ref.device)
        for i in range(self.k):
            kk, bb = _fold(*getattr(self, f"pw_1x1_{i}").conv)
            pw_k, pw_b = pw_k + kk, pw_b + bb
        if self.pw_bn_layer is not None:
            ident = torch.eye(c, dtype=ref.dtype, device=ref.device).reshape(c, c, 1, 1)
            kk, bb = _fold_identity(self.pw_bn_layer, ident)
            pw_k, pw_b = pw_k + kk, pw_b + bb
        return dw_k, dw_b, pw_k, pw_b

    @torch.no_grad()
    def fuse(self) -> MobileOneBlock:
        """Reparameterise into `dw_reparam` (3x3 depthwise) and `pw_reparam` (1x1); returns self."""
        if self.deploy:
            return self
        dw_k, dw_b, pw_k, pw_b = self.equivalent_kernels()
        c = self.in_channels
        self.dw_reparam = nn.Conv2d(c, c, 3, self.stride, 1, groups=c, bias=True).to(dw_k.device, dw_k.dtype)
        self.pw_reparam = nn.Conv2d(c, self.out_channels, 1, bias=True).to(pw_k.device, pw_k.dtype)
        self.dw_reparam.weight.copy_(dw_k)
        self.dw_reparam.bias.copy_(dw_b)
        self.pw_reparam.weight.copy_(pw_k)
        self.pw_reparam.bias.copy_(pw_b)
        del self.dw_1x1
        for i in range(self.k):
            delattr(self, f"dw_3x3_{i}")
            delattr(self, f"pw_1x1_{i}")
        del self.dw_bn_layer
        del self.pw_bn_layer
        self.deploy = True
        return self


class ConvBNReLU(nn.Sequential):
    """The S0 stem: 3x3/2 conv, BN, ReLU (indices 0, 1, 2 as in the seed); `fuse()` folds the BN into the conv."""

    def __init__(self, c1: int, c2: int) -> None:
        super().__init__(nn.Conv2d(c1, c2, 3, 2, 1, bias=False), nn.BatchNorm2d(c2), nn.ReLU())

    @torch.no_grad()
    def fuse(self) -> ConvBNReLU:
        conv, bn = self[0], self[1]
        if not isinstance(bn, nn.BatchNorm2d):
            return self
        kernel, bias = _fold(conv, bn)
        fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=True).to(kernel.device, kernel.dtype)
        fused.weight.copy_(kernel)
        fused.bias.copy_(bias)
        self[0] = fused
        self[1] = nn.Identity()
        return self


class MobileOne_S0(nn.Module):
    """MobileOne-S0 feature extractor: stem + five stages; returns P1..P5 (see the declaration)."""

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__()
        self.stage0 = ConvBNReLU(in_channels, S0_CHANNELS[0])
        c1 = S0_CHANNELS[0]
        for idx in range(1, len(S0_BLOCKS)):
            c2 = S0_CHANNELS[idx]
            blocks = []
            for b in range(S0_BLOCKS[idx]):
                blocks.append(MobileOneBlock(c1, c2, S0_K[idx], S0_STRIDES[idx] if b == 0 else 1))
                c1 = c2
            setattr(self, f"stage{idx}", nn.Sequential(*blocks))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        p1 = self.stage0(x)
        p2 = self.stage1(p1)
        p3 = self.stage2(p2)
        p4 = self.stage4(self.stage3(p3))  # both stage3 and stage4 are at stride 16: tap the later one
        p5 = self.stage5(p4)
        return [p1, p2, p3, p4, p5]
