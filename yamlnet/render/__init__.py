"""Renderers: IR -> diagrams and summaries."""
