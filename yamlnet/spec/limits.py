"""Limits that keep a hostile or broken spec from exhausting memory or time; a CLI flag can raise each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    file_bytes: int = 1_000_000  # a spec is a few kB
    yaml_nodes: int = 100_000  # values after alias expansion
    aliases: int = 100  # uses of one anchor
    depth: int = 32  # nesting of lists and mappings
    string_chars: int = 10_000
    expr_chars: int = 1_000  # one argument expression
    value_abs: float = 1e9  # magnitude of a number an expression may produce
    value_items: int = 100_000  # length of a list or string an expression may produce
    rows: int = 2_000
    repeats: int = 1_000  # n of one row after depth scaling
    channels: int = 65_536  # channels of one tensor
    params: int = 2_000_000_000  # parameters of the whole model
    imgsz: int = 16_384  # input height or width


DEFAULT_LIMITS = Limits()
