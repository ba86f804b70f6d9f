"""Skip models beyond the `no-skip` baseline, one file each, named in the
`SKIP_MODELS` table of `simulator.skip_model` and imported on first use:
`parametric` (hit rates per checkpoint), `replay` (recorded decisions) and
`measured` (sampled from a SkipProfile measured on the real model).
"""
