"""KV-hole policies: what a skip writes into the skipped layers' K/V rows
(`HolePlan`, asked by the executor), what that costs (asked by the
simulator), and the repair debt of `repair`. One file per policy, registered
by name in `KV_HOLE_POLICIES`: project, copy, repair, none.
"""

# the import order is the registration order, the CLI's
# isort: off
from policies.kv_hole.base import (KV_HOLE_POLICIES, HoleFill, HolePlan, KVHolePolicy,
                                   kv_hole_policy, register_kv_hole_policy)
from policies.kv_hole import project, copy, repair, none  # noqa: F401,E402  (registration)
# isort: on


def __getattr__(name):  # the repair debt needs numpy: not imported for `--help`
    if name in ("OwedSpan", "RepairDebt"):
        from policies.kv_hole import repair_debt

        return getattr(repair_debt, name)
    raise AttributeError(name)


# name -> accuracy factor of each policy where no skip model measured it
DEFAULT_P_CHANGE_SCALE = {name: cls.default_p_change_scale
                          for name, cls in KV_HOLE_POLICIES.items()}

__all__ = ["DEFAULT_P_CHANGE_SCALE", "KV_HOLE_POLICIES", "HoleFill", "HolePlan", "KVHolePolicy",
           "OwedSpan", "RepairDebt", "kv_hole_policy", "register_kv_hole_policy"]
