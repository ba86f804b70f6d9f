"""A SkipProfile as a short text table (`simulate calibrate --show FILE`)."""

from __future__ import annotations

from profiler.calibration.frontier import frontier, label, summary
from profiler.calibration.skip_profile import SkipProfile
from profiler.calibration.study_show import study_lines


def format_profile(p: SkipProfile) -> str:
    t = str(p.target_agreement)
    cfg = p.config
    calib = cfg.get("threshold_calibration", "offline")
    lines = [f"SkipProfile: {p.model}, {p.num_layers} layers, plan {p.boundaries}, router "
             f"{p.router}, KV {p.kv_policy}, action {p.action}, target {p.target_agreement:g} "
             f"(thresholds calibrated {calib})",
             f"  data: {cfg.get('calibration_tokens', '?')} calibration / "
             f"{cfg.get('test_tokens', '?')} held-out decode tokens; "
             f"wall {cfg.get('wall_time_s')} s",
             "", f"  per checkpoint at target {p.target_agreement:g} (held-out):",
             "   layer  hit_prob  err|hit  landings (layer: P|hit)"]
    for c in p.checkpoints:
        s = c.by_target.get(t)
        if s is None:
            continue
        land = "  ".join(f"{'exit' if ll >= p.num_layers else ll}:{q:.2f}"
                         for ll, q in zip(c.landing_layers, s.landing_probs) if q > 0)
        lines.append(f"   {c.layer:5d}  {s.hit_prob:8.3f}  {s.error_prob:7.3f}  {land}")
    return "\n".join(lines + _bank_lines(p) + _level_lines(p) + _live_lines(p)
                     + _frontier_lines(p) + study_lines(p))


def _bank_lines(p: SkipProfile) -> list[str]:
    fractions = sorted({f for c in p.checkpoints for f in c.by_bank_fraction}, key=float)
    if not fractions:
        return []
    lines = ["", "  bank size sweep, hit_prob / err|hit on held-out labels "
                 "(offline; each bank a random",
             "  share of the calibration bank, its threshold recalibrated to "
             f"{p.target_agreement:g} "
             "at that checkpoint alone):",
             "   layer  " + "  ".join(f"{float(f):>13g}" for f in fractions)]
    for c in p.checkpoints:
        cells = [c.by_bank_fraction.get(f) for f in fractions]
        lines.append(f"   {c.layer:5d}  " + "  ".join(
            "            -" if s is None else f"{s.hit_prob:6.3f}/{s.error_prob:6.3f}"
            for s in cells))
    return lines


def _level_lines(p: SkipProfile) -> list[str]:
    runs = p.live.get("live_calibration") or []
    if not runs:
        return []
    lines = ["", f"  live calibration of {p.router} (calibration prompts, out-of-fold routers):",
             "   precision  disagree/tokens  skipped"]
    for r in runs:
        lines.append(f"   {r['precision']:9.3f}  {r['disagreements']:6d}/{r['tokens']:<8d}"
                     f"  {r['skipped_fraction']:7.3f}")
    return lines


def _live_lines(p: SkipProfile) -> list[str]:
    rows = p.live.get("comparison", []) + p.static_baseline
    if not rows:
        return []
    lines = ["", "  live decoding on held-out prompts (teacher-forced):",
             "   router            target  KV       agreement  skipped  KL(nats)"]
    for r in rows:
        tgt = "-" if r.get("target") is None else f"{r['target']:g}"
        extra = f"  layers {r['layers']}" if "layers" in r else ""
        lines.append(f"   {label(r):<16}  {tgt:>6}  {r['kv_policy']:<7}  {r['agreement']:9.4f}"
                     f"  {r['skipped_fraction']:7.3f}  {r['kl_nats']:8.4f}{extra}")
    return lines


def _frontier_lines(p: SkipProfile) -> list[str]:
    points = frontier(p.live.get("comparison", []), p.static_baseline, p.kv_policy)
    if not points or not p.static_baseline:
        return []
    lines = ["", "  routers vs static Block Influence at equal skipped fraction "
                 f"(KV {p.kv_policy}):",
             "   router            target  skipped  agreement  static  margin"]
    for q in points:
        static = "     -" if q.static_agreement is None else f"{q.static_agreement:6.4f}"
        margin = "      -" if q.margin is None else f"{q.margin:+7.4f}"
        lines.append(f"   {q.router:<16}  {q.target:6g}  {q.skipped_fraction:7.3f}  "
                     f"{q.agreement:9.4f}"
                     f"  {static}  {margin}")
    for router, (above, measured) in summary(points).items():
        lines.append(f"   {router}: above the baseline at {above} of {measured} comparable points")
    return lines
