"""YOLOv9 (original, WongKinYiu/yolov9) dialect: its anchor-free heads, Silence, and declarations of the GELAN layers."""
