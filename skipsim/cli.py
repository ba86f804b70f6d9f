"""The `simulate` command: one entry point, one subcommand per job.

Each subcommand lives beside the code it drives, as a module exposing
`NAME`, `HELP`, `add_arguments(parser)` and `run(args) -> int`; adding one is
one line in `SUBCOMMANDS`. `simulate --trace ...` with no subcommand runs the
default one (the simulation) once it exists.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from skipsim.errors import UserError

# module paths of the subcommands, in the order `--help` lists them
SUBCOMMANDS = [
    "simulator.cli",
    "traces.cli",
    "profiler.cli",
    "profiler.calibration.cli",
    "reports.sweep_cli",
    "reports.report_cli",
]
DEFAULT_SUBCOMMAND = "run"


def _load_subcommands():
    return [importlib.import_module(path) for path in SUBCOMMANDS]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simulate",
        description="skipsim: simulate LLM serving with semantic layer skipping.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _load_subcommands():
        sub = subparsers.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    names = {m.NAME for m in _load_subcommands()}
    if argv and argv[0] not in names and argv[0] not in ("-h", "--help"):
        if DEFAULT_SUBCOMMAND in names:
            argv.insert(0, DEFAULT_SUBCOMMAND)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except UserError as err:
        print(f"simulate: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("simulate: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
