"""The backend contract: run a picklable function over tasks and yield the
results as they finish (in any order: the sweep writes each as it comes and
sorts the table by point id, so the order never reaches the results)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator

from skipsim.errors import UserError
from skipsim.registry import registrar

BACKENDS: dict = {}
register_backend = registrar(BACKENDS, set_name=True)


class Backend(ABC):
    name = "?"

    def __init__(self, workers: int, address: str | None = None):
        if workers < 1:
            raise UserError(f"--workers must be at least 1, got {workers}")
        self.workers = workers
        self.address = address

    @abstractmethod
    def map_unordered(self, fn: Callable, tasks: Iterable) -> Iterator:
        """fn(task) for every task, yielded as each finishes."""

    def describe(self) -> str:
        return f"{self.name} ({self.workers} worker{'s' if self.workers != 1 else ''})"


def make_backend(name: str, workers: int, address: str | None = None) -> Backend:
    if name not in BACKENDS:
        raise UserError(f"unknown sweep backend {name!r}: use one of {', '.join(BACKENDS)}")
    return BACKENDS[name](workers, address)
