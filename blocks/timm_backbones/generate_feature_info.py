"""Write feature_info.json: what the timm backbone declarations know of each model without importing torch.

Each model is created with `pretrained=False, features_only=True` on the meta device (no weight memory, no
download, no forward pass) through the same `create_features` the wrapper uses, and timm's `feature_info` is
recorded: channels and reduction of every feature the model offers, the default out_indices, the output
format (NHWC for Swin-like models), the creation options a fixed-input-size model needed, and the one input
size of a fixed-size model that takes no such option.

    python -m blocks.timm_backbones.generate_feature_info             # refresh every model already in the file
    python -m blocks.timm_backbones.generate_feature_info NAME ...    # add or refresh these models
    python -m blocks.timm_backbones.generate_feature_info --all       # every architecture timm lists
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from .decl import CURATED, FEATURE_INFO_FILE


def record(name: str) -> dict[str, Any]:
    """The entry of one model: its features, or why it cannot be a backbone."""
    import torch

    from .model import create_features, fixed_input_size

    try:
        with torch.device("meta"):
            feats, options = create_features(name)
    except ValueError as e:
        return {"unsupported": str(e)}
    except Exception as e:  # noqa: BLE001 - a model that does not build at all is recorded, not fatal
        first = str(e).splitlines()[0][:200] if str(e) else ""
        return {"unsupported": f"timm cannot create `{name}` with features_only=True ({type(e).__name__}: {first})"}
    info = feats.feature_info
    fmt = getattr(feats, "output_fmt", "NCHW")
    entry: dict[str, Any] = {
        "features": [[int(d["num_chs"]), int(d["reduction"])] for d in info.info],
        "out_indices": [int(i) for i in info.out_indices],
    }
    fmt_name = str(getattr(fmt, "value", fmt) or "NCHW").upper()
    if fmt_name != "NCHW":
        entry["fmt"] = fmt_name
    if options:
        entry["options"] = options
        entry["size_multiple"] = min(r for _, r in entry["features"])  # the patch size of a patch-embedding model
    elif (fixed := fixed_input_size(name)) is not None:
        entry["fixed_size"] = list(fixed)  # no dynamic-size option: this input size only
    if [entry["features"][i][0] for i in entry["out_indices"]] != list(info.channels()):  # pragma: no cover - timm invariant
        raise AssertionError(f"{name}: feature_info.info and channels() disagree")
    return entry


def write(models: dict[str, dict[str, Any]], path: Path = FEATURE_INFO_FILE) -> None:
    import timm

    lines = [f"    {json.dumps(k)}: {json.dumps(v, separators=(', ', ': '))}" for k, v in sorted(models.items())]
    header = {
        "about": "timm feature_info per model (features: [channels, reduction] of every feature; out_indices: timm's default), "
        "written by blocks/timm_backbones/generate_feature_info.py on the meta device; do not edit by hand",
        "timm_version": timm.__version__,
    }
    text = "{\n" + "".join(f"  {json.dumps(k)}: {json.dumps(v)},\n" for k, v in header.items())
    text += '  "models": {\n' + ",\n".join(lines) + "\n  }\n}\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", help="timm model names to add or refresh")
    p.add_argument("--all", action="store_true", help="record every architecture timm.list_models() gives")
    p.add_argument("--supported-only", action="store_true", help="leave out models that cannot give features")
    args = p.parse_args(argv)
    import timm

    warnings.filterwarnings("ignore")
    old: dict[str, dict[str, Any]] = {}
    if FEATURE_INFO_FILE.exists():
        old = dict(json.loads(FEATURE_INFO_FILE.read_text(encoding="utf-8"))["models"])
    names = list(args.names) or sorted(set(old) | set(CURATED))
    if args.all:
        names = sorted(set(timm.list_models()) | set(names))
    models = dict(old)
    t0 = time.time()
    for i, name in enumerate(names):
        entry = record(name)
        if "unsupported" in entry and args.supported_only and name not in CURATED:
            models.pop(name, None)
        else:
            models[name] = entry
        if (i + 1) % 50 == 0:
            print(f"{i + 1}/{len(names)} models, {time.time() - t0:.0f}s", file=sys.stderr)
    missing = [n for n in CURATED if "features" not in models.get(n, {})]
    if missing:
        print(f"error: the registered models {missing} have no features", file=sys.stderr)
        return 1
    write(models)
    bad = sum("unsupported" in e for e in models.values())
    print(f"wrote {FEATURE_INFO_FILE} ({len(models)} models, {bad} unsupported) in {time.time() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
