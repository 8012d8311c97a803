"""MobileViT in plain torch: MV2Block (inverted residual), MobileViTBlock (local conv + patch transformer) and
the XXS/XS/S backbones of the seed. Attribute names follow the seed, so its checkpoints load (minus the
classifier). Unfolding into patches uses reshape/permute (no einops), so the block traces with torch.fx.
"""

from __future__ import annotations

import torch
from torch import nn

from blocks.mobilevit.decl import VARIANTS

HEADS, DIM_HEAD = 4, 8  # fixed in the seed's MobileViTBlock


def conv_1x1_bn(c1: int, c2: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c1, c2, 1, 1, 0, bias=False), nn.BatchNorm2d(c2), nn.SiLU())


def conv_nxn_bn(c1: int, c2: int, kernel_size: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c1, c2, kernel_size, stride, kernel_size // 2, bias=False), nn.BatchNorm2d(c2), nn.SiLU())


class PreNorm(nn.Module):
    def __init__(self, dim: int, fn: nn.Module) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self.norm(x))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        # Identity where the seed has (zero-rate) dropout, so parameter indices stay 0 and 3.
        self.net = nn.Sequential(nn.Linear(dim, hidden_dim), nn.SiLU(), nn.Identity(), nn.Linear(hidden_dim, dim), nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Attention(nn.Module):
    """Multi-head self-attention over the tokens of each patch position: x is (B, P, N, D)."""

    def __init__(self, dim: int, heads: int = HEADS, dim_head: int = DIM_HEAD) -> None:
        super().__init__()
        inner = heads * dim_head
        self.heads, self.dim_head = heads, dim_head
        self.scale = dim_head**-0.5
        self.to_qkv = nn.Linear(dim, inner * 3, bias=False)
        project = not (heads == 1 and dim_head == dim)
        self.to_out = nn.Sequential(nn.Linear(inner, dim), nn.Identity()) if project else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, p, n, _ = x.shape
        qkv = self.to_qkv(x).reshape(b, p, n, 3, self.heads, self.dim_head).permute(3, 0, 1, 4, 2, 5)
        q, k, v = qkv[0], qkv[1], qkv[2]  # each (B, P, heads, N, dim_head)
        attn = torch.matmul(q, k.transpose(-1, -2)).mul(self.scale).softmax(dim=-1)
        out = torch.matmul(attn, v).transpose(2, 3).reshape(b, p, n, self.heads * self.dim_head)
        return self.to_out(out)


class Transformer(nn.Module):
    def __init__(self, dim: int, depth: int, heads: int, dim_head: int, mlp_dim: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList([PreNorm(dim, Attention(dim, heads, dim_head)), PreNorm(dim, FeedForward(dim, mlp_dim))]) for _ in range(depth)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for attn, ff in self.layers:
            x = attn(x) + x
            x = ff(x) + x
        return x


class MV2Block(nn.Module):
    """MobileNetV2 inverted residual: (1x1 expand,) 3x3 depthwise with `stride`, 1x1 project; residual when
    stride is 1 and c1 == c2."""

    def __init__(self, c1: int, c2: int, stride: int = 1, expansion: float = 4) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"MV2Block stride must be 1 or 2, got {stride}")
        hidden = int(c1 * expansion)
        self.stride = stride
        self.use_res_connect = stride == 1 and c1 == c2
        layers: list[nn.Module] = []
        if expansion != 1:
            layers += [nn.Conv2d(c1, hidden, 1, 1, 0, bias=False), nn.BatchNorm2d(hidden), nn.SiLU()]
        layers += [
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.SiLU(),
            nn.Conv2d(hidden, c2, 1, 1, 0, bias=False),
            nn.BatchNorm2d(c2),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


def _pair(v: int | list[int] | tuple[int, ...]) -> tuple[int, int]:
    if isinstance(v, (list, tuple)):
        return (int(v[0]), int(v[-1]))
    return (int(v), int(v))


class MobileViTBlock(nn.Module):
    """Local nxn conv and 1x1 to `dim`, a transformer across patches (tokens at the same position inside each
    ph x pw patch attend to each other), 1x1 back to c1, concat with the input, nxn conv to c2.

    The spatial size arriving must be a multiple of the patch size (the reshape into patches fails otherwise).
    """

    def __init__(
        self,
        c1: int,
        c2: int,
        dim: int,
        depth: int,
        kernel_size: int,
        patch_size: int | list[int],
        mlp_dim: int,
    ) -> None:
        super().__init__()
        self.ph, self.pw = _pair(patch_size)
        self.conv1 = conv_nxn_bn(c1, c1, kernel_size)
        self.conv2 = conv_1x1_bn(c1, dim)
        self.transformer = Transformer(dim, depth, HEADS, DIM_HEAD, mlp_dim)
        self.conv3 = conv_1x1_bn(dim, c1)
        self.conv4 = conv_nxn_bn(2 * c1, c2, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        x = self.conv2(self.conv1(x))
        b, d, h, w = x.shape
        ph, pw = self.ph, self.pw
        nh, nw = h // ph, w // pw
        # b d (nh ph) (nw pw) -> b (ph pw) (nh nw) d
        x = x.reshape(b, d, nh, ph, nw, pw).permute(0, 3, 5, 2, 4, 1).reshape(b, ph * pw, nh * nw, d)
        x = self.transformer(x)
        # b (ph pw) (nh nw) d -> b d (nh ph) (nw pw)
        x = x.reshape(b, ph, pw, nh, nw, d).permute(0, 5, 3, 1, 4, 2).reshape(b, d, nh * ph, nw * pw)
        x = self.conv3(x)
        return self.conv4(torch.cat((x, y), 1))


class MobileViTBackbone(nn.Module):
    """The seed's MobileViT without pooling and classifier; returns [P1, P2, P3, P4, P5] (see the decl)."""

    def __init__(self, variant: str, in_channels: int = 3) -> None:
        super().__init__()
        dims, ch, expansion = VARIANTS[variant]
        depths, mlp_mult, kernel, patch = (2, 4, 3), (2, 4, 4), 3, 2
        self.conv1 = conv_nxn_bn(in_channels, ch[0], stride=2)
        self.mv2 = nn.ModuleList(
            [
                MV2Block(ch[0], ch[1], 1, expansion),
                MV2Block(ch[1], ch[2], 2, expansion),
                MV2Block(ch[2], ch[3], 1, expansion),
                MV2Block(ch[3], ch[3], 1, expansion),
                MV2Block(ch[3], ch[4], 2, expansion),
                MV2Block(ch[5], ch[6], 2, expansion),
                MV2Block(ch[7], ch[8], 2, expansion),
            ]
        )
        self.mvit = nn.ModuleList(
            MobileViTBlock(ch[c], ch[c], dims[i], depths[i], kernel, patch, dims[i] * mlp_mult[i]) for i, c in enumerate((5, 7, 9))
        )
        self.conv2 = conv_1x1_bn(ch[9], ch[10])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        p1 = self.mv2[0](self.conv1(x))
        p2 = self.mv2[3](self.mv2[2](self.mv2[1](p1)))
        p3 = self.mvit[0](self.mv2[4](p2))
        p4 = self.mvit[1](self.mv2[5](p3))
        p5 = self.conv2(self.mvit[2](self.mv2[6](p4)))
        return [p1, p2, p3, p4, p5]


class MobileViT_XXS(MobileViTBackbone):
    def __init__(self, in_channels: int = 3) -> None:
        super().__init__("xxs", in_channels)


class MobileViT_XS(MobileViTBackbone):
    def __init__(self, in_channels: int = 3) -> None:
        super().__init__("xs", in_channels)


class MobileViT_S(MobileViTBackbone):
    def __init__(self, in_channels: int = 3) -> None:
        super().__init__("s", in_channels)
