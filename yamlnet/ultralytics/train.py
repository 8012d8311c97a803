"""The ultralytics package's trainers and YOLO class with yamlnet models: the package's training loop, losses,
validation, prediction and export, on a model yamlnet compiled. Importing this imports the package."""

from __future__ import annotations

from typing import Any

from ultralytics import YOLO as _PackageYOLO
from ultralytics.models import yolo
from ultralytics.utils import DEFAULT_CFG_DICT, RANK

from ..spec.bundled import resolve_spec
from .model import build_model, check_sizes, load_weights


class _YamlnetModels:
    """What makes a package trainer train a yamlnet model: `get_model` compiles the spec (a path, a bundled bare
    name, or a checkpoint's spec dict when fine-tuning) with the dataset's class and channel counts, and copies
    the matching tensors of `weights` (a yamlnet model or one of the package's own)."""

    data: dict[str, Any]

    def get_model(self, cfg: Any = None, weights: Any = None, verbose: bool = True) -> Any:
        if cfg is None and weights is not None:
            cfg = weights.yaml
        self.check_data(cfg)
        nc, ch = self.data["nc"], self.data.get("channels", 3)
        model = build_model(cfg, nc=nc, ch=ch, verbose=verbose and RANK == -1)
        imgsz = getattr(self.args, "imgsz", None)  # type: ignore[attr-defined]
        if isinstance(imgsz, int) and not getattr(self.args, "multi_scale", 0):  # type: ignore[attr-defined]
            gs = max(int(model.stride.max()), 32)  # the package rounds imgsz up to a multiple of this
            check_sizes(cfg, -(-imgsz // gs) * gs, gs, nc=nc, ch=ch)  # a size error before the first step
        model = self.set_model_names_for_load(model)  # type: ignore[attr-defined]
        if weights:
            load_weights(model, weights, verbose=verbose and RANK == -1)
            if isinstance(cfg, dict) and getattr(weights, "yaml_file", None):
                model.yaml_file = weights.yaml_file  # the spec's name, for logs and export file names
        return model

    def check_data(self, cfg: Any) -> None:
        """Refuse a dataset the spec cannot take (the package would change the spec silently)."""


class DetectionTrainer(_YamlnetModels, yolo.detect.DetectionTrainer):
    """The package's DetectionTrainer, with a yamlnet model (Detect heads, YOLO26's end-to-end ones included)."""


class SegmentationTrainer(_YamlnetModels, yolo.segment.SegmentationTrainer):
    """The package's SegmentationTrainer, with a yamlnet model (Segment, Segment26 heads)."""


class OBBTrainer(_YamlnetModels, yolo.obb.OBBTrainer):
    """The package's OBBTrainer, with a yamlnet model (OBB, OBB26 heads)."""


class PoseTrainer(_YamlnetModels, yolo.pose.PoseTrainer):
    """The package's PoseTrainer, with a yamlnet model (Pose, Pose26 heads). The dataset's kpt_shape must be the
    spec's: yamlnet does not rewrite a spec's keypoint count (change `kpt_shape:` in the spec)."""

    def check_data(self, cfg: Any) -> None:
        want = self.data.get("kpt_shape")
        if want is None:
            return
        where = "the checkpoint's spec"
        if isinstance(cfg, dict):
            have = cfg.get("kpt_shape")
        else:
            from ..api import load_spec

            spec = load_spec(resolve_spec(cfg))
            have = spec.names.get("kpt_shape")  # header values rows may use, kpt_shape among them
            span = spec.span_of("kpt_shape")
            where = f"{span.file}:{span.line}"
        if have is not None and list(have) != list(want):
            raise ValueError(
                f"{where}: the spec's kpt_shape {list(have)} is not the dataset's {list(want)}; "
                f"set `kpt_shape: {list(want)}` in the spec (yamlnet does not change a spec's keypoints for a dataset)"
            )


Trainer = DetectionTrainer  # the name docs/training-ultralytics.md uses for detection
TRAINERS: dict[str, type] = {"detect": DetectionTrainer, "segment": SegmentationTrainer, "pose": PoseTrainer, "obb": OBBTrainer}


class YOLO(_PackageYOLO):
    """The package's YOLO class, with yamlnet building every model from a spec: `YOLO("my-yolo11-emo.yaml")`
    compiles the spec (a custom backbone too), `.train()` uses the trainers above (also when fine-tuning from a
    yamlnet checkpoint), and `.val()`, `.predict()`, `.export()` are the package's."""

    def _new(self, cfg: str, task: str | None = None, verbose: bool = False) -> None:
        model = build_model(cfg, verbose=verbose and RANK == -1)
        self.cfg = cfg
        self.task = task or model.task
        self.model = model
        self.overrides["model"] = self.cfg
        self.overrides["task"] = self.task
        model.args = {**DEFAULT_CFG_DICT, **self.overrides}  # as the package sets them, so export works from a spec
        model.task = self.task
        self.model_name = cfg

    @property
    def task_map(self) -> dict[str, dict[str, Any]]:
        """The package's map, with yamlnet's trainers; a task yamlnet does not train refuses instead of letting the
        package's trainer build its own model from the spec."""
        tasks = super().task_map
        return {task: {**parts, "trainer": TRAINERS.get(task) or _not_trained(task)} for task, parts in tasks.items()}


def _not_trained(task: str) -> Any:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise NotImplementedError(
            f"yamlnet.ultralytics trains {', '.join(TRAINERS)} models; this model's task is {task!r} "
            "(its model builds and runs, but the package's trainer for it would build the package's own model)"
        )

    return refuse


__all__ = ["OBBTrainer", "DetectionTrainer", "PoseTrainer", "SegmentationTrainer", "TRAINERS", "Trainer", "YOLO"]
