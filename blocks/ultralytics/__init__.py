"""Ultralytics-dialect feature layers: C2f, C3k2/C3k, C2PSA/PSA, SCDown, C2fCIB, A2C2f, SPPF, C1, C2, ...

Declarations live in `decl` (no torch); the modules in `layers` and `attention` are imported only at build time.
"""
