"""What a run was started with, and the check that a resume continues the same thing.

``coopo train`` records the versions of the packages that decide a run's numbers in
``RUN_DIR/versions.json`` (the dataset's content hash is already in ``dataset.json``).
``coopo resume`` compares both with what it is about to use: a changed dataset file or an
upgraded jax would silently change the run, so a mismatch is an error naming every difference.
``--force`` accepts it: the new values are recorded, and ``resume-log.jsonl`` keeps what was
accepted and when.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from coopo import jsonfile, provenance

PACKAGES = provenance.PACKAGES
"""The packages whose versions decide a run's numbers."""
VERSIONS_FILE = "versions.json"


class ResumeMismatch(RuntimeError):
    """The run directory was made with another dataset or other package versions."""


def package_versions() -> dict[str, str]:
    """Installed versions of :data:`PACKAGES` ("not installed" for a missing one)."""
    return {k: v or "not installed" for k, v in provenance.package_versions(PACKAGES).items()}


def record(run_dir: Path) -> None:
    """Write ``versions.json`` for a new run."""
    (Path(run_dir) / VERSIONS_FILE).write_text(json.dumps(package_versions(), indent=1) + "\n")


def differences(run_dir: Path, dataset_info: dict[str, Any] | None) -> list[str]:
    """What differs between the run's records and the dataset / packages in use now."""
    run_dir = Path(run_dir)
    diffs = []
    ds_file = run_dir / "dataset.json"
    if ds_file.is_file():
        saved = json.loads(ds_file.read_text()) or {}
        old_hash = saved.get("hash") if isinstance(saved, dict) else None
        new_hash = (dataset_info or {}).get("hash")
        if old_hash != new_hash:
            diffs.append(f"dataset hash {old_hash} -> {new_hash}")
    v_file = run_dir / VERSIONS_FILE
    if v_file.is_file():
        old = json.loads(v_file.read_text())
        new = package_versions()
        for name in sorted(set(old) | set(new)):
            if old.get(name) != new.get(name):
                diffs.append(
                    f"{name} {old.get(name, 'not recorded')} -> {new.get(name, 'not installed')}"
                )
    return diffs


def check_resume(
    run_dir: Path, dataset_info: dict[str, Any] | None, force: bool, say: Any = print
) -> None:
    """Refuse (or with ``force`` accept and record) a resume whose dataset or packages changed.

    Runs made before versions were recorded get them recorded now."""
    run_dir = Path(run_dir)
    diffs = differences(run_dir, dataset_info)
    if diffs and not force:
        raise ResumeMismatch(
            f"{run_dir} was started with another "
            + ("dataset or " if any(d.startswith("dataset") for d in diffs) else "")
            + f"package versions: {'; '.join(diffs)}. Resuming would silently change the run; "
            "pass --force to accept and record this"
        )
    if diffs:
        say(f"resuming with changes accepted (--force): {'; '.join(diffs)}")
        with open(run_dir / "resume-log.jsonl", "a") as f:
            entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "accepted": diffs}
            f.write(json.dumps(entry) + "\n")
        if dataset_info is not None:
            (run_dir / "dataset.json").write_text(
                jsonfile.dumps(dataset_info, indent=1, default=str)
            )
    if diffs or not (run_dir / VERSIONS_FILE).is_file():
        record(run_dir)
