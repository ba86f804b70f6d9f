"""Registries by name: a decorator registers, the CLI reads the names.

Every pluggable kind (trace loaders, cost models, skip models, schedulers,
routers) keeps a registry from name to class or factory and a `register_*`
decorator made here, so adding one is one decorated definition.

A `Registry` also knows the names of implementations whose modules are heavy
(numpy at least, sklearn or faiss at worst) without importing them: a table
`name -> "module:attr"` (the lazy-registry idea of mini-sglang; `"module"`
alone where the module registers several names in a loop). `--help` and
argument choices read the names; the module is imported the first time its
entry is looked up, and its own decorator registers it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, MutableMapping


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


class Registry(MutableMapping):
    """name -> class or factory. `lazy` names entries by "module:attr"; looking
    one up imports its module (whose decorator registers it) on first use.
    Iteration and `in` list every name and import nothing."""

    def __init__(self, lazy: dict[str, str] | None = None, set_name: bool = False):
        self._loaded: dict = {}
        self.lazy = dict(lazy or {})
        self.register = registrar(self._loaded, set_name)

    def __getitem__(self, name: str):
        if name not in self._loaded and name in self.lazy:
            module, _, attr = self.lazy[name].partition(":")
            imported = importlib.import_module(module)
            obj = getattr(imported, attr) if attr else self._loaded.get(name)
            if obj is None or self._loaded.get(name) is not obj:
                raise RuntimeError(f"{self.lazy[name]} does not register itself as {name!r}")
        return self._loaded[name]

    def __setitem__(self, name: str, obj) -> None:
        self._loaded[name] = obj

    def __delitem__(self, name: str) -> None:
        if name not in self._loaded and name not in self.lazy:
            raise KeyError(name)
        self._loaded.pop(name, None)
        self.lazy.pop(name, None)

    def __contains__(self, name) -> bool:
        return name in self._loaded or name in self.lazy

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*self.lazy, *self._loaded]))

    def __len__(self) -> int:
        return len(dict.fromkeys([*self.lazy, *self._loaded]))
