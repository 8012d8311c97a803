"""yamlnet: a compiler from YOLO-style YAML specs to checked graphs, torch.fx modules and diagrams.

    import yamlnet
    spec = yamlnet.load_spec("specs/yolov5s.yaml")
    report = yamlnet.validate("specs/yolov5s.yaml", imgsz=640)
    model = yamlnet.build("specs/yolov5s.yaml")

Importing yamlnet does not import torch; `build` and the shape pass of `validate` do.
"""

from .api import Report, analyze, build, load_spec, validate
from .diagnostics import Diagnostic, SpecError
from .plugins import yolov5_block
from .registry import Arg, BlockDecl, SizeRule, TapDecl, block, declare, register

__version__ = "0.1.0"

__all__ = [
    "Arg",
    "BlockDecl",
    "Diagnostic",
    "Report",
    "SizeRule",
    "SpecError",
    "TapDecl",
    "analyze",
    "block",
    "build",
    "declare",
    "load_spec",
    "register",
    "validate",
    "yolov5_block",
]
