"""Issue 16: the ultralytics package trains, validates, predicts with, exports and fine-tunes yamlnet models.

The package (a test-only dependency, `dev` extra) runs offline on a tiny synthetic dataset written here (four
64x64 images with two boxes each, per split), on the CPU, with plots off: no download, font fetch or hub call is
possible (the sockets are closed for these tests). Losses are compared with the package's own models from the
same weights and batches: they are bit-identical, and so are the gradients.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import ROOT, ULTRALYTICS_DIR, require_ultralytics

import yamlnet

# Before the package is imported: its settings and font cache in a folder of ours, and no network probe.
_CONFIG = Path(tempfile.gettempdir()) / "yamlnet-tests-ultralytics"
_CONFIG.mkdir(exist_ok=True)
(_CONFIG / "Arial.ttf").touch()  # the dataset check looks for this font and would download it; plots are off
os.environ["YOLO_CONFIG_DIR"] = str(_CONFIG)
os.environ["YOLO_OFFLINE"] = "1"

try:
    import ultralytics  # noqa: F401
except ImportError:  # the package is in the `dev` extra: absent locally is a skip, absent under CI a failure
    if os.environ.get("CI", "").lower() == "true":
        raise
    pytest.skip("ultralytics is not installed (pip install 'yamlnet[dev]')", allow_module_level=True)

from ultralytics import YOLO as PackageYOLO  # noqa: E402
from ultralytics.cfg import get_cfg  # noqa: E402
from ultralytics.nn import tasks  # noqa: E402
from ultralytics.utils import DEFAULT_CFG  # noqa: E402

from yamlnet.compile.model import YamlnetModel  # noqa: E402
from yamlnet.ultralytics import YOLO, Trainer, build_model, resolve_spec  # noqa: E402

NC = 2
IMGSZ = 64
ANCHORS = sum((IMGSZ // s) ** 2 for s in (8, 16, 32))  # 84 anchor points at 64x64


@pytest.fixture(autouse=True, scope="module")
def _offline_and_restored() -> Iterator[None]:
    """No socket can connect while the package runs (the module's trained model included: autouse fixtures of a
    scope come first); the global torch state its trainer sets (threads, deterministic mode) is put back after."""

    def refuse(*_a: Any, **_k: Any) -> Any:
        raise OSError("these tests run offline")

    threads = torch.get_num_threads()
    deterministic = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    fill = torch.utils.deterministic.fill_uninitialized_memory
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket, "getaddrinfo", refuse)
        for key in ("CUBLAS_WORKSPACE_CONFIG", "PYTHONHASHSEED", "OMP_NUM_THREADS"):
            mp.setenv(key, os.environ[key]) if key in os.environ else mp.delenv(key, raising=False)  # restored on exit
        yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
    torch.utils.deterministic.fill_uninitialized_memory = fill


@pytest.fixture(autouse=True)
def _one_thread_each() -> Iterator[None]:
    """The package's CPU trainer sets torch's threads to the machine's cores; each test starts on one, as the rest
    of the suite does (tests/conftest.py), so the loss comparisons run single-threaded."""
    torch.set_num_threads(1)
    yield


# -- a tiny dataset --------------------------------------------------------------------------------------


def write_dataset(root: Path) -> Path:
    """Four 64x64 images per split, each with a red and a green rectangle (classes 0 and 1) and their labels."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for i in range(4):
            img = np.full((IMGSZ, IMGSZ, 3), 40, np.uint8)
            lines = []
            for c in (0, 1):
                w, h = (int(v) for v in rng.integers(14, 26, 2))
                x0, y0 = (int(v) for v in rng.integers(0, IMGSZ - 26, 2))
                img[y0 : y0 + h, x0 : x0 + w] = (40, 40, 220) if c == 0 else (40, 220, 40)  # BGR
                lines.append(f"{c} {(x0 + w / 2) / IMGSZ:.6f} {(y0 + h / 2) / IMGSZ:.6f} {w / IMGSZ:.6f} {h / IMGSZ:.6f}")
            cv2.imwrite(str(root / "images" / split / f"{i}.png"), img)
            (root / "labels" / split / f"{i}.txt").write_text("\n".join(lines) + "\n")
    data = root / "data.yaml"
    data.write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n  0: red\n  1: green\n")
    return data


