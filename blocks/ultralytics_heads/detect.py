"""Anchor-free detection heads of the Ultralytics dialect, with the structure and outputs of ultralytics 8.4.

Heads: `Detect` (YOLOv8/11/12, YOLOv3/5/6/9 'u' forms, YOLO26 with `end2end`), `Segment`, `Pose`, `OBB`,
`v10Detect` and the YOLO26 task forms `Segment26`, `Pose26`, `OBB26`.

Structure. Per input level, `cv2[i]` predicts the box as 4 distance distributions of `reg_max` bins
(DFL; reg_max=1 regresses the 4 distances directly) and `cv3[i]` the `nc` class logits. With `end2end` a
second, one-to-one branch (`one2one_cv2`, `one2one_cv3`, ... created as copies of the one-to-many branch,
so both start from the same weights) is trained next to the one-to-many branch on detached features.
`legacy=True` is the YOLOv8-era class branch (two 3x3 Convs); otherwise two depth-wise + point-wise pairs.
The compiler calls `bind_strides(strides)` once after building: it records the input strides and sets the
bias priors (box 2.0, class log(5 / nc / (640 / stride)^2)), as the package does after its stride probe.

Outputs (A = number of anchor points, the sum of h * w over the levels; B = batch):

- one branch's predictions, a dict: ``boxes`` (B, 4 * reg_max, A) raw distributions, ``scores`` (B, nc, A)
  logits, ``feats`` the input list; Segment adds ``mask_coefficient`` (B, nm, A) and ``proto`` (B, nm, 2H, 2W)
  (Segment26 in training: a tuple (prototypes, semantic logits (B, nc, H, W))); Pose adds ``kpts`` (B, nk, A)
  (Pose26 in training also ``kpts_sigma`` (B, 2 * nkpt, A)); OBB adds ``angle`` (B, ne, A) in radians.
- train mode: that dict; with a one-to-one branch ``{"one2many": dict, "one2one": dict}``.
- eval mode: ``(y, preds)`` with preds as in train mode and y (B, 4 + nc + extra, A): boxes decoded to input
  pixels (xywh; rotated xywh for OBB), class probabilities, then mask coefficients / decoded keypoints / angle.
  Segment returns ``((y, proto), preds)``. The one-to-many branch is decoded unless ``end2end`` is set True
  on the module (the package's default for a freshly built model); then the one-to-one branch gives boxes as
  xyxy and y becomes (B, min(max_det, A), 6 + extra): box, score, class index, extras, top `max_det` first.
- ``export = True``: y alone (Segment: (y, proto)).

Anchor points are cached per input shapes, device and dtype (plain attributes, as in the package), so a
traced parent GraphModule, with the head as a leaf, is unaffected.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .parts import DFL, Conv, DWConv, KeypointFlow, MaskProto, MaskProto26, distances_to_boxes, distances_to_rotated, make_anchor_grid

Preds = dict[str, Any]


def _box_branch(c: int, hidden: int, out: int) -> nn.Sequential:
    return nn.Sequential(Conv(c, hidden, 3), Conv(hidden, hidden, 3), nn.Conv2d(hidden, out, 1))


class Detect(nn.Module):
    """Anchor-free detection head (DFL boxes and class logits per level); see the module docstring."""

    # the branch attributes, one ModuleList each; the one-to-one copies are named "one2one_" + these
    branch_parts: tuple[str, ...] = ("cv2", "cv3")
    task = "detect"  # the ultralytics package's task name for a model with this head
    loss_name = "v8DetectionLoss"  # the package's loss class (ultralytics.utils.loss) for one branch
    stride: torch.Tensor

    def __init__(self, nc: int = 80, reg_max: int = 16, end2end: bool = False, ch: Sequence[int] = (), legacy: bool = False) -> None:
        super().__init__()
        ch = [int(c) for c in ch]
        self.nc = nc
        self.nl = len(ch)
        self.reg_max = reg_max
        self.no = nc + 4 * reg_max  # values per anchor point from the box and class branches
        self.legacy = legacy
        self.export = False
        self.inplace = True  # kept for the YOLOv5/Ultralytics model protocol (the 8.4 heads compute out of place)
        self.xyxy = False  # decode the one-to-many branch to xyxy instead of xywh
        self.max_det = 300
        self.agnostic_nms = False  # end-to-end selection: one class per anchor point before the top-k
        self._select_one2one = False
        self.anchors = torch.empty(0)
        self.strides = torch.empty(0)
        self._grid_key: tuple[Any, ...] | None = None
        self.register_buffer("stride", torch.zeros(self.nl), persistent=False)
        self.stride_values: list[float] = [0.0] * self.nl  # the strides as numbers (set by bind_strides)

        c_box = max(16, ch[0] // 4, 4 * reg_max)
        self.c_cls = max(ch[0], min(nc, 100))
        self.cv2 = nn.ModuleList(_box_branch(c, c_box, 4 * reg_max) for c in ch)
        self.cv3 = self.make_cls_branch(ch)
        self.dfl: nn.Module = DFL(reg_max) if reg_max > 1 else nn.Identity()
        if end2end:
            self.one2one_cv2 = copy.deepcopy(self.cv2)
            self.one2one_cv3 = copy.deepcopy(self.cv3)

    def make_cls_branch(self, ch: Sequence[int]) -> nn.ModuleList:
        """The class branch: per level two stages then a 1x1 conv to nc logits."""
        c3 = self.c_cls
        if self.legacy:
            return nn.ModuleList(_box_branch(c, c3, self.nc) for c in ch)
        return nn.ModuleList(
            nn.Sequential(
                nn.Sequential(DWConv(c, c, 3), Conv(c, c3, 1)), nn.Sequential(DWConv(c3, c3, 3), Conv(c3, c3, 1)), nn.Conv2d(c3, self.nc, 1)
            )
            for c in ch
        )

    # -- branches ----------------------------------------------------------------------------------------

    @property
    def has_one2one(self) -> bool:
        return getattr(self, "one2one_cv2", None) is not None

    def part(self, name: str, one2one: bool) -> Any:
        """A branch part (e.g. "cv2") of the one-to-one or one-to-many branch; None once fusion removed it."""
        return getattr(self, ("one2one_" if one2one else "") + name, None)

    @property
    def end2end(self) -> bool:
        """True when eval decodes the one-to-one branch (set it; or when fusion kept only that branch)."""
        return self.has_one2one and (self._select_one2one or self.cv2 is None)

    @end2end.setter
    def end2end(self, value: bool) -> None:
        self._select_one2one = bool(value)

    # -- set up once the strides are known ------------------------------------------------------------------

    @torch.no_grad()
    def bind_strides(self, strides: Sequence[float]) -> None:
        """Record the input strides and set the bias priors (called once by the compiler after building)."""
        if len(strides) != self.nl:
            raise ValueError(f"{type(self).__name__} has {self.nl} inputs but got {len(strides)} strides")
        self.stride_values = [float(s) for s in strides]
        self.stride = torch.tensor(self.stride_values, dtype=torch.float32, device=self.stride.device)
        self.init_biases()

    @torch.no_grad()
    def init_biases(self) -> None:
        for one2one in (False, True):
            boxes, classes = self.part("cv2", one2one), self.part("cv3", one2one)
            if boxes is None or classes is None:
                continue
            for box_seq, cls_seq, s in zip(boxes, classes, self.stride_values):
                if box_seq[-1].bias.is_meta:
                    return
                box_seq[-1].bias.fill_(2.0)
                cls_seq[-1].bias[: self.nc] = math.log(5 / self.nc / (640 / s) ** 2)

    # -- forward ---------------------------------------------------------------------------------------------

    def predict(self, x: Sequence[torch.Tensor], one2one: bool = False) -> Preds:
        """One branch's raw predictions (see the module docstring); {} when fusion removed that branch."""
        boxes, classes = self.part("cv2", one2one), self.part("cv3", one2one)
        if boxes is None or classes is None:
            return {}
        bs = x[0].shape[0]
        out: Preds = {
            "boxes": torch.cat([boxes[i](x[i]).view(bs, 4 * self.reg_max, -1) for i in range(self.nl)], -1),
            "scores": torch.cat([classes[i](x[i]).view(bs, self.nc, -1) for i in range(self.nl)], -1),
            "feats": x,
        }
        self.predict_extra(x, one2one, out)
        return out

    def predict_extra(self, x: Sequence[torch.Tensor], one2one: bool, out: Preds) -> None:
        """Task outputs added to a branch's predictions (Segment, Pose, OBB)."""

    def level_outputs(self, name: str, x: Sequence[torch.Tensor], one2one: bool, channels: int) -> torch.Tensor | None:
        """Run branch part `name` on every level and join the levels: (B, channels, A); None when removed."""
        part = self.part(name, one2one)
        if part is None:
            return None
        bs = x[0].shape[0]
        return torch.cat([part[i](x[i]).view(bs, channels, -1) for i in range(self.nl)], 2)

    def forward(self, x: list[torch.Tensor]) -> Any:
        preds: Preds = self.predict(x)
        if self.has_one2one:
            x_o2o = [xi.detach() for xi in x] if self.training else x
            preds = {"one2many": preds, "one2one": self.predict(x_o2o, one2one=True)}
        if self.training:
            return preds
        chosen = preds["one2one" if self.end2end else "one2many"] if "one2one" in preds else preds
        y = self.decode(chosen)
        if self.end2end:
            y = self.select_topk(y.permute(0, 2, 1))
        return y if self.exporting() else (y, preds)

    def exporting(self) -> bool:
        """Whether eval returns the export form (y alone): `export` is set, or an ONNX export or a trace runs
        (the package's exporter switches only its own heads, so a yamlnet head switches itself)."""
        return bool(self.export) or torch.onnx.is_in_onnx_export() or torch.jit.is_tracing()

    # -- eval decoding -----------------------------------------------------------------------------------------

    def anchor_grid(self, feats: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Anchor points (2, A) and their strides (1, A) for these feature maps, cached per shapes/device/dtype.

        While a tracer or compiler runs (torch.jit.trace, ONNX, torch.export, torch.compile) they are computed
        from the traced shapes and not cached, so sizes stay symbolic and no constant is baked in."""
        if torch.jit.is_tracing() or torch.compiler.is_compiling():
            return make_anchor_grid(feats, self.stride_values)
        key = (tuple(tuple(f.shape[1:]) for f in feats), feats[0].device, feats[0].dtype, tuple(self.stride_values))
        if key != self._grid_key:
            self.anchors, self.strides = make_anchor_grid(feats, self.stride_values)
            self._grid_key = key
        return self.anchors, self.strides

    def decode_boxes(self, preds: Preds) -> torch.Tensor:
        """Boxes in input pixels, (B, 4, A): xywh, or xyxy for the one-to-one branch (or `xyxy=True`)."""
        points, strides = self.anchor_grid(preds["feats"])
        dist = self.dfl(preds["boxes"])
        return distances_to_boxes(dist, points.unsqueeze(0), xywh=not self.end2end and not self.xyxy) * strides

    def decode(self, preds: Preds) -> torch.Tensor:
        """(B, 4 + nc + extra, A): decoded boxes, class probabilities, then the task's extras."""
        return torch.cat((self.decode_boxes(preds), preds["scores"].sigmoid()), 1)

    def select_topk(self, y: torch.Tensor) -> torch.Tensor:
        """End-to-end selection: from (B, A, 4 + nc + extra) keep the top min(max_det, A) (anchor, class) scores,
        giving (B, k, 6 + extra): box, score, class index (float), extras."""
        extra = y.shape[-1] - 4 - self.nc
        boxes, scores, rest = y.split((4, self.nc, extra), -1)
        k = min(self.max_det, scores.shape[1])

        def take(t: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
            return t.gather(1, idx.unsqueeze(-1).expand(-1, -1, t.shape[-1]))

        if self.agnostic_nms:
            best, label = scores.max(-1)
            conf, anchor = best.topk(k, 1)
            cls = label.gather(1, anchor).unsqueeze(-1).float()
        else:
            anchor0 = scores.max(-1)[0].topk(k, 1)[1]  # the k anchor points with the best class score
            conf, flat = take(scores, anchor0).flatten(1).topk(k, 1)  # the best k (anchor, class) pairs among them
            cls = (flat % self.nc).unsqueeze(-1).float()
            anchor = anchor0.gather(1, flat // self.nc)
        parts = [take(boxes, anchor), conf.unsqueeze(-1), cls]
        if extra:
            parts.append(take(rest, anchor))
        return torch.cat(parts, -1)

    # -- training with the ultralytics package --------------------------------------------------------------

    def criterion(self, model: nn.Module) -> Any:
        """The ultralytics package's loss for a model with this head: `loss_name` from ultralytics.utils.loss,
        wrapped in its E2ELoss when the head has a one-to-one branch, as the package's own models choose. The
        package reads `model.args` (hyperparameters), `model.model[-1]` (this head: stride, nc, reg_max and the
        task's sizes) and `model.class_weights`. Imported here: the package is needed only to train with it."""
        if getattr(self, "text_io", None):  # YOLO-World/YOLOE heads: the package trains them with text embeddings
            raise NotImplementedError(f"training {type(self).__name__} with the ultralytics package is not supported by yamlnet (text-guided heads)")
        from ultralytics.utils import loss as losses

        one_branch = getattr(losses, self.loss_name)
        return losses.E2ELoss(model, one_branch) if self.has_one2one else one_branch(model)

    # -- deployment -----------------------------------------------------------------------------------------

    def fuse(self) -> Detect:
        """Deploy form: fold Conv+BatchNorm pairs and drop the branch eval does not use."""
        from yamlnet.compile.fuse import fuse_modules

        keep_one2one = self.end2end
        for name in self.branch_parts:
            if getattr(self, "one2one_" + name, None) is not None:
                setattr(self, name if keep_one2one else "one2one_" + name, None)
        fuse_modules(self)
        return self


class Segment(Detect):
    """Detect plus `nm` mask coefficients per anchor point (`cv4`) and mask prototypes (`proto`) from level 0."""

    branch_parts = ("cv2", "cv3", "cv4")
    task = "segment"
    loss_name = "v8SegmentationLoss"

    def __init__(
        self, nc: int = 80, nm: int = 32, npr: int = 256, reg_max: int = 16, end2end: bool = False, ch: Sequence[int] = (), legacy: bool = False
    ) -> None:
        super().__init__(nc, reg_max, end2end, ch, legacy)
        self.nm = nm
        self.npr = npr
        self.proto: nn.Module = self.make_proto(list(ch))
        c4 = max(ch[0] // 4, nm)
        self.cv4 = nn.ModuleList(_box_branch(c, c4, nm) for c in ch)
        if end2end:
            self.one2one_cv4 = copy.deepcopy(self.cv4)

    def make_proto(self, ch: list[int]) -> nn.Module:
        return MaskProto(ch[0], self.npr, self.nm)

    def prototypes(self, x: list[torch.Tensor]) -> Any:
        return self.proto(x[0])

    def predict_extra(self, x: Sequence[torch.Tensor], one2one: bool, out: Preds) -> None:
        coeffs = self.level_outputs("cv4", x, one2one, self.nm)
        if coeffs is not None:
            out["mask_coefficient"] = coeffs

    def decode(self, preds: Preds) -> torch.Tensor:
        return torch.cat((super().decode(preds), preds["mask_coefficient"]), 1)

    def forward(self, x: list[torch.Tensor]) -> Any:
        out = super().forward(x)
        preds = out[1] if isinstance(out, tuple) else out
        proto = self.prototypes(x)
        if isinstance(preds, dict):
            if "one2one" in preds:
                preds["one2many"]["proto"] = proto
                preds["one2one"]["proto"] = tuple(p.detach() for p in proto) if isinstance(proto, tuple) else proto.detach()
            else:
                preds["proto"] = proto
        if self.training:
            return preds
        return (out, proto) if self.exporting() else ((out[0], proto), preds)


class Segment26(Segment):
    """YOLO26 Segment: prototypes from all levels (MaskProto26), with a semantic auxiliary output in training."""

    loss_name = "SegmentLoss26"

    def make_proto(self, ch: list[int]) -> nn.Module:
        return MaskProto26(ch, self.npr, self.nm, self.nc)

    def prototypes(self, x: list[torch.Tensor]) -> Any:
        return self.proto(x)


class OBB(Detect):
    """Detect plus `ne` rotation angles per anchor point (`cv4`); boxes decode as rotated xywh."""

    branch_parts = ("cv2", "cv3", "cv4")
    task = "obb"
    loss_name = "v8OBBLoss"

    def __init__(self, nc: int = 80, ne: int = 1, reg_max: int = 16, end2end: bool = False, ch: Sequence[int] = (), legacy: bool = False) -> None:
        super().__init__(nc, reg_max, end2end, ch, legacy)
        self.ne = ne
        c4 = max(ch[0] // 4, ne)
        self.cv4 = nn.ModuleList(_box_branch(c, c4, ne) for c in ch)
        if end2end:
            self.one2one_cv4 = copy.deepcopy(self.cv4)

    def angle_from_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """OBB maps logits into [-pi/4, 3pi/4)."""
        return (logits.sigmoid() - 0.25) * math.pi

    def predict_extra(self, x: Sequence[torch.Tensor], one2one: bool, out: Preds) -> None:
        logits = self.level_outputs("cv4", x, one2one, self.ne)
        if logits is not None:
            out["angle"] = self.angle_from_logits(logits)

    def decode_boxes(self, preds: Preds) -> torch.Tensor:
        points, strides = self.anchor_grid(preds["feats"])
        return distances_to_rotated(self.dfl(preds["boxes"]), preds["angle"], points.unsqueeze(0)) * strides

    def decode(self, preds: Preds) -> torch.Tensor:
        return torch.cat((super().decode(preds), preds["angle"]), 1)


class OBB26(OBB):
    """YOLO26 OBB: the angle is the raw output (no sigmoid mapping)."""

    def angle_from_logits(self, logits: torch.Tensor) -> torch.Tensor:
        return logits


class Pose(Detect):
    """Detect plus keypoints (`cv4`): kpt_shape = [keypoints, dims], dims 2 (x, y) or 3 (x, y, visibility).
    kpt_shape is a list, as in the package (its pose loss compares it with [17, 3] to pick COCO's OKS sigmas)."""

    branch_parts = ("cv2", "cv3", "cv4")
    task = "pose"
    loss_name = "v8PoseLoss"

    def __init__(
        self, nc: int = 80, kpt_shape: Sequence[int] = (17, 3), reg_max: int = 16, end2end: bool = False, ch: Sequence[int] = (), legacy: bool = False
    ) -> None:
        super().__init__(nc, reg_max, end2end, ch, legacy)
        self.kpt_shape = [int(v) for v in kpt_shape]
        self.nk = self.kpt_shape[0] * self.kpt_shape[1]
        self.cv4 = self.make_kpt_branch(list(ch))
        if end2end:
            self.one2one_cv4 = copy.deepcopy(self.cv4)

    def make_kpt_branch(self, ch: list[int]) -> nn.ModuleList:
        c4 = max(ch[0] // 4, self.nk)
        return nn.ModuleList(_box_branch(c, c4, self.nk) for c in ch)

    def predict_extra(self, x: Sequence[torch.Tensor], one2one: bool, out: Preds) -> None:
        kpts = self.level_outputs("cv4", x, one2one, self.nk)
        if kpts is not None:
            out["kpts"] = kpts

    # keypoint (x, y) = (raw * 2 + anchor - 0.5) * stride for Pose; Pose26 uses (raw + anchor) * stride
    def kpt_xy(self, raw: torch.Tensor, points: torch.Tensor, strides: torch.Tensor) -> torch.Tensor:
        return (raw * 2.0 + (points - 0.5)) * strides

    def decode_keypoints(self, kpts: torch.Tensor, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """Raw keypoints (B, nk, A) to input pixels (x, y) and visibility probability, same layout."""
        points, strides = self.anchor_grid(feats)
        n, dims = self.kpt_shape
        bs = kpts.shape[0]
        y = kpts.view(bs, n, dims, -1)
        xy = torch.stack((self.kpt_xy(y[:, :, 0], points[0], strides), self.kpt_xy(y[:, :, 1], points[1], strides)), 2)
        if dims == 3:
            xy = torch.cat((xy, y[:, :, 2:3].sigmoid()), 2)
        return xy.view(bs, self.nk, -1)

    def decode(self, preds: Preds) -> torch.Tensor:
        return torch.cat((super().decode(preds), self.decode_keypoints(preds["kpts"], preds["feats"])), 1)


class Pose26(Pose):
    """YOLO26 Pose: a shared keypoint trunk (`cv4`) with keypoint (`cv4_kpts`) and uncertainty (`cv4_sigma`)
    outputs, and a RealNVP flow (`flow_model`) for the keypoint loss; keypoints decode as (raw + anchor) * stride."""

    branch_parts = ("cv2", "cv3", "cv4", "cv4_kpts", "cv4_sigma")
    loss_name = "PoseLoss26"

    def __init__(
        self, nc: int = 80, kpt_shape: Sequence[int] = (17, 3), reg_max: int = 16, end2end: bool = False, ch: Sequence[int] = (), legacy: bool = False
    ) -> None:
        super().__init__(nc, kpt_shape, reg_max, end2end, ch, legacy)
        self.flow_model: nn.Module | None = KeypointFlow()
        c4 = self._c4
        self.cv4_kpts = nn.ModuleList(nn.Conv2d(c4, self.nk, 1) for _ in ch)
        self.nk_sigma = 2 * self.kpt_shape[0]
        self.cv4_sigma = nn.ModuleList(nn.Conv2d(c4, self.nk_sigma, 1) for _ in ch)
        if end2end:
            self.one2one_cv4_kpts = copy.deepcopy(self.cv4_kpts)
            self.one2one_cv4_sigma = copy.deepcopy(self.cv4_sigma)

    def make_kpt_branch(self, ch: list[int]) -> nn.ModuleList:
        n, dims = self.kpt_shape
        self._c4 = max(ch[0] // 4, n * (dims + 2))
        return nn.ModuleList(nn.Sequential(Conv(c, self._c4, 3), Conv(self._c4, self._c4, 3)) for c in ch)

    def predict_extra(self, x: Sequence[torch.Tensor], one2one: bool, out: Preds) -> None:
        trunk, kpts = self.part("cv4", one2one), self.part("cv4_kpts", one2one)
        if trunk is None or kpts is None:
            return
        bs = x[0].shape[0]
        feats = [trunk[i](x[i]) for i in range(self.nl)]
        out["kpts"] = torch.cat([kpts[i](feats[i]).view(bs, self.nk, -1) for i in range(self.nl)], 2)
        sigma = self.part("cv4_sigma", one2one)
        if self.training and sigma is not None:
            out["kpts_sigma"] = torch.cat([sigma[i](feats[i]).view(bs, self.nk_sigma, -1) for i in range(self.nl)], 2)

    def kpt_xy(self, raw: torch.Tensor, points: torch.Tensor, strides: torch.Tensor) -> torch.Tensor:
        return (raw + points) * strides

    def fuse(self) -> Pose26:
        keep_one2one = self.end2end
        super().fuse()
        self.flow_model = None
        setattr(self, "one2one_cv4_sigma" if keep_one2one else "cv4_sigma", None)
        return self


class v10Detect(Detect):  # noqa: N801 - the name the YAML files use
    """YOLOv10 head: Detect with a one-to-one branch always, and a light class branch (depth-wise 3x3 Conv with
    groups = channels, then a 1x1 Conv, twice). reg_max is 16; the legacy flag does not apply."""

    def __init__(self, nc: int = 80, ch: Sequence[int] = ()) -> None:
        super().__init__(nc, 16, True, ch)

    def make_cls_branch(self, ch: Sequence[int]) -> nn.ModuleList:
        c3 = self.c_cls
        return nn.ModuleList(
            nn.Sequential(
                nn.Sequential(Conv(c, c, 3, g=c), Conv(c, c3, 1)), nn.Sequential(Conv(c3, c3, 3, g=c3), Conv(c3, c3, 1)), nn.Conv2d(c3, self.nc, 1)
            )
            for c in ch
        )
