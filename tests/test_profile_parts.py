"""Re-measuring part of a profile (`simulate profile --only PARTS --out
EXISTING`): the rows of those parts are replaced, every other row is kept
as it was, the metadata lists the update, and a profile of another device
or model is refused in one line."""

import pytest

from profiler.profile_table import ProfileTable
from profiler.record import PART_COMPONENTS, merge_parts
from skipsim.errors import UserError
from tests.test_profiler_fitted import synthetic_profile


def partial(meta: dict, parts: list[str]) -> ProfileTable:
    """A re-measurement of `parts`: lookups 10x the synthetic ones, a new overhead."""
    recs = []
    if "lookups" in parts:
        recs += [dict(component="lookup", index="flat", where="cpu", bank_entries=n,
                      num_queries=q, median_s=3e-8 * n * q) for n in (1_000, 10_000)
                 for q in (1, 4)]
    if "overhead" in parts:
        recs += [dict(component="step_overhead", index=p, tokens=1, batch=4, median_s=s)
                 for p, s in (("no-skip", 2e-4), ("deepest-first", 3e-4))]
    for r in recs:
        r.update(p10_s=r["median_s"], p90_s=r["median_s"], repeats=3, inner=1)
    new = {**meta, "parts": parts, "command": "simulate profile --only x", "wall_s": 9.0,
           "grid": "full", "date_utc": "2026-11-30T17:00:00Z", "lookup_timed": "decision",
           "index_settings": {"k": 16}, "bank_vectors": "random"}
    return ProfileTable.from_records(recs, new)


def test_only_the_remeasured_parts_change(tmp_path):
    base = ProfileTable.load(synthetic_profile(tmp_path))
    merged = merge_parts(base, partial(base.meta, ["overhead", "lookups"]))
    rows, old = merged.rows, base.rows
    replaced = PART_COMPONENTS["overhead"] + PART_COMPONENTS["lookups"]
    kept = old[~old["component"].isin(replaced)]
    assert len(rows[~rows["component"].isin(replaced)]) == len(kept)
    assert (rows[rows["component"] == "layer"]["median_s"].to_numpy()
            == kept[kept["component"] == "layer"]["median_s"].to_numpy()).all()
    assert sorted(rows[rows["component"] == "step_overhead"]["index"]) == [
        "deepest-first", "no-skip"]
    assert len(rows[rows["component"] == "lookup"]) == 4
    assert merged.meta["lookup_timed"] == "decision"
    assert merged.meta.get("command") == base.meta.get("command")  # how the rest was made
    assert merged.meta["updates"][-1]["parts"] == ["overhead", "lookups"]
    # and it saves, loads and fits like any profile (the overhead: the rows' median)
    from profiler.fitted import MeasuredCostModel

    cm = MeasuredCostModel(profile=merged.save(tmp_path / "merged.csv"))
    assert cm.step_overhead_s == pytest.approx(2.5e-4)
    assert cm.lookup_time_s(1_000, 4) == pytest.approx(3e-8 * 1_000 * 4, rel=1e-6)


def test_a_profile_of_another_device_is_refused(tmp_path):
    base = ProfileTable.load(synthetic_profile(tmp_path))
    other = partial({**base.meta, "device_name": "Apple M3"}, ["lookups"])
    with pytest.raises(UserError, match="differs in device_name"):
        merge_parts(base, other)


@pytest.mark.parametrize("only, message", [
    ("lookups,psychic", "--only takes a comma list of layers, overhead, lookups"),
    (",", "--only takes a comma list"),
])
def test_bad_parts_are_one_line(only, message, user_error, tmp_path):
    user_error(["profile", "--only", only, "--out", str(tmp_path / "p.csv")], message)
