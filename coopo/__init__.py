"""coopo: Cyclic Offline-Online Policy Optimization in JAX.

The Python API: :func:`train` (a :class:`TrainConfig`), :func:`resume`, :func:`load_policy`
and :mod:`coopo.data` (``coopo.data.load(path_or_id)``).
"""

from coopo import data  # noqa: E402
from coopo.config import TrainConfig  # noqa: E402
from coopo.policy import load_policy  # noqa: E402
from coopo.runner import resume, train  # noqa: E402
from coopo.version import __version__

__all__ = ["TrainConfig", "__version__", "data", "load_policy", "resume", "train"]
