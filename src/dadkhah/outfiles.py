"""A file written for the user (an export): checked before anything is done, written beside its
place, recorded with its SHA-256 in the same transaction as the action's audit event, then moved
into place; a file that cannot be recorded is removed, and an existing file is replaced only when
asked (``overwrite``)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from dadkhah.errors import InputError
from dadkhah.store import Store
from dadkhah.workspace import Workspace


def checked_out(out: str | os.PathLike, *, overwrite: bool, workspace: Workspace | None = None) -> Path:
    """The file to write: not a folder, in a folder that exists, new unless ``overwrite``, and never
    one of ``workspace``'s own files (its database, configuration, key file, blobs…), even when
    ``overwrite``."""
    target = Path(out).expanduser()
    if workspace is not None and workspace.owns(target):
        raise InputError("is one of the workspace's own files (its database, configuration, keys, sealed files, "
                         "quarantine reports or uploads): write the file elsewhere", file=str(target), field="out")
    if target.is_dir():
        raise InputError("is a folder: name the file to write", file=str(target), field="out")
    if not target.parent.is_dir():
        raise InputError("is in a folder that does not exist", file=str(target), field="out")
    if (target.exists() or target.is_symlink()) and not overwrite:
        raise InputError("exists: choose another name, or say that it may be replaced", file=str(target),
                         field="out")
    return target


def format_for(out: str | os.PathLike, given: str | None, *, extensions: dict[str, str], default: str,
               may_omit: bool = True) -> str:
    """The format to write ``out`` in: ``given``, else the one its extension names (``extensions``:
    ".csv" → "csv"…), else ``default``. A format that its name's extension contradicts is refused:
    an XLSX named ``.csv`` cannot be opened by what the name promises."""
    formats = sorted(set(extensions.values()))
    if given is not None and given not in formats:
        raise InputError(f"must be one of {', '.join(formats)}, not {given!r}", field="format")
    suffix = Path(out).suffix.lower()
    named = extensions.get(suffix)
    if given is not None and named is not None and named != given:
        raise InputError(f"is {given} but the file's name ends in {suffix}, which is for {named}: name the file "
                         f"for its format{', or leave the format out' if may_omit else ''}", field="format")
    return given or named or default


def deliver(store: Store, target: Path, *, overwrite: bool, write: Callable[[Session, Path], dict],
            audit: Callable[[Session, str, dict], None]) -> dict:
    """Write the export with ``write(session, partial)`` into a temporary file beside ``target``,
    record it with ``audit(session, sha256, counts)``, and move it into place before the transaction
    commits; if anything fails, nothing is left behind (the file is removed with its event).

    Without ``overwrite`` the file is linked into place, which fails if another appeared meanwhile.
    One of the workspace's own files is refused whatever is asked (:meth:`Workspace.owns`).
    """
    checked_out(target, overwrite=True, workspace=store.workspace)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    os.close(handle)
    partial, placed = Path(name), False
    try:
        with store.session() as session:
            counts = write(session, partial)
            digest = sha256_of(partial)
            audit(session, digest, counts)
            session.flush()
            _place(partial, target, overwrite=overwrite)
            placed = True
    except BaseException:
        partial.unlink(missing_ok=True)
        if placed:
            target.unlink(missing_ok=True)
        raise
    return {"out": str(target), "sha256": digest, "bytes": target.stat().st_size} | counts


def _place(partial: Path, target: Path, *, overwrite: bool) -> None:
    if overwrite:
        os.replace(partial, target)
        return
    try:
        os.link(partial, target)  # fails when the name was taken meanwhile
    except FileExistsError:
        raise InputError("exists: choose another name, or say that it may be replaced", file=str(target),
                         field="out") from None
    except OSError:  # a file system without hard links (a USB stick's FAT)
        if target.exists():
            raise InputError("exists: choose another name, or say that it may be replaced", file=str(target),
                             field="out") from None
        os.replace(partial, target)
        return
    partial.unlink()


def write_json(path: Path, value, *, end: str = "\n", **options) -> None:
    """``value`` as indented JSON (one space, letters as they are) at ``path``, written as it is
    encoded: the whole text at once (``json.dumps``) takes as much memory again as the document, in
    millions of small pieces before they are joined. The same bytes as ``json.dumps`` gives, then
    ``end``, with line feeds on every system. ``options`` are ``json.dump``'s (``default``, say)."""
    with open(path, "w", encoding="utf-8", newline="\n") as stream:
        json.dump(value, stream, ensure_ascii=False, indent=1, **options)
        stream.write(end)


def sha256_of(path: Path) -> str:
    """The file's SHA-256, read a megabyte at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
