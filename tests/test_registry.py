"""Registries by name: one decorator, one dict, no silent overwrite; heavy
implementations named without being imported."""

import importlib

import pytest

from skipsim.registry import Registry, registrar


def test_a_decorated_class_is_registered_and_named():
    registry = {}
    register = registrar(registry, set_name=True)

    @register("fast")
    class Fast:
        pass

    assert registry == {"fast": Fast} and Fast.name == "fast"


def test_two_things_under_one_name_are_refused():
    registry = {}
    register = registrar(registry)
    register("x")(len)
    register("x")(len)  # the same object again is harmless (module re-import)
    with pytest.raises(ValueError, match="registered twice"):
        register("x")(abs)


def test_every_cli_registry_lists_its_builtins():
    from policies.routers import ROUTERS
    from policies.schedulers import SCHEDULERS
    from profiler.resolve import COST_MODELS
    from simulator.components import SKIP_MODELS
    from traces.loaders import TRACE_LOADERS

    assert {"fcfs", "deepest-first", "round-robin", "largest-queue", "no-skip"} <= set(SCHEDULERS)
    assert {"never", "cosine", "knn", "probe"} <= set(ROUTERS)
    assert {"roofline", "measured"} <= set(COST_MODELS)
    assert {"no-skip", "parametric", "replay", "measured"} <= set(SKIP_MODELS)
    assert {"sharegpt", "fixed", "uniform", "lognormal"} <= set(TRACE_LOADERS)


def test_lazy_names_are_listed_without_importing_their_module():
    registry = Registry(lazy={"ghost": "no_such_module_anywhere:Ghost"})
    assert list(registry) == ["ghost"] and "ghost" in registry and len(registry) == 1
    with pytest.raises(ModuleNotFoundError):
        registry["ghost"]


def test_a_lazy_entry_must_register_itself_under_its_name():
    with pytest.raises(RuntimeError, match="does not register itself as 'dumps'"):
        Registry(lazy={"dumps": "json:dumps"})["dumps"]


def test_every_lazy_builtin_is_what_its_module_registers():
    from policies.routers import ROUTERS
    from profiler.cost_model import COST_MODELS
    from simulator.skip_models import SKIP_MODELS
    from traces.config import TRACE_LOADERS

    for registry in (ROUTERS, COST_MODELS, SKIP_MODELS, TRACE_LOADERS):
        for name, path in registry.lazy.items():
            module, _, attr = path.partition(":")
            obj = registry[name]
            assert obj is getattr(importlib.import_module(module), attr or "", obj), name
    assert ROUTERS["probe"].name == "probe"


def test_a_module_only_entry_must_register_its_name():
    with pytest.raises(RuntimeError, match="does not register itself as 'x'"):
        Registry(lazy={"x": "json"})["x"]
