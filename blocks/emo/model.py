"""EMO backbone: a multi-scale patch stem and stages of inverted residual mobile blocks (iRMB).

Submodule names follow the authors' code (stage0..stage4, norm; inside a block norm, qk, v, conv_local, se,
proj) so that their checkpoints load by key. Forward returns the five stage outputs, at strides 2..32, the
last one passed through the final norm.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
import torch.nn.utils.fusion
from einops import rearrange, reduce
from timm.layers import DropPath
from torch import nn

__all__ = ["CONFIGS", "EMO", "EMO_1M", "EMO_2M", "EMO_5M", "EMO_6M", "LayerNorm2d", "MSPatchEmb", "iRMB"]

_EPS = 1e-6


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of an NCHW map (the wrapped nn.LayerNorm is called `norm`)."""

    def __init__(self, normalized_shape: int, eps: float = 1e-6, elementwise_affine: bool = True) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(normalized_shape, eps, elementwise_affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2).contiguous()


def get_norm(name: str) -> Callable[[int], nn.Module]:
    norms: dict[str, Callable[..., nn.Module]] = {
        "none": lambda c: nn.Identity(),
        "bn_2d": partial(nn.BatchNorm2d, eps=_EPS),
        "ln_2d": partial(LayerNorm2d, eps=_EPS),
        "ln_1d": partial(nn.LayerNorm, eps=_EPS),
        "in_2d": partial(nn.InstanceNorm2d, eps=_EPS),
        "gn": lambda c: nn.GroupNorm(1, c, eps=_EPS),
    }
    return norms[name]


def get_act(name: str) -> Callable[[], nn.Module]:
    acts: dict[str, Callable[[], nn.Module]] = {
        "none": nn.Identity,
        "relu": nn.ReLU,
        "relu6": nn.ReLU6,
        "silu": nn.SiLU,
        "swish": nn.SiLU,
        "gelu": nn.GELU,
        "sigmoid": nn.Sigmoid,
        "hsigmoid": nn.Hardsigmoid,
        "hswish": nn.Hardswish,
        "mish": nn.Mish,
        "tanh": nn.Tanh,
        "prelu": nn.PReLU,
    }
    return acts[name]


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation with EfficientNet's layout (conv_reduce, act1, conv_expand, gate), as in timm."""

    def __init__(self, in_chs: int, rd_ratio: float = 0.25, act_layer: Callable[[], nn.Module] = nn.ReLU) -> None:
        super().__init__()
        rd = round(in_chs * rd_ratio)
        self.conv_reduce = nn.Conv2d(in_chs, rd, 1, bias=True)
        self.act1 = act_layer()
        self.conv_expand = nn.Conv2d(rd, in_chs, 1, bias=True)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.conv_expand(self.act1(self.conv_reduce(x.mean((2, 3), keepdim=True))))
        return x * self.gate(s)


class ConvNormAct(nn.Module):
    """conv -> norm -> act, with an optional (drop-path) identity shortcut when shapes allow."""

    def __init__(
        self,
        dim_in: int,
        dim_out: int,
        kernel_size: int,
        stride: int = 1,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = False,
        skip: bool = False,
        norm_layer: str = "bn_2d",
        act_layer: str = "relu",
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.has_skip = skip and dim_in == dim_out
        padding = math.ceil((kernel_size - stride) / 2)
        self.conv = nn.Conv2d(dim_in, dim_out, kernel_size, stride, padding, dilation, groups, bias)
        self.norm = get_norm(norm_layer)(dim_out)
        self.act = get_act(act_layer)()
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.norm(self.conv(x)))
        return x + self.drop_path(y) if self.has_skip else y

    def fuse(self) -> ConvNormAct:
        """Deploy form: fold a BatchNorm into the convolution (other norms stay)."""
        if type(self.norm) is nn.BatchNorm2d:
            self.conv = torch.nn.utils.fusion.fuse_conv_bn_eval(self.conv.eval(), self.norm.eval())
            self.norm = nn.Identity()
        return self


