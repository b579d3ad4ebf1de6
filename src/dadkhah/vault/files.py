"""Checks on the files a user names: what we read and where we write."""

from __future__ import annotations

import os
import stat
import unicodedata
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
    """Where decrypted content may be written: never inside the workspace (but for its private space,
    where it passes on its way to a download and is removed), never over a file unasked."""
    target = Path(path).expanduser()
    resolved = target.resolve()
    if resolved.is_relative_to(workspace.resolve()) and not resolved.is_relative_to((workspace / "private").resolve()):
        raise InputError("is inside the workspace; decrypted content must not be left in it (copies of the "
                         "workspace would carry it)", file=str(target))
    if target.is_symlink():
        raise InputError("is a symbolic link: name the real destination", file=str(target))
    if folder:
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise InputError("exists and is not an empty folder", file=str(target))
    elif target.exists() and not force:
        raise InputError("exists; choose another name, or say to replace it", file=str(target), field="force")
    elif target.exists() and not target.is_file():
        raise InputError("exists and is not a file", file=str(target))
    return target


_RESERVED = set('"\\/:*?<>|')
# Direction marks and overrides (which can make "gpj.exe" read as "exe.jpg"); the zero-width
# non-joiner that Persian words need is kept.
_BIDI_CONTROLS = set("\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def safe_file_name(name: str | None, *, fallback: str = "file", max_length: int = 200) -> str:
    """A name fit to write or to offer for download: the last part of ``name``, without control
    characters, direction overrides, separators, quotes or a leading dot, at most ``max_length``
    characters (a long name is cut before its extension, which is kept)."""
    base = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    cleaned = "".join("_" if ch in _RESERVED else ch for ch in base
                      if ch not in _BIDI_CONTROLS and unicodedata.category(ch) not in ("Cc", "Cs", "Co", "Cn"))
    cleaned = cleaned.strip().lstrip(".").strip()
    if len(cleaned) > max_length:
        suffix = Path(cleaned).suffix[:10]
        cleaned = cleaned[: max_length - len(suffix)] + suffix
    return cleaned or fallback


def checked_upload_name(name: str | None) -> str:
    """The name an uploaded file came with, made safe; an empty name, a path or a folder is refused."""
    if not name or not name.strip():
        raise InputError("an uploaded file has no name", field="files")
    if "/" in name or "\\" in name or "\x00" in name or name.strip() in (".", ".."):
        raise InputError("is a path or a folder, not a file name: upload the files themselves", file=name, field="files")
    return safe_file_name(name)


def attachment_disposition(name: str) -> str:
    """A ``Content-Disposition`` for a download named ``name``: ``attachment`` with the name both as
    plain ASCII and, when it is not, as RFC 5987 UTF-8."""
    from urllib.parse import quote

    safe = safe_file_name(name)
    ascii_name = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"%;' else "_" for ch in safe)
    value = f'attachment; filename="{ascii_name}"'
    if ascii_name != safe:
        value += f"; filename*=UTF-8''{quote(safe, safe='')}"
    return value
