"""`simulate profile`: measure a profile on this device, or show a fitted one.

    simulate profile --model smollm2 --device cpu --out prof.csv [--quick]
    simulate profile --show prof.csv [--compare other.csv]
    simulate profile --from-steps RUN/steps.parquet [...] --out fit.fit.json [--base prof.csv]
"""

from __future__ import annotations

import dataclasses
import shlex
import sys

from profiler.grid import GRIDS
from skipsim.errors import UserError
from skipsim.outputs import check_writable_file


def add_arguments(parser) -> None:
    parser.add_argument("--model", default="smollm2",
                        help="model to profile: smollm2 or a local HF folder (default: smollm2)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    parser.add_argument("--out", default=None, metavar="FILE",
                        help="write the profile here (.csv or .parquet, plus FILE's .json)")
    parser.add_argument("--quick", action="store_true",
                        help="a thinner grid that finishes in minutes on a 2-core CPU")
    parser.add_argument("--grid", choices=sorted(GRIDS), default=None,
                        help="grid preset (default: full, or quick with --quick)")
    parser.add_argument("--cold-layers", action="store_true",
                        help="time each layer and LM-head call after the rest of the weights "
                             "streamed (default: a tight loop, which priced the executor's "
                             "steps better on the Xeon VM)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch and faiss (default: torch's default)")
    parser.add_argument("--dtype", default="float32", help="weights dtype (default: float32)")
    parser.add_argument("--no-lookups", action="store_true", help="skip the faiss bank lookups")
    parser.add_argument("--only", default=None, metavar="PARTS",
                        help="measure only these parts (comma list of layers, overhead, "
                             "lookups); with an existing --out profile of this device, its "
                             "rows of these parts are replaced and the rest kept")
    parser.add_argument("--show", default=None, metavar="FILE",
                        help="print the cost model fitted to this profile and its held-out error")
    parser.add_argument("--save-fit", default=None, metavar="FILE.fit.json",
                        help="with --show: also save the fitted model (a cost-model path)")
    parser.add_argument("--from-steps", nargs="+", default=None, metavar="STEPS",
                        help="refit the layer, LM head, lookups and per-step overhead on "
                             "executor step logs (steps.parquet of `simulate execute`, or its "
                             "run folder); "
                             "writes --out FILE.fit.json")
    parser.add_argument("--base", default=None, metavar="PROFILE",
                        help="with --from-steps: the profile whose other fits are kept "
                             "(default: the committed one of the run's model)")
    parser.add_argument("--compare", default=None, metavar="FILE",
                        help="with --show: how far a second profile of the same points is "
                             "(test-retest noise)")


def run(args) -> int:
    if args.show:
        from profiler.fitted import FIT_SUFFIX, load_fitted
        from profiler.show import show_profile

        if args.save_fit:
            check_writable_file(args.save_fit, "--save-fit", (FIT_SUFFIX,))
        print(show_profile(args.show))
        if args.save_fit:
            print(f"wrote {load_fitted(args.show).save(args.save_fit)}", file=sys.stderr)
        if args.compare:
            from profiler.show import repeatability

            print(repeatability(args.show, args.compare))
        return 0
    if args.from_steps:
        return _from_steps(args)
    if args.base:
        raise UserError("--base goes with --from-steps")
    if args.compare or args.save_fit:
        raise UserError("--compare and --save-fit go with --show FILE")
    if not args.out:
        raise UserError("simulate profile needs --out FILE (or --show FILE)")
    if args.quick and args.grid not in (None, "quick"):
        raise UserError("--quick and --grid name different grids: pass one")
    from profiler.profile_table import SUFFIXES
    check_writable_file(args.out, "--out", SUFFIXES)  # before minutes of timing
    from pathlib import Path

    from profiler.record import PARTS, merge_parts, record_profile

    parts = _parts(args.only, args.no_lookups, PARTS)
    base = None
    if args.only and Path(args.out).is_file():
        from profiler.profile_table import ProfileTable

        base = ProfileTable.load(args.out)  # a bad file is refused before the timing
    grid = GRIDS["quick" if args.quick else (args.grid or "full")]()
    if args.cold_layers:
        grid = dataclasses.replace(grid, cold_layers=True)
    command = "simulate profile " + " ".join(shlex.quote(a) for a in sys.argv[1:]
                                              if a != "profile")
    table = record_profile(args.model, args.device, grid, threads=args.threads,
                           dtype=args.dtype, command=command, parts=parts)
    measured_s = table.meta["wall_s"]
    if base is not None:
        table = merge_parts(base, table)
    path = table.save(args.out)
    print(f"wrote {path} ({len(table.rows)} points, {measured_s:.0f} s, "
          f"{table.label})", file=sys.stderr)
    from profiler.show import show_profile

    print(show_profile(path))
    return 0


def _parts(only: str | None, no_lookups: bool, known: tuple[str, ...]) -> tuple[str, ...]:
    if only is None:
        return tuple(p for p in known if not (no_lookups and p == "lookups"))
    parts = tuple(p.strip() for p in only.split(",") if p.strip())
    bad = [p for p in parts if p not in known]
    if bad or not parts:
        raise UserError(f"--only takes a comma list of {', '.join(known)}, got {only!r}")
    if no_lookups and "lookups" in parts:
        raise UserError("--only lookups and --no-lookups contradict each other")
    return parts


def _from_steps(args) -> int:
    from profiler.fitted import FIT_SUFFIX

    if not args.out or not args.out.endswith(FIT_SUFFIX):
        raise UserError(f"--from-steps writes a fit: pass --out FILE{FIT_SUFFIX}")
    check_writable_file(args.out, "--out", (FIT_SUFFIX,))
    from profiler.from_steps import fit_from_steps
    from profiler.show import format_fitted

    fitted = fit_from_steps(args.from_steps, args.base)
    print(f"wrote {fitted.save(args.out)}", file=sys.stderr)
    print(format_fitted(fitted))
    over = fitted.meta["steps_overhead_heldout"]
    print(f"step_overhead_s: {fitted.step_overhead_s:.3e} (mean over the fitted steps; "
          f"held-out median APE {over['median_ape']:.1f}% on {over['n_test']} steps)")
    return 0
