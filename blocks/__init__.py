"""The block library: one sub-package per family, each with a torch-free `decl` module."""
