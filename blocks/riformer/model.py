"""RIFormer backbones in plain torch: GroupNorm(1, C) norms, affine token mixer, 1x1-conv MLP, layer scale.

Attribute names follow the OpenMMLab implementation, so its ImageNet checkpoints (with the leading
``backbone.`` removed from each key) load into these modules.
"""

from __future__ import annotations

import torch
from torch import nn

from blocks.riformer.decl import ARCHS  # architecture table, kept beside the declarations (no torch there)

MLP_RATIO = 4
OUT_INDICES = (0, 2, 4, 6)  # positions in `network`: the four stages (odd positions are downsamplers)


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(1, channels)


class PatchEmbed(nn.Module):
    """A strided convolution that changes resolution and width (stem and between stages)."""

    def __init__(self, c1: int, c2: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(c1, c2, kernel, stride, padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class Affine(nn.Module):
    """Token mixer of RIFormer: a per-channel scale and shift, minus the input (the residual is outside)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.affine = nn.Conv2d(dim, dim, 1, groups=dim, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.affine(x) - x


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class RIFormerBlock(nn.Module):
    """x + s1 * mixer(norm1(x)), then x + s2 * mlp(norm2(x)).

    `fuse()` folds the affine mixer into norm1 (both are per-channel affine after normalisation), leaving
    one GroupNorm `norm_reparam` in place of `norm1` + `token_mixer`.
    """

    def __init__(self, dim: int, mlp_ratio: float = MLP_RATIO, layer_scale_init_value: float = 1e-5) -> None:
        super().__init__()
        self.dim = dim
        self.deploy = False
        self.norm1: nn.Module = _norm(dim)
        self.token_mixer: nn.Module = Affine(dim)
        self.norm2 = _norm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.layer_scale_1 = nn.Parameter(torch.full((dim,), float(layer_scale_init_value)))
        self.layer_scale_2 = nn.Parameter(torch.full((dim,), float(layer_scale_init_value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.deploy:
            mixed = self.norm_reparam(x)
        else:
            mixed = self.token_mixer(self.norm1(x))
        x = x + self.layer_scale_1.view(-1, 1, 1) * mixed
        return x + self.layer_scale_2.view(-1, 1, 1) * self.mlp(self.norm2(x))

    @torch.no_grad()
    def fuse(self) -> RIFormerBlock:
        if self.deploy:
            return self
        norm1, mixer = self.norm1, self.token_mixer
        assert isinstance(norm1, nn.GroupNorm) and isinstance(mixer, Affine)
        scale = mixer.affine.weight.reshape(-1) - 1.0  # affine(y) - y = (w - 1) * y + b
        fused = nn.GroupNorm(1, self.dim, eps=norm1.eps).to(norm1.weight.device, norm1.weight.dtype)
        fused.weight.copy_(norm1.weight * scale)
        fused.bias.copy_(norm1.bias * scale + mixer.affine.bias)
        del self.norm1
        del self.token_mixer
        self.norm_reparam = fused
        self.deploy = True
        return self


class RIFormerBackbone(nn.Module):
    """Stem (7x7/4) and four stages with 3x3/2 downsamplers; returns normed stage outputs at strides 4..32."""

    def __init__(self, arch: str = "s12", in_channels: int = 3) -> None:
        super().__init__()
        layers, dims, ls_init = ARCHS[arch]
        self.embed_dims = dims
        self.patch_embed = PatchEmbed(in_channels, dims[0], 7, 4, 2)
        network: list[nn.Module] = []
        for i, (depth, dim) in enumerate(zip(layers, dims)):
            network.append(nn.Sequential(*(RIFormerBlock(dim, MLP_RATIO, ls_init) for _ in range(depth))))
            if i + 1 < len(dims):
                network.append(PatchEmbed(dim, dims[i + 1], 3, 2, 1))
        self.network = nn.ModuleList(network)
        for idx in OUT_INDICES:
            self.add_module(f"norm{idx}", _norm(dims[(idx + 1) // 2]))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.patch_embed(x)
        outs = []
        for idx, layer in enumerate(self.network):
            x = layer(x)
            if idx in OUT_INDICES:
                outs.append(getattr(self, f"norm{idx}")(x))
        return outs


class RIFormer_s12(RIFormerBackbone):
    def __init__(self, in_channels: int = 3) -> None:
        super().__init__("s12", in_channels)


class RIFormer_s24(RIFormerBackbone):
    def __init__(self, in_channels: int = 3) -> None:
        super().__init__("s24", in_channels)


class RIFormer_s36(RIFormerBackbone):
    def __init__(self, in_channels: int = 3) -> None:
        super().__init__("s36", in_channels)


class RIFormer_m36(RIFormerBackbone):
    def __init__(self, in_channels: int = 3) -> None:
        super().__init__("m36", in_channels)


class RIFormer_m48(RIFormerBackbone):
    def __init__(self, in_channels: int = 3) -> None:
        super().__init__("m48", in_channels)
