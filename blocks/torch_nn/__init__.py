"""Declarations of the plain `torch.nn` layers that YOLOv5 YAMLs name as `nn.*` (Upsample, MaxPool2d, ...)."""
