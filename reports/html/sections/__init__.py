"""Report sections, one file each, registered in report order: overview
(always), latency against load, latency CDFs, the speed–accuracy frontier,
the memory split, checkpoint plans, the best configuration under the SLO,
and validation (when `validation.json` is present)."""

# the import order is the report order
# isort: off
from reports.html.sections.base import SECTIONS, ReportSection, Section  # noqa: F401
from reports.html.sections import (overview, load_curves, latency_cdf, frontier,  # noqa: F401
                                   memory_split, plans, best_config, validation)
# isort: on
