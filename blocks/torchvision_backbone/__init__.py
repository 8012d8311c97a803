"""torchvision models by name as one row (Ultralytics' TorchVision block); never downloads weights."""
