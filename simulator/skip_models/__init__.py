"""Skip models beyond the `no-skip` baseline, one file each; importing this
package registers them in `simulator.skip_model.SKIP_MODELS`:
`parametric` (hit rates per checkpoint), `replay` (recorded decisions) and
`measured` (sampled from a SkipProfile measured on the real model).
"""

from simulator.skip_models import measured, parametric, replay  # noqa: F401  (registration)