def train_args(data: Path, project: Path, name: str, epochs: int) -> dict[str, Any]:
    return dict(
        data=str(data), epochs=epochs, imgsz=IMGSZ, batch=4, workers=0, device="cpu", plots=False, amp=False, seed=0,
        mosaic=0.0, warmup_epochs=0, project=str(project), name=name, exist_ok=True, verbose=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """yolo11n, named as the package names it (a bare name: yamlnet's bundled spec at scale n), trained for two
    epochs of one batch by the package's trainer through yamlnet.ultralytics.YOLO."""
    root = tmp_path_factory.mktemp("ultralytics")
    data = write_dataset(root / "data")
    model = YOLO("yolo11n.yaml")
    assert isinstance(model.model, YamlnetModel) and model.task == "detect"
    metrics = model.train(**train_args(data, root / "runs", "train", epochs=2), max_det=50)
    return {"root": root, "data": data, "best": Path(model.trainer.best), "yolo": model, "metrics": metrics, "trainer": model.trainer}


# -- losses: bit-identical with the package's own models ----------------------------------------------------


def _batch(step: int, task: str = "detect") -> dict[str, torch.Tensor]:
    """Two 64x64 images with two objects each (boxes, and the task's masks, keypoints or angles)."""
    g = torch.Generator().manual_seed(100 + step)
    n = 4
    idx = torch.tensor([0.0, 0.0, 1.0, 1.0])
    cls = torch.randint(0, 3, (n, 1), generator=g).float()
    xy = torch.rand(n, 2, generator=g) * 0.5 + 0.25
    wh = torch.rand(n, 2, generator=g) * 0.3 + 0.1
    batch = {"img": torch.rand(2, 3, IMGSZ, IMGSZ, generator=g), "batch_idx": idx, "cls": cls, "bboxes": torch.cat([xy, wh], 1)}
    if task == "segment":  # overlapping-mask form: pixel value k marks the image's k-th object; and class maps
        masks, sem = torch.zeros(2, 16, 16), torch.zeros(2, 16, 16)
        for k in range(n):
            (x0, y0), (x1, y1) = ((xy[k] - wh[k] / 2) * 16).long().tolist(), ((xy[k] + wh[k] / 2) * 16).long().tolist()
            masks[int(idx[k]), y0:y1, x0:x1] = k % 2 + 1
            sem[int(idx[k]), y0:y1, x0:x1] = cls[k, 0]
        batch |= {"masks": masks, "sem_masks": sem}
    elif task == "pose":
        kpts = torch.rand(n, 17, 3, generator=g)
        kpts[..., :2] = xy[:, None] + (kpts[..., :2] - 0.5) * wh[:, None]
        kpts[..., 2] = 2.0
        batch["keypoints"] = kpts
    elif task == "obb":
        batch["bboxes"] = torch.cat([xy, wh, torch.rand(n, 1, generator=g) * 1.5 - 0.7], 1)
    return batch


PACKAGE_MODELS = {"detect": tasks.DetectionModel, "segment": tasks.SegmentationModel, "pose": tasks.PoseModel, "obb": tasks.OBBModel}


def _compare_training(cfg: str | Path, task: str, steps: int) -> list[list[float]]:
    """Train the package's model and yamlnet's from the same weights on the same batches (SGD with momentum);
    assert equal losses, loss items and gradients at every step. Returns the losses."""
    torch.manual_seed(0)
    theirs = PACKAGE_MODELS[task](str(cfg), nc=3, verbose=False)
    ours = build_model(cfg, nc=3)
    assert ours.task == task
    ours.load_state_dict(theirs.state_dict(), strict=True)
    theirs.args = ours.args = get_cfg(DEFAULT_CFG)
    opts = [torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9) for m in (theirs, ours)]
    losses = []
    for step in range(steps):
        batch = _batch(step, task)
        (lt, it), (lo, io) = theirs(dict(batch)), ours(dict(batch))
        assert torch.equal(lt, lo), (step, lt, lo)
        assert list(it) == list(io) and all(torch.equal(it[k], io[k]) for k in it)
        for opt, loss in zip(opts, (lt, lo)):
            opt.zero_grad()
            loss.sum().backward()
        for (name, p), q in zip(theirs.named_parameters(), ours.parameters()):
            assert (p.grad is None) == (q.grad is None) and (p.grad is None or torch.equal(p.grad, q.grad)), (step, name)
        for opt in opts:
            opt.step()
        losses.append(lo.tolist())
    return losses


