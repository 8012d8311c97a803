"""RTDETRDecoder (Ultralytics dialect): structure and counts measured on ultralytics 8.4.190, initialisation,
anchors, the deformable sampling against a direct bilinear computation, eval/train outputs, and a compiled spec."""

from __future__ import annotations

import math

import pytest
import torch

import yamlnet
from blocks.rtdetr_decoder.decoder import DeformableAttention, RTDETRDecoder, make_anchors, sample_levels


def _count(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize(
    ("nc", "ch", "kw", "params", "modules"),
    [
        (80, (256, 256, 256), {}, 7_466_252, 189),  # the rtdetr-l/x head
        (7, (64, 128, 256), {"nq": 50, "ndl": 3, "eval_idx": 1}, 3_843_468, 111),
        (3, (32, 48), {"learnt_init_query": True, "hd": 64, "nh": 4, "ndp": 2}, 1_063_121, 187),
    ],
)
def test_parameter_and_module_counts_equal_the_package(nc: int, ch: tuple[int, ...], kw: dict, params: int, modules: int) -> None:
    m = RTDETRDecoder(nc, ch, **kw)
    assert _count(m) == params
    assert len(list(m.modules())) == modules


def test_state_dict_keys_follow_the_package() -> None:
    sd = RTDETRDecoder(80, (256, 256, 256)).state_dict()
    assert len(sd) == 215  # 3 x 6 input_proj, 6 x 22 decoder layers, 1 + 4 + 4 + 2 + 6 encoder-side, 6 x 2 + 6 x 6 heads
    assert tuple(sd["input_proj.2.0.weight"].shape) == (256, 256, 1, 1)
    assert tuple(sd["decoder.layers.5.self_attn.in_proj_weight"].shape) == (768, 256)
    assert tuple(sd["decoder.layers.0.cross_attn.sampling_offsets.weight"].shape) == (8 * 3 * 4 * 2, 256)
    assert tuple(sd["decoder.layers.0.cross_attn.attention_weights.weight"].shape) == (8 * 3 * 4, 256)
    assert tuple(sd["denoising_class_embed.weight"].shape) == (80, 256)
    assert tuple(sd["query_pos_head.layers.0.weight"].shape) == (512, 4)
    assert tuple(sd["enc_bbox_head.layers.2.weight"].shape) == (4, 256)
    assert tuple(sd["dec_bbox_head.5.layers.2.bias"].shape) == (4,)
    assert list(sd)[0] == "input_proj.0.0.weight" and list(sd)[-1] == "dec_bbox_head.5.layers.2.bias"


def test_initialisation() -> None:
    m = RTDETRDecoder(20, (32, 32, 32))
    prior = math.log(0.01 / 0.99) / 80 * 20
    assert torch.allclose(m.enc_score_head.bias, torch.full((20,), prior))
    assert all(torch.allclose(h.bias, torch.full((20,), prior)) for h in m.dec_score_head)
    assert all(float(h.layers[-1].weight.detach().abs().sum()) == 0.0 for h in [m.enc_bbox_head, *m.dec_bbox_head])
    attn = m.decoder.layers[0].cross_attn
    assert float(attn.sampling_offsets.weight.detach().abs().sum()) == 0.0 and float(attn.attention_weights.bias.detach().abs().sum()) == 0.0
    rays = attn.sampling_offsets.bias.detach().view(8, 3, 4, 2)
    assert rays[0, 1, 2].tolist() == [3.0, 0.0]  # head 0 points along +x, point k at k + 1
    assert torch.allclose(rays[1, 0, 1], torch.tensor([2.0, 2.0]))  # head 1 at 45 degrees, scaled to the unit square
    assert torch.allclose(rays[2, 2, 0], torch.tensor([0.0, 1.0]), atol=1e-6)
    assert torch.allclose(rays[4, 0, 3], torch.tensor([-4.0, 0.0]), atol=1e-6)


def test_anchors_in_logit_space_with_edges_masked() -> None:
    a, valid = make_anchors([(4, 4), (2, 2)], torch.empty(0))
    assert a.shape == (1, 20, 4) and valid.shape == (1, 20, 1)
    assert torch.allclose(a[0, 0], torch.logit(torch.tensor([0.125, 0.125, 0.05, 0.05])))
    assert torch.allclose(a[0, 16], torch.logit(torch.tensor([0.25, 0.25, 0.1, 0.1])))
    assert bool(valid.all())
    a, valid = make_anchors([(200, 200)], torch.empty(0))  # centres 0.0025 from the border are not valid
    assert not bool(valid[0, 0]) and bool(valid[0, 200 * 100 + 100])
    assert torch.isinf(a[0, 0]).all()


def _bilinear(img: torch.Tensor, x: float, y: float) -> torch.Tensor:
    """img (C, H, W) at normalised (x, y) in [0, 1], align_corners=False, zero outside."""
    c, h, w = img.shape
    px, py = x * w - 0.5, y * h - 0.5
    x0, y0 = math.floor(px), math.floor(py)
    out = torch.zeros(c)
    for yy, wy in ((y0, 1 - (py - y0)), (y0 + 1, py - y0)):
        for xx, wx in ((x0, 1 - (px - x0)), (x0 + 1, px - x0)):
            if 0 <= xx < w and 0 <= yy < h:
                out += img[:, yy, xx] * wx * wy
    return out


def test_deformable_sampling_equals_direct_bilinear_sums() -> None:
    g = torch.Generator().manual_seed(0)
    shapes = [(5, 4), (3, 2)]
    b, heads, d, q, pts = 2, 2, 3, 4, 2
    value = torch.randn(b, 5 * 4 + 3 * 2, heads, d, generator=g)
    where = torch.rand(b, q, heads, len(shapes) * pts, 2, generator=g) * 1.2 - 0.1
    weight = torch.rand(b, q, heads, len(shapes) * pts, generator=g)
    got = sample_levels(value, shapes, where, weight)
    assert got.shape == (b, q, heads * d)
    starts = [0, 20]
    for bi in range(b):
        for qi in range(q):
            for hi in range(heads):
                want = torch.zeros(d)
                for lvl, (h, w) in enumerate(shapes):
                    img = value[bi, starts[lvl] : starts[lvl] + h * w, hi].T.reshape(d, h, w)
                    for p in range(pts):
                        k = lvl * pts + p
                        want += weight[bi, qi, hi, k] * _bilinear(img, float(where[bi, qi, hi, k, 0]), float(where[bi, qi, hi, k, 1]))
                assert torch.allclose(got[bi, qi, hi * d : (hi + 1) * d], want, atol=1e-5)


def test_deformable_attention_box_and_point_references() -> None:
    attn = DeformableAttention(32, 2, 4, 3)
    q, v = torch.randn(1, 5, 32), torch.randn(1, 16 + 4, 32)
    boxes = torch.rand(1, 5, 1, 4)
    assert attn(q, boxes, v, [(4, 4), (2, 2)]).shape == (1, 5, 32)
    assert attn(q, boxes[..., :2], v, [(4, 4), (2, 2)]).shape == (1, 5, 32)
    with pytest.raises(ValueError, match="2 or 4"):
        attn(q, boxes[..., :3], v, [(4, 4), (2, 2)])
    with pytest.raises(ValueError, match="divisible"):
        DeformableAttention(30, 2, 4, 3)


def test_eval_selects_the_best_query_class_pairs() -> None:
    torch.manual_seed(0)
    m = RTDETRDecoder(5, (16, 24), hd=32, nq=20, nh=4, ndl=2, d_ffn=64).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.1)
        y, (dec_boxes, dec_logits, enc_boxes, enc_scores, meta) = m([torch.randn(2, 16, 8, 8), torch.randn(2, 24, 4, 4)])
    assert y.shape == (2, 20, 6) and dec_boxes.shape == (1, 2, 20, 4) and dec_logits.shape == (1, 2, 20, 5)
    assert enc_boxes.shape == (2, 20, 4) and enc_scores.shape == (2, 20, 5) and meta is None
    probs = dec_logits[0].sigmoid()
    for bi in range(2):
        best = probs[bi].flatten().topk(20).values
        assert torch.equal(y[bi, :, 4], best)
        for row in y[bi]:
            cls = int(row[5])
            assert float(row[5]) == cls and 0 <= cls < 5
            match = ((probs[bi, :, cls] - row[4]).abs() == 0).nonzero()
            assert any(torch.equal(dec_boxes[0, bi, int(qi)], row[:4]) for qi in match.flatten())


