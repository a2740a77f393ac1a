"""What produced a result: package versions, the CPU or GPU model and the git commit.

:func:`provenance` is written by ``coopo bench`` into every results directory (one record per
invocation, ``provenance.json``) and into every run it trains, and by the benchmark scripts
into their JSON files.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "coopo",
    "jax",
    "jaxlib",
    "flax",
    "optax",
    "numpy",
    "gymnasium",
    "mujoco",
    "rliable",
    "arch",
    "scipy",
    "statsmodels",
)


def git_commit(path: Path | None = None) -> dict[str, Any]:
    """The commit of the checkout holding ``path`` (default: this package), and whether its
    tracked files differ from it; ``{"commit": None}`` outside a git checkout."""
    where = str(path or Path(__file__).resolve().parent)

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", "-C", where, *args], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None}
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(dirty)}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def provenance() -> dict[str, Any]:
    """One JSON-able record: when, where (host, CPU model and cores, JAX backend and devices),
    with what (Python and package versions) and from which commit."""
    import jax

    devices = jax.devices()
    backend = jax.default_backend()
    gpus = sorted({d.device_kind for d in devices if d.platform != "cpu"})
    tag = (
        f"cpu-{os.cpu_count()}core"
        if backend == "cpu"
        else devices[0].device_kind.lower().replace(" ", "-")
    )
    return {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "jax_backend": backend,
        "accelerators": gpus,
        "device_tag": tag,
        "git": git_commit(),
        "packages": package_versions(),
    }
