"""A point's options (names of `simulate run` flags) as a `RunSpec`, and
the `simulate run` command line that reproduces the point.

The option names, types and defaults are read from `simulate run`'s own
argument parser, so every run flag (present and future) is a sweep option
without a second list to keep in step; then the same `run_spec` the CLI
calls builds the frozen spec. `rate-fraction` is the sweep's own option:
the request rate as a share of the point's simulated capacity.
"""

from __future__ import annotations

import argparse
import math
import shlex
from dataclasses import replace
from functools import lru_cache

from simulator.session import RunSpec
from skipsim.errors import UserError

# flags that are about one run's files and screen, set by the sweep itself
NOT_SWEEPABLE = {"out", "timeline", "no_progress", "records_format", "help"}
RATE_FRACTION = "rate-fraction"


@lru_cache(maxsize=1)
def _run_parser() -> argparse.ArgumentParser:
    from simulator import cli

    parser = argparse.ArgumentParser(prog="simulate run", add_help=False)
    cli.add_arguments(parser)
    return parser


def _actions() -> dict:
    return {a.dest: a for a in _run_parser()._actions if a.dest not in NOT_SWEEPABLE}


def check_names(options: dict) -> None:
    """Unknown option names, as one line."""
    known = _actions()
    for name in options:
        if name != RATE_FRACTION and name.replace("-", "_") not in known:
            raise UserError(f"unknown option {name!r}: not a `simulate run` option "
                            f"(see `simulate run --help`) nor rate-fraction")


def _convert(action: argparse.Action, name: str, value):
    if isinstance(action, argparse._StoreTrueAction):
        if not isinstance(value, bool):
            raise UserError(f"option {name!r} takes true or false, got {value!r}")
        return value
    if action.nargs in ("+", "*"):
        values = value if isinstance(value, list) else str(value).split()
        return [action.type(str(v)) if action.type else str(v) for v in values]
    try:
        return action.type(str(value)) if action.type else str(value)
    except ValueError:
        raise UserError(f"option {name!r}: {value!r} is not a valid value") from None


def run_spec(options: dict) -> RunSpec:
    """The frozen RunSpec of a point, through `simulate run`'s own `run_spec`."""
    from simulator import cli

    check_names(options)
    args = _run_parser().parse_args([])
    actions = _actions()
    for name, value in options.items():
        if name != RATE_FRACTION:
            setattr(args, name.replace("-", "_"),
                    _convert(actions[name.replace("-", "_")], name, value))
    args.no_progress = True
    spec = cli.run_spec(args)
    if RATE_FRACTION in options:
        if options.get("request-rate") is not None:
            raise UserError("give request-rate or rate-fraction, not both")
        spec = replace(spec, rate_fraction=float(options[RATE_FRACTION]))
    return spec


def command(options: dict, request_rate_per_s: float | None = None) -> str:
    """`simulate run ...` reproducing the point; the resolved rate replaces a
    rate fraction, so the command skips the probes and runs the same trace."""
    parts = ["simulate", "run"]
    for name, value in options.items():
        if name == RATE_FRACTION:
            continue
        parts += _flag(name, value)
    if RATE_FRACTION in options and request_rate_per_s is not None \
            and math.isfinite(request_rate_per_s):
        parts += ["--request-rate", repr(float(request_rate_per_s))]
    return " ".join(shlex.quote(p) for p in parts)


def _flag(name: str, value) -> list[str]:
    flag = "--" + name.replace("_", "-")
    if isinstance(value, bool):
        return [flag] if value else []
    if isinstance(value, list):
        return [flag, *map(str, value)]
    return [flag, str(value)]
