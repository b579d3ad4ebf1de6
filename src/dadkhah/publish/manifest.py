"""A signed manifest for a published folder (a memorial site, a set of reports), and its check.

``manifest.json`` lists the SHA-256 of every file of the folder; ``manifest.sig`` is the workspace's
Ed25519 signature over ``manifest.json``'s exact bytes, with the public key beside it. Anyone who
mirrors the folder, on any static host or a USB stick, can then prove it unaltered with
``dadkhah verify-site DIR --expect-key FP``: no file changed, none added, none missing, and signed
by the key they were told to expect (a fingerprint published elsewhere, on paper, by the campaign).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from dadkhah import __version__
from dadkhah.errors import InputError
from dadkhah.outfiles import sha256_of
from dadkhah.vault.keys import VaultKeys, fingerprint

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
FORMAT = 1


def _files(folder: Path) -> tuple[list[str], list[str]]:
    """The folder's files as POSIX paths (sorted), and what is neither a file nor a folder (links)."""
    found, odd = [], []
    for root, folders, names in os.walk(folder, followlinks=False):
        for name in list(folders):
            if (Path(root) / name).is_symlink():
                odd.append((Path(root) / name).relative_to(folder).as_posix())
                folders.remove(name)
        for name in names:
            path = Path(root) / name
            relative = path.relative_to(folder).as_posix()
            if relative in (MANIFEST, SIGNATURE):
                continue
            (odd if path.is_symlink() or not path.is_file() else found).append(relative)
    return sorted(found), sorted(odd)


def sign_site(folder: str | os.PathLike, keys: VaultKeys) -> dict:
    """Write ``manifest.json`` and ``manifest.sig`` for every file under ``folder``; returns what was signed."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("is not a folder", file=str(folder), field="out")
    check_signing_keys(keys)
    files, odd = _files(folder)
    if odd:
        raise InputError(f"holds links or special files, which a mirror cannot check: {', '.join(odd[:5])}",
                         file=str(folder), field="out")
    body, signature, signed = signed_manifest({name: sha256_of(folder / name) for name in files}, keys)
    (folder / MANIFEST).write_bytes(body)
    (folder / SIGNATURE).write_bytes(signature)
    return {"folder": str(folder)} | signed


def check_signing_keys(keys: VaultKeys | None) -> None:
    """Refuse, before anything is written, keys that cannot sign what is published."""
    if keys is None or keys.signing_key is None:
        raise InputError("the workspace's keys are needed to sign what is published", field="keys")


def signed_manifest(digests: dict[str, str], keys: VaultKeys) -> tuple[bytes, bytes, dict]:
    """``manifest.json`` and ``manifest.sig`` (their bytes) for the files whose SHA-256 ``digests``
    gives by POSIX path, and what was signed (``files``, ``fingerprint``, ``manifest_sha256``): what
    :func:`sign_site` writes into a folder, for a site written elsewhere (into a zip)."""
    check_signing_keys(keys)
    manifest = {"format": FORMAT, "generator": f"dadkhah {__version__}",
                "signed_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
                "fingerprint": keys.fingerprint, "files": dict(sorted(digests.items()))}
    body = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8") + b"\n"
    signature = {"algorithm": "Ed25519", "public_key": base64.b64encode(keys.public_key).decode("ascii"),
                 "fingerprint": keys.fingerprint, "signed_file": MANIFEST,
                 "signature": base64.b64encode(keys.signing_key.sign(body)).decode("ascii")}
    return body, (json.dumps(signature, indent=1) + "\n").encode("utf-8"), {
        "files": len(digests), "fingerprint": keys.fingerprint, "manifest_sha256": hashlib.sha256(body).hexdigest()}


def _problem(file: str, problem: str) -> dict:
    return {"file": file, "problem": problem}


def _safe(name: str) -> bool:
    path = PurePosixPath(name)
    return bool(name) and not path.is_absolute() and ".." not in path.parts and "\\" not in name


def verify_site(folder: str | os.PathLike, *, expect_key: str | None = None) -> dict:
    """Check a published folder against its signed manifest.

    ``intact`` is True only when the signature holds, every listed file is present with its SHA-256,
    no file was added, and (with ``expect_key``) the signing key has that fingerprint. Each problem
    names its file. Without ``expect_key`` the signature proves only that whoever holds the key in
    the folder signed it: say which key you expect.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("is not a folder", file=str(folder), field="folder")
    problems: list[dict] = []
    reading = MANIFEST  # the file being read: the one a problem names
    try:
        body = (folder / MANIFEST).read_bytes()
        manifest = json.loads(body)
        listed = manifest["files"]
        if not isinstance(listed, dict):
            raise TypeError("files is not a mapping")
        reading = SIGNATURE
        signature = json.loads((folder / SIGNATURE).read_text(encoding="utf-8"))
        public = base64.b64decode(signature["public_key"], validate=True)
        signed = base64.b64decode(signature["signature"], validate=True)
    except FileNotFoundError as exc:
        return {"intact": False, "folder": str(folder), "fingerprint": None, "files": 0,
                "problems": [_problem(Path(exc.filename).name, "missing: the folder is not signed")]}
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        return {"intact": False, "folder": str(folder), "fingerprint": None, "files": 0,
                "problems": [_problem(reading, f"cannot be read ({type(exc).__name__}): it was damaged or altered")]}
    found = fingerprint(public) if len(public) == 32 else None
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signed, body)
    except (InvalidSignature, ValueError):
        problems.append(_problem(MANIFEST, "its signature does not hold: the manifest was altered, or not signed by this key"))
    if expect_key and found != expect_key.strip():
        problems.append(_problem(SIGNATURE, f"signed by {found}, not by the expected {expect_key.strip()}"))
    files, odd = _files(folder)
    present = set(files)
    for name in odd:
        problems.append(_problem(name, "a link or special file: not part of what was signed"))
    for name in sorted(present - set(listed)):
        problems.append(_problem(name, "present but not in the manifest: added"))
    for name, expected in sorted(listed.items()):
        if not _safe(name):
            problems.append(_problem(name, "a path outside the folder: refused"))
        elif name not in present:
            problems.append(_problem(name, "listed in the manifest but missing"))
        elif sha256_of(folder / name) != expected:
            problems.append(_problem(name, "its SHA-256 differs from the manifest's: altered"))
    return {"intact": not problems, "folder": str(folder), "fingerprint": found, "files": len(listed),
            "signed_at": manifest.get("signed_at"), "problems": problems}
