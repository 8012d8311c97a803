"""Build-time settings that blocks read while they are constructed (the spec's default activation).

YOLOv5 sets `Conv.default_act` on the class, for every model in the process; here the setting lives only
while one model is being built, so two specs with different activations can be built side by side.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any

_default_activation: contextvars.ContextVar[Callable[[], Any] | None] = contextvars.ContextVar("yamlnet_default_activation", default=None)


def default_activation() -> Callable[[], Any] | None:
    """The factory of the activation a spec asked for (e.g. nn.LeakyReLU(0.1)), or None for the block's own."""
    return _default_activation.get()


@contextlib.contextmanager
def activation(factory: Callable[[], Any] | None) -> Iterator[None]:
    token = _default_activation.set(factory)
    try:
        yield
    finally:
        _default_activation.reset(token)
