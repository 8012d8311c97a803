"""The timm backbone wrapper: a timm model created with `features_only=True` (never `pretrained=True`: that
would download) whose forward returns its feature maps as NCHW tensors, one per declared tap.

`create_features` is the one place a timm feature model is created; `generate_feature_info.py` uses it too,
so the recorded feature_info and the built model cannot disagree about creation options.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import timm
import torch
from torch import nn

from .decl import CURATED, keep_last_per_tap, normalise_out_indices

# Creation options tried, in order, for models whose timm config says the input size is fixed (ViT, DeiT,
# Swin, ...): with them the model accepts any size that is a multiple of its patch size.
DYNAMIC_SIZE_OPTIONS: tuple[dict[str, Any], ...] = ({"dynamic_img_size": True}, {"strict_img_size": False})


def has_fixed_input_size(model_name: str) -> bool:
    return fixed_input_size(model_name) is not None


def fixed_input_size(model_name: str) -> tuple[int, int] | None:
    """(height, width) when timm's config says the model takes only that input size, else None."""
    cfg = timm.get_pretrained_cfg(model_name, allow_unregistered=True) if timm.is_model(model_name) else None
    if cfg is None or not getattr(cfg, "fixed_input_size", False):
        return None
    _, h, w = cfg.input_size
    return int(h), int(w)


def create_features(model_name: str, out_indices: Sequence[int] | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """A timm feature model (random weights) and the extra creation options it needed.

    Raises ValueError with a readable message when timm does not know the name or the model cannot give
    features (`features_only` not implemented for it).
    """
    if not timm.is_model(model_name):
        raise ValueError(f"timm has no model `{model_name}` (timm {timm.__version__})")
    base: dict[str, Any] = {"pretrained": False, "features_only": True}
    if out_indices is not None:
        base["out_indices"] = tuple(out_indices)
    options: Sequence[dict[str, Any]] = (*DYNAMIC_SIZE_OPTIONS, {}) if has_fixed_input_size(model_name) else ({},)
    last: Exception | None = None
    for extra in options:
        try:
            return timm.create_model(model_name, **base, **extra), dict(extra)
        except TypeError as e:  # the model's constructor does not take this option: try the next one
            last = e
        except (RuntimeError, AssertionError, NotImplementedError, KeyError) as e:
            raise ValueError(
                f"timm cannot create `{model_name}` with features_only=True ({str(e).splitlines()[0] if str(e) else type(e).__name__}); "
                "pick a model with hierarchical features (a CNN, convnext_*, swin_*, ...)"
            ) from None
    raise ValueError(f"timm cannot create `{model_name}` with features_only=True ({last})")


class TimmBackbone(nn.Module):
    """Any timm model as a backbone: `forward(x)` returns its feature maps (NCHW), one per tap.

    The taps are timm's `feature_info` at `out_indices` (timm's default when None), named P{log2 reduction};
    where two features share a reduction only the later (deeper) one is returned. Channels-last models
    (Swin's NHWC features) are permuted to NCHW. Fixed-size models are created with timm's dynamic_img_size
    (ViT, DeiT, Swin) where they take it; one that does not (LeViT) refuses other sizes with a ValueError.
    The timm model is the attribute `m`, so its weights sit under `m.` in the state_dict
    (`model.0.m.conv1.weight` in a compiled model); a checkpoint of timm's own model loads into it as is.
    """

    def __init__(self, model_name: str, out_indices: list[int] | None = None) -> None:
        super().__init__()
        self.model_name = model_name
        if out_indices is not None:
            # the same resolution as the declaration's (sorted, negative counts from the end, range-checked)
            probe_count = _feature_count(model_name)
            out_indices = normalise_out_indices(out_indices, probe_count, model_name) if probe_count else list(out_indices)
        self.m, self.create_options = create_features(model_name, out_indices)
        # a fixed-size model that takes none of the dynamic-size options (LeViT) runs only at its own size
        self.fixed_size = None if self.create_options else fixed_input_size(model_name)
        info = self.m.feature_info
        self.channels: list[int] = list(info.channels())
        self.reductions: list[int] = list(info.reduction())
        self.keep: list[int] = keep_last_per_tap(self.reductions)  # positions in timm's output list
        fmt = getattr(self.m, "output_fmt", "NCHW")
        self.nhwc = str(getattr(fmt, "value", fmt)).upper() == "NHWC"

    @property
    def out_channels(self) -> list[int]:
        return [self.channels[i] for i in self.keep]

    @property
    def strides(self) -> list[int]:
        return [self.reductions[i] for i in self.keep]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.fixed_size is not None and tuple(x.shape[-2:]) != self.fixed_size:
            h, w = self.fixed_size
            raise ValueError(f"timm `{self.model_name}` takes only {h}x{w} inputs (fixed_input_size), not {x.shape[-2]}x{x.shape[-1]}")
        feats = self.m(x)
        if isinstance(feats, dict):  # FeatureDictNet-style models
            feats = list(feats.values())
        out = [feats[i] for i in self.keep]
        if self.nhwc:
            out = [f.permute(0, 3, 1, 2).contiguous() for f in out]
        return out

    def fuse(self) -> TimmBackbone:
        """Deploy form: timm's own reparameterisation (MobileOne/FastViT branches folded, `fuse()` of its
        ConvNorm-style modules), parents before children as timm expects."""
        from timm.utils.model import reparameterize_model

        reparameterize_model(self.m, inplace=True)
        return self

    def extra_repr(self) -> str:
        return f"{self.model_name!r}, taps={[(c, s) for c, s in zip(self.out_channels, self.strides)]}"


def _feature_count(model_name: str) -> int | None:
    """How many features the recorded feature_info lists for the model (None when it is not recorded)."""
    from .decl import catalog

    entry = catalog().get(model_name)
    return len(entry["features"]) if entry and "features" in entry else None


def _named(model_name: str) -> Callable[..., TimmBackbone]:
    def build(out_indices: list[int] | None = None) -> TimmBackbone:
        return TimmBackbone(model_name, out_indices)

    build.__name__ = build.__qualname__ = model_name
    build.__doc__ = f"timm `{model_name}` as a backbone (TimmBackbone('{model_name}', out_indices))."
    return build


# The registered timm names (decl.CURATED) each get a factory here, e.g. `blocks.timm_backbones.model:resnet18`.
for _name in CURATED:
    globals()[_name] = _named(_name)
del _name
