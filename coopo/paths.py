"""Where coopo keeps files outside a run directory."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def cache_dir() -> Path:
    """$COOPO_CACHE_DIR, else the user cache directory (datasets built by coopo live here)."""
    return Path(os.environ.get("COOPO_CACHE_DIR") or platformdirs.user_cache_dir("coopo"))


def coopo_data_root() -> Path:
    """coopo's own Minari data root, used when $MINARI_DATASETS_PATH is not set."""
    return cache_dir() / "datasets"
