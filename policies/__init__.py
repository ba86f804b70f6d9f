"""Pure decision objects shared by the simulator and the real executor:
schedulers (`schedulers/`, one file per policy), routers (`routers/`),
checkpoint placement (`checkpoint_plan.py`), admission with its KV watermark
(`admission.py`), the preemption victim (`preemption.py`), KV-hole policies
and their repair debt (`kv_hole/`) and the memory split (`memory_split.py`).
Plain data in, decision out: nothing here imports SimPy or `simulator`.
"""
