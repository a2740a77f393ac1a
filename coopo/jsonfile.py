"""Strict JSON for every file coopo writes: no ``NaN`` or ``Infinity``, which Python's json
module writes by default but JSON does not have (``jq``, JavaScript and most other parsers
refuse them). A non-finite float is written as ``null``: "no value" (a score without
reference scores, a metric that was not measured).

Also the one reader of a run's metrics file, plain while it trains or compressed once it has
finished (:func:`read_metrics`)."""

from __future__ import annotations

import gzip
import json
import math
import os
from pathlib import Path
from typing import Any

METRICS = "metrics.jsonl"
"""A run's metrics records, one JSON object a line, appended while it trains."""
METRICS_GZ = METRICS + ".gz"
"""The same file compressed, once the run has finished (:func:`compress_metrics`)."""


def finite(obj: Any) -> Any:
    """``obj`` with every non-finite float (at any depth) replaced by None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    return obj


def dumps(obj: Any, **kw: Any) -> str:
    """``json.dumps`` that writes strict JSON (non-finite floats become null)."""
    return json.dumps(finite(obj), allow_nan=False, **kw)


def read_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """A run's metrics records, from ``metrics.jsonl``, or from ``metrics.jsonl.gz`` where a
    finished run's was compressed (:func:`compress_metrics`); the plain file wins if both
    exist. Every reader of a finished run's metrics goes through here."""
    path = Path(run_dir) / METRICS
    if not path.is_file() and path.with_name(METRICS_GZ).is_file():
        path = path.with_name(METRICS_GZ)
    with (gzip.open if path.suffix == ".gz" else open)(path, "rt") as f:
        return [json.loads(line) for line in f if line.strip()]


def compress_metrics(run_dir: str | Path) -> Path | None:
    """Replace a finished run's ``metrics.jsonl`` by ``metrics.jsonl.gz`` (the same bytes
    inside; no name or time in the header, so the same records always give the same file).
    Returns the new file, or None when there was no plain file. A run still training, or one
    to be resumed for more phases, keeps the plain file it appends to."""
    plain = Path(run_dir) / METRICS
    if not plain.is_file():
        return None
    packed = plain.with_name(METRICS_GZ)
    tmp = packed.with_name(packed.name + ".tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile("", "wb", 9, raw, mtime=0) as gz:
        gz.write(plain.read_bytes())
    os.replace(tmp, packed)
    plain.unlink()
    return packed
