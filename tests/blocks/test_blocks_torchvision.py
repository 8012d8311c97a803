"""TorchVision block (Ultralytics dialect): names only from torchvision's own registry (the recorded catalog),
unwrap/truncate as the package builds them, the c2 check, local weights files (never a download), and the
diagnostics for what cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from conftest import ULTRALYTICS_DIR

import yamlnet
from blocks.torchvision_backbone import decl as tv_decl
from blocks.torchvision_backbone.model import TorchVision, build_random
from yamlnet.diagnostics import SpecError


def spec(args: str, head: str = "[-1, 1, Classify, [nc]]") -> str:
    return f"nc: 1000\nbackbone:\n  - [-1, 1, TorchVision, {args}]\nhead:\n  - {head}\n"


def errors(text: str) -> list[yamlnet.diagnostics.Diagnostic]:
    report = yamlnet.analyze(text, dialect="ultralytics")
    return [d for d in report.diagnostics if d.severity == "error"]


def test_catalog_is_torchvisions_registry() -> None:
    cat = tv_decl.catalog()
    assert cat["torchvision"] == torchvision.__version__, f"regenerate: python -m blocks.torchvision_backbone.generate_catalog ({cat['torchvision']})"
    assert sorted(cat["models"]) == sorted(torchvision.models.list_models())
    assert not [n for n, e in cat["models"].items() if "unsupported" in e]  # every model builds with random weights


@pytest.mark.parametrize(("name", "truncate"), [("resnet18", 2), ("convnext_tiny", 2), ("mobilenet_v3_small", 2), ("swin_t", 3), ("vgg11", 2)])
def test_recorded_output_equals_a_meta_forward(name: str, truncate: int) -> None:
    channels, stride = tv_decl.output_of({"model": name, "unwrap": True, "truncate": truncate})
    with torch.device("meta"):
        m = TorchVision(channels, name, True, truncate).eval()
    y = m(torch.empty(1, 3, 224, 224, device="meta"))
    assert (y.shape[1], 224 // y.shape[-1]) == (channels, stride)


def test_unwrap_flattens_a_leading_sequential_as_ultralytics_does() -> None:
    """Measured with the package: convnext_tiny truncated by 2 has `m.0.0.weight` (features[0][0]) and 8 layers."""
    with torch.device("meta"):
        m = TorchVision(768, "convnext_tiny", True, 2)
        r = TorchVision(512, "resnet18", True, 2)
        whole = TorchVision(1000, "resnet18", False, 2)
    assert len(m.m) == 8 and next(iter(m.state_dict())) == "m.0.0.weight"
    assert len(r.m) == 8 and list(r.state_dict())[:2] == ["m.0.weight", "m.1.weight"]
    assert next(iter(whole.state_dict())) == "m.conv1.weight"
    assert sum(p.numel() for p in r.parameters()) == 11176512  # the package's count
    assert sum(p.numel() for p in whole.parameters()) == 11689512


@torch.no_grad()
def test_output_equals_torchvisions_own_layers() -> None:
    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None).eval()
    m = TorchVision(512, "resnet18", True, 2).eval()
    m.load_state_dict(m.adapt_state_dict(net.state_dict()))
    x = torch.randn(1, 3, 64, 64)
    want = net.layer4(net.layer3(net.layer2(net.layer1(net.maxpool(net.relu(net.bn1(net.conv1(x))))))))
    assert torch.equal(m(x), want)


def test_yolo11_cls_resnet18_builds_without_downloading() -> None:
    """The shipped file asks for DEFAULT weights: refused with the file's address; with None it builds as the package
    does with weights=None (13,115,432 parameters, measured)."""
    path = Path(ULTRALYTICS_DIR) / "11" / "yolo11-cls-resnet18.yaml"
    if not path.is_file():
        pytest.skip(f"no {path}")
    text = path.read_text()
    errs = errors(text)
    assert [d.code for d in errs] == ["YN118"]
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in errs[0].message
    assert "write None for random weights" in errs[0].message
    model = yamlnet.build(text.replace("DEFAULT", "None"), dialect="ultralytics", device="meta")
    assert sum(p.numel() for p in model.parameters()) == 13115432
    assert len(model.model) == 2
    model.eval()
    out = model(torch.empty(1, 3, 224, 224, device="meta"))
    assert [list(t.shape) for t in out] == [[1, 1000], [1, 1000]]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ("[512, resnet18, True]", "asks torchvision to download"),
        ("[512, resnet18, IMAGENET1K_V1]", "asks torchvision to download"),
        ("[256, resnet18, None, True, 2]", "gives 512 channels, but c2 says 256; write 512"),
        ("[512, resnet19, None]", "did you mean `resnet18`"),
        ("[512, resnet18, None, True, 0]", "keeps its `fc`, which cannot run on the previous layer's output"),
        ("[512, resnet18, None, True, 10]", "truncate=10 leaves none"),
        ("[768, convnext_tiny, None, True, 2, True]", "split=True"),
        ("[768, swin_t, None, True, 5]", "channels-last"),
        ("[1000, vit_b_16, None, False]", "as a whole cannot run"),
        ("[768, fasterrcnn_resnet50_fpn, None, True, 1]", "cannot be unwrapped"),
    ],
)
def test_what_cannot_work_is_a_diagnostic_on_the_row(args: str, words: str) -> None:
    errs = errors(spec(args))
    assert [d.code for d in errs] == ["YN118"]
    assert words in errs[0].message
    assert (errs[0].span.line, errs[0].span.column) == (3, 26)


def test_weights_from_a_local_torchvision_checkpoint(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None)
    ckpt = tmp_path / "resnet18.pth"
    torch.save(net.state_dict(), ckpt)
    model = yamlnet.build(spec(f'[512, resnet18, "{ckpt}", True, 2]'), dialect="ultralytics")
    (rep,) = model.load_reports
    assert rep.complete, rep.details()
    assert len(rep.matched) == len(model.model[0].state_dict())  # fc's two tensors were dropped with the truncated child
    assert torch.equal(model.state_dict()["model.0.m.4.0.conv1.weight"], net.layer1[0].conv1.weight)


def test_weights_in_the_blocks_own_layout(tmp_path: Path) -> None:
    torch.manual_seed(1)
    with torch.device("cpu"):
        src = TorchVision(512, "resnet18", True, 2)
    ckpt = tmp_path / "tv.pt"
    torch.save(src.state_dict(), ckpt)
    model = yamlnet.build(spec(f'[512, resnet18, "{ckpt}", True, 2]'), dialect="ultralytics")
    assert model.load_reports[0].complete
    assert torch.equal(model.state_dict()["model.0.m.0.weight"], src.m[0].weight)


def test_a_missing_weights_file_is_an_error_at_build() -> None:
    with pytest.raises(SpecError) as e:
        yamlnet.build(spec('[512, resnet18, "/nonexistent/resnet18.pth", True, 2]'), dialect="ultralytics")
    assert [d.code for d in e.value.diagnostics if d.severity == "error"] == ["YN511"]


def test_detection_builders_do_not_fetch_a_backbone() -> None:
    """torchvision's detection builders default to an ImageNet backbone download; the block passes weights_backbone=None."""
    with torch.device("meta"):
        m = build_random("fasterrcnn_mobilenet_v3_large_320_fpn")
    assert sum(p.numel() for p in m.parameters()) > 0
