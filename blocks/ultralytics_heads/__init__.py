"""Ultralytics-dialect heads (8.4 structure): anchor-free Detect and its task forms, YOLOv10 and YOLO26 heads,
Classify, Depth and SemanticSegment.

Declarations live in `decl` (no torch); `detect`, `dense` and `parts` are imported only at build time.
"""