class MSPatchEmb(nn.Module):
    """Patch embedding: parallel (dilated) strided convolutions whose outputs are averaged."""

    def __init__(
        self,
        dim_in: int,
        emb_dim: int,
        kernel_size: int = 2,
        c_group: int = -1,
        stride: int = 1,
        dilations: tuple[int, ...] = (1, 2, 3),
        norm_layer: str = "bn_2d",
        act_layer: str = "silu",
    ) -> None:
        super().__init__()
        self.dilation_num = len(dilations)
        groups = math.gcd(dim_in, emb_dim) if c_group == -1 else c_group
        assert dim_in % groups == 0
        self.convs = nn.ModuleList()
        for d in dilations:
            padding = math.ceil(((kernel_size - 1) * d + 1 - stride) / 2)
            self.convs.append(
                nn.Sequential(
                    nn.Conv2d(dim_in, emb_dim, kernel_size, stride, padding, d, groups=groups),
                    get_norm(norm_layer)(emb_dim),
                    get_act(act_layer)(),
                )
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.dilation_num == 1:
            return self.convs[0](x)
        y = torch.stack([conv(x) for conv in self.convs], dim=-1)
        return reduce(y, "b c h w n -> b c h w", "mean").contiguous()


class iRMB(nn.Module):
    """Inverted residual mobile block: (windowed attention | 1x1 expansion), depthwise conv, SE, 1x1 project.

    With `attn_s`, the map is padded to whole windows of `window_size` (0: one window over the whole map)
    and multi-head attention runs inside each window; with `attn_pre` the attention mixes the block input
    before the value projection `v` expands it, otherwise it mixes v's output.
    """

    def __init__(
        self,
        dim_in: int,
        dim_out: int,
        norm_in: bool = True,
        has_skip: bool = True,
        exp_ratio: float = 1.0,
        norm_layer: str = "bn_2d",
        act_layer: str = "relu",
        v_proj: bool = True,
        dw_ks: int = 3,
        stride: int = 1,
        dilation: int = 1,
        se_ratio: float = 0.0,
        dim_head: int = 64,
        window_size: int = 7,
        attn_s: bool = True,
        qkv_bias: bool = False,
        attn_drop: float = 0.0,
        drop: float = 0.0,
        drop_path: float = 0.0,
        v_group: bool = False,
        attn_pre: bool = False,
    ) -> None:
        super().__init__()
        self.norm = get_norm(norm_layer)(dim_in) if norm_in else nn.Identity()
        dim_mid = int(dim_in * exp_ratio)
        self.has_skip = dim_in == dim_out and stride == 1 and has_skip
        self.attn_s = attn_s
        if attn_s:
            assert dim_in % dim_head == 0, "dim_in must be divisible by dim_head"
            self.dim_head = dim_head
            self.window_size = window_size
            self.num_head = dim_in // dim_head
            self.scale = dim_head**-0.5
            self.attn_pre = attn_pre
            self.qk = ConvNormAct(dim_in, dim_in * 2, 1, bias=qkv_bias, norm_layer="none", act_layer="none")
            self.v = ConvNormAct(
                dim_in,
                dim_mid,
                1,
                groups=self.num_head if v_group else 1,
                bias=qkv_bias,
                norm_layer="none",
                act_layer=act_layer,
            )
            self.attn_drop = nn.Dropout(attn_drop)
        elif v_proj:
            self.v = ConvNormAct(dim_in, dim_mid, 1, bias=qkv_bias, norm_layer="none", act_layer=act_layer)
        else:
            self.v = nn.Identity()
        self.conv_local = ConvNormAct(
            dim_mid,
            dim_mid,
            dw_ks,
            stride=stride,
            dilation=dilation,
            groups=dim_mid,
            norm_layer="bn_2d",
            act_layer="silu",
        )
        self.se = SqueezeExcite(dim_mid, rd_ratio=se_ratio, act_layer=get_act(act_layer)) if se_ratio > 0.0 else nn.Identity()
        self.proj_drop = nn.Dropout(drop)
        self.proj = ConvNormAct(dim_mid, dim_out, 1, norm_layer="none", act_layer="none")
        self.drop_path = DropPath(drop_path) if drop_path else nn.Identity()

    def _window_attention(self, x: torch.Tensor) -> torch.Tensor:
        _, _, H, W = x.shape
        wh, ww = (H, W) if self.window_size <= 0 else (self.window_size, self.window_size)
        pad_r = (ww - W % ww) % ww
        pad_b = (wh - H % wh) % wh
        x = F.pad(x, (0, pad_r, 0, pad_b))
        n1, n2 = (H + pad_b) // wh, (W + pad_r) // ww
        x = rearrange(x, "b c (h1 n1) (w1 n2) -> (b n1 n2) c h1 w1", n1=n1, n2=n2).contiguous()
        h, w = x.shape[-2:]
        qk = rearrange(
            self.qk(x),
            "b (qk heads dim_head) h w -> qk b heads (h w) dim_head",
            qk=2,
            heads=self.num_head,
            dim_head=self.dim_head,
        ).contiguous()
        q, k = qk[0], qk[1]
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = self.attn_drop(attn.softmax(dim=-1))
        if self.attn_pre:
            v = rearrange(x, "b (heads dim_head) h w -> b heads (h w) dim_head", heads=self.num_head).contiguous()
            y = rearrange(attn @ v, "b heads (h w) dim_head -> b (heads dim_head) h w", heads=self.num_head, h=h, w=w)
            y = self.v(y.contiguous())
        else:
            v = rearrange(self.v(x), "b (heads dim_head) h w -> b heads (h w) dim_head", heads=self.num_head)
            y = rearrange(attn @ v.contiguous(), "b heads (h w) dim_head -> b (heads dim_head) h w", heads=self.num_head, h=h, w=w).contiguous()
        y = rearrange(y, "(b n1 n2) c h1 w1 -> b c (h1 n1) (w1 n2)", n1=n1, n2=n2).contiguous()
        if pad_r > 0 or pad_b > 0:
            y = y[:, :, :H, :W].contiguous()
        return y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.norm(x)
        x = self._window_attention(x) if self.attn_s else self.v(x)
        local = self.se(self.conv_local(x))
        x = x + local if self.has_skip else local
        x = self.proj(self.proj_drop(x))
        return shortcut + self.drop_path(x) if self.has_skip else x


class EMO(nn.Module):
    """EMO without its classifier: forward returns [stage0, ..., stage4] (strides 2..32), last one normed."""

    def __init__(
        self,
        dim_in: int = 3,
        depths: tuple[int, ...] = (1, 2, 4, 2),
        stem_dim: int = 16,
        embed_dims: tuple[int, ...] = (64, 128, 256, 512),
        exp_ratios: tuple[float, ...] = (4.0, 4.0, 4.0, 4.0),
        norm_layers: tuple[str, ...] = ("bn_2d", "bn_2d", "bn_2d", "bn_2d"),
        act_layers: tuple[str, ...] = ("relu", "relu", "relu", "relu"),
        dw_kss: tuple[int, ...] = (3, 3, 5, 5),
        se_ratios: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0),
        dim_heads: tuple[int, ...] = (32, 32, 32, 32),
        window_sizes: tuple[int, ...] = (7, 7, 7, 7),
        attn_ss: tuple[bool, ...] = (False, False, True, True),
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        drop: float = 0.0,
        drop_path: float = 0.0,
        v_group: bool = False,
        attn_pre: bool = False,
    ) -> None:
        super().__init__()
        total = sum(depths)
        dprs = [drop_path * i / (total - 1) if total > 1 else 0.0 for i in range(total)]  # = torch.linspace
        self.stage0 = nn.ModuleList(
            [
                MSPatchEmb(dim_in, stem_dim, kernel_size=dw_kss[0], c_group=1, stride=2, dilations=(1,), norm_layer=norm_layers[0], act_layer="none"),
                iRMB(
                    stem_dim,
                    stem_dim,
                    norm_in=False,
                    has_skip=False,
                    exp_ratio=1,
                    norm_layer=norm_layers[0],
                    act_layer=act_layers[0],
                    v_proj=False,
                    dw_ks=dw_kss[0],
                    stride=1,
                    dilation=1,
                    se_ratio=1,
                    dim_head=dim_heads[0],
                    window_size=window_sizes[0],
                    attn_s=False,
                    qkv_bias=qkv_bias,
                    attn_drop=attn_drop,
                    drop=drop,
                    drop_path=0.0,
                    attn_pre=attn_pre,
                ),
            ]
        )
        dim_prev = stem_dim
        for i, depth in enumerate(depths):
            dpr = dprs[sum(depths[:i]) : sum(depths[: i + 1])]
            layers = []
            for j in range(depth):
                if j == 0:  # the downsampling block: no skip, no attention, doubled expansion
                    stride, has_skip, attn_s, exp_ratio = 2, False, False, exp_ratios[i] * 2
                else:
                    stride, has_skip, attn_s, exp_ratio = 1, True, attn_ss[i], exp_ratios[i]
                layers.append(
                    iRMB(
                        dim_prev,
                        embed_dims[i],
                        norm_in=True,
                        has_skip=has_skip,
                        exp_ratio=exp_ratio,
                        norm_layer=norm_layers[i],
                        act_layer=act_layers[i],
                        v_proj=True,
                        dw_ks=dw_kss[i],
                        stride=stride,
                        dilation=1,
                        se_ratio=se_ratios[i],
                        dim_head=dim_heads[i],
                        window_size=window_sizes[i],
                        attn_s=attn_s,
                        qkv_bias=qkv_bias,
                        attn_drop=attn_drop,
                        drop=drop,
                        drop_path=dpr[j],
                        v_group=v_group,
                        attn_pre=attn_pre,
                    )
                )
                dim_prev = embed_dims[i]
            setattr(self, f"stage{i + 1}", nn.ModuleList(layers))
        self.norm = get_norm(norm_layers[-1])(embed_dims[-1])
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm2d)):
            nn.init.zeros_(m.bias)
            nn.init.ones_(m.weight)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for stage in (self.stage0, self.stage1, self.stage2, self.stage3, self.stage4):
            for blk in stage:
                x = blk(x)
            outs.append(x)
        outs[-1] = self.norm(outs[-1])
        return outs


