"""Sweep specs: a TOML file naming a base configuration and axes over any
`simulate run` option; their Cartesian product is the list of points.

    title = "Policies by load"
    slo = { ttft_ms = 2000, tpot_ms = 500 }          # goodput SLOs for the report
    [base]                                           # options of every point
    trace = "sharegpt"
    num-prompts = 1000
    [axes]                                           # one value per point, product over axes
    policy = ["fcfs", "deepest-first"]
    rate-fraction = [0.2, 0.4, 0.6]                  # share of the simulated capacity
    setup = [ { name = "cpu", device = "cpu" },      # a list of tables: several options at once
              { name = "h100", device = "h100-sxm", cost-model = "roofline" } ]

Option names are `simulate run`'s flags without the dashes (`-` or `_`),
plus `rate-fraction`. Points are numbered in product order (the first axis
varies slowest) and keyed by a hash of their options, so an interrupted
sweep finds its finished points again.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from skipsim.errors import UserError

SPEC_KEYS = {"title", "description", "slo", "base", "axes", "report"}
SLO_KEYS = {"ttft_ms": "ttft", "tpot_ms": "tpot", "e2el_ms": "e2el"}


@dataclass(frozen=True)
class Point:
    point_id: int
    options: dict  # option name (dashes) -> value, base overlaid by the axes
    axes: dict  # axis name -> the label of this point's value

    @property
    def key(self) -> str:
        text = json.dumps(self.options, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SweepSpec:
    title: str
    description: str
    base: dict
    axes: dict  # axis name -> list of values (scalars or option tables)
    slo_ms: dict  # ttft/tpot/e2el -> milliseconds
    report: dict  # free-form hints for the report
    path: str

    @classmethod
    def load(cls, path: str | Path) -> SweepSpec:
        p = Path(path)
        if not p.is_file():
            raise UserError(f"sweep spec {str(p)!r} not found")
        try:
            data = tomllib.loads(p.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise UserError(f"sweep spec {str(p)!r} is not valid TOML: {err}") from None
        return cls.from_dict(data, str(p))

    @classmethod
    def from_dict(cls, data: dict, path: str = "<spec>") -> SweepSpec:
        unknown = set(data) - SPEC_KEYS
        if unknown:
            raise UserError(f"sweep spec {path}: unknown key(s) {', '.join(sorted(unknown))} "
                            f"(expected {', '.join(sorted(SPEC_KEYS))})")
        axes = data.get("axes", {})
        for name, values in axes.items():
            if not isinstance(values, list) or not values:
                raise UserError(f"sweep spec {path}: axis {name!r} must be a non-empty list")
        slo = data.get("slo", {})
        bad = set(slo) - set(SLO_KEYS)
        if bad:
            raise UserError(f"sweep spec {path}: slo keys must be {', '.join(SLO_KEYS)}, "
                            f"got {', '.join(sorted(bad))}")
        return cls(title=data.get("title", Path(path).stem),
                   description=data.get("description", ""),
                   base=_normalise(data.get("base", {})), axes=axes,
                   slo_ms={SLO_KEYS[k]: float(v) for k, v in slo.items()},
                   report=data.get("report", {}), path=path)

    def points(self) -> list[Point]:
        names = list(self.axes)
        out = []
        for i, combo in enumerate(itertools.product(*(self.axes[n] for n in names))):
            options, labels = dict(self.base), {}
            for name, value in zip(names, combo):
                if isinstance(value, dict):
                    value = dict(value)
                    labels[name] = str(value.pop("name", None) or _label(value))
                    options.update(_normalise(value))
                else:
                    labels[name] = str(value)
                    options[_dashed(name)] = value
            if self.slo_ms and "goodput" not in options:
                options["goodput"] = [f"{k}:{v:g}" for k, v in self.slo_ms.items()]
            out.append(Point(i, options, labels))
        return out

    def to_dict(self) -> dict:
        return {"title": self.title, "description": self.description, "base": self.base,
                "axes": self.axes, "slo_ms": self.slo_ms, "report": self.report,
                "path": self.path}


def _dashed(name: str) -> str:
    return name.replace("_", "-")


def _normalise(options: dict) -> dict:
    return {_dashed(k): v for k, v in options.items()}


def _label(options: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in options.items())
