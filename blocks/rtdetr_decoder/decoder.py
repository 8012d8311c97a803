"""RT-DETR's detection head: encoder query selection plus a deformable-attention transformer decoder.

Written from the published RT-DETR / Deformable-DETR designs and checked against the measured behaviour of
the Ultralytics 8.4 head (state_dict keys and shapes, parameter counts, eval outputs for identical weights).
Submodule attribute names equal Ultralytics' so its checkpoints load unchanged.

Forward (eval): `(detections, raw)` where `detections` is (B, nq, 6) = [cx, cy, w, h, score, class] of the
best nq (query, class) pairs and `raw` = (dec_boxes (1, B, nq, 4), dec_logits (1, B, nq, nc),
enc_boxes (B, nq, 4), enc_logits (B, nq, nc), None). Train: `raw` alone, with one entry per decoder layer
(ndl, B, nq, ...). Denoising queries need ground truth, which a plain forward does not have; the last
element (the denoising metadata) is therefore None, as in Ultralytics when no targets are given.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-3  # what a built Ultralytics model carries
BN_MOMENTUM = 0.03


def _logit(p: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """log(p / (1 - p)) with p clamped to [0, 1] and both terms kept at least eps."""
    p = p.clamp(0.0, 1.0)
    return torch.log(p.clamp(min=eps) / (1.0 - p).clamp(min=eps))


def prior_logit(prob: float = 0.01) -> float:
    """The bias that makes sigmoid(bias) == prob."""
    return float(-math.log((1.0 - prob) / prob))


class MLP(nn.Module):
    """`num_layers` Linear layers with ReLU between them (none after the last)."""

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int) -> None:
        super().__init__()
        self.num_layers = num_layers
        dims_in = [input_dim] + [hidden_dim] * (num_layers - 1)
        dims_out = [hidden_dim] * (num_layers - 1) + [output_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims_in, dims_out, strict=True))
        self.act = nn.ReLU()
        self.out_norm = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.layers) - 1
        for i, lin in enumerate(self.layers):
            x = lin(x)
            if i < last:
                x = self.act(x)
        return self.out_norm(x)


def sample_levels(value: torch.Tensor, shapes: list[tuple[int, int]], where: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of each head's value maps at `where`, summed with `weight`.

    value (B, S, H, D) over the flattened levels; where (B, Q, H, L*P, 2) in [0, 1] image coordinates;
    weight (B, Q, H, L*P). Returns (B, Q, H*D).
    """
    b, _, heads, d = value.shape
    q, total = where.shape[1], where.shape[3]
    per_level = total // len(shapes)
    maps = value.permute(0, 2, 3, 1).reshape(b * heads, d, -1).split([h * w for h, w in shapes], dim=-1)
    grid = (where * 2.0 - 1.0).transpose(1, 2).reshape(b * heads, q, total, 2)
    picked = []
    for lvl, (h, w) in enumerate(shapes):
        g = grid[:, :, lvl * per_level : (lvl + 1) * per_level]
        picked.append(F.grid_sample(maps[lvl].reshape(b * heads, d, h, w), g, mode="bilinear", padding_mode="zeros", align_corners=False))
    samples = torch.cat(picked, dim=-1)  # (B*H, D, Q, L*P)
    w_ = weight.transpose(1, 2).reshape(b * heads, 1, q, total)
    return (samples * w_).sum(-1).view(b, heads * d, q).transpose(1, 2).contiguous()


