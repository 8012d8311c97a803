"""Open-vocabulary detection heads: YOLO-World's `WorldDetect` and YOLOE's `YOLOEDetect`, `YOLOESegment`,
`YOLOESegment26`, built on the anchor-free heads of `blocks.ultralytics_heads` (same box branch, DFL decoding,
one-to-one branch, outputs).

Class scores are not a fixed classifier: the class branch (`cv3`) embeds every anchor point into the text
space (`embed` channels) and the contrastive heads (`cv4`) score it against K class (prompt) embeddings, so
the number of classes is the number of embeddings given (K; `nc` until then).

Forward: `head(levels, text=None)`; the compiled model passes its second forward argument. Without text,
the heads use placeholders as the package does with no text model: WorldDetect zeros (1, nc as built, embed);
the YOLOE heads their `pe` buffer (zeros (1, nc, embed) until `set_class_embeddings`). Text given to a YOLOE
head is raw text-model output: it goes through `reprta` and an L2 normalisation first, as in the package.
Outputs are those of the base heads (see `blocks.ultralytics_heads.detect`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from blocks.ultralytics_heads.detect import Detect, Preds
from blocks.ultralytics_heads.parts import Conv, DWConv, MaskProto, MaskProto26

from .layers import SAVPE, BNContrastiveHead, ContrastiveHead, Residual, SwiGLUFFN


def _embed_branch(ch: Sequence[int], c3: int, embed: int, legacy: bool) -> nn.ModuleList:
    """Per level: two stages then a 1x1 conv to `embed` channels (legacy: two 3x3 Convs; else DW + PW pairs)."""
    if legacy:
        return nn.ModuleList(nn.Sequential(Conv(c, c3, 3), Conv(c3, c3, 3), nn.Conv2d(c3, embed, 1)) for c in ch)
    return nn.ModuleList(
        nn.Sequential(nn.Sequential(DWConv(c, c, 3), Conv(c, c3, 1)), nn.Sequential(DWConv(c3, c3, 3), Conv(c3, c3, 1)), nn.Conv2d(c3, embed, 1))
        for c in ch
    )


def _batch(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    t = t.to(dtype=like.dtype, device=like.device)
    return t.expand(like.shape[0], -1, -1) if t.shape[0] != like.shape[0] else t


class WorldDetect(Detect):
    """YOLO-World head: Detect whose class logits are (BN)ContrastiveHead similarities with the text embeddings."""

    text_io = "original"  # takes the text embeddings given to the model (codegen)

    def __init__(
        self, nc: int = 80, embed: int = 512, with_bn: bool = False, reg_max: int = 16, end2end: bool = False, ch: Sequence[int] = ()
    ) -> None:
        super().__init__(nc, reg_max, end2end, ch, legacy=True)
        self.embed = embed
        self.placeholder_classes = nc  # K of the zero text placeholder (nc follows the text last given)
        self.cv3 = _embed_branch(ch, self.c_cls, embed, legacy=True)
        self.cv4 = nn.ModuleList(BNContrastiveHead(embed) if with_bn else ContrastiveHead() for _ in ch)

    @property
    def text_dim(self) -> int:
        return self.embed

    def forward(self, x: list[torch.Tensor], text: torch.Tensor | None = None) -> Any:  # type: ignore[override]
        feats = list(x)
        bs = feats[0].shape[0]
        t = torch.zeros(1, self.placeholder_classes, self.embed) if text is None else text
        t = _batch(t, feats[0])
        self.nc = int(t.shape[1])
        self.no = self.nc + 4 * self.reg_max
        preds: Preds = {
            "boxes": torch.cat([self.cv2[i](feats[i]).view(bs, 4 * self.reg_max, -1) for i in range(self.nl)], -1),
            "scores": torch.cat([self.cv4[i](self.cv3[i](feats[i]), t).reshape(bs, self.nc, -1) for i in range(self.nl)], -1),
            "feats": feats,
        }
        if self.training:
            return preds
        y = self.decode(preds)
        return y if self.export else (y, preds)

    @torch.no_grad()
    def init_biases(self) -> None:
        """Box biases 1.0; the class scores come from the text similarity, so the class branch keeps its init."""
        for seq in self.cv2:
            if seq[-1].bias.is_meta:
                return
            seq[-1].bias.fill_(1.0)


class YOLOEDetect(Detect):
    """YOLOE head: Detect with text/visual-prompt class scores (BNContrastiveHead), a text re-projection (`reprta`)
    and a visual-prompt encoder (`savpe`)."""

    text_io = "original"
    branch_parts = ("cv2", "cv3", "cv4")

    def __init__(
        self,
        nc: int = 80,
        embed: int = 512,
        with_bn: bool = True,
        reg_max: int = 16,
        end2end: bool = False,
        ch: Sequence[int] = (),
        legacy: bool = False,
    ) -> None:
        if not with_bn:
            raise ValueError("YOLOEDetect needs with_bn=True (its contrastive heads use BatchNorm)")
        self.embed = embed
        super().__init__(nc, reg_max, end2end, ch, legacy)
        if self.c_cls > embed:
            raise ValueError(f"YOLOE class branch width {self.c_cls} exceeds the embedding size {embed}")
        self.cv4 = nn.ModuleList(BNContrastiveHead(embed) for _ in ch)
        if end2end:
            self.one2one_cv4 = copy.deepcopy(self.cv4)
        self.reprta = Residual(SwiGLUFFN(embed, embed))
        self.savpe = SAVPE(list(ch), self.c_cls, embed)
        self.register_buffer("pe", torch.zeros(1, nc, embed), persistent=False)

    @property
    def text_dim(self) -> int:
        return self.embed

    def make_cls_branch(self, ch: Sequence[int]) -> nn.ModuleList:
        return _embed_branch(ch, self.c_cls, self.embed, self.legacy)

    def text_embeddings(self, text: torch.Tensor) -> torch.Tensor:
        """Raw text-model embeddings (B, K, embed) -> class prompt embeddings (reprta, then L2-normalised)."""
        return F.normalize(self.reprta(text), dim=-1, p=2)

    def set_class_embeddings(self, pe: torch.Tensor) -> None:
        """Class prompt embeddings (1, K, embed) used when forward gets no text; K becomes the class count."""
        self.pe = pe.detach().to(self.pe.device)
        self.nc = int(pe.shape[1])

    def class_embeddings(self, text: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
        return _batch(self.pe if text is None else self.text_embeddings(text), like)

    def predict(self, x: Sequence[torch.Tensor], one2one: bool = False) -> Preds:
        """x = the levels followed by the class embeddings (B, K, embed)."""
        feats, pe = list(x[:-1]), x[-1]
        boxes, classes, contrast = self.part("cv2", one2one), self.part("cv3", one2one), self.part("cv4", one2one)
        if boxes is None or classes is None or contrast is None:
            return {}
        bs = feats[0].shape[0]
        self.nc = int(pe.shape[1])
        self.no = self.nc + 4 * self.reg_max
        out: Preds = {
            "boxes": torch.cat([boxes[i](feats[i]).view(bs, 4 * self.reg_max, -1) for i in range(self.nl)], -1),
            "scores": torch.cat([contrast[i](classes[i](feats[i]), pe).reshape(bs, self.nc, -1) for i in range(self.nl)], -1),
            "feats": feats,
        }
        self.predict_extra(feats, one2one, out)
        return out

    def forward(self, x: list[torch.Tensor], text: torch.Tensor | None = None) -> Any:  # type: ignore[override]
        return super().forward([*x, self.class_embeddings(text, x[0])])

    def visual_embeddings(self, x: list[torch.Tensor], masks: torch.Tensor) -> torch.Tensor:
        """Visual prompt embeddings (B, Q, embed) from prompt masks (B, Q, H, W) at the first level's size."""
        return self.savpe(x, masks)

    @torch.no_grad()
    def init_biases(self) -> None:
        """Box biases 2.0, class-embedding biases 0, contrastive biases log(5 / nc / (640 / stride)^2)."""
        if self.cv2[0][-1].bias.is_meta or self.stride.is_meta:  # shape pass: nothing to initialise
            return
        for one2one in (False, True):
            boxes, classes, contrast = self.part("cv2", one2one), self.part("cv3", one2one), self.part("cv4", one2one)
            if boxes is None or classes is None or contrast is None:
                continue
            for box_seq, cls_seq, head, s in zip(boxes, classes, contrast, self.stride.tolist(), strict=True):
                box_seq[-1].bias.fill_(2.0)
                cls_seq[-1].bias.zero_()
                head.bias.fill_(math.log(5 / self.nc / (640 / s) ** 2))


