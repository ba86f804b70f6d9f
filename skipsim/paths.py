"""Where skipsim keeps what it generates (converted weights, token counts).

Never inside the repository: `SKIPSIM_CACHE` if set, else ~/.cache/skipsim.
"""

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """The cache folder (or a sub-folder of it), created on first use."""
    root = Path(os.environ.get("SKIPSIM_CACHE") or Path.home() / ".cache" / "skipsim")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
