"""Back end: IR -> torch.fx GraphModule; weights; fusion; the meta-device shape pass."""
