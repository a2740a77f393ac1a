"""Online optimizers (the fine-tuning phase), one module each, in an explicit registry."""

from coopo.algorithms import OnlineOptimizer
from coopo.online import sac

ONLINE_OPTIMIZERS: dict[str, OnlineOptimizer] = {sac.NAME: sac}  # type: ignore[dict-item]

__all__ = ["ONLINE_OPTIMIZERS", "sac"]
