"""Skip models beyond the `no-skip` baseline, one file each; importing this
package registers them in `simulator.skip_model.SKIP_MODELS`:
`parametric` (hit rates per checkpoint) and `replay` (recorded decisions).
"""

from simulator.skip_models import parametric, replay  # noqa: F401  (registration)
