"""RT-DETR's decoder head (query selection + deformable-attention transformer decoder), Ultralytics dialect."""
