"""Offline algorithms (the anchoring phase), one module each, in an explicit registry."""

from typing import cast

from coopo.algorithms import OfflineAlgorithm
from coopo.offline import awac_kl, cal_ql, cql, iql, td3_bc

OFFLINE_ALGORITHMS: dict[str, OfflineAlgorithm] = {
    m.NAME: cast(OfflineAlgorithm, m) for m in (awac_kl, iql, cql, cal_ql, td3_bc)
}

__all__ = ["OFFLINE_ALGORITHMS", "awac_kl", "cal_ql", "cql", "iql", "td3_bc"]
