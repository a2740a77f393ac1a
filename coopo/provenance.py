"""What made a result: package versions, coopo's git commit, the CPU and the GPU.

:func:`collect` returns one JSON-ready dict; dataset metadata (``extra['provenance']``) and
benchmark result files record it, and every run directory keeps one per invocation
(``provenance.json``; :func:`record_run`, which ``coopo resume`` uses to warn when the
software or the host changed), so a number can be traced to the software and the host that
produced it. Hosts of the same size differ (vector units, clock), so the CPU model and its
vector flags are part of it. :func:`differences` compares two records field by field.

Nothing here starts JAX's backends (no accelerator memory is taken just to describe it).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("coopo", "jax", "jaxlib", "flax", "optax", "numpy", "mujoco", "gymnasium")
"""Distributions whose versions are recorded."""

REPORT_PACKAGES = ("rliable", "arch", "scipy", "statsmodels")
"""Distributions that decide a report's statistics (recorded by ``coopo bench`` too)."""

VECTOR_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512_bf16",
    "amx_tile",
    "neon",
    "asimd",
)
"""CPU flags (from /proc/cpuinfo) that decide matmul throughput."""


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution (None when it is not installed)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


@functools.cache
def git_commit() -> str | None:
    """The commit of the checkout coopo is imported from (with '+dirty' for local changes),
    or None for an installed wheel or no git."""
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return None
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "coopo"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def cpu_info(cpuinfo: str | None = None) -> dict[str, Any]:
    """CPU model, logical cores, vector flags and, where /proc/cpuinfo gives them, the x86
    family/model numbers (Linux: /proc/cpuinfo; elsewhere the model only).

    Family and model are recorded because built datasets depend on them: two "AMD EPYC" hosts
    with the same vector flags (different families) built different ``halfcheetah-medium``
    content from the same commit (numpy's OpenBLAS picks its kernels per CPU)."""
    text = cpuinfo
    if text is None:
        try:
            text = Path("/proc/cpuinfo").read_text()
        except OSError:
            text = ""
    model, flags = "", set()  # type: str, set[str]
    numbers: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model") and not model:
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = set(value.split())
        elif key in ("cpu family", "model") and key not in numbers and value.strip().isdigit():
            numbers[key] = int(value)
    info: dict[str, Any] = {
        "model": model or platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "vector_flags": [f for f in VECTOR_FLAGS if f in flags],
    }
    if numbers:
        info["family"] = numbers.get("cpu family")
        info["model_number"] = numbers.get("model")
    return info


def describe_cpu(cpu: dict[str, Any]) -> str:
    """A CPU record in words: model, family/model numbers where known, and vector flags."""
    ident = cpu.get("model") or "an unnamed CPU"
    if cpu.get("family") is not None:
        ident += f" (family {cpu['family']}, model {cpu.get('model_number')})"
    flags = ", ".join(cpu.get("vector_flags") or []) or "no vector extensions"
    return f"{ident} with {flags}"


@dataclasses.dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    memory_mib: int


def detect_gpus() -> list[Gpu]:
    """NVIDIA GPUs this process may use (nvidia-smi, honouring CUDA_VISIBLE_DEVICES). JAX is
    not asked: initialising its GPU backend just to describe the card would preallocate most
    of its memory in this process (and take it from ``coopo bench``'s workers)."""
    try:
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    if smi.returncode != 0:
        return []
    gpus = []
    for line in smi.stdout.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3 and parts[0].isdigit() and parts[2].isdigit():
            gpus.append(Gpu(int(parts[0]), parts[1], int(parts[2])))
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        keep = [v.strip() for v in visible.split(",") if v.strip()]
        gpus = [g for g in gpus if str(g.index) in keep]
    return gpus


def gpu_info() -> list[str]:
    """Models of the NVIDIA GPUs this process may use."""
    return [g.name for g in detect_gpus()]


def collect(packages: tuple[str, ...] = PACKAGES) -> dict[str, Any]:
    """Versions (of ``packages``), commit and host, as one JSON-ready record."""
    return {
        "versions": package_versions(packages),
        "python": platform.python_version(),
        "git_commit": git_commit(),
        "host": {
            "platform": platform.platform(),
            "cpu": cpu_info(),
            "gpu": gpu_info(),
        },
    }


def device_tag() -> str:
    """``cpu-<cores>core`` or the accelerator's kind (``nvidia-h100-80gb-hbm3``): the name
    benchmark result files carry. Starts JAX's default backend."""
    import jax

    d = jax.devices()[0]
    if d.platform == "cpu":
        return f"cpu-{os.cpu_count()}core"
    return d.device_kind.lower().replace(" ", "-")


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable 'field: old -> new' lines for every leaf that differs."""

    def flatten(d: Any, prefix: str = "") -> dict[str, Any]:
        if not isinstance(d, dict):
            return {prefix: d}
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out

    a, b = flatten(old), flatten(new)
    return [
        f"{k}: {a.get(k)} -> {b.get(k)}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)
    ]


FILE = "provenance.json"
"""In a run directory: one record per invocation (the training, then every resume)."""


def record_run(run_dir: Path) -> list[str]:
    """Append this invocation's record to ``RUN_DIR/provenance.json``; return how it differs
    from the record of the run's first invocation ([] for a new run or the same software and
    host)."""
    path = Path(run_dir) / FILE
    records: list[dict[str, Any]] = json.loads(path.read_text()) if path.is_file() else []
    now = collect()
    path.write_text(json.dumps([*records, now], indent=1))
    return differences(records[0], now) if records else []
