"""RT-DETR backbone and encoder layers of the Ultralytics dialect: HGStem, HGBlock, RepC3, ResNetLayer, AIFI."""
