"""Offline algorithms (the anchoring phase), one module each, in an explicit registry."""

from coopo.algorithms import OfflineAlgorithm
from coopo.offline import awac_kl

OFFLINE_ALGORITHMS: dict[str, OfflineAlgorithm] = {awac_kl.NAME: awac_kl}  # type: ignore[dict-item]

__all__ = ["OFFLINE_ALGORITHMS", "awac_kl"]
