"""Weights: whole-model round trip, per-row files (row `weights:` key and a backbone's first argument) with the
usual checkpoint layouts, partial files reported key by key, and files that are not weights refused (YN511)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import ClassVar

import pytest
import timm
import torch

import yamlnet
from yamlnet.compile import weights as yweights
from yamlnet.diagnostics import SpecError

ROOT = Path(__file__).resolve().parents[2]

# A small detection spec on a timm backbone, written to a file so relative weight paths resolve beside it.
SMALL = """\
nc: 2
depth_multiple: 0.33
width_multiple: 0.25
anchors: 1
backbone:
  - {row0}
head:
  - [0.P3, 1, Conv, [64, 1, 1]]
  - [0.P4, 1, Conv, [64, 1, 1]]
  - [0.P5, 1, Conv, [64, 1, 1]]
  - [[-3, -2, -1], 1, Detect, [nc, anchors]]
"""


def write_spec(tmp_path: Path, row0: str, name: str = "small.yaml") -> Path:
    p = tmp_path / name
    p.write_text(SMALL.format(row0=row0))
    return p


def outputs(model: torch.nn.Module, size: int = 128) -> torch.Tensor:
    torch.manual_seed(123)
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        y = model.eval()(x)
    return y[0] if isinstance(y, (tuple, list)) else y


def randomize_bn(m: torch.nn.Module) -> None:
    """Non-default BatchNorm statistics, so a load that skips buffers cannot pass by accident."""
    g = torch.Generator().manual_seed(7)
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.copy_(torch.randn(mod.num_features, generator=g) * 0.1)
            mod.running_var.copy_(torch.rand(mod.num_features, generator=g) + 0.5)


def test_whole_model_round_trip(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "{name: backbone, from: -1, module: TimmBackbone, args: [resnet18]}")
    torch.manual_seed(0)
    model = yamlnet.build(spec)
    randomize_bn(model)
    ref = outputs(model)
    path = tmp_path / "full.pt"
    torch.save(model.state_dict(), path)
    torch.manual_seed(1)
    again = yamlnet.build(spec, weights=path)
    rep = again.load_reports[-1]
    assert rep.complete and rep.target == "model" and len(rep.matched) == len(model.state_dict())
    assert torch.equal(outputs(again), ref)
    torch.manual_seed(1)
    assert not torch.equal(outputs(yamlnet.build(spec)), ref)  # the weights, not the seed, made them equal


@pytest.mark.parametrize(("where", "wrapper"), [("row key", "model"), ("first argument", "state_dict")])
def test_per_row_weights_load_fully(tmp_path: Path, where: str, wrapper: str) -> None:
    torch.manual_seed(0)
    src = yamlnet.build(write_spec(tmp_path, "{name: backbone, from: -1, module: TimmBackbone, args: [resnet18]}"))
    bb = src.get_submodule("model.0")
    randomize_bn(bb)
    sd = {f"backbone.{k}": v for k, v in bb.state_dict().items()}
    torch.save({wrapper: sd, "epoch": 3}, tmp_path / "bb.pt")
    row0 = (
        "{name: backbone, from: -1, module: TimmBackbone, args: [resnet18], weights: bb.pt}"
        if where == "row key"
        else "{name: backbone, from: -1, module: resnet18, args: [bb.pt]}"
    )
    torch.manual_seed(1)
    model = yamlnet.build(write_spec(tmp_path, row0, "with_weights.yaml"))
    (rep,) = model.load_reports
    assert rep.complete, rep.details()
    assert len(rep.matched) == len(bb.state_dict()) and rep.path.endswith("bb.pt")
    got = model.get_submodule("model.0").state_dict()
    assert all(torch.equal(got[k], v) for k, v in bb.state_dict().items())
    with torch.no_grad():
        x = torch.randn(1, 3, 128, 128)
        assert all(torch.equal(a, b) for a, b in zip(model.get_submodule("model.0").eval()(x), bb.eval()(x)))


def test_timm_checkpoint_loads_into_the_backbone(tmp_path: Path) -> None:
    """A state_dict of timm's own classification model (keys `conv1.weight`, ..., `fc.weight`) loads into the
    wrapper (keys `m.conv1.weight`): every backbone tensor matches; only the classifier is left over."""
    torch.manual_seed(0)
    clf = timm.create_model("resnet18", pretrained=False)
    torch.save(clf.state_dict(), tmp_path / "resnet18_timm.pth")
    model = yamlnet.build(write_spec(tmp_path, "{name: backbone, from: -1, module: resnet18, args: [resnet18_timm.pth]}"))
    (rep,) = model.load_reports
    assert sorted(rep.unexpected) == ["m.fc.bias", "m.fc.weight"]
    assert not rep.missing and not rep.mismatched
    got = model.get_submodule("model.0").state_dict()
    assert all(torch.equal(got[f"m.{k}"], v) for k, v in clf.state_dict().items() if not k.startswith("fc."))


def test_partial_file_reports_exact_keys(tmp_path: Path) -> None:
    torch.manual_seed(0)
    src = yamlnet.build(write_spec(tmp_path, "[-1, 1, resnet18, [False]]"))
    sd = dict(src.get_submodule("model.0").state_dict())
    dropped = ["m.layer4.1.bn2.weight", "m.layer4.1.bn2.running_var", "m.conv1.weight"]
    for k in dropped:
        del sd[k]
    sd["m.layer2.0.conv1.weight"] = torch.zeros(128, 64, 1, 1)  # the model's is 128x64x3x3
    sd["m.head.extra"] = torch.zeros(3)
    torch.save({"state_dict": {f"backbone.{k}": v for k, v in sd.items()}}, tmp_path / "partial.pt")
    model = yamlnet.build(write_spec(tmp_path, "{name: backbone, from: -1, module: resnet18, args: [partial.pt]}", "partial.yaml"))
    (rep,) = model.load_reports
    assert not rep.complete
    assert sorted(rep.missing) == sorted(dropped)
    assert rep.mismatched == [("m.layer2.0.conv1.weight", (128, 64, 1, 1), (128, 64, 3, 3))]
    assert rep.unexpected == ["m.head.extra"]
    n_model = len(src.get_submodule("model.0").state_dict())
    assert len(rep.matched) == n_model - len(dropped) - 1
    assert "3 missing" in rep.summary() and "1 shape-mismatched" in rep.summary() and "1 unexpected" in rep.summary()


class Payload:
    """Unpickling this would run `ran.append` (torch's weights_only loader must refuse it)."""

    ran: ClassVar[list[int]] = []

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Payload.ran.append, (1,))


