"""Executor runs, cached by their resolved flags.

A run's key is a hash of its `simulate execute` flags plus the content hash
of the trace file it serves (and of any other file a flag names), the repeat
index and the code version (`code_version`), so a second `validate`
with the same flags reuses every finished run, and an interrupted one keeps
what finished: a run is written into a temporary folder and renamed into
place only when the executor returns 0 (the rename is the commit). A run
that fails is one line, exit 2, naming its folder.

Each run is bracketed by the machine-speed probe (`profiler.speed_probe`,
before and after, recorded in the run's `validate_run.json`), so the report
can say how fast the machine ran during it against when the profile was
measured.

The executor is driven through its own parser (`executor.cli`): `execute`
reads the trace and output flags from an argparse namespace, and going
through the parser keeps every default the command line has.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import shutil
from pathlib import Path

from skipsim.errors import UserError

DONE = "validate_run.json"


def file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


# the packages an executor run executes (its model code, policies, cost model,
# records, traces): a change to any of their sources is a new run
CODE_PACKAGES = ("executor", "policies", "profiler", "simulator", "skipsim", "traces")
FILE_FLAGS = ("skip-config", "cost-model")  # flags naming a file: keyed by its content


@functools.cache
def code_version() -> str:
    """A hash of the executor's source: every .py file of `CODE_PACKAGES`
    (path and content), so a code change never reuses a stale run."""
    root = Path(__file__).resolve().parents[2]
    h = hashlib.sha256()
    for package in CODE_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def run_key(flags: dict, trace_hash: str, repeat: int) -> str:
    files = {k: file_hash(Path(v)) for k, v in flags.items()
             if k in FILE_FLAGS and Path(str(v)).is_file()}
    # a file by its content, not its path: the same profile in another checkout is the same run
    keyed = {k: files.get(k, v) for k, v in flags.items()}
    blob = json.dumps({"flags": keyed, "trace": trace_hash, "repeat": repeat,
                       "code": code_version()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def argv_of(flags: dict) -> list[str]:
    argv = []
    for name, value in sorted(flags.items()):
        if value is None or value is False:
            continue
        argv.append(f"--{name}")
        if value is not True:
            argv.append(str(value))
    return argv


def real_run(flags: dict, trace_path: Path, repeat: int, cache: Path, log=None) -> Path:
    """The folder of a finished executor run of `flags` on `trace_path`
    (run now unless cached). `flags`: `simulate execute` flags without
    dashes, e.g. {"policy": "no-skip", "request-rate": 2.0}."""
    key = run_key(flags, file_hash(trace_path), repeat)
    out = cache / key
    if (out / DONE).is_file():
        return out
    tmp = cache / f"{key}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    argv = argv_of({**flags, "trace": str(trace_path), "out": str(tmp), "no-progress": True})
    if log:
        log(f"executor run {key}: simulate execute {' '.join(argv)}")
    from profiler.speed_probe import probe_s

    device = str(flags.get("device", "cpu"))
    before_s = probe_s(device)
    rc, message = _execute(argv)
    probe = {"before_s": before_s, "after_s": probe_s(device)}
    if rc != 0:
        raise UserError(f"an executor run failed (exit {rc}{': ' + message if message else ''}); "
                        f"its flags: simulate execute {' '.join(argv)}")
    if not (tmp / "requests.csv").is_file() or not (tmp / "steps.parquet").is_file():
        raise UserError(f"an executor run wrote no records to {tmp}")
    (tmp / DONE).write_text(json.dumps({"flags": flags, "repeat": repeat,
                                        "trace": str(trace_path), "code": code_version(),
                                        "speed_probe": probe}, indent=2))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def _execute(argv: list[str]) -> tuple[int, str]:
    """`simulate execute argv` in this process: (exit code, its error line).
    Its printed summary is kept out of validate's output."""
    from executor.cli import run
    from skipsim.cli import build_parser

    args = build_parser("execute").parse_args(["execute", *argv])
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return int(run(args) or 0), ""
    except UserError as err:
        return err.exit_code or 2, str(err)
