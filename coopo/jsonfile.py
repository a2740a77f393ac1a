"""Strict JSON for every file coopo writes: no ``NaN`` or ``Infinity``, which Python's json
module writes by default but JSON does not have (``jq``, JavaScript and most other parsers
refuse them). A non-finite float is written as ``null``: "no value" (a score without
reference scores, a metric that was not measured)."""

from __future__ import annotations

import json
import math
from typing import Any


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
