"""Ultralytics' `Index` row: picks one output of a multi-output row (a backbone's list of feature maps)."""
