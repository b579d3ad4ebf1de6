"""Checks on the files a user names: what we read and where we write."""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from pathlib import Path

from dadkhah.errors import InputError, LimitExceeded


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


def checked_output_path(path: str | os.PathLike, *, workspace: Path, force: bool | None = False,
                        folder: bool = False) -> Path:
    """Where decrypted content may be written: never inside the workspace (but for its private space,
    where it passes on its way to a download and is removed), never over a file unasked (``force`` None:
    never over one, and the error does not offer to)."""
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
    elif target.exists() and force is None:  # what the caller never replaces
        raise InputError("exists; choose another name", file=str(target), field="out")
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


MAX_ZIP_MEMBERS = 50_000  # files in one uploaded ZIP (a field team's shared folder holds hundreds)
_DRIVE = re.compile(r"^[A-Za-z]:")


def _member_parts(raw: str, shown: str, field: str | None) -> list[str]:
    """A ZIP member's name as the folders and file it names; a name that could land outside the
    folder it is unpacked into, or that no file system would write as given, is refused."""
    def refuse(why: str) -> InputError:
        return InputError(f"holds {raw!r}, {why}: nothing was unpacked", file=shown, field=field)

    if any(unicodedata.category(ch) == "Cc" for ch in raw):
        raise refuse("a name with control characters")
    if "\\" in raw:
        raise refuse("a name with a backslash (a Windows path)")
    if raw.startswith("/") or _DRIVE.match(raw):
        raise refuse("an absolute path")
    parts = raw.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise refuse("a path that leaves its folder or names no file")
    return parts


def unpack_zip(path: str | os.PathLike, folder: str | os.PathLike, *, limits, shown: str | None = None,
               field: str | None = None) -> list[Path]:
    """Unpack the ZIP at ``path`` into the empty ``folder``, keeping its folders, and return the
    files written; ``shown`` is the name errors give the ZIP (the file as its user knows it), ``field``
    the field it came in.

    Nothing can land outside ``folder``: a member whose name is absolute, climbs out (``..``), holds
    a drive letter, a backslash or a control character is refused, as are symbolic links, encrypted
    members and two members of one name. ``limits`` (:class:`dadkhah.ingest.limits.ReadLimits`)
    bounds it: at most ``max_uncompressed_mb`` once decompressed (counted as written, never trusting
    what the ZIP declares) and :data:`MAX_ZIP_MEMBERS` files. Folders and macOS's ``__MACOSX/``
    resource forks are skipped. Files are written 0600 in folders 0700; on any refusal the caller
    removes ``folder``.
    """
    import zipfile
    import zlib

    shown = shown or Path(path).name
    root = Path(folder)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(f"is not a ZIP file ({exc})", file=shown, field=field) from None
    budget = limits.max_uncompressed_mb * 2**20
    written, seen, wanted, files = 0, set(), [], []
    with archive:
        for info in archive.infolist():  # every name checked before anything is written
            parts = _member_parts(info.filename, shown, field)
            if info.is_dir() or parts[0] == "__MACOSX":
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                raise InputError(f"holds {info.filename!r}, a symbolic link: put the file itself in the ZIP",
                                 file=shown, field=field)
            if info.flag_bits & 0x1:
                raise InputError(f"holds {info.filename!r}, which is encrypted: unpack it with its password and "
                                 "upload the files", file=shown, field=field)
            if info.filename in seen:
                raise InputError(f"holds {info.filename!r} twice", file=shown, field=field)
            seen.add(info.filename)
            if len(wanted) >= MAX_ZIP_MEMBERS:
                raise InputError(f"holds more than {MAX_ZIP_MEMBERS:,} files", file=shown, field=field)
            wanted.append((info, parts))
        if sum(info.file_size for info, _parts in wanted) > budget:
            raise LimitExceeded(f"its files decompress to more than this workspace's limit of "
                                f"{limits.max_uncompressed_mb:,} MB (import.max_uncompressed_mb in dadkhah.toml)",
                                file=shown, field=field)
        for info, parts in wanted:
            target = root.joinpath(*parts)
            if not target.resolve().is_relative_to(root.resolve()):  # a folder of ours is a link: never
                raise InputError(f"holds {info.filename!r}, which would land outside its folder", file=shown,
                                 field=field)
            try:
                target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                with archive.open(info) as member, os.fdopen(
                        os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600),
                        "wb") as out:
                    own = 0
                    while chunk := member.read(1 << 20):
                        own += len(chunk)
                        written += len(chunk)
                        if written > budget:
                            raise LimitExceeded(f"its files decompress to more than this workspace's limit of "
                                                f"{limits.max_uncompressed_mb:,} MB (import.max_uncompressed_mb "
                                                "in dadkhah.toml)", file=shown, field=field)
                        if own > info.file_size:
                            raise InputError(f"{info.filename} holds more than the {info.file_size:,} bytes it "
                                             "declares: the ZIP is damaged or hostile", file=shown, field=field)
                        out.write(chunk)
            except (RuntimeError, NotImplementedError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
                raise InputError(f"cannot read {info.filename} in the ZIP: {exc}", file=shown, field=field) from None
            except (FileExistsError, NotADirectoryError, IsADirectoryError):
                raise InputError(f"holds {info.filename!r}, whose name is also taken by a folder or file in it",
                                 file=shown, field=field) from None
            files.append(target)
    return files