class YOLOESegment(YOLOEDetect):
    """YOLOEDetect plus `nm` mask coefficients per anchor point (`cv5`) and prototypes (`proto`) from level 0."""

    branch_parts = ("cv2", "cv3", "cv4", "cv5")

    def __init__(
        self,
        nc: int = 80,
        nm: int = 32,
        npr: int = 256,
        embed: int = 512,
        with_bn: bool = True,
        reg_max: int = 16,
        end2end: bool = False,
        ch: Sequence[int] = (),
        legacy: bool = False,
    ) -> None:
        super().__init__(nc, embed, with_bn, reg_max, end2end, ch, legacy)
        self.nm, self.npr = nm, npr
        self.proto: nn.Module = self.make_proto(list(ch))
        c5 = max(ch[0] // 4, nm)
        self.cv5 = nn.ModuleList(nn.Sequential(Conv(c, c5, 3), Conv(c5, c5, 3), nn.Conv2d(c5, nm, 1)) for c in ch)
        if end2end:
            self.one2one_cv5 = copy.deepcopy(self.cv5)

    def make_proto(self, ch: list[int]) -> nn.Module:
        return MaskProto(ch[0], self.npr, self.nm)

    def prototypes(self, x: list[torch.Tensor]) -> torch.Tensor:
        return self.proto(x[0])

    def predict_extra(self, x: Sequence[torch.Tensor], one2one: bool, out: Preds) -> None:
        coeffs = self.level_outputs("cv5", x, one2one, self.nm)
        if coeffs is not None:
            out["mask_coefficient"] = coeffs

    def decode(self, preds: Preds) -> torch.Tensor:
        return torch.cat((super().decode(preds), preds["mask_coefficient"]), 1)

    def forward(self, x: list[torch.Tensor], text: torch.Tensor | None = None) -> Any:  # type: ignore[override]
        out = super().forward(x, text)
        preds = out[1] if isinstance(out, tuple) else out
        proto = self.prototypes(list(x))
        if isinstance(preds, dict):
            if "one2one" in preds:
                preds["one2many"]["proto"] = proto
                preds["one2one"]["proto"] = proto.detach()
            else:
                preds["proto"] = proto
        if self.training:
            return preds
        return (out, proto) if self.export else ((out[0], proto), preds)


class YOLOESegment26(YOLOESegment):
    """YOLOESegment with YOLO26's prototypes from all levels (MaskProto26); its semantic output is not used."""

    def make_proto(self, ch: list[int]) -> nn.Module:
        return MaskProto26(ch, self.npr, self.nm, self.nc)

    def prototypes(self, x: list[torch.Tensor]) -> torch.Tensor:
        out = self.proto([xi.detach() for xi in x])
        return out[0] if isinstance(out, tuple) else out
