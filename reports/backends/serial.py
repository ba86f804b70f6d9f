"""The baseline backend: every point in this process, one after another."""

from __future__ import annotations

from reports.backends.base import Backend, register_backend


@register_backend("serial")
class SerialBackend(Backend):
    def map_unordered(self, fn, tasks):
        for task in tasks:
            yield fn(task)

    def describe(self) -> str:
        return "serial (this process)"
