"""coopo: Cyclic Offline-Online Policy Optimization in JAX.

The Python API: :func:`train` (a :class:`TrainConfig`), :func:`resume`, :func:`load_policy`
and :mod:`coopo.data` (``coopo.data.load(path_or_id)``).

The names are imported on first use (PEP 562), so ``import coopo`` and ``coopo --help`` do
not pay for JAX, Flax and Gymnasium until something needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from coopo.version import __version__

if TYPE_CHECKING:
    from coopo import data
    from coopo.api import resume, train
    from coopo.config import TrainConfig
    from coopo.policy import load_policy

_LAZY = {
    "data": ("coopo.data", None),
    "TrainConfig": ("coopo.config", "TrainConfig"),
    "load_policy": ("coopo.policy", "load_policy"),
    "resume": ("coopo.api", "resume"),
    "train": ("coopo.api", "train"),
}

__all__ = ["TrainConfig", "__version__", "data", "load_policy", "resume", "train"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'coopo' has no attribute {name!r}")
    module, attr = _LAZY[name]
    value = importlib.import_module(module)
    value = value if attr is None else getattr(value, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
