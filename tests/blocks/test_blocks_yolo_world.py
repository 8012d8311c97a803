"""YOLO-World / YOLOE blocks (Ultralytics dialect): counts and key order measured on ultralytics 8.4.190, the
attention maths against direct computations, the parse rules (C2fAttn heads and embedding channels, YOLOE's
npr and legacy branch), bias priors, and the text embeddings as the compiled model's second forward argument."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import yamlnet
from blocks.yolo_world.heads import WorldDetect, YOLOEDetect, YOLOESegment, YOLOESegment26
from blocks.yolo_world.layers import SAVPE, BNContrastiveHead, C2fAttn, ContrastiveHead, ImagePoolingAttn, MaxSigmoidAttnBlock, Residual, SwiGLUFFN

CH = (64, 128, 256)


def _count(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _prefixes(m: torch.nn.Module) -> list[str]:
    out: list[str] = []
    for k in m.state_dict():
        p = k.split(".")[0]
        if p not in out:
            out.append(p)
    return out


@pytest.mark.parametrize(
    ("make", "params"),
    [
        (lambda: C2fAttn(64, 128, 2, 64, 4), 267_460),
        (lambda: C2fAttn(64, 64, 1, 32, 1, 512, True), 56_801),
        (lambda: C2fAttn(64, 96, 3, 24, 2, 256, False, 1, 0.25), 59_978),
        (lambda: MaxSigmoidAttnBlock(64, 64, 4, 64, 512, True), 69_832),
        (lambda: ImagePoolingAttn(256, CH), 512_000),
        (lambda: ImagePoolingAttn(256, CH, scale=True, nh=4, k=2), 512_001),
        (lambda: BNContrastiveHead(512), 1_026),
        (lambda: Residual(SwiGLUFFN(512, 512)), 1_575_424),
        (lambda: SAVPE(list(CH), 80, 512), 697_728),
        (lambda: WorldDetect(80, 512, False, 16, False, CH), 1_002_646),
        (lambda: WorldDetect(80, 512, True, 16, False, CH), 1_005_718),
        (lambda: YOLOEDetect(80, 512, True, 16, False, CH, legacy=True), 3_278_870),
        (lambda: YOLOEDetect(80, 512, True, 16, False, CH, legacy=False), 2_846_118),
        (lambda: YOLOEDetect(80, 512, True, 1, True, CH, legacy=False), 2_798_916),
        (lambda: YOLOESegment(80, 32, 64, 512, True, 16, False, CH, legacy=True), 3_531_638),
        (lambda: YOLOESegment(80, 32, 64, 512, True, 16, False, CH, legacy=False), 3_098_886),
        (lambda: YOLOESegment26(80, 32, 64, 512, True, 1, True, CH, legacy=False), 3_352_916),
    ],
)
def test_parameter_counts_equal_the_package(make, params: int) -> None:  # type: ignore[no-untyped-def]
    assert _count(make()) == params


def test_state_dict_layout_of_the_heads() -> None:
    assert _prefixes(YOLOEDetect(80, 512, True, 16, True, CH)) == [
        "cv2",
        "cv3",
        "dfl",
        "one2one_cv2",
        "one2one_cv3",
        "cv4",
        "one2one_cv4",
        "reprta",
        "savpe",
    ]
    seg = YOLOESegment26(80, 32, 64, 512, True, 1, True, CH)
    assert _prefixes(seg) == ["cv2", "cv3", "one2one_cv2", "one2one_cv3", "cv4", "one2one_cv4", "reprta", "savpe", "proto", "cv5", "one2one_cv5"]
    assert _prefixes(WorldDetect(80, 512, False, 16, False, CH)) == ["cv2", "cv3", "dfl", "cv4"]
    sd = YOLOEDetect(80, 512, True, 16, False, CH).state_dict()
    assert tuple(sd["cv3.0.2.weight"].shape) == (512, 80, 1, 1)  # the class branch embeds into the text space
    assert tuple(sd["cv4.2.norm.running_var"].shape) == (512,) and tuple(sd["cv4.0.logit_scale"].shape) == ()
    assert tuple(sd["reprta.m.w12.weight"].shape) == (2048, 512) and tuple(sd["reprta.m.w3.weight"].shape) == (512, 1024)
    assert tuple(sd["savpe.cv5.weight"].shape) == (16, 1, 3, 3)


def test_max_sigmoid_attention_equals_a_direct_computation() -> None:
    torch.manual_seed(0)
    m = MaxSigmoidAttnBlock(16, 24, nh=3, ec=24, gc=10, scale=True).eval()
    with torch.no_grad():
        m.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
        m.scale.copy_(torch.tensor([1.0, 0.5, 2.0]).view(1, 3, 1, 1))
        x, guide = torch.randn(2, 16, 5, 4), torch.randn(2, 7, 10)
        got = m(x, guide)
        emb, text, proj = m.ec(x), m.gl(guide), m.proj_conv(x)
        want = torch.empty_like(proj)
        for b in range(2):
            for h in range(3):
                e = emb[b, h * 8 : (h + 1) * 8].reshape(8, -1)  # (hc, HW)
                t = text[b, :, h * 8 : (h + 1) * 8]  # (K, hc)
                gate = ((t @ e).max(0).values / math.sqrt(8) + m.bias[h]).sigmoid() * m.scale[0, h, 0, 0]
                want[b, h * 8 : (h + 1) * 8] = proj[b, h * 8 : (h + 1) * 8] * gate.view(1, 5, 4)
    assert torch.allclose(got, want, atol=1e-5)


def test_image_pooling_attention_equals_per_head_softmax_attention() -> None:
    torch.manual_seed(0)
    m = ImagePoolingAttn(32, (8, 16), ct=20, nh=4, k=2).eval()
    xs, text = [torch.randn(2, 8, 6, 6), torch.randn(2, 16, 3, 3)], torch.randn(2, 5, 20)
    with torch.no_grad():
        got = m(xs, text)
        patches = torch.cat([F.adaptive_max_pool2d(p(x), 2).flatten(2) for p, x in zip(m.projections, xs)], 2).transpose(1, 2)
        q, k, v = m.query(text), m.key(patches), m.value(patches)
        heads = [
            ((q[..., h * 8 : (h + 1) * 8] @ k[..., h * 8 : (h + 1) * 8].transpose(1, 2)) / math.sqrt(8)).softmax(-1) @ v[..., h * 8 : (h + 1) * 8]
            for h in range(4)
        ]
        want = m.proj(torch.cat(heads, -1)) + text
    assert got.shape == (2, 5, 20) and torch.allclose(got, want, atol=1e-5)


def test_contrastive_heads_are_scaled_cosine_similarities() -> None:
    x, w = torch.randn(2, 6, 3, 4), torch.randn(2, 5, 6)
    head = ContrastiveHead()
    cos = torch.einsum("bkc,bchw->bkhw", F.normalize(w, dim=-1), F.normalize(x, dim=1))
    with torch.no_grad():
        assert torch.allclose(head(x, w), cos / 0.07 - 10.0, atol=1e-4)
        bn = BNContrastiveHead(6).eval()
        want = torch.einsum("bkc,bchw->bkhw", F.normalize(w, dim=-1), bn.norm(x)) * math.exp(-1.0) - 10.0
        assert torch.allclose(bn(x, w), want, atol=1e-5)


def test_reprta_starts_as_the_identity() -> None:
    t = torch.randn(1, 4, 512)
    assert torch.equal(Residual(SwiGLUFFN(512, 512))(t), t)


def test_savpe_pools_inside_each_prompt_mask() -> None:
    torch.manual_seed(0)
    m = SAVPE([8, 16, 32], 16, 32).eval()
    xs = [torch.randn(1, 8, 8, 8), torch.randn(1, 16, 4, 4), torch.randn(1, 32, 2, 2)]
    masks = torch.zeros(1, 2, 8, 8)
    masks[0, 0, :2, :2] = 1
    masks[0, 1, 2:, 5:] = 1
    with torch.no_grad():
        out = m(xs, masks)
        moved = [x.clone() for x in xs]
        moved[0][..., 6:, 6:] += 5.0  # features beyond the reach of the 3x3 convs around prompt 0 do not change it
        assert torch.allclose(m(moved, masks)[:, 0], out[:, 0], atol=1e-5)
    assert out.shape == (1, 2, 32) and torch.allclose(out.norm(dim=-1), torch.ones(1, 2))


def test_c2fattn_head_split_is_checked() -> None:
    with pytest.raises(ValueError, match="split into 5 equal heads"):
        C2fAttn(96, 96, 1, 48, 5)


def test_head_bias_priors() -> None:
    w = WorldDetect(80, 512, False, 16, False, CH)
    w.bind_strides([8.0, 16.0, 32.0])
    assert all(float(s[-1].bias.detach().min()) == float(s[-1].bias.detach().max()) == 1.0 for s in w.cv2)
    y = YOLOEDetect(10, 512, True, 16, True, CH)
    y.bind_strides([8.0, 16.0, 32.0])
    for part in ("cv4", "one2one_cv4"):
        for head, s in zip(getattr(y, part), (8, 16, 32)):
            assert float(head.bias.detach()) == pytest.approx(math.log(5 / 10 / (640 / s) ** 2))
    assert float(y.cv2[1][-1].bias.detach().min()) == 2.0 and float(y.cv3[2][-1].bias.detach().abs().max()) == 0.0


WORLD = """
nc: 80
scales:
  n: [0.33, 0.25, 1024]
  x: [1.00, 1.25, 512]