@pytest.mark.parametrize("whole_model", [False, True])
def test_not_a_weights_file_is_yn511_and_nothing_runs(tmp_path: Path, whole_model: bool) -> None:
    bad = tmp_path / "evil.pt"
    torch.save({"model": Payload()}, bad)
    with open(tmp_path / "evil.pkl", "wb") as f:
        pickle.dump(Payload(), f, protocol=2)
    if whole_model:
        with pytest.raises(SpecError) as ei:
            yamlnet.build(write_spec(tmp_path, "[-1, 1, resnet18, [False]]"), weights=bad)
    else:
        with pytest.raises(SpecError) as ei:
            yamlnet.build(write_spec(tmp_path, "[-1, 1, resnet18, [evil.pkl]]"))
    assert [d.code for d in ei.value.diagnostics] == ["YN511"]
    assert "weights_only" in ei.value.diagnostics[0].message
    assert Payload.ran == []


def test_missing_weights_file_is_yn511(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as ei:
        yamlnet.build(write_spec(tmp_path, "{from: -1, module: TimmBackbone, args: [resnet18], weights: nowhere.pt}"))
    assert [d.code for d in ei.value.diagnostics] == ["YN511"]
    assert ei.value.diagnostics[0].span.line == 6  # the backbone row


def test_read_state_dict_unwraps_layouts(tmp_path: Path) -> None:
    sd = {"a.weight": torch.ones(2), "b.bias": torch.zeros(1)}
    for i, obj in enumerate([sd, {"model": sd}, {"state_dict": sd, "optimizer": {"lr": 0.1}}, {"ema": {"model": sd}}]):
        torch.save(obj, tmp_path / f"{i}.pt")
        got = yweights.read_state_dict(tmp_path / f"{i}.pt")
        assert set(got) == set(sd)
    torch.save({"lr": 0.1}, tmp_path / "none.pt")
    with pytest.raises(yweights.WeightsError):
        yweights.read_state_dict(tmp_path / "none.pt")


def test_backbone_checkpoint_given_as_whole_model_weights_lands_in_row_0(tmp_path: Path) -> None:
    """`yamlnet build specs/yolov5-emo.yaml --weights emo_1m.pth`: a backbone's own checkpoint finds row 0."""
    import yamlnet

    donor = yamlnet.build(ROOT / "specs" / "yolov5-emo.yaml")
    backbone = donor.get_submodule("model.0").state_dict()
    f = tmp_path / "emo_1m.pth"
    torch.save({"model": backbone}, f)
    model = yamlnet.build(ROOT / "specs" / "yolov5-emo.yaml", weights=f)
    (report,) = model.load_reports
    assert len(report.matched) == len(backbone) and not report.unexpected and not report.mismatched
    assert report.missing and all(not k.startswith("model.0.") for k in report.missing)  # the head: visible, not silent
    got = model.get_submodule("model.0").state_dict()
    assert all(torch.equal(got[k], v) for k, v in backbone.items())
