"""The compiled model: a torch.fx.GraphModule that also keeps the protocol YOLOv5's scripts rely on.

That protocol, as train.py, val.py, detect.py, export.py and their utilities use it: `model.model` indexable
with the detection head at `[-1]`; `stride`, `names`, `nc`, `hyp` and `yaml` (a dict that rebuilds the model)
as plain attributes, so `copy.deepcopy` and YOLOv5's EMA attribute copy keep them; `forward(x, augment=False,
profile=False, visualize=False)`; `fuse()` returning the model; `info()`; a pickle (`torch.save(model)`) that
reloads, in a fresh process with yamlnet installed, as this class.

It also keeps what the ultralytics package's trainer, validator and exporter call on a model (see
docs/training-ultralytics.md): `model(batch_dict)` and `loss(batch, preds)` returning the package's loss,
`init_criterion()` (the head's `criterion` hook), `set_head_attr(**kw)`, `fuse(verbose=, imgsz=)`, `is_fused()`
and `end2end`. Nothing here imports the package; the head's hook does when a loss is first needed.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from .fuse import fuse_modules

PICKLE_FORMAT = "yamlnet-model/1"
_OWN_PACKAGES = ("torch", "torchvision", "timm", "einops", "blocks", "yamlnet")  # found by the loader without the pickle naming them


class Layers(nn.Module):
    """The modules of the rows, as `model.model`. `layers[i]` is the row at position i (state_dict key
    `model.{i}`, YOLOv5's layer index); a negative i counts back from the last row, so `layers[-1]` is the head.
    Iteration yields the modules in row order (rows without a module, such as Index rows, are skipped)."""

    def _end(self) -> int:
        keys = [int(k) for k in self._modules]
        return max(keys) + 1 if keys else 0

    def __len__(self) -> int:
        return self._end()

    def __iter__(self) -> Iterator[nn.Module]:
        return iter(m for m in self._modules.values() if m is not None)

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return [self._modules[str(j)] for j in range(*i.indices(self._end())) if str(j) in self._modules]
        if not isinstance(i, int) or isinstance(i, bool):
            raise TypeError(f"layers are indexed by row position (an int), not {type(i).__name__}")
        end = self._end()
        j = i + end if i < 0 else i
        if not 0 <= j < end:
            raise IndexError(f"row {i} is out of range: the model has rows 0..{end - 1}")
        m = self._modules.get(str(j))
        if m is None:
            raise IndexError(f"row {j} has no module (an Index row selects an output of another row)")
        return m


class YamlnetModel(fx.GraphModule):
    """A GraphModule whose forward is straight-line code generated from a spec.

    `stride` is a float tensor of the detection strides (or of the taps' strides for a backbone-only spec);
    it stays float32 through `.half()`. `fuse()` folds BatchNorms and reparameterises blocks for deployment.
    """

    stride: torch.Tensor
    nc: int | None
    names: dict[int, str]
    yaml: dict[str, Any]  # the spec as plain data, overrides applied: Model(model.yaml) rebuilds this model
    yaml_file: str
    hyp: dict[str, Any]  # training hyperparameters (YOLOv5's loss reads them from here)
    fused: str | None  # None, "yolov5" (fuse(backbones=False)) or "all"
    load_reports: list[Any]  # yamlnet.compile.weights.LoadReport, one per weights file loaded
    row_params: dict[int, int]  # parameters per row position, counted when built
    model: Layers

    def __init__(self, root: nn.Module | dict[str, Any], graph: fx.Graph, class_name: str = "YamlnetModel") -> None:
        super().__init__(root, graph, class_name)
        self._adopt_layers()

    def _adopt_layers(self) -> None:
        """GraphModule rebuilds `model` as a plain container when it copies the called submodules; make it
        the indexable `Layers` again (same children, so state_dict keys and generated code are unchanged)."""
        inner = self._modules.get("model")
        if inner is not None and type(inner) is not Layers:
            layers = Layers()
            layers._modules.update(inner._modules)
            layers.training = inner.training
            self._modules["model"] = layers

    # -- forward with YOLOv5's keywords -------------------------------------------------------------------

    def recompile(self) -> Any:
        code = super().recompile()
        cls = type(self)  # GraphModule gives every instance its own class and puts the generated forward there
        generated = cls.__dict__.get("forward")
        if generated is not None and generated is not YamlnetModel.forward and generated is not YamlnetModel._forward_more:
            cls.graph_forward = generated  # type: ignore[attr-defined]
            inputs = sum(1 for n in self.graph.nodes if n.op == "placeholder")
            cls.forward = YamlnetModel.forward if inputs == 1 else YamlnetModel._forward_more  # type: ignore[method-assign]
        return code

    def forward(self, x: torch.Tensor, augment: bool = False, profile: bool = False, visualize: Any = False) -> Any:  # type: ignore[override]
        """The model's outputs for x. `augment`: YOLOv5's test-time augmentation (three scales, one flipped);
        `profile`: log the time of every row; `visualize`: a folder to save every row's feature maps in.
        A dict (the ultralytics trainer's batch, images under "img") gives `loss(batch)` instead."""
        if isinstance(x, dict):
            return self.loss(x)
        if augment:
            return self._forward_augment(x)
        if profile or visualize:
            return self._forward_observed(x, profile, visualize)
        return self.graph_forward(x)

    def _forward_more(self, x: torch.Tensor, *more: Any, augment: bool = False, profile: bool = False, visualize: Any = False) -> Any:
        """forward for a graph with further inputs (text embeddings of YOLO-World-style blocks)."""
        if isinstance(x, dict):
            return self.loss(x)
        if augment:
            raise NotImplementedError("test-time augmentation is not available for a model with further inputs")
        if profile or visualize:
            return self._forward_observed(x, profile, visualize, *more)
        return self.graph_forward(x, *more)

    def graph_forward(self, x: torch.Tensor, *more: Any) -> Any:  # replaced per instance by the generated code
        raise NotImplementedError

    @torch.jit.unused
    def _forward_augment(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        """Test-time augmentation as YOLOv5 does it: the image at scales 1, 0.83 (flipped left-right) and 0.67;
        boxes mapped back to the input; the coarsest level dropped at scale 1 and the finest at the smallest
        scale; all boxes concatenated. Returns (boxes, None) like YOLOv5."""
        head = self.model[-1]
        if not hasattr(head, "na") or not isinstance(getattr(head, "stride", None), torch.Tensor):
            raise NotImplementedError("test-time augmentation needs a detection head (Detect or Segment) as the last row")
        h, w = x.shape[-2:]
        gs = int(self.stride.max())
        outs: list[torch.Tensor] = []
        sizes: list[tuple[int, int]] = []
        for scale, flip in ((1.0, False), (0.83, True), (0.67, False)):
            xi = _scale_and_pad(x.flip(3) if flip else x, scale, gs)
            y = self.graph_forward(xi)[0]
            y[..., :4] /= scale
            if flip:
                y[..., 0] = w - y[..., 0]
            outs.append(y)
            sizes.append((int(xi.shape[-2]), int(xi.shape[-1])))
        strides = [float(s) for s in head.stride]
        na = int(head.na)
        last = na * math.ceil(sizes[0][0] / strides[-1]) * math.ceil(sizes[0][1] / strides[-1])
        first = na * math.ceil(sizes[-1][0] / strides[0]) * math.ceil(sizes[-1][1] / strides[0])
        outs[0] = outs[0][:, : outs[0].shape[1] - last]  # large objects at full scale
        outs[-1] = outs[-1][:, first:]  # small objects at the smallest scale
        return torch.cat(outs, 1), None

    @torch.jit.unused
    def _forward_observed(self, x: torch.Tensor, profile: bool, visualize: Any, *more: Any) -> Any:
        """The plain forward with hooks on every row: its time (profile) and its feature maps (visualize)."""
        times: dict[str, float] = {}
        starts: dict[str, float] = {}
        folder = Path(visualize) if visualize else None
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        handles = []

        def before(name: str) -> Callable[..., None]:
            def hook(_m: nn.Module, _inp: Any) -> None:
                if x.is_cuda:
                    torch.cuda.synchronize()
                starts[name] = time.perf_counter()

            return hook

        def after(name: str) -> Callable[..., None]:
            def hook(m: nn.Module, _inp: Any, out: Any) -> None:
                if x.is_cuda:
                    torch.cuda.synchronize()
                times[name] = times.get(name, 0.0) + time.perf_counter() - starts[name]
                if folder is not None and isinstance(out, torch.Tensor) and out.dim() == 4:
                    save_feature_maps(out, folder / f"stage{name}_{type(m).__name__}_features.png")

            return hook

        for name, m in self.model._modules.items():
            if m is not None:
                handles.append(m.register_forward_pre_hook(before(name)))
                handles.append(m.register_forward_hook(after(name)))
        try:
            out = self.graph_forward(x, *more)
        finally:
            for h in handles:
                h.remove()
        if profile:
            lines = [f"{'row':>4} {'time (ms)':>10} {'params':>10}  module"]
            for name, t in times.items():
                m = self.model._modules[name]
                lines.append(f"{name:>4} {t * 1e3:10.2f} {sum(p.numel() for p in m.parameters()):10,}  {type(m).__name__}")
            lines.append(f"{'':>4} {sum(times.values()) * 1e3:10.2f} {'':>10}  total")
            print("\n".join(lines))
            self.profile_times = {int(k): v for k, v in times.items()}
        return out

    # -- deployment and information -----------------------------------------------------------------------

    def fuse(self, backbones: bool = True, verbose: bool = False, imgsz: Any = None) -> YamlnetModel:
        """Deploy form: fold Conv+BN and reparameterise branches. `backbones=False` fuses only the YOLOv5
        layers, as YOLOv5's own fuse() does; the default fuses every block that can be fused. `verbose` prints
        `info()` afterwards (at `imgsz`), as the ultralytics package's fuse does."""
        fuse_modules(self, yolov5_only=not backbones)
        self.recompile()
        self.fused = "all" if backbones or getattr(self, "fused", None) == "all" else "yolov5"
        if verbose:
            size = imgsz if imgsz is not None else 640
            self.info(imgsz=tuple(size) if isinstance(size, (list, tuple)) else int(size))
        return self

    def is_fused(self) -> bool:
        """Whether fuse() ran (the ultralytics package asks before it loads weights into a model)."""
        return getattr(self, "fused", None) is not None

    # -- the ultralytics trainer's protocol ------------------------------------------------------------------

    def head(self) -> nn.Module:
        """The module of the last row (the detection head of a detector)."""
        return self.model[-1]  # type: ignore[no-any-return]

    def set_head_attr(self, **kwargs: Any) -> None:
        """Set attributes of the head (the trainer sets max_det); a name the head lacks is skipped with a warning."""
        import logging

        head = self.head()
        for k, v in kwargs.items():
            if hasattr(head, k):
                setattr(head, k, v)
            else:
                logging.getLogger("yamlnet").warning("the head %s has no attribute %r; not set", type(head).__name__, k)

    def init_criterion(self) -> Any:
        """The training loss for this model, from its head's `criterion(model)` hook (the ultralytics package's
        loss for Detect, Segment, Pose and OBB heads)."""
        head = self.head()
        make = getattr(head, "criterion", None)
        if not callable(make):
            raise NotImplementedError(f"the head {type(head).__name__} has no training loss (its block defines no `criterion(model)`)")
        return make(self)

    def loss(self, batch: dict[str, Any], preds: Any = None) -> Any:
        """(loss, loss items) of the criterion for a batch (images under "img"); preds are computed when None."""
        if getattr(self, "criterion", None) is None:
            self.criterion = self.init_criterion()
        if preds is None:
            preds = self.forward(batch["img"])
        return self.criterion(preds, batch)

    @property
    def end2end(self) -> bool:
        """Whether eval decodes the head's one-to-one branch (no NMS needed); False for a head without one."""
        return bool(getattr(self.head(), "end2end", False)) if len(self.model) else False

    @end2end.setter
    def end2end(self, value: bool) -> None:
        head = self.head()
        if hasattr(head, "end2end"):
            head.end2end = value

    def info(
        self, verbose: bool = False, img_size: int | tuple[int, int] = 640, imgsz: int | tuple[int, int] | None = None
    ) -> tuple[int, int, int, float | None]:
        """Print and return (modules, parameters, gradients, GFLOPs at img_size); FLOPs are counted by
        torch.utils.flop_counter on the meta device (no computation), None when a block cannot run there."""
        size = imgsz if imgsz is not None else img_size
        hw = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
        n_modules = sum(1 for _ in self.modules())
        n_params = sum(p.numel() for p in self.parameters())
        n_grads = sum(p.numel() for p in self.parameters() if p.requires_grad)
        gflops = self.flops(hw)
        if verbose:
            for name, p in self.named_parameters():
                print(f"{name:60s} {str(p.requires_grad):6s} {p.numel():>10,} {list(p.shape)}")
        name = Path(getattr(self, "yaml_file", "") or "model").stem
        fl = f", {gflops:.1f} GFLOPs at {hw[0]}x{hw[1]}" if gflops is not None else ""
        print(f"{name} summary: {n_modules} modules, {n_params:,} parameters, {n_grads:,} gradients{fl}")
        return n_modules, n_params, n_grads, gflops

    def flops(self, hw: tuple[int, int] = (640, 640), batch: int = 1) -> float | None:
        """GFLOPs of one forward at hw, counted on the meta device with the model's own parameters swapped for
        meta tensors (nothing is computed or copied)."""
        from torch.func import functional_call
        from torch.utils.flop_counter import FlopCounterMode

        tensors = {k: torch.empty_like(v, device="meta") for k, v in [*self.named_parameters(), *self.named_buffers()]}
        x = torch.empty(batch, _in_channels(self), *hw, device="meta")
        was_training = self.training
        counter = FlopCounterMode(display=False)
        try:
            self.eval()
            with torch.no_grad(), counter:
                functional_call(self, tensors, (x,))
        except Exception:  # a block that reads values (cannot run on meta): no count rather than a wrong one
            return None
        finally:
            self.train(was_training)
        return counter.get_total_flops() / 1e9

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # -- dtype and device: stride stays float --------------------------------------------------------------

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> YamlnetModel:  # type: ignore[override]
        super()._apply(fn, recurse)
        s = self.__dict__.get("stride")
        if isinstance(s, torch.Tensor):
            s = fn(s)
            self.stride = s.float() if s.is_floating_point() else s
        for m in self.modules():
            if m is not self and getattr(m, "yamlnet_head", False):
                s = getattr(m, "stride", None)
                if isinstance(s, torch.Tensor) and "stride" not in m._buffers:
                    m.stride = fn(s)
                for attr in ("grid", "anchor_grid"):
                    if isinstance(getattr(m, attr, None), list):
                        setattr(m, attr, [fn(t) for t in getattr(m, attr)])
        return self

    # -- copies: deepcopy keeps every attribute, pickles rebuild from the spec -----------------------------

    def __deepcopy__(self, memo: dict[int, Any]) -> YamlnetModel:
        res: YamlnetModel = super().__deepcopy__(memo)  # type: ignore[assignment]
        res._adopt_layers()
        for k, v in self.__dict__.items():
            if k not in res.__dict__:
                res.__dict__[k] = copy.deepcopy(v, memo)
        res.training = self.training
        return res

    def __copy__(self) -> YamlnetModel:
        """A shallow copy (shared submodules) that keeps the class, the layers container and the attributes."""
        res = YamlnetModel(self, self.graph, type(self).__name__)
        for k, v in self.__dict__.items():
            if k not in res.__dict__:
                res.__dict__[k] = v
        res.training = self.training
        return res

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as data only: the spec (`yaml`), the state_dict, plain attributes and flags. Loading runs the
        compiler on the spec and loads the tensors, so a checkpoint needs no generated code and loads under
        `torch.load(..., weights_only=True)` (with `restore_model` among the safe globals, which yamlnet adds)."""
        if not isinstance(getattr(self, "yaml", None), dict):
            raise TypeError("this model has no `yaml` spec dict, so a pickle could not rebuild it; save its state_dict instead")
        params = list(self.parameters())
        classes = sorted(
            {type(m) for m in self.modules() if type(m).__module__.split(".")[0] not in _OWN_PACKAGES and not isinstance(m, fx.GraphModule)},
            key=lambda c: (c.__module__, c.__qualname__),
        )
        payload = {
            "format": PICKLE_FORMAT,
            "yaml": self.yaml,
            "state_dict": self.state_dict(),
            "attrs": {k: v for k, v in self.__dict__.items() if not k.startswith("_") and k not in ("training", "meta") and _plain(v)},
            "fused": getattr(self, "fused", None),
            "training": self.training,
            "frozen": [n for n, p in self.named_parameters() if not p.requires_grad],
            "dtype": str(params[0].dtype).removeprefix("torch.") if params else "float32",
            "heads": {
                n: {"export": bool(m.export), "inplace": bool(m.inplace)}
                for n, m in self.named_modules()
                if getattr(m, "yamlnet_head", False) and hasattr(m, "export")
            },
            "classes": classes,  # plugin blocks: unpickling imports their modules, which registers them
        }
        return (restore_model, (payload,))


def restore_model(payload: dict[str, Any]) -> YamlnetModel:
    """Rebuild a pickled YamlnetModel: compile its spec, fuse as it was, load its tensors and attributes."""
    from .build import compile_text

    if not isinstance(payload, dict) or payload.get("format") != PICKLE_FORMAT:
        raise ValueError(f"not a pickled yamlnet model (format {payload.get('format') if isinstance(payload, dict) else type(payload).__name__!r})")
    model = compile_text(spec_text(payload["yaml"]), row_weights=False)
    if payload.get("fused"):
        model.eval()
        model.fuse(backbones=payload["fused"] == "all")
    state = payload["state_dict"]
    first = next((v for v in state.values() if isinstance(v, torch.Tensor)), None)
    model.load_state_dict(state, strict=True)
    for k, v in payload.get("attrs", {}).items():
        # data attributes only: a crafted pickle cannot replace methods, properties or module internals
        if isinstance(k, str) and k.isidentifier() and not k.startswith("_") and k != "training" and not hasattr(type(model), k):
            setattr(model, k, v)
    frozen = set(payload.get("frozen", ()))
    for n, p in model.named_parameters():
        p.requires_grad_(n not in frozen)
    for n, flags in payload.get("heads", {}).items():
        head = model.get_submodule(n)
        for k in ("export", "inplace"):
            if isinstance(flags.get(k), bool):
                setattr(head, k, flags[k])
    dtype = getattr(torch, payload.get("dtype", "float32"), torch.float32)
    device = first.device if first is not None else torch.device("cpu")
    if dtype != torch.float32 or device.type != "cpu":
        model.to(device=device, dtype=dtype if dtype.is_floating_point else None)
    model.train(bool(payload.get("training", False)))
    return model


def spec_text(spec: dict[str, Any]) -> str:
    """A spec given as a dict (YOLOv5's `model.yaml`) as YAML text for the compiler."""
    import yaml

    if not isinstance(spec, dict):
        raise TypeError(f"a spec dict is a mapping of top-level keys, not {type(spec).__name__}")
    text = yaml.safe_dump(spec, sort_keys=False, default_flow_style=None, width=1_000_000)
    return text if "\n" in text else text + "\n"


def _plain(v: Any, depth: int = 0) -> bool:
    """Data a weights_only unpickler can read back: numbers, strings, None, tensors and containers of them."""
    if depth > 20:
        return False
    if v is None or isinstance(v, (bool, int, float, str, torch.Tensor)):
        return True
    if isinstance(v, (list, tuple)):
        return all(_plain(x, depth + 1) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, (str, int)) and _plain(x, depth + 1) for k, x in v.items())
    return False


def _in_channels(model: YamlnetModel) -> int:
    y = getattr(model, "yaml", None)
    return int(y.get("ch", 3)) if isinstance(y, dict) and isinstance(y.get("ch", 3), int) else 3


def _scale_and_pad(x: torch.Tensor, scale: float, multiple: int) -> torch.Tensor:
    """x resized by `scale` (bilinear) and padded right and bottom with grey (0.447) to a multiple of `multiple`."""
    if scale == 1.0:
        return x
    h, w = x.shape[-2:]
    nh, nw = int(h * scale), int(w * scale)
    x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False)
    ph, pw = math.ceil(h * scale / multiple) * multiple, math.ceil(w * scale / multiple) * multiple
    return F.pad(x, [0, pw - nw, 0, ph - nh], value=0.447)


def save_feature_maps(t: torch.Tensor, path: Path, n: int = 32) -> None:
    """The first n channels of the first image of t, each normalised to 0..1, as one grid image."""
    from torchvision.utils import save_image

    maps = t[0, :n].detach().float().cpu().unsqueeze(1)
    lo = maps.amin(dim=(2, 3), keepdim=True)
    hi = maps.amax(dim=(2, 3), keepdim=True)
    save_image((maps - lo) / (hi - lo).clamp_min(1e-12), str(path), nrow=8, padding=1)


def count_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


try:  # checkpoints of yamlnet models load under torch.load(weights_only=True): the rebuild is data-driven
    torch.serialization.add_safe_globals([restore_model])
except AttributeError:  # pragma: no cover - torch without safe globals
    pass


__all__ = ["Any", "Layers", "YamlnetModel", "count_params", "restore_model", "spec_text"]