backbone:
  - [-1, 1, Conv, [64, 3, 2]]  # 0 /2
  - [-1, 1, Conv, [128, 3, 2]]  # 1 /4
  - [-1, 1, Conv, [256, 3, 2]]  # 2 /8
  - [-1, 1, Conv, [512, 3, 2]]  # 3 /16
  - [-1, 1, Conv, [1024, 3, 2]]  # 4 /32
head:
  - [2, 3, C2fAttn, [256, 128, 4]]  # 5
  - [3, 1, C2fAttn, [512, 256, 8]]  # 6
  - [4, 1, C2fAttn, [1024, 512, 16]]  # 7
  - [[5, 6, 7], 1, ImagePoolingAttn, [256]]  # 8: new text embeddings
  - [6, 1, C2fAttn, [512, 256, 8]]  # 9: uses them
  - [7, 1, C2fAttn, [1024, 512, 16]]  # 10: uses them
  - [[5, 9, 10], 1, WorldDetect, [nc, 512, False]]  # 11: the text given to the model
"""


@pytest.mark.parametrize(
    ("scale", "rows"),
    [
        ("n", {5: (64, 32, 1, 1), 6: (128, 64, 2, 1), 7: (256, 128, 4, 1)}),
        ("x", {5: (320, 160, 5, 3), 6: (640, 320, 10, 1), 7: (640, 320, 10, 1)}),
    ],
)
def test_c2fattn_scaling_rules(scale: str, rows: dict[int, tuple[int, int, int, int]]) -> None:
    """c2 scales by width; heads int(max(round(min(nh, max_channels // 64)) * width, 1)); ec = c2 * e; depth."""
    model = yamlnet.build(WORLD, scale=scale, device="meta")
    for pos, (c2, ec, nh, n) in rows.items():
        m = model.get_submodule(f"model.{pos}")
        assert (m.cv2.conv.out_channels, m.attn.gl.out_features, m.attn.nh, len(m.m)) == (c2, ec, nh, n)
    ipa = model.get_submodule("model.8")
    assert (ipa.ec, ipa.ct, [p.in_channels for p in ipa.projections]) == (256, 512, [rows[5][0], rows[6][0], rows[7][0]])


def test_world_model_threads_the_text_embeddings() -> None:
    torch.manual_seed(0)
    model = yamlnet.build(WORLD, scale="n").eval()
    seen: dict[int, torch.Tensor] = {}
    for pos in (5, 6, 7, 9, 10, 11):
        model.get_submodule(f"model.{pos}").register_forward_pre_hook(lambda mod, args, pos=pos: seen.__setitem__(pos, args[1]))
    new_text: list[torch.Tensor] = []
    model.get_submodule("model.8").register_forward_hook(lambda mod, args, out: new_text.append(out))
    text = torch.randn(1, 3, 512)
    with torch.no_grad():
        y, preds = model(torch.randn(1, 3, 64, 64), text)
    assert all(seen[p] is text for p in (5, 6, 7, 11))  # the given text
    assert seen[9] is new_text[0] and seen[10] is new_text[0] and new_text[0].shape == (1, 3, 512)
    assert y.shape == (1, 4 + 3, 8 * 8 + 4 * 4 + 2 * 2) and preds["scores"].shape == (1, 3, 84)
    with torch.no_grad():
        y80, _ = model(torch.randn(1, 3, 64, 64))  # no text: zero placeholders for the spec's 80 classes
    assert y80.shape == (1, 84, 84)
    model.train()
    assert set(model(torch.randn(2, 3, 64, 64), torch.randn(2, 5, 512))) == {"boxes", "scores", "feats"}


YOLOE = """
nc: 7
scales:
  s: [0.33, 0.50, 1024]
backbone:
  - [-1, 1, Conv, [64, 3, 2]]  # 0 /2
  - [-1, 1, Conv, [128, 3, 2]]  # 1 /4
  - [-1, 1, Conv, [256, 3, 2]]  # 2 /8
  - [-1, 1, Conv, [512, 3, 2]]  # 3 /16
  - [-1, 1, Conv, [512, 3, 2]]  # 4 /32
head:
  - [[2, 3, 4], 1, {head}]
"""


def test_yoloe_heads_from_specs() -> None:
    model = yamlnet.build(YOLOE.format(head="YOLOESegment, [nc, 32, 256, 512, True]"), device="meta")
    head = model.get_submodule("model.5")
    assert isinstance(head, YOLOESegment) and head.npr == 128 and head.embed == 512 and head.nc == 7  # npr scales by width
    assert head.legacy and isinstance(head.cv3[0][0].conv, torch.nn.Conv2d) and head.cv3[0][0].conv.kernel_size == (3, 3)
    assert tuple(head.pe.shape) == (1, 7, 512)
    c3k2 = YOLOE.replace("  - [-1, 1, Conv, [512, 3, 2]]  # 4 /32", "  - [-1, 1, Conv, [512, 3, 2]]  # 4 /32\n  - [-1, 1, C3k2, [512, True]]  # 5")
    c3k2 = c3k2.replace("[[2, 3, 4], 1, {head}]", "[[2, 3, 5], 1, {head}]")
    model = yamlnet.build(c3k2.format(head="YOLOEDetect, [nc, 512, True]"), device="meta")
    head = model.get_submodule("model.6")
    assert not head.legacy and head.cv3[0][0][0].conv.groups == 128  # a C3k2 row before the head: depth-wise branch


def test_yoloe_model_scores_prompts() -> None:
    torch.manual_seed(0)
    model = yamlnet.build(YOLOE.format(head="YOLOEDetect, [nc, 512, True]")).eval()
    head = model.get_submodule("model.5")
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        y, preds = model(x)  # no prompts: zero class embeddings, so every score is the contrastive bias
        bias = torch.cat([h.bias.expand(n) for h, n in zip(head.cv4, (64, 16, 4))])
        assert y.shape == (1, 4 + 7, 84) and torch.allclose(preds["scores"][0], bias.expand(7, -1))
        text = torch.randn(1, 4, 512)
        y, preds = model(x, text)
        assert y.shape == (1, 8, 84)
        pe = F.normalize(head.reprta(text), dim=-1)  # given text goes through reprta and an L2 normalisation
        level0 = head.cv4[0](head.cv3[0](preds["feats"][0]), pe).flatten(2)
        assert torch.allclose(preds["scores"][..., :64], level0, atol=1e-5)
        head.set_class_embeddings(pe)
        assert torch.allclose(model(x)[1]["scores"], preds["scores"], atol=1e-6)


def test_torch_export_takes_the_text_embeddings_as_an_input() -> None:
    torch.manual_seed(0)
    model = yamlnet.build(WORLD, scale="n").eval()
    x, text = torch.randn(1, 3, 64, 64), torch.randn(1, 80, 512)
    exported = torch.export.export(model, (x, text))
    assert len([s for s in exported.graph_signature.input_specs if s.kind.name == "USER_INPUT"]) == 2
    other = torch.randn(1, 80, 512)
    with torch.no_grad():
        assert torch.allclose(exported.module()(x, other)[0], model(x, other)[0], atol=1e-4)


def test_validate_reports_heads_that_do_not_split_the_hidden_channels() -> None:
    spec = WORLD.replace("[2, 3, C2fAttn, [256, 128, 4]]", "[2, 3, C2fAttn, [256, 128, 6]]")  # 32 channels at n, 1 head
    assert yamlnet.validate(spec, scale="n").ok
    report = yamlnet.validate(spec, scale="x")  # 160 hidden channels, int(round(6) * 1.25) = 7 heads
    [d] = report.errors
    assert d.code == "YN303" and "7 attention heads do not divide the hidden channels (c2 x e)" in d.message and "(160)" in d.message
    assert d.span is not None and (d.span.line, d.span.column) == (13, 22)  # at c2, which the help says to change


def test_image_pooling_attn_output_counts_as_used_when_a_later_c2fattn_reads_the_text() -> None:
    assert not [d for d in yamlnet.validate(WORLD, scale="n").diagnostics if d.code == "YN206"]
    alone = WORLD.replace("  - [6, 1, C2fAttn, [512, 256, 8]]  # 9: uses them", "  - [6, 1, Conv, [512, 1, 1]]  # 9")
    alone = alone.replace("  - [7, 1, C2fAttn, [1024, 512, 16]]  # 10: uses them", "  - [7, 1, Conv, [1024, 1, 1]]  # 10")
    [d] = [d for d in yamlnet.validate(alone, scale="n").diagnostics if d.code == "YN206"]
    assert "layer 8 (ImagePoolingAttn)" in d.message
