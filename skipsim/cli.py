"""The `simulate` command: one entry point, one subcommand per job.

Adding a subcommand is one line in `SUBCOMMANDS`: `(name, module path,
one-line help)`. The module lives beside the code it drives and exposes
`add_arguments(parser)` and `run(args) -> int`. It is imported only when its
subcommand is named, so `simulate --help` imports no subcommand module and
`simulate X ...` imports X's alone. Subcommand modules stay import-light:
torch, transformers, sklearn, faiss, pandas, plotly, ray or pulp (and the
simulator itself) are imported inside the functions that use them, so every
`--help` and argument error answers at once (`benchmarks/bench_startup.py`).

`simulate --trace ...` with no subcommand runs the default one (`run`).
Every error the user can fix is one line `simulate: error: ...` and exit 2,
argparse's own included; Ctrl-C is one line and exit 130.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NamedTuple, NoReturn

from skipsim.errors import UserError


class Subcommand(NamedTuple):
    name: str
    module: str  # exposes add_arguments(parser) and run(args) -> int
    help: str


# in the order `simulate --help` lists them
SUBCOMMANDS = [
    Subcommand("run", "simulator.cli",
               "simulate serving a trace with layer skipping and print the summary (default)"),
    Subcommand("trace", "traces.cli",
               "build a workload trace (ShareGPT or synthetic), print a summary, save it"),
    Subcommand("profile", "profiler.cli",
               "time the model's layers and bank lookups on this device; show a fitted profile"),
    Subcommand("calibrate", "profiler.calibration.cli",
               "measure semantic skipping on the real model (banks, routers, live accuracy) "
               "-> SkipProfile"),
    Subcommand("execute", "executor.cli",
               "serve a trace on the real model with the same policies; write the same records"),
    Subcommand("plan", "policies.placement.cli",
               "choose checkpoints, operating points and bank sizes by ILP (PuLP) -> plan.json"),
    Subcommand("sweep", "reports.sweep_cli",
               "run a sweep spec's points (process pool or Ray) into one Parquet table"),
    Subcommand("report", "reports.report_cli",
               "write a sweep's results as one self-contained HTML page"),
    Subcommand("validate", "reports.validation.cli",
               "score the simulator against the real executor at 50, 85 and 95 percent load "
               "(error table, JSON, HTML)"),
]
DEFAULT_SUBCOMMAND = "run"


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: `simulate: error: ...` and where to look."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"simulate: error: {message} (see {self.prog} --help)\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only `command`'s module is imported and its flags added."""
    parser = Parser(prog="simulate",
                    description="skipsim: simulate LLM serving with semantic layer skipping.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for sub in SUBCOMMANDS:
        sp = subparsers.add_parser(sub.name, help=sub.help, description=sub.help)
        if sub.name == command:
            module = importlib.import_module(sub.module)
            module.add_arguments(sp)
            sp.set_defaults(_run=module.run)
    return parser


def _main(argv: list[str]) -> int:
    names = {sub.name for sub in SUBCOMMANDS}
    if argv and argv[0] not in names and argv[0] not in ("-h", "--help"):
        argv.insert(0, DEFAULT_SUBCOMMAND)
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    return int(args._run(args) or 0)


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except UserError as err:
        print(f"simulate: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("simulate: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
