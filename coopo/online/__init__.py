"""Online optimizers (the fine-tuning phase), one module each, in an explicit registry."""

from typing import cast

from coopo.algorithms import OnlineOptimizer
from coopo.online import ppo, rlpd, sac, td3

ONLINE_OPTIMIZERS: dict[str, OnlineOptimizer] = {
    m.NAME: cast(OnlineOptimizer, m) for m in (sac, td3, rlpd, ppo)
}

__all__ = ["ONLINE_OPTIMIZERS", "ppo", "rlpd", "sac", "td3"]
