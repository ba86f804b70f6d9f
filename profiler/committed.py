"""The committed profiles and which one fits: where the profile of a model on
a device lives, and which committed CPU profile was measured on this
machine's CPU. Import-light (no pandas), so argument checking can ask.
"""

from __future__ import annotations

from pathlib import Path

from skipsim.errors import UserError
from skipsim.model_loader import is_smollm2

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"


def canonical_model(name: str) -> str:
    """The name profiles are filed and matched under: a local model folder by its
    last path part, as `model_spec` names it."""
    return "smollm2" if is_smollm2(name) else Path(str(name).strip().rstrip("/")).name.lower()


def profile_path(model: str, device: str) -> Path:
    """Where the committed profile of `model` on `device` ("cuda:1" files as cuda) lives."""
    return PROFILES_DIR / f"{device.split(':')[0].lower()}-{canonical_model(model)}.csv"


def default_profile(model: str = "smollm2", device_kind: str = "cpu") -> Path:
    path = profile_path(model, device_kind)
    if not path.is_file():
        have = ", ".join(sorted(p.stem for p in PROFILES_DIR.glob("*.csv"))) or "none"
        raise UserError(f"no committed {device_kind} profile of {model!r} (have: {have}); "
                        "measure one with `simulate profile`, pass a profile path, or use "
                        "the roofline cost model")
    return path


def profile_of_this_cpu(model: str, threads: int) -> Path | None:
    """The committed CPU profile measured on this machine's CPU model for
    `model` and `threads` (from the profiles' metadata), if any. Why: a profile
    of another CPU is off by that CPU's speed alone (measured: the AMD EPYC
    profile priced an Intel Xeon's executor runs +46% to +145% too slow; the
    Xeon's own profile -14% to +21%)."""
    import json

    from profiler.hardware import cpu_name

    wanted = (cpu_name(), canonical_model(model), threads)
    for meta_path in sorted(PROFILES_DIR.glob("cpu-*.json")):
        meta = json.loads(meta_path.read_text())
        if (meta.get("cpu_name"), meta.get("model"), meta.get("threads")) == wanted:
            return meta_path.with_suffix(".csv")
    return None
