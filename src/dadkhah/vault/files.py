"""Checks on the files a user names: what we read and where we write."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from dadkhah.errors import InputError


def checked_input_file(path: str | os.PathLike) -> Path:
    """A regular, readable file, named directly (not through a symbolic link); else a clear refusal."""
    given = Path(path)
    name = str(given)
    if given.is_symlink():
        raise InputError("is a symbolic link: give the file itself", file=name)
    if not given.exists():
        raise InputError("file not found", file=name)
    if given.is_dir():
        raise InputError("is a folder: give the files in it", file=name)
    if not stat.S_ISREG(given.stat().st_mode):
        raise InputError("is not a regular file", file=name)
    try:
        with open(given, "rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise InputError(f"cannot be read: {exc.strerror or exc}", file=name) from None
    return given


def checked_output_path(path: str | os.PathLike, *, workspace: Path, force: bool = False, folder: bool = False) -> Path:
    """Where decrypted content may be written: never inside the workspace, never over a file unasked."""
    target = Path(path).expanduser()
    resolved = target.resolve()
    try:
        resolved.relative_to(workspace.resolve())
        raise InputError("is inside the workspace; decrypted content must not be left in it (copies of the "
                         "workspace would carry it)", file=str(target))
    except ValueError:
        pass
    if target.is_symlink():
        raise InputError("is a symbolic link: name the real destination", file=str(target))
    if folder:
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise InputError("exists and is not an empty folder", file=str(target))
    elif target.exists() and not force:
        raise InputError("exists; choose another name (or --force to replace it)", file=str(target))
    elif target.exists() and not target.is_file():
        raise InputError("exists and is not a file", file=str(target))
    return target
