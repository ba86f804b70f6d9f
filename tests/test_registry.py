"""Registries by name: one decorator, one dict, no silent overwrite."""

import pytest

from skipsim.registry import registrar


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
