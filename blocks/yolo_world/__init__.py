"""YOLO-World and YOLOE blocks (text-guided C2fAttn, ImagePoolingAttn; WorldDetect and YOLOE heads), Ultralytics dialect."""
