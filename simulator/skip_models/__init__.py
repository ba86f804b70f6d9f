"""Skip models by name: the `no-skip` baseline beside the contract in
`simulator.skip_model`, and one file each here: `parametric` (hit rates per
checkpoint), `replay` (recorded decisions) and `measured` (sampled from a
SkipProfile measured on the real model). `SKIP_MODELS` names them all
without importing them (numpy): a module is imported on first lookup, and
its `@register_skip_model` registers it.
"""

from skipsim.registry import Registry

SKIP_MODELS: Registry = Registry(lazy={
    "no-skip": "simulator.skip_model:NeverSkip",
    "parametric": "simulator.skip_models.parametric:ParametricSkipModel",
    "replay": "simulator.skip_models.replay:ReplaySkipModel",
    "measured": "simulator.skip_models.measured:MeasuredSkipModel",
})
register_skip_model = SKIP_MODELS.register
