"""Where a sweep's points run, registered by name in `BACKENDS`: `serial`
(in this process, the baseline), `pool` (a local process pool, the default)
and `ray` (Ray tasks on a local or remote cluster)."""

# the import order is the registration order
# isort: off
from reports.backends.base import BACKENDS, Backend, make_backend  # noqa: F401
from reports.backends import serial, pool, ray_tasks  # noqa: F401  (registers them)
# isort: on
