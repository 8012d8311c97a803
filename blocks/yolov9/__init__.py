"""YOLOv9 layers of the Ultralytics dialect: RepNCSPELAN4, ELAN1, ADown, AConv, SPPELAN, CBLinear, CBFuse."""