def test_train_returns_every_layer_and_keeps_the_denoising_embedding_in_the_graph() -> None:
    m = RTDETRDecoder(4, (16, 16, 16), hd=32, nq=10, nh=4, ndl=3, d_ffn=64).train()
    out = m([torch.randn(1, 16, 8, 8), torch.randn(1, 16, 4, 4), torch.randn(1, 16, 2, 2)])
    assert [tuple(t.shape) for t in out[:4]] == [(3, 1, 10, 4), (3, 1, 10, 4), (1, 10, 4), (1, 10, 4)]
    assert out[4] is None
    (out[0].sum() + out[1].sum()).backward()
    assert m.denoising_class_embed.weight.grad is not None


SPEC = """
nc: 6
dialect: ultralytics
backbone:
  - [-1, 1, Conv, [16, 3, 2]]  # 0 /2
  - [-1, 1, Conv, [32, 3, 2]]  # 1 /4
  - [-1, 1, Conv, [32, 3, 2]]  # 2 /8
  - [-1, 1, Conv, [48, 3, 2]]  # 3 /16
  - [-1, 1, Conv, [64, 3, 2]]  # 4 /32
head:
  - [[2, 3, 4], 1, RTDETRDecoder, [nc, 32, 12, 2, 4, 2, 64]]
"""


def test_compiled_spec() -> None:
    model = yamlnet.build(SPEC)
    head = model.get_submodule("model.5")
    assert isinstance(head, RTDETRDecoder)
    assert (head.hidden_dim, head.num_queries, head.nhead, len(head.decoder.layers), head.nc) == (32, 12, 4, 2, 6)
    assert head.in_strides == [8.0, 16.0, 32.0] and model.stride.tolist() == [32.0]  # as the package reports
    assert [p.in_channels for p in (s[0] for s in head.input_proj)] == [32, 48, 64]
    assert head.input_proj[0][1].eps == 1e-3
    model.eval()
    with torch.no_grad():
        y, raw = model(torch.randn(1, 3, 128, 96))
    assert y.shape == (1, 12, 6) and raw[1].shape == (1, 1, 12, 6)
    model.train()
    assert model(torch.randn(1, 3, 64, 64))[0].shape == (2, 1, 12, 4)


def test_torch_export_captures_the_decoder() -> None:
    torch.manual_seed(0)
    model = yamlnet.build(SPEC).eval()
    x = torch.randn(1, 3, 64, 64)
    exported = torch.export.export(model, (x,))
    with torch.no_grad():
        want, got = model(x), exported.module()(x)
    assert torch.allclose(got[0], want[0], atol=1e-5) and torch.allclose(got[1][1], want[1][1], atol=1e-5)