@pytest.mark.parametrize("name", ["yolo11n.yaml", "yolo26n.yaml"])
def test_detection_losses_and_gradients_are_bit_identical_to_the_package(name: str) -> None:
    """yolo11n (C2PSA attention: the queries are scaled before q^T k, as in the package) and yolo26n (end-to-end
    head: the package's E2ELoss over both branches), four steps each, from the bundled specs."""
    losses = _compare_training(name, "detect", steps=4)
    assert len({tuple(v) for v in losses}) == 4 and all(v > 0 for v in losses[0][:2])  # the steps did train


@pytest.mark.parametrize(
    ("path", "task"),
    [("11/yolo11n-seg.yaml", "segment"), ("11/yolo11n-pose.yaml", "pose"), ("11/yolo11n-obb.yaml", "obb"),
     ("26/yolo26n-seg.yaml", "segment"), ("26/yolo26n-pose.yaml", "pose"), ("26/yolo26n-obb.yaml", "obb")],
)  # fmt: skip
def test_task_head_losses_are_bit_identical_to_the_package(path: str, task: str) -> None:
    """Segment/Segment26 (mask and semantic losses), Pose/Pose26 (OKS and RLE flow losses), OBB/OBB26: two steps."""
    require_ultralytics()
    losses = _compare_training(ULTRALYTICS_DIR / path, task, steps=2)
    assert len(losses[0]) >= 4 and losses[0] != losses[1]


def test_model_protocol_the_trainer_uses() -> None:
    from ultralytics.utils.loss import E2ELoss

    model = build_model("yolo26n.yaml", nc=3)
    head = model.model[-1]
    model.set_head_attr(max_det=17, no_such_attribute=1)
    assert head.max_det == 17 and not hasattr(head, "no_such_attribute")
    assert model.end2end is False  # as the package's model built from a YAML
    model.end2end = True
    assert head.end2end is True and model.end2end is True
    model.args = get_cfg(DEFAULT_CFG)
    batch = _batch(0)
    loss, items = model(dict(batch))  # the trainer's call: a batch dict gives the loss
    assert isinstance(model.criterion, E2ELoss)
    again, _ = model.loss(dict(batch))
    assert torch.equal(loss, again) and list(items) == ["box_loss", "cls_loss", "l1_loss"]
    assert not model.is_fused()
    model.eval()
    assert model.fuse(imgsz=IMGSZ) is model and model.is_fused()  # the exporter's call
    assert head.one2one_cv2 is not None and head.cv2 is None  # fusion kept the branch eval uses


# -- the trainer, validator, predictor and exporter -----------------------------------------------------------


