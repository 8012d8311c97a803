"""YOLOv5 (v7.0) layers: the conv family, CSP stages, pooling, Concat and the Detect/Segment/Classify heads.

Declarations live in `decl` (no torch); the modules in `common` and `heads` are imported only at build time.
"""
