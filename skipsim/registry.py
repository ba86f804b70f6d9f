"""Registries by name: a decorator registers, the CLI reads the dict.

Every pluggable kind (trace loaders, cost models, skip models, schedulers,
routers) keeps a plain `dict` from name to class or factory and a
`register_*` decorator made here, so adding one is one decorated definition.
"""

from __future__ import annotations

from typing import Callable


def registrar(registry: dict, set_name: bool = False) -> Callable[[str], Callable]:
    """`register(name)` decorators filling `registry`; with `set_name` the
    registered class also gets `name` as its `.name`."""
    def register(name: str):
        def wrap(obj):
            if registry.get(name, obj) is not obj:
                raise ValueError(f"{name!r} is registered twice")
            if set_name:
                obj.name = name
            registry[name] = obj
            return obj
        return wrap
    return register