def test_trainer_trains_a_yamlnet_model_and_saves_yamlnet_checkpoints(trained: dict[str, Any]) -> None:
    trainer = trained["trainer"]
    assert isinstance(trainer, Trainer) and trainer.epoch == 1  # two epochs
    assert isinstance(trainer.model, YamlnetModel) and trainer.model.model[-1].max_det == 50  # set_head_attr
    assert list(trainer.loss_names) == ["box_loss", "cls_loss", "dfl_loss"] and all(torch.isfinite(v).all() for v in trainer.tloss.values())
    assert trained["best"].is_file() and (trained["best"].parent / "last.pt").is_file()
    model = trained["yolo"].model  # the package reloads best.pt after training: a yamlnet model again
    assert isinstance(model, YamlnetModel) and model.names == {0: "red", 1: "green"} and model.nc == NC
    assert sum(p.numel() for p in model.parameters()) == 2_590_230  # yolo11n with 2 classes, the package's count
    assert {"metrics/mAP50(B)", "fitness"} <= set(trained["metrics"].results_dict)


def test_checkpoint_needs_one_global_and_loads_with_safe_load(trained: dict[str, Any]) -> None:
    """A checkpoint is data plus yamlnet's restore function; ULTRALYTICS_SAFE_LOAD=1 (weights_only) loads it once
    yamlnet is imported (which registers that function as a safe global), in a fresh process."""
    best = trained["best"]
    image = trained["data"].parent / "images" / "val" / "0.png"
    code = "\n".join(
        [
            "import torch",
            f"print(torch.serialization.get_unsafe_globals_in_checkpoint({str(best)!r}))",  # before yamlnet registers it
            "import yamlnet.compile.model",
            "from ultralytics import YOLO",
            f"m = YOLO({str(best)!r})",
            f"r = m.predict({str(image)!r}, imgsz=64, device='cpu', verbose=False)",
            "print(isinstance(m.model, yamlnet.compile.model.YamlnetModel), r[0].boxes.data.shape[1])",
        ]
    )
    env = {**os.environ, "ULTRALYTICS_SAFE_LOAD": "1", "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300, cwd=trained["root"])
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "['yamlnet.compile.model.restore_model']"  # the only global a yamlnet checkpoint names
    assert lines[-1].split() == ["True", "6"]


def test_package_val_and_predict_on_the_checkpoint(trained: dict[str, Any]) -> None:
    model = PackageYOLO(str(trained["best"]))  # the package's own class loads it
    assert isinstance(model.model, YamlnetModel) and model.task == "detect"
    metrics = model.val(data=str(trained["data"]), imgsz=IMGSZ, batch=4, workers=0, device="cpu", plots=False, verbose=False,
                        project=str(trained["root"] / "runs"), name="val", exist_ok=True)  # fmt: skip
    assert 0.0 <= metrics.box.map50 <= 1.0 and metrics.box.nc == NC
    [result] = model.predict(str(trained["data"].parent / "images" / "val" / "1.png"), imgsz=IMGSZ, device="cpu", conf=0.0, verbose=False)
    assert result.boxes.data.shape[1] == 6 and len(result.boxes) > 0  # conf=0: every kept box
    assert result.names == {0: "red", 1: "green"}


def _saved_model(path: Path) -> torch.nn.Module:
    """The model a trainer's checkpoint holds (the EMA; once the optimizer is stripped, under "model"), as float."""
    ckpt = torch.load(path, weights_only=True)
    return (ckpt.get("ema") or ckpt["model"]).float()


def test_package_export_gives_one_onnx_output_equal_to_the_package_model(
    trained: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The package's exporter on the checkpoint: one output `output0` of the package's shape (1, 4 + nc, anchors),
    with the values the package's own model gives for the same weights (both exported the same way)."""
    import numpy as np
    import onnx
    import onnxruntime as ort

    monkeypatch.chdir(tmp_path)  # the package writes an export of a model built from a YAML in the working folder
    ours = PackageYOLO(str(trained["best"]))
    f = ours.export(format="onnx", imgsz=IMGSZ, simplify=False, device="cpu")
    graph = onnx.load(f).graph
    assert [(o.name, [d.dim_value for d in o.type.tensor_type.shape.dim]) for o in graph.output] == [("output0", [1, 4 + NC, ANCHORS])]
    theirs = PackageYOLO("yolo11n.yaml")
    theirs.model = tasks.DetectionModel("yolo11n.yaml", nc=NC, verbose=False)
    theirs.model.load_state_dict(_saved_model(trained["best"]).state_dict())
    theirs.model.args, theirs.model.task, theirs.model.names = dict(get_cfg(DEFAULT_CFG)), "detect", {0: "red", 1: "green"}
    f2 = theirs.export(format="onnx", imgsz=IMGSZ, simplify=False, device="cpu")
    assert Path(f2).resolve() != Path(f).resolve()
    x = np.random.default_rng(0).random((1, 3, IMGSZ, IMGSZ), dtype=np.float32)
    a = ort.InferenceSession(f).run(None, {"images": x})
    b = ort.InferenceSession(f2).run(None, {"images": x})
    assert len(a) == len(b) == 1 and a[0].shape == b[0].shape == (1, 4 + NC, ANCHORS)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-5, atol=1e-4)
    script = torch.jit.load(ours.export(format="torchscript", imgsz=IMGSZ, device="cpu"))
    out = script(torch.from_numpy(x))
    assert isinstance(out, torch.Tensor) and out.shape == (1, 4 + NC, ANCHORS)  # TorchScript: the export form too
    np.testing.assert_allclose(out.numpy(), a[0], rtol=1e-4, atol=1e-3)


def test_fine_tune_from_best_pt_starts_from_its_weights(trained: dict[str, Any]) -> None:
    """The package's YOLO with yamlnet's Trainer: get_model receives the checkpoint's spec dict and its model."""
    saved = _saved_model(trained["best"]).state_dict()
    seen: dict[str, Any] = {}
    model = PackageYOLO(str(trained["best"]))
    model.add_callback("on_train_start", lambda tr: seen.update(model=tr.model, state={k: v.clone() for k, v in tr.model.state_dict().items()}))
    model.train(trainer=Trainer, **train_args(trained["data"], trained["root"] / "runs", "tune", epochs=1))
    assert isinstance(seen["model"], YamlnetModel)
    assert list(seen["state"]) == list(saved)
    assert all(torch.equal(seen["state"][k], saved[k]) for k in saved)  # every tensor transferred
    assert isinstance(model.model, YamlnetModel) and Path(model.trainer.best).is_file()


def test_custom_backbone_trains_and_exports(tmp_path: Path, trained: dict[str, Any]) -> None:
    """A seed spec (an EfficientViT backbone, which the package cannot parse) through yamlnet.ultralytics.YOLO."""
    import numpy as np
    import onnxruntime as ort

    model = YOLO(str(ROOT / "specs" / "yolo11-efficientvit.yaml"))
    model.train(**train_args(trained["data"], tmp_path, "efficientvit", epochs=1), val=False)
    assert isinstance(model.model, YamlnetModel) and model.model.names == {0: "red", 1: "green"}
    f = YOLO(str(model.trainer.best)).export(format="onnx", imgsz=IMGSZ, simplify=False, device="cpu")
    session = ort.InferenceSession(f)
    assert [o.name for o in session.get_outputs()] == ["output0"]
    [y] = session.run(None, {"images": np.zeros((1, 3, IMGSZ, IMGSZ), np.float32)})
    assert y.shape == (1, 4 + NC, ANCHORS)


def write_task_dataset(root: Path, task: str) -> Path:
    """The detection images with the task's labels: polygons (segment), corners (obb), 5 keypoints (pose)."""
    data = write_dataset(root)
    for label in (root / "labels").rglob("*.txt"):
        lines = []
        for line in label.read_text().split("\n")[:-1]:
            c, x, y, w, h = line.split()
            x0, y0, x1, y1 = float(x) - float(w) / 2, float(y) - float(h) / 2, float(x) + float(w) / 2, float(y) + float(h) / 2
            if task == "pose":  # corners and centre, all visible
                points = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (float(x), float(y))]
                lines.append(f"{line} " + " ".join(f"{px:.6f} {py:.6f} 2" for px, py in points))
            else:
                lines.append(f"{c} {x0:.6f} {y0:.6f} {x1:.6f} {y0:.6f} {x1:.6f} {y1:.6f} {x0:.6f} {y1:.6f}")
        label.write_text("\n".join(lines) + "\n")
    if task == "pose":
        data.write_text(data.read_text() + "kpt_shape: [5, 3]\n")
    return data


