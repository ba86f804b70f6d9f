"""Pure decision objects shared by the simulator and the real executor:
schedulers (`schedulers/`, one file per policy), checkpoint placement
(`checkpoint_plan.py`), KV-hole policies (`kv_hole.py`).
"""
