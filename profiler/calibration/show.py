"""A SkipProfile as a short text table (`simulate calibrate --show FILE`)."""

from __future__ import annotations

from profiler.calibration.skip_profile import SkipProfile


def format_profile(p: SkipProfile) -> str:
    t = str(p.target_agreement)
    cfg = p.config
    lines = [f"SkipProfile: {p.model}, {p.num_layers} layers, plan {p.boundaries}, router "
             f"{p.router}, KV {p.kv_policy}, action {p.action}, target {p.target_agreement:g}",
             f"  data: {cfg.get('calibration_tokens', '?')} calibration / "
             f"{cfg.get('test_tokens', '?')} held-out decode tokens; wall {cfg.get('wall_time_s')} s",
             "", f"  per checkpoint at target {p.target_agreement:g} (held-out):",
             "   layer  hit_prob  err|hit  landings (layer: P|hit)"]
    for c in p.checkpoints:
        s = c.by_target.get(t)
        if s is None:
            continue
        land = "  ".join(f"{'exit' if ll >= p.num_layers else ll}:{q:.2f}"
                         for ll, q in zip(c.landing_layers, s.landing_probs) if q > 0)
        lines.append(f"   {c.layer:5d}  {s.hit_prob:8.3f}  {s.error_prob:7.3f}  {land}")
    rows = p.live.get("comparison", []) + p.static_baseline
    if rows:
        lines += ["", "  live decoding on held-out prompts (teacher-forced):",
                  "   router      target  KV       agreement  skipped  KL(nats)"]
        for r in rows:
            tgt = "-" if r.get("target") is None else f"{r['target']:g}"
            extra = f"  layers {r['layers']}" if "layers" in r else ""
            lines.append(f"   {r['router']:<10}  {tgt:>6}  {r['kv_policy']:<7}  {r['agreement']:9.4f}"
                         f"  {r['skipped_fraction']:7.3f}  {r['kl_nats']:8.4f}{extra}")
    return "\n".join(lines)