@pytest.mark.parametrize(
    ("task", "spec", "outputs"),
    [("segment", "11/yolo11-seg.yaml", [(1, 4 + NC + 32, ANCHORS), (1, 32, 16, 16)]),
     ("obb", "26/yolo26-obb.yaml", [(1, 4 + NC + 1, ANCHORS)]),
     ("pose", "11/yolo11-pose.yaml", [(1, 4 + NC + 15, ANCHORS)])],
)  # fmt: skip
def test_task_models_train_and_export(task: str, spec: str, outputs: list[tuple[int, ...]], tmp_path: Path) -> None:
    """The package's segment, OBB and pose trainers on yamlnet models (scale n), one epoch; the checkpoint exports
    to the package's ONNX outputs (`output0`, and the prototypes `output1` for segment)."""
    import numpy as np
    import onnxruntime as ort

    require_ultralytics()
    data = write_task_dataset(tmp_path / "data", task)
    text = (ULTRALYTICS_DIR / spec).read_text()
    path = tmp_path / Path(spec).name.replace("-", "n-", 1)  # yolo11n-seg.yaml: scale n, as the package reads names
    path.write_text(text.replace("kpt_shape: [17, 3]", "kpt_shape: [5, 3]"))
    model = YOLO(str(path))
    assert model.task == task
    model.train(**train_args(data, tmp_path, task, epochs=1), val=False, fliplr=0.0)
    assert isinstance(model.model, YamlnetModel) and model.trainer.loss_names[0] == "box_loss"
    session = ort.InferenceSession(YOLO(str(model.trainer.best)).export(format="onnx", imgsz=IMGSZ, simplify=False, device="cpu"))
    assert [o.name for o in session.get_outputs()] == ["output0", "output1"][: len(outputs)]
    ys = session.run(None, {"images": np.zeros((1, 3, IMGSZ, IMGSZ), np.float32)})
    assert [y.shape for y in ys] == outputs