class DeformableAttention(nn.Module):
    """Multi-scale deformable attention: each query samples `n_points` locations per head and level."""

    def __init__(self, d_model: int = 256, n_levels: int = 3, n_heads: int = 8, n_points: int = 4) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"hidden size {d_model} is not divisible by the {n_heads} attention heads")
        self.d_model, self.n_levels, self.n_heads, self.n_points = d_model, n_levels, n_heads, n_points
        self.sampling_offsets = nn.Linear(d_model, n_heads * n_levels * n_points * 2)
        self.attention_weights = nn.Linear(d_model, n_heads * n_levels * n_points)
        self.value_proj = nn.Linear(d_model, d_model)
        self.output_proj = nn.Linear(d_model, d_model)
        self.init_weights()

    @torch.no_grad()
    def init_weights(self) -> None:
        """Offsets start as rays at evenly spaced angles (the k-th point k steps out); uniform attention."""
        nn.init.zeros_(self.sampling_offsets.weight)
        angle = torch.arange(self.n_heads, dtype=torch.float32) * (2.0 * math.pi / self.n_heads)
        ray = torch.stack([angle.cos(), angle.sin()], -1)
        ray = ray / ray.abs().max(-1, keepdim=True).values
        steps = torch.arange(1, self.n_points + 1, dtype=torch.float32).view(1, 1, -1, 1)
        bias = ray.view(self.n_heads, 1, 1, 2) * steps
        self.sampling_offsets.bias.copy_(bias.expand(self.n_heads, self.n_levels, self.n_points, 2).reshape(-1))
        nn.init.zeros_(self.attention_weights.weight)
        nn.init.zeros_(self.attention_weights.bias)
        nn.init.xavier_uniform_(self.value_proj.weight)
        nn.init.zeros_(self.value_proj.bias)
        nn.init.xavier_uniform_(self.output_proj.weight)
        nn.init.zeros_(self.output_proj.bias)

    def forward(
        self,
        query: torch.Tensor,
        boxes: torch.Tensor,
        value: torch.Tensor,
        shapes: list[tuple[int, int]],
        value_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """query (B, Q, C); boxes (B, Q, 1, 4) as cx, cy, w, h in [0, 1] (or (B, Q, 1, 2) points); value (B, S, C)."""
        b, q = query.shape[:2]
        v = self.value_proj(value)
        if value_mask is not None:
            v = v.masked_fill(value_mask[..., None], 0.0)
        v = v.view(b, v.shape[1], self.n_heads, self.d_model // self.n_heads)
        total = self.n_levels * self.n_points
        offsets = self.sampling_offsets(query).view(b, q, self.n_heads, total, 2)
        weight = self.attention_weights(query).view(b, q, self.n_heads, total).softmax(-1)
        if boxes.shape[-1] == 2:  # points: offsets are in pixels of each level
            size = torch.as_tensor(shapes, dtype=query.dtype, device=query.device).flip(-1)
            size = size[:, None, :].expand(-1, self.n_points, -1).reshape(total, 2)
            where = boxes[:, :, None] + offsets / size
        elif boxes.shape[-1] == 4:  # boxes: offsets are fractions of half the box size
            where = boxes[:, :, None, :, :2] + offsets / self.n_points * boxes[:, :, None, :, 2:] * 0.5
        else:
            raise ValueError(f"reference boxes end in 2 or 4 values, not {boxes.shape[-1]}")
        return self.output_proj(sample_levels(v, shapes, where, weight))


class DecoderLayer(nn.Module):
    """Self-attention among queries, deformable cross-attention into the image features, feed-forward (post-norm)."""

    def __init__(
        self,
        d_model: int = 256,
        n_heads: int = 8,
        d_ffn: int = 1024,
        dropout: float = 0.0,
        act: nn.Module | None = None,
        n_levels: int = 3,
        n_points: int = 4,
    ) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.cross_attn = DeformableAttention(d_model, n_levels, n_heads, n_points)
        self.dropout2 = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(d_model)
        self.linear1 = nn.Linear(d_model, d_ffn)
        self.act = nn.ReLU() if act is None else act
        self.dropout3 = nn.Dropout(dropout)
        self.linear2 = nn.Linear(d_ffn, d_model)
        self.dropout4 = nn.Dropout(dropout)
        self.norm3 = nn.LayerNorm(d_model)

    def forward(
        self,
        tgt: torch.Tensor,
        boxes: torch.Tensor,
        memory: torch.Tensor,
        shapes: list[tuple[int, int]],
        padding_mask: torch.Tensor | None = None,
        attn_mask: torch.Tensor | None = None,
        pos: torch.Tensor | None = None,
    ) -> torch.Tensor:
        qk = tgt if pos is None else tgt + pos
        seq = (qk.transpose(0, 1), qk.transpose(0, 1), tgt.transpose(0, 1))  # nn.MultiheadAttention is sequence-first
        attended = self.self_attn(*seq, attn_mask=attn_mask)[0].transpose(0, 1)
        tgt = self.norm1(tgt + self.dropout1(attended))
        q = tgt if pos is None else tgt + pos
        tgt = self.norm2(tgt + self.dropout2(self.cross_attn(q, boxes.unsqueeze(2), memory, shapes, padding_mask)))
        ffn = self.linear2(self.dropout3(self.act(self.linear1(tgt))))
        return self.norm3(tgt + self.dropout4(ffn))


class DeformableDecoder(nn.Module):
    """`num_layers` copies of a decoder layer; each refines the reference boxes (iterative box refinement)."""

    def __init__(self, hidden_dim: int, layer: DecoderLayer, num_layers: int, eval_idx: int = -1) -> None:
        super().__init__()
        import copy

        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(num_layers))
        self.num_layers = num_layers
        self.hidden_dim = hidden_dim
        self.eval_idx = eval_idx if eval_idx >= 0 else num_layers + eval_idx

    def forward(
        self,
        tgt: torch.Tensor,
        ref_logits: torch.Tensor,
        memory: torch.Tensor,
        shapes: list[tuple[int, int]],
        box_heads: nn.ModuleList,
        score_heads: nn.ModuleList,
        pos_head: nn.Module,
        attn_mask: torch.Tensor | None = None,
        padding_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        boxes_out: list[torch.Tensor] = []
        logits_out: list[torch.Tensor] = []
        ref = ref_logits.sigmoid()
        previous: torch.Tensor | None = None
        for i, layer in enumerate(self.layers):
            tgt = layer(tgt, ref, memory, shapes, padding_mask, attn_mask, pos_head(ref))
            delta = box_heads[i](tgt)
            refined = torch.sigmoid(delta + _logit(ref))
            if self.training:
                logits_out.append(score_heads[i](tgt))
                boxes_out.append(refined if previous is None else torch.sigmoid(delta + _logit(previous)))
            elif i == self.eval_idx:
                logits_out.append(score_heads[i](tgt))
                boxes_out.append(refined)
                break
            previous = refined
            ref = refined.detach() if self.training else refined
        return torch.stack(boxes_out), torch.stack(logits_out)


def make_anchors(shapes: list[tuple[int, int]], like: torch.Tensor, grid_size: float = 0.05, eps: float = 1e-2) -> tuple[torch.Tensor, torch.Tensor]:
    """One box per feature-map cell (centre, size grid_size * 2**level) in logit space, and which lie well inside.

    Returns (anchors (1, S, 4) with +inf where not valid, valid (1, S, 1) bool).
    """
    boxes = []
    for lvl, (h, w) in enumerate(shapes):
        ys = torch.arange(h, device=like.device).to(like.dtype)
        xs = torch.arange(w, device=like.device).to(like.dtype)
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        centre = torch.stack([(gx + 0.5) / w, (gy + 0.5) / h], -1)
        size = torch.full_like(centre, grid_size * (2.0**lvl))
        boxes.append(torch.cat([centre, size], -1).reshape(1, h * w, 4))
    a = torch.cat(boxes, 1)
    valid = ((a > eps) & (a < 1 - eps)).all(-1, keepdim=True)
    a = torch.log(a / (1 - a)).masked_fill(~valid, float("inf"))
    return a, valid


class RTDETRDecoder(nn.Module):
    """RT-DETR head over several feature levels (Ultralytics' `RTDETRDecoder`)."""

    max_det = 300

    def __init__(
        self,
        nc: int = 80,
        ch: list[int] | tuple[int, ...] = (512, 1024, 2048),
        hd: int = 256,
        nq: int = 300,
        ndp: int = 4,
        nh: int = 8,
        ndl: int = 6,
        d_ffn: int = 1024,
        dropout: float = 0.0,
        act: nn.Module | None = None,
        eval_idx: int = -1,
        nd: int = 100,
        label_noise_ratio: float = 0.5,
        box_noise_scale: float = 1.0,
        learnt_init_query: bool = False,
    ) -> None:
        super().__init__()
        self.hidden_dim, self.nhead, self.nl, self.nc = hd, nh, len(ch), nc
        self.num_queries, self.num_decoder_layers = nq, ndl
        self.num_denoising, self.label_noise_ratio, self.box_noise_scale = nd, label_noise_ratio, box_noise_scale
        self.learnt_init_query = learnt_init_query
        self.in_strides: list[float] = []
        self.model_strides = [32.0]
        self.input_proj = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, hd, 1, bias=False), nn.BatchNorm2d(hd, eps=BN_EPS, momentum=BN_MOMENTUM)) for c in ch
        )
        layer = DecoderLayer(hd, nh, d_ffn, dropout, nn.ReLU() if act is None else act, self.nl, ndp)
        self.decoder = DeformableDecoder(hd, layer, ndl, eval_idx)
        self.denoising_class_embed = nn.Embedding(nc, hd)
        if learnt_init_query:
            self.tgt_embed = nn.Embedding(nq, hd)
        self.query_pos_head = MLP(4, 2 * hd, hd, 2)
        self.enc_output = nn.Sequential(nn.Linear(hd, hd), nn.LayerNorm(hd))
        self.enc_score_head = nn.Linear(hd, nc)
        self.enc_bbox_head = MLP(hd, hd, 4, 3)
        self.dec_score_head = nn.ModuleList(nn.Linear(hd, nc) for _ in range(ndl))
        self.dec_bbox_head = nn.ModuleList(MLP(hd, hd, 4, 3) for _ in range(ndl))
        self.init_weights()

    @torch.no_grad()
    def init_weights(self) -> None:
        """Class biases at a 1% prior (scaled by nc / 80), box deltas zero, Xavier for projections."""
        cls_bias = prior_logit(0.01) / 80 * self.nc
        nn.init.constant_(self.enc_score_head.bias, cls_bias)
        for score, box in [(None, self.enc_bbox_head), *zip(self.dec_score_head, self.dec_bbox_head, strict=True)]:
            if score is not None:
                nn.init.constant_(score.bias, cls_bias)
            nn.init.zeros_(box.layers[-1].weight)
            nn.init.zeros_(box.layers[-1].bias)
        nn.init.xavier_uniform_(self.enc_output[0].weight)
        if self.learnt_init_query:
            nn.init.xavier_uniform_(self.tgt_embed.weight)
        nn.init.xavier_uniform_(self.query_pos_head.layers[0].weight)
        nn.init.xavier_uniform_(self.query_pos_head.layers[1].weight)
        for proj in self.input_proj:
            nn.init.xavier_uniform_(proj[0].weight)

    def bind_strides(self, strides: list[float]) -> None:
        """Record the input strides; the model reports Ultralytics' fixed stride 32 for RT-DETR models, whatever
        the input levels (`model_strides`, read by the compiler)."""
        if len(strides) != self.nl:
            raise ValueError(f"RTDETRDecoder has {self.nl} inputs but got {len(strides)} strides")
        self.in_strides = [float(s) for s in strides]
        self.model_strides = [32.0]

    def _memory(self, xs: list[torch.Tensor]) -> tuple[torch.Tensor, list[tuple[int, int]]]:
        flat, shapes = [], []
        for proj, x in zip(self.input_proj, xs, strict=True):
            y = proj(x)
            shapes.append((int(y.shape[2]), int(y.shape[3])))
            flat.append(y.flatten(2).transpose(1, 2))
        return torch.cat(flat, 1), shapes

    def _select_queries(self, memory: torch.Tensor, shapes: list[tuple[int, int]]) -> tuple[torch.Tensor, ...]:
        """The top-k encoder cells by best class logit become the queries and their initial boxes."""
        b = memory.shape[0]
        anchors, valid = make_anchors(shapes, memory)
        enc = self.enc_output(valid * memory)
        enc_logits = self.enc_score_head(enc)
        k = min(self.num_queries, enc_logits.shape[1])
        top = enc_logits.max(-1).values.topk(k, dim=1).indices  # (B, k)
        feat = enc.gather(1, top[..., None].expand(-1, -1, enc.shape[-1]))
        ref_logits = self.enc_bbox_head(feat) + anchors.expand(b, -1, -1).gather(1, top[..., None].expand(-1, -1, 4))
        enc_boxes = ref_logits.sigmoid()
        enc_scores = enc_logits.gather(1, top[..., None].expand(-1, -1, enc_logits.shape[-1]))
        tgt = self.tgt_embed.weight[:k].unsqueeze(0).expand(b, -1, -1) if self.learnt_init_query else feat
        if self.training:
            ref_logits = ref_logits.detach()
            if not self.learnt_init_query:
                tgt = tgt.detach()
        return tgt, ref_logits, enc_boxes, enc_scores

    def forward(self, x: list[torch.Tensor]) -> tuple:
        memory, shapes = self._memory(list(x))
        tgt, ref_logits, enc_boxes, enc_scores = self._select_queries(memory, shapes)
        dec_boxes, dec_logits = self.decoder(tgt, ref_logits, memory, shapes, self.dec_bbox_head, self.dec_score_head, self.query_pos_head)
        if self.training:
            dec_boxes = dec_boxes + 0 * self.denoising_class_embed.weight.sum()  # keeps the embedding in the graph (DDP)
            return dec_boxes, dec_logits, enc_boxes, enc_scores, None
        raw = (dec_boxes, dec_logits, enc_boxes, enc_scores, None)
        return self.detections(dec_boxes[-1], dec_logits[-1].sigmoid()), raw

    def detections(self, boxes: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """The best nq (query, class) pairs: (B, k, 6) = [cx, cy, w, h, score, class index]."""
        k = min(self.num_queries, scores.shape[1] * self.nc)
        best, flat = scores.flatten(1).topk(k, dim=1)
        query = torch.div(flat, self.nc, rounding_mode="floor")
        picked = boxes.gather(1, query[..., None].expand(-1, -1, 4))
        return torch.cat([picked, best[..., None], (flat - query * self.nc)[..., None].to(boxes.dtype)], -1)
