"""Optional extras: which packages each holds, and a one-line error naming the extra to install.

The core install (``pip install coopo``) holds what training needs; everything else is an
extra, imported lazily where it is used:

- ``report``: ``coopo report`` and the report at the end of ``coopo bench``;
- ``wandb``: ``--wandb`` logging;
- ``minari``: Minari datasets read through the ``minari`` package (``minari download`` ids);
- ``ray``: ``coopo bench --backend ray``.
"""

from __future__ import annotations

import importlib.util

EXTRAS: dict[str, tuple[str, ...]] = {
    "report": ("rliable", "arch", "scipy", "pandas", "seaborn", "matplotlib", "markdown"),
    "wandb": ("wandb",),
    "minari": ("minari",),
    "ray": ("ray",),
}
"""Extra name -> the modules it provides."""


class MissingExtra(RuntimeError):
    """An optional feature was asked for without its extra installed."""


def missing(extra: str) -> list[str]:
    """Modules of ``extra`` that cannot be found (nothing is imported)."""
    return [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]


def available(extra: str) -> bool:
    return not missing(extra)


def require(extra: str, feature: str) -> None:
    """Raise :class:`MissingExtra` (one line: the feature, what is missing, the pip command)."""
    absent = missing(extra)
    if absent:
        raise MissingExtra(
            f"{feature} needs the '{extra}' extra (missing: {', '.join(absent)}); "
            f"install it with: pip install 'coopo[{extra}]'"
        )
