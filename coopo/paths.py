"""Where coopo keeps files outside a run directory."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import platformdirs


def cache_dir() -> Path:
    """$COOPO_CACHE_DIR, else the user cache directory (datasets built by coopo live here)."""
    return Path(os.environ.get("COOPO_CACHE_DIR") or platformdirs.user_cache_dir("coopo"))


def coopo_data_root() -> Path:
    """coopo's own Minari data root, used when $MINARI_DATASETS_PATH is not set."""
    return cache_dir() / "datasets"


def replace_dir(tmp: Path, dest: Path) -> None:
    """Move the fully written directory ``tmp`` to ``dest``: a rename, or, over an existing
    ``dest``, two renames with the old copy set aside until the new one is in place, so
    ``dest`` is never left half-overwritten."""
    if dest.exists():
        old = dest.with_name(dest.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dest, old)
        os.replace(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, dest)
