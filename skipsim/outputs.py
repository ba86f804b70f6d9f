"""Output paths checked before any work starts.

A subcommand that writes files checks every output path first, so a bad path
is one line and exit 2 at once instead of a traceback after minutes of work
whose results are then lost. The checks create nothing: they find the
deepest folder of the path that exists and try to create (and at once delete)
a temporary file there, which catches read-only file systems and root alike.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from skipsim.errors import UserError


def check_writable_dir(path: str | Path, flag: str) -> Path:
    """`path` is a folder, or one that can be made, and files can be written in it."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UserError(f"{flag} {path}: exists and is not a folder")
    _check_can_create_in(p, path, flag)
    return p


def check_writable_file(path: str | Path, flag: str, suffixes: tuple[str, ...] = ()) -> Path:
    """`path` names a file that can be (over)written, with one of `suffixes` if given."""
    p = Path(path)
    if suffixes and not p.name.endswith(suffixes):
        names = ", ".join(suffixes[:-1]) + " or " * (len(suffixes) > 1) + suffixes[-1]
        raise UserError(f"{flag} {path}: expected a {names} file")
    if p.is_dir():
        raise UserError(f"{flag} {path}: is a folder, not a file")
    if p.exists() and not os.access(p, os.W_OK):
        raise UserError(f"{flag} {path}: the file is not writable")
    _check_can_create_in(p.parent, path, flag)
    return p


def _check_can_create_in(folder: Path, path, flag: str) -> None:
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"{flag} {path}: {existing} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        raise UserError(f"{flag} {path}: cannot write in {existing} ({err.strerror})") from None