_COMMON = {
    "norm_layers": ("bn_2d", "bn_2d", "ln_2d", "ln_2d"),
    "act_layers": ("silu", "silu", "gelu", "gelu"),
    "dw_kss": (3, 3, 5, 5),
    "window_sizes": (7, 7, 7, 7),
    "attn_ss": (False, False, True, True),
    "qkv_bias": True,
    "attn_drop": 0.0,
    "drop": 0.0,
    "v_group": False,
    "attn_pre": True,
}

# The authors' hyper-parameters for the four sizes.
CONFIGS: dict[str, dict] = {
    "EMO_1M": {
        **_COMMON,
        "depths": (2, 2, 8, 3),
        "stem_dim": 24,
        "embed_dims": (32, 48, 80, 168),
        "exp_ratios": (2.0, 2.5, 3.0, 3.5),
        "dim_heads": (16, 16, 20, 21),
        "drop_path": 0.04036,
    },
    "EMO_2M": {
        **_COMMON,
        "depths": (3, 3, 9, 3),
        "stem_dim": 24,
        "embed_dims": (32, 48, 120, 200),
        "exp_ratios": (2.0, 2.5, 3.0, 3.5),
        "dim_heads": (16, 16, 20, 20),
        "drop_path": 0.05,
    },
    "EMO_5M": {
        **_COMMON,
        "depths": (3, 3, 9, 3),
        "stem_dim": 24,
        "embed_dims": (48, 72, 160, 288),
        "exp_ratios": (2.0, 3.0, 4.0, 4.0),
        "dim_heads": (24, 24, 32, 32),
        "drop_path": 0.05,
    },
    "EMO_6M": {
        **_COMMON,
        "depths": (3, 3, 9, 3),
        "stem_dim": 24,
        "embed_dims": (48, 72, 160, 320),
        "exp_ratios": (2.0, 3.0, 4.0, 5.0),
        "dim_heads": (16, 24, 20, 32),
        "drop_path": 0.05,
    },
}


def EMO_1M() -> EMO:
    return EMO(**CONFIGS["EMO_1M"])


def EMO_2M() -> EMO:
    return EMO(**CONFIGS["EMO_2M"])


def EMO_5M() -> EMO:
    return EMO(**CONFIGS["EMO_5M"])


def EMO_6M() -> EMO:
    return EMO(**CONFIGS["EMO_6M"])