def test_sizes_the_trainer_will_use_are_checked_before_training(tmp_path: Path, trained: dict[str, Any]) -> None:
    """MobileViT needs inputs that are multiples of 64; the package's validator pads square images to imgsz + 32
    (96 here). yamlnet reports that at the spec's line before the first step, instead of a reshape error in the
    first validation."""
    model = YOLO(str(ROOT / "specs" / "yolo11-mobilevit.yaml"))
    with pytest.raises(yamlnet.SpecError) as e:
        model.train(**train_args(trained["data"], tmp_path, "mobilevit", epochs=1))
    [d] = e.value.diagnostics
    assert d.code == "YN404" and (d.span.line, d.span.column) == (12, 5) and d.span.file.endswith("yolo11-mobilevit.yaml")
    assert "at input 96" in d.message and "validator 96x96" in d.notes[-1]
    assert not list(tmp_path.rglob("*.pt"))  # refused before training


# -- model configs as the package passes them ---------------------------------------------------------------------


def test_bare_names_resolve_to_bundled_specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # nothing of that name here
    assert resolve_spec("yolo11n.yaml") == ROOT / "specs" / "yolo11n.yaml"  # read as specs/yolo11.yaml, scale n
    model = build_model("yolo26s.yaml")
    want = require_ultralytics()["models"]["26/yolo26.yaml"]["s"]["params"]
    assert model.yaml["scale"] == "s" and sum(p.numel() for p in model.parameters()) == want
    (tmp_path / "yolo11.yaml").write_text((ROOT / "specs" / "yolo11.yaml").read_text().replace("nc: 80", "nc: 5"))
    assert resolve_spec("yolo11n.yaml") == Path("yolo11n.yaml")  # a file here wins, as in the package
    assert build_model("yolo11n.yaml").nc == 5
    with pytest.raises(yamlnet.SpecError) as e:
        build_model("yolo99n.yaml")
    [d] = e.value.diagnostics
    assert d.code == "YN510" and (d.span.line, d.span.column) == (0, 0) and d.span.file == "yolo99n.yaml"
    assert "yolo11{n,s,m,l,x}.yaml" in d.notes[0] and "yolo11-emo.yaml" in d.notes[0] and d.help


