"""A small sweep spec for the sweep and report tests: every point a short
synthetic run priced by the roofline, so a whole sweep takes seconds."""

from reports.spec import SweepSpec

BASE = {"trace": "fixed", "num-prompts": 30, "prompt-tokens": 64, "output-tokens": 16,
        "checkpoints": "10,10,6,4", "cost-model": "roofline", "seed": 3}


def small_spec(axes: dict | None = None, **extra) -> SweepSpec:
    axes = axes or {"policy": ["fcfs", "deepest-first"], "request-rate": [2, 8],
                    "skip-rates": ["0.1", "0.3"]}
    return SweepSpec.from_dict({"title": "small", "slo": {"ttft_ms": 500, "tpot_ms": 100},
                                "base": dict(BASE), "axes": axes, **extra})
