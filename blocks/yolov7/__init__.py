"""YOLOv7 layers (WongKinYiu/yolov7's dialect): Conv with `act` as 6th argument, MP, SP, SPPCSPC, ReOrg, DownC,
Shortcut, RepConv, the implicit-knowledge heads IDetect/IAuxDetect, its anchor Detect and the baseline CSP family.

Declarations live in `decl` (no torch); the modules in `layers` and `heads` are imported only at build time.
"""