def test_spec_dicts_from_checkpoints_of_either_kind() -> None:
    """yamlnet's own `model.yaml`, and the package's (with its `channels` and `yaml_file` keys, which are read)."""
    ours = build_model("yolo11n.yaml", nc=3)
    again = build_model(ours.yaml)
    assert list(again.state_dict()) == list(ours.state_dict()) and again.nc == 3
    theirs = PackageYOLO("yolo11n.yaml").model.yaml  # the package's bundled yolo11.yaml, as it reads it
    assert {"channels", "yaml_file"} <= set(theirs)
    model = build_model(theirs, nc=NC)
    assert model.yaml_file == theirs["yaml_file"] and sum(p.numel() for p in model.parameters()) == 2_590_230
    with pytest.raises(ValueError, match="channels"):
        build_model({**theirs, "ch": 1, "channels": 3})


def test_weights_of_the_package_models_transfer() -> None:
    """`pretrained=` with one of the package's own models: every tensor has the same name and shape."""
    from yamlnet.ultralytics import load_weights

    theirs = tasks.DetectionModel("yolo11n.yaml", nc=3, verbose=False)
    ours = build_model("yolo11n.yaml", nc=3)
    assert load_weights(ours, theirs) == (499, 499) == load_weights(ours, {"ema": None, "model": theirs})
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()))
    assert load_weights(build_model("yolo11n.yaml", nc=5), theirs) == (493, 499)  # the class convs differ in shape


def test_pose_trainer_refuses_another_kpt_shape() -> None:
    """The package rewrites the spec's kpt_shape for the dataset; yamlnet asks for it in the spec, at its line."""
    from yamlnet.ultralytics import PoseTrainer

    require_ultralytics()
    trainer = PoseTrainer.__new__(PoseTrainer)  # check_data reads only the dataset's kpt_shape
    trainer.data = {"kpt_shape": [17, 3]}
    spec = ULTRALYTICS_DIR / "11" / "yolo11-pose.yaml"
    trainer.check_data(spec)  # the same: accepted
    trainer.data = {"kpt_shape": [5, 3]}
    with pytest.raises(ValueError, match=r"yolo11-pose.yaml:9: the spec's kpt_shape \[17, 3\] is not the dataset's \[5, 3\]"):
        trainer.check_data(spec)
    with pytest.raises(ValueError, match="the checkpoint's spec"):
        trainer.check_data({"kpt_shape": [17, 3]})


def test_what_is_not_trained_is_refused() -> None:
    """Tasks without a yamlnet trainer, text-guided heads and heads without a loss say so instead of training
    something else (the package's own model) or with the wrong loss."""
    require_ultralytics()
    model = YOLO(str(ULTRALYTICS_DIR / "11" / "yolo11-cls.yaml"))
    assert model.task == "classify" and isinstance(model.model, YamlnetModel)
    with pytest.raises(NotImplementedError, match="task is 'classify'"):
        model.train(data="unused.yaml")
    world = yamlnet.build(ULTRALYTICS_DIR / "v8" / "yolov8-worldv2.yaml", scale="s", device="meta")
    with pytest.raises(NotImplementedError, match="text-guided"):
        world.init_criterion()
    rtdetr = yamlnet.build(ULTRALYTICS_DIR / "rt-detr" / "rtdetr-l.yaml", device="meta")
    with pytest.raises(NotImplementedError, match="has no training loss"):
        rtdetr.init_criterion()
