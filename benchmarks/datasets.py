"""The built datasets behind committed results, kept on their own git branch.

A results directory's runs record the content hash of the dataset they trained on
(``runs/**/dataset.json``) and its file name (``bench.json``'s ``dataset_file``). The files
themselves (tens of MB each, already compressed) live on the branch ``bench-datasets``, at the
same paths as in the working tree (``benchmarks/results/<suite>/datasets/*.npz``), not in
main's tree: a clone carries the results but checks out no dataset until asked.

Continuing a suite needs the exact data its runs trained on: `coopo bench` rebuilds a missing
dataset from its recipe, which gives the same bytes on the same kind of CPU, but MuJoCo builds
differ across CPU families (the bench then refuses to mix runs, naming both builds). Fetch the
recorded files first::

    python benchmarks/datasets.py status                         # what each results dir needs
    python benchmarks/datasets.py fetch benchmarks/results/cpu-new
    python benchmarks/datasets.py store benchmarks/results/cpu-new   # after a chunk built one

``fetch`` reads the branch (``bench-datasets``, else ``origin/bench-datasets``), writes each
missing file and checks its content hash against every run that recorded one; it never
overwrites a file. ``store`` commits the directory's dataset files onto the branch with git's
plumbing, leaving the working tree, the index and the checked-out branch as they are; it
refuses a file whose hash disagrees with the runs that recorded it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BRANCH = "bench-datasets"
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def git(*args: str, env: dict[str, str] | None = None, data: bytes | None = None) -> bytes:
    """Run git in the repository; its stderr becomes the error message."""
    done = subprocess.run(
        ["git", *args], cwd=ROOT, input=data, capture_output=True, env=env, check=False
    )
    if done.returncode:
        raise SystemExit(f"git {' '.join(args)}: {done.stderr.decode().strip()}")
    return done.stdout


def branch_ref() -> str | None:
    """The local branch, else the remote one; None where neither exists."""
    for ref in (f"refs/heads/{BRANCH}", f"refs/remotes/origin/{BRANCH}"):
        if subprocess.run(["git", "rev-parse", "-q", "--verify", ref], cwd=ROOT,
                          capture_output=True, check=False).returncode == 0:  # fmt: skip
            return ref
    return None


def recorded(results: Path) -> dict[str, set[str]]:
    """Dataset file name -> the content hashes the results directory's runs recorded."""
    needs: dict[str, set[str]] = {}
    for bench in sorted(results.glob("runs/*/*/*/bench.json")):
        name = json.loads(bench.read_text()).get("dataset_file")
        record = bench.with_name("dataset.json")
        if not name or not record.is_file():
            continue
        saved = json.loads(record.read_text()).get("hash")
        needs.setdefault(name, set()).update([saved] if saved else [])
    return needs


def check(path: Path, hashes: set[str]) -> None:
    """Refuse a file whose content is not what the runs recorded."""
    from coopo.bench.harness import dataset_hash  # what runs record in dataset.json

    now = dataset_hash(path)
    if hashes and hashes != {now}:
        raise SystemExit(
            f"{path}: content hash {now}, but its runs recorded {', '.join(sorted(hashes))}"
        )


def on_branch(ref: str | None) -> set[str]:
    if ref is None:
        return set()
    listing = git("ls-tree", "-r", "--name-only", ref, "--", "benchmarks/results")
    return set(listing.decode().split())


def status(dirs: list[Path]) -> int:
    stored = on_branch(branch_ref())
    for results in dirs:
        for name, hashes in sorted(recorded(results).items()):
            path = results / "datasets" / name
            rel = path.relative_to(ROOT).as_posix()
            here = "here" if path.is_file() else "missing"
            branch = f"on {BRANCH}" if rel in stored else f"not on {BRANCH}"
            print(f"{rel}: {here}, {branch} (hash {', '.join(sorted(hashes)) or '?'})")
    return 0


def fetch(dirs: list[Path]) -> int:
    ref = branch_ref()
    if ref is None:
        raise SystemExit(f"no branch {BRANCH} (try: git fetch origin {BRANCH}:{BRANCH})")
    stored = on_branch(ref)
    for results in dirs:
        for name, hashes in sorted(recorded(results).items()):
            path = results / "datasets" / name
            rel = path.relative_to(ROOT).as_posix()
            if path.is_file():
                print(f"{rel}: already here")
                continue
            if rel not in stored:
                print(f"{rel}: not on {ref}; `coopo bench` will rebuild it")
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".fetch.tmp")
            tmp.write_bytes(git("show", f"{ref}:{rel}"))
            try:
                check(tmp, hashes)
            except SystemExit:
                tmp.unlink()
                raise
            os.replace(tmp, path)
            print(f"{rel}: fetched from {ref}")
    return 0


def store(dirs: list[Path]) -> int:
    files: list[Path] = []
    for results in dirs:
        for name, hashes in sorted(recorded(results).items()):
            path = results / "datasets" / name
            if path.is_file():
                check(path, hashes)
                files.append(path)
    if not files:
        print("no recorded dataset files here to store")
        return 0
    ref = f"refs/heads/{BRANCH}"
    parent = branch_ref()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        if parent:
            git("read-tree", parent, env=env)
        for path in files:
            blob = git("hash-object", "-w", "--", str(path)).decode().strip()
            rel = path.relative_to(ROOT).as_posix()
            git("update-index", "--add", "--cacheinfo", f"100644,{blob},{rel}", env=env)
        tree = git("write-tree", env=env).decode().strip()
    if parent and git("rev-parse", f"{parent}^{{tree}}").decode().strip() == tree:
        print(f"{BRANCH} already holds these files")
        return 0
    names = ", ".join(p.relative_to(RESULTS).as_posix() for p in files)
    message = f"Built datasets: {names}".encode()
    commit = git("commit-tree", tree, *(["-p", parent] if parent else []), data=message)
    git("update-ref", ref, commit.decode().strip())
    print(f"{BRANCH}: stored {len(files)} file(s) at {commit.decode().strip()[:12]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["status", "fetch", "store"])
    parser.add_argument(
        "dirs", nargs="*", type=Path, help="results directories (default: all under "
        "benchmarks/results)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    dirs = [d.resolve() for d in args.dirs] or sorted(p for p in RESULTS.iterdir() if p.is_dir())
    for d in dirs:
        if not d.is_relative_to(ROOT):
            raise SystemExit(f"{d}: not inside this repository")
    return {"status": status, "fetch": fetch, "store": store}[args.action](dirs)


if __name__ == "__main__":
    sys.exit(main())
