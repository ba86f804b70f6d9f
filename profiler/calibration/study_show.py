"""The study's tables (`simulate calibrate --show`): one frontier table with the
oracle, the static baseline and every router/action; the gap split; the
learning curve."""

from __future__ import annotations

from profiler.calibration.study import TABLE_FRACTIONS, frontier_at


def series(p) -> dict[str, list[dict]]:
    """label -> live held-out points (KV policy of the profile), ladders and targets."""
    study = p.live.get("study") or {}
    out: dict[str, list[dict]] = {}
    for r in study.get("ladders", []):
        key = r["router"] + ("" if r["action"] == p.action else f"+{r['action']}")
        out.setdefault(key, []).append(r)
    for r in p.live.get("comparison", []):
        if r["kv_policy"] == p.kv_policy and r.get("target") is not None:
            out.setdefault(r["router"], []).append(r)
    return out


def table_rows(p) -> list[tuple[str, list, float | None]]:
    """(label, agreement at each TABLE_FRACTIONS, most skipped at >= 99% agreement)."""
    study = p.live.get("study") or {}
    rows = []
    if "oracle" in study:
        o = study["oracle"]
        rows.append((f"oracle ({o['agreement']:.3f} @ {o['skipped_fraction']:.3f})",
                     [o["frontier"].get(str(f)) for f in TABLE_FRACTIONS],
                     o["skipped_fraction"] if o["agreement"] >= 0.99 else None))
    if p.static_baseline:
        rows.append(("static-BI", [frontier_at(p.static_baseline, f) for f in TABLE_FRACTIONS],
                     _best99(p.static_baseline)))
    for label, pts in sorted(series(p).items()):
        rows.append((label, [frontier_at(pts, f) for f in TABLE_FRACTIONS], _best99(pts)))
    return rows


def _best99(pts) -> float | None:
    ok = [q["skipped_fraction"] for q in pts if q["agreement"] >= 0.99]
    return max(ok) if ok else None


def _cell(x) -> str:
    return "     -" if x is None else f"{x:6.3f}"


def study_lines(p) -> list[str]:
    study = p.live.get("study") or {}
    if not study:
        return []
    head = "  ".join(f"{f:>6.0%}" for f in TABLE_FRACTIONS)
    lines = ["", f"  frontier on held-out prompts (live, KV {p.kv_policy}): agreement at skipped "
             "fraction (upper envelope of measured points; oracle beyond its point: estimate)",
             f"   {'policy':<28}  {head}  skip@99%"]
    rows = table_rows(p)
    static = next((r[1] for r in rows if r[0] == "static-BI"), None)
    for label, cells, b99 in rows:
        lines.append(f"   {label:<28}  " + "  ".join(_cell(x) for x in cells) + f"  {_cell(b99)}")
    if static:
        lines.append("   margin over static-BI (best router):")
        routers = [r for r in rows if not r[0].startswith(("oracle", "static"))]
        best = [max((r[1][k] for r in routers if r[1][k] is not None), default=None)
                for k in range(len(TABLE_FRACTIONS))]
        lines.append(f"   {'':<28}  " + "  ".join(
            "     -" if b is None or s is None else f"{b - s:+6.3f}" for b, s in zip(best, static)))
    if "oracle_offline" in study:
        o = study["oracle_offline"]
        lines.append("   offline oracle (deepest safe landing at every checkpoint, "
                     "held-out labels): "
                     f"{o['skipped_fraction']:.3f} skipped at agreement {o['agreement']:.3f}")
    if study.get("shortcut_quality"):
        q = study["shortcut_quality"]
        lines.append("   block shortcut, held-out ||A h + c - h_landing|| / ||h - h_landing||: "
                     + "  ".join(f"{k}:{v:.2f}" for k, v in q.items()))
    lines += _offline_lines(study) + _gap_lines(study) + _curve_lines(study)
    return lines


def _offline_lines(study) -> list[str]:
    rows = study.get("offline") or {}
    if not rows:
        return []
    head = "  ".join(f"{f:>6.0%}" for f in TABLE_FRACTIONS)
    lines = ["", "  offline walk of the held-out labels (no live decoding: optimistic; "
             "ranks routers cheaply):", f"   {'router':<28}  {head}  skip@99%"]
    for name, r in rows.items():
        cells = "  ".join(_cell(r["agreement_at"].get(str(f))) for f in TABLE_FRACTIONS)
        lines.append(f"   {name:<28}  {cells}  {_cell(r['skipped_at_99'])}")
    return lines


def _gap_lines(study) -> list[str]:
    gaps = study.get("gap") or {}
    if not gaps:
        return []
    lines = ["", "  gap to the oracle at the main target's offline thresholds (held-out labels, "
             "share of token x checkpoint pairs):",
             "   router     no_safe  missed  shallower  deepest  unsafe  layers taken/available"]
    for name, g in gaps.items():
        f = g["fractions"]
        lines.append(f"   {name:<9}  {f['no_safe_skip']:7.3f}  {f['missed']:6.3f}  "
                     f"{f['shallower']:9.3f}"
                     f"  {f['deepest']:7.3f}  {f['unsafe']:6.3f}  "
                     f"{g['layers_taken_safely']}/{g['layers_available']}")
    return lines


def _curve_lines(study) -> list[str]:
    curve = study.get("learning_curve") or []
    if not curve:
        return []
    head = "  ".join(f"{f:>6.0%}" for f in TABLE_FRACTIONS)
    lines = ["", "  learning curve (held-out offline walk; router refitted on the first N "
             "calibration prompts):", f"   router  prompts  tokens  {head}  skip@99%"]
    for r in curve:
        cells = "  ".join(_cell(r["agreement_at"].get(str(f))) for f in TABLE_FRACTIONS)
        lines.append(f"   {r['router']:<6}  {r['prompts']:7d}  {r['tokens']:6d}  {cells}  "
                     f"{r['skipped_at_99']:8.3f}")
    return lines
