"""The keys of a workspace: a master key for encryption and an Ed25519 key for signing.

Both live in one *key file* outside the workspace folder (default
``~/.config/dadkhah/keys/<workspace id>.key``; chosen at ``dadkhah init --key-file``; overridden by
``DADKHAH_KEY_FILE``), so that copying the workspace, or dumping its database, reveals nothing
encrypted. The key file can be protected by a passphrase: the secrets are then sealed with
AES-256-GCM under a key derived from the passphrase by argon2id. The public half of the signing
key is kept in clear in the key file and in the workspace configuration (it is not secret, and
recipients of case files need it).

Losing the key file (or its passphrase) loses every encrypted item for good: nobody, including the
developers, can recover them. Back it up, separately from the workspace.

The key file also keeps, in clear beside the public key, the *login key*: the key that seals the web
users' second-factor (TOTP) secrets in the database (see :func:`read_login_key`). It is outside the
passphrase because the server checks a code at every login, with or without the passphrase; it is in
the key file so that a copy of the database, or of the workspace, holds no usable second factor.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dadkhah.chain import fingerprint
from dadkhah.errors import DadkhahError, InputError
from dadkhah.vault.crypto import index_root
from dadkhah.workspace import ENV_KEY_FILE, Workspace, key_folder

ENV_PASSPHRASE = "DADKHAH_PASSPHRASE"
KEY_FILE_FORMAT = 1
LOGIN_KEY = "login_key"  # the key file's field holding the login key (32 bytes, base64, in clear)
# argon2id parameters for the passphrase (RFC 9106's second recommended option: 64 MiB, 3 passes).
ARGON2 = {"time_cost": 3, "memory_cost": 65536, "parallelism": 4}


class VaultKeyError(DadkhahError):
    """The key file is missing, unreadable, belongs to another workspace, or the passphrase is wrong."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def public_key_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class VaultKeys:
    """The unlocked keys of one workspace."""

    workspace_id: str
    master_key: bytes = b""  # 32 bytes; empty when only the public key was loaded
    signing_key: Ed25519PrivateKey | None = None
    public_key: bytes = b""
    key_file: Path | None = None  # the chains' newest events are remembered beside it
    index_secret: bytes = b""  # what blind indexes derive from, when the key file keeps it apart
    head_tag: str | None = None  # a restored workspace remembers its chains' heads apart from the original's
    # The login key, as read with the keys (empty: read from the key file when first needed).
    login_secret: bytes = field(default=b"", compare=False, repr=False)

    def head_path(self, chain: str) -> Path | None:
        """Where the newest event of ``chain`` (custody, audit) is remembered: beside the key file
        (under the workspace's own name for them when it was restored from a backup)."""
        if self.key_file is None:
            return None
        tag = f".{self.head_tag}" if self.head_tag else ""
        return self.key_file.with_name(f"{self.key_file.name}{tag}.{chain}-head")

    def login_key(self, *, create: bool = False) -> bytes:
        """The key that seals second-factor secrets (see :func:`read_login_key`): as read with the
        keys, so that a server goes on checking codes when the key file's drive is taken away after
        it started; else from the key file, and then kept."""
        if self.login_secret:
            return self.login_secret
        if self.key_file is None:
            raise VaultKeyError("the key file is not at hand, and it keeps the key that seals second-factor (TOTP) "
                                "secrets")
        key = read_login_key(self.key_file, self.workspace_id, create=create)
        object.__setattr__(self, "login_secret", key)  # frozen, but for this one field, read once
        return key

    @property
    def index_key(self) -> bytes:
        """The key of the blind indexes: kept in the key file once the master key has been rotated,
        else derived from the master key (:func:`dadkhah.vault.crypto.index_root`)."""
        return self.index_secret or (index_root(self.master_key) if self.master_key else b"")

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)

    def verifier(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public_key)

    def __repr__(self) -> str:  # never print a secret
        return f"VaultKeys(workspace_id={self.workspace_id!r}, fingerprint={self.fingerprint!r})"


def _config_dir() -> Path:
    return key_folder()


def workspace_id(workspace: Workspace) -> str | None:
    return (workspace.config.get("vault") or {}).get("workspace_id")


def head_tag(workspace: Workspace) -> str | None:
    """The name under which a restored workspace remembers its chains' heads (None: the original's)."""
    tag = (workspace.config.get("vault") or {}).get("heads")
    return tag if isinstance(tag, str) and tag.replace("-", "").isalnum() else None


def key_file_path(workspace: Workspace) -> Path:
    """Where this workspace's key file is: the environment, the configuration, else the default."""
    found = workspace.key_file_location()
    if found is None:
        raise VaultKeyError(f"{workspace.path} has no keys yet: run `dadkhah init {workspace.path}` to create them")
    return found


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _derive(passphrase: str, salt: bytes, params: dict) -> bytes:
    return hash_secret_raw(passphrase.encode("utf-8"), salt, time_cost=params["time_cost"],
                           memory_cost=params["memory_cost"], parallelism=params["parallelism"], hash_len=32,
                           type=Type.ID)


def create_keys(workspace: Workspace, *, key_file: str | os.PathLike | None = None, passphrase: str | None = None) -> dict:
    """Create the workspace's keys (once) and record where they are in its configuration.

    Returns what is public: the key file's path, the signing key's fingerprint, whether a passphrase
    protects it. Refuses a key file inside the workspace folder: the point is that they travel apart.
    """
    if workspace_id(workspace):
        keys = load_public_keys(workspace)
        return {"key_file": str(key_file_path(workspace)), "fingerprint": keys.fingerprint, "created": False,
                "protected": _read_key_file(key_file_path(workspace))["secrets"].get("kdf") is not None}
    ident = str(uuid.uuid4())
    path = Path(key_file).expanduser() if key_file else (
        Path(os.environ[ENV_KEY_FILE]).expanduser() if os.environ.get(ENV_KEY_FILE) else _config_dir() / f"{ident}.key")
    if _inside(path, workspace.path):
        raise VaultKeyError(f"the key file {path} must not be inside the workspace {workspace.path}: "
                        "a copy of the workspace would then carry its own key")
    if path.exists():
        raise InputError("already exists; choose another key file (keys are never overwritten)", file=str(path),
                         field="key_file")
    master = os.urandom(32)
    signing = Ed25519PrivateKey.generate()
    secret = json.dumps({"master_key": _b64(master), "signing_key": _b64(signing.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()))}).encode()
    if passphrase:
        salt, nonce = os.urandom(16), os.urandom(12)
        sealed = AESGCM(_derive(passphrase, salt, ARGON2)).encrypt(nonce, secret, ident.encode())
        secrets = {"kdf": "argon2id", **ARGON2, "salt": _b64(salt), "nonce": _b64(nonce), "sealed": _b64(sealed)}
    else:
        secrets = {"kdf": None, "plain": _b64(secret)}
    public = public_key_bytes(signing)
    document = {
        "format": KEY_FILE_FORMAT, "workspace_id": ident, "workspace": str(workspace.path),
        "created_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "public_key": _b64(public), "fingerprint": fingerprint(public), "secrets": secrets,
        LOGIN_KEY: _b64(os.urandom(32)),
    }
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=1)
    section = ["", "[vault]", "# The keys are outside this folder. Without the key file nothing encrypted can be read.",
               f'workspace_id = "{ident}"', f'public_key = "{_b64(public)}"', f'fingerprint = "{fingerprint(public)}"']
    if key_file:
        section.append(f"key_file = {json.dumps(str(path.resolve()))}")
    with open(workspace.config_path, "a", encoding="utf-8") as handle:
        handle.write("\n".join(section) + "\n")
    return {"key_file": str(path), "fingerprint": fingerprint(public), "created": True, "protected": bool(passphrase)}


def _read_key_file(path: Path, workspace: Workspace | None = None) -> dict:
    if workspace is not None and _inside(path, workspace.path):
        raise VaultKeyError(f"the key file {path} is inside the workspace {workspace.path}: move it out (and set "
                            f"{ENV_KEY_FILE} or [vault] key_file), or a copy of the workspace carries its own key")
    if not path.is_file():
        raise VaultKeyError(f"the key file {path} is missing. Restore it from your backup (or set {ENV_KEY_FILE}); "
                        "without it nothing encrypted in this workspace can be read")
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise VaultKeyError(f"the key file {path} may be read by other users of this computer: only its owner may. "
                            f"Run: chmod 600 {path}")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VaultKeyError(f"{path}: cannot read the key file: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != KEY_FILE_FORMAT:
        raise VaultKeyError(f"{path} is not a Dadkhah key file of a format this version reads")
    return document


def is_key_document(document) -> bool:
    """Whether a JSON document read from a file is a key file's (of this format or another): what
    every key file holds, the workspace's id and its secrets (sealed or in clear)."""
    return isinstance(document, dict) and isinstance(document.get("workspace_id"), str) and \
        isinstance(document.get("secrets"), dict)


def _check_belongs(document: dict, workspace: Workspace, path: Path) -> None:
    if document.get("workspace_id") != workspace_id(workspace):
        raise VaultKeyError(f"{path} belongs to another workspace ({document.get('workspace_id')}), "
                        f"not to {workspace.path} ({workspace_id(workspace)})")


def load_public_keys(workspace: Workspace) -> VaultKeys:
    """The public signing key only (enough to verify custody), from the key file; no passphrase needed."""
    path = key_file_path(workspace)
    document = _read_key_file(path, workspace)
    _check_belongs(document, workspace, path)
    return VaultKeys(workspace_id=document["workspace_id"], public_key=_unb64(document["public_key"]), key_file=path,
                     login_secret=stored_login_key(document),
                     head_tag=head_tag(workspace))


def is_protected(workspace: Workspace) -> bool:
    return _read_key_file(key_file_path(workspace))["secrets"].get("kdf") is not None


def unlock_secrets(document: dict, path: Path, *, passphrase: str | None = None) -> dict:
    """The key file's secrets (``master_key``, ``signing_key``, maybe ``index_key`` and a pending
    rotation's ``next``), opened with ``passphrase`` (else ``DADKHAH_PASSPHRASE``) when protected."""
    secrets = document.get("secrets") or {}
    try:
        if secrets.get("kdf") == "argon2id":
            passphrase = passphrase if passphrase is not None else os.environ.get(ENV_PASSPHRASE)
            if not passphrase:
                raise VaultKeyError(f"the key file {path} is protected by a passphrase: give it (or set {ENV_PASSPHRASE})")
            kek = _derive(passphrase, _unb64(secrets["salt"]), secrets)
            secret = AESGCM(kek).decrypt(_unb64(secrets["nonce"]), _unb64(secrets["sealed"]), document["workspace_id"].encode())
        elif secrets.get("kdf") is None:
            secret = _unb64(secrets["plain"])
        else:
            raise VaultKeyError(f"{path}: unknown key protection {secrets.get('kdf')!r}")
        inner = json.loads(secret)
        _unb64(inner["master_key"])
        Ed25519PrivateKey.from_private_bytes(_unb64(inner["signing_key"]))
        if inner.get("index_key"):
            _unb64(inner["index_key"])
    except InvalidTag:
        raise VaultKeyError(f"wrong passphrase for the key file {path}") from None
    except (KeyError, ValueError, TypeError) as exc:
        raise VaultKeyError(f"{path}: the key file is damaged ({type(exc).__name__})") from None
    return inner


def keys_from_secrets(document: dict, inner: dict, path: Path | None, *, tag: str | None = None) -> VaultKeys:
    """The unlocked :class:`VaultKeys` from a key file's document and its opened secrets."""
    signing = Ed25519PrivateKey.from_private_bytes(_unb64(inner["signing_key"]))
    public = public_key_bytes(signing)
    if _unb64(document["public_key"]) != public:
        raise VaultKeyError(f"{path}: the public key does not match the signing key; the file has been altered")
    index = _unb64(inner["index_key"]) if inner.get("index_key") else b""
    return VaultKeys(workspace_id=document["workspace_id"], master_key=_unb64(inner["master_key"]), signing_key=signing,
                     public_key=public, key_file=path, index_secret=index, head_tag=tag,
                     login_secret=stored_login_key(document))


def load_keys(workspace: Workspace, *, passphrase: str | None = None) -> VaultKeys:
    """Unlock the keys: with ``passphrase``, else ``DADKHAH_PASSPHRASE`` when the file is protected."""
    path = key_file_path(workspace)
    document = _read_key_file(path, workspace)
    _check_belongs(document, workspace, path)
    if document.get("rotation"):
        raise VaultKeyError(f"a key rotation was interrupted: the key file {path} holds the old keys and the new "
                            "ones. Run `dadkhah keys rotate` again to finish it; nothing is lost meanwhile")
    inner = unlock_secrets(document, path, passphrase=passphrase)
    return keys_from_secrets(document, inner, path, tag=head_tag(workspace))


def seal_secrets(inner: dict, workspace_id: str, passphrase: str | None) -> dict:
    """The ``secrets`` of a key file holding ``inner``: sealed under ``passphrase`` (argon2id, a new
    salt) when one is given, else in plain form."""
    secret = json.dumps(inner).encode()
    if passphrase:
        salt, nonce = os.urandom(16), os.urandom(12)
        sealed = AESGCM(_derive(passphrase, salt, ARGON2)).encrypt(nonce, secret, workspace_id.encode())
        return {"kdf": "argon2id", **ARGON2, "salt": _b64(salt), "nonce": _b64(nonce), "sealed": _b64(sealed)}
    return {"kdf": None, "plain": _b64(secret)}


def write_key_document(path: Path, document: dict, *, replace: bool) -> None:
    """Write a key file for its owner alone (0600): a new file (refused if one exists), or with
    ``replace`` one put in place of the old by a single rename, so that a crash leaves either whole."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not replace:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        return
    temporary = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    try:
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    except OSError:
        pass


@contextlib.contextmanager
def key_file_lock(path: Path, busy: str) -> Iterator[None]:
    """One change at a time to a key file (a lock file beside it): another one is refused at once
    with ``busy``, a :class:`VaultKeyError`."""
    try:
        import fcntl
    except ImportError:  # not on POSIX
        yield
        return
    with open(os.open(path.with_name(path.name + ".rotate-lock"), os.O_RDWR | os.O_CREAT, 0o600), "r+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise VaultKeyError(busy) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def stored_login_key(document: dict) -> bytes:
    """A key file's login key as it is read with the keys (empty when it has none, or a damaged one:
    :func:`read_login_key` then says which)."""
    try:
        key = _unb64(document.get(LOGIN_KEY) or "")
    except (ValueError, TypeError):
        return b""
    return key if len(key) == 32 else b""


def read_login_key(path: Path, workspace_id: str, *, create: bool = False) -> bytes:
    """The login key kept in the key file at ``path``: it seals the web users' second-factor (TOTP)
    secrets in the database (:mod:`dadkhah.users`), so that a copy of the database or of the workspace
    holds no usable second factor. It is kept in clear (no passphrase: the server checks codes without
    one), travels with the key file (its backups and shares) and is renewed by a key rotation, which
    seals every second factor anew (:func:`dadkhah.vault.keycare.rotate_keys`).

    A key file made before the login key existed has none: ``create`` adds one (under the key file's
    lock, written by one rename). Without ``create`` a missing login key is a :class:`VaultKeyError`
    that says what is lost (the second factors, not the data) and how to recover.
    """
    document = _read_key_file(path)
    if document.get("workspace_id") != workspace_id:
        raise VaultKeyError(f"{path} belongs to another workspace ({document.get('workspace_id')}), not to {workspace_id}")
    if not document.get(LOGIN_KEY):
        if not create:
            raise VaultKeyError(f"the key file {path} keeps no login key, which sealed the users' second-factor (TOTP) "
                                "secrets: it is an older copy, or was rebuilt from shares made before the login key "
                                "existed. No data is lost, but those second factors cannot be checked: an admin gives "
                                "each such user a new one (a password reset with a new second factor)")
        with key_file_lock(path, f"the key file {path} is being changed (a key rotation is running): try again when "
                                 "it has finished"):
            document = _read_key_file(path)
            if not document.get(LOGIN_KEY):
                document = document | {LOGIN_KEY: _b64(os.urandom(32))}
                write_key_document(path, document, replace=True)
    try:
        key = _unb64(document[LOGIN_KEY])
    except (ValueError, TypeError):
        key = b""
    if len(key) != 32:
        raise VaultKeyError(f"{path}: the key file's login key is damaged")
    return key


def read_key_document(path: Path, workspace: Workspace | None = None) -> dict:
    """A key file's document, checked to be one (and, with ``workspace``, to be that workspace's)."""
    document = _read_key_file(path, workspace)
    if workspace is not None:
        _check_belongs(document, workspace, path)
    return document


def set_vault_config(workspace: Workspace, values: dict[str, str]) -> None:
    """Set keys of the ``[vault]`` section of the workspace's configuration (public values only),
    rewriting the file by one rename; other lines are kept as they are."""
    lines = workspace.config_path.read_text(encoding="utf-8").splitlines()
    section, start, end = None, None, len(lines)
    for number, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            if section == "vault":
                end = number
                break
            section = stripped.strip("[]").strip()
            if section == "vault":
                start = number
    if start is None:
        lines += ["", "[vault]"]
        start, end = len(lines) - 1, len(lines)
    missing = dict(values)
    for number in range(start + 1, end):
        name = lines[number].split("=", 1)[0].strip()
        if "=" in lines[number] and name in missing:
            lines[number] = f"{name} = {json.dumps(missing.pop(name))}"
    insert_at = end
    while insert_at > start + 1 and not lines[insert_at - 1].strip():
        insert_at -= 1
    lines[insert_at:insert_at] = [f"{name} = {json.dumps(value)}" for name, value in missing.items()]
    temporary = workspace.config_path.with_name(f".{workspace.config_path.name}.{os.getpid()}.new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, workspace.config_path)


def find_public_keys(workspace: Workspace) -> VaultKeys | None:
    """The public key and where the chains' heads are kept, or None when the workspace has no
    readable key file (enough to verify the logs and to remember their newest events)."""
    if not workspace_id(workspace):
        return None
    try:
        return load_public_keys(workspace)
    except VaultKeyError:
        return None


def load_keys_unattended(workspace: Workspace) -> VaultKeys | None:
    """The keys as far as they can be had without asking anyone: unlocked when the key file has no
    passphrase or ``DADKHAH_PASSPHRASE`` gives it, else the public key only (enough to verify and to
    remember the newest events), else None (no keys, or the key file cannot be read).

    For signing the audit log of commands that do not otherwise need the keys.
    """
    if not workspace_id(workspace):
        return None
    try:
        if not is_protected(workspace) or os.environ.get(ENV_PASSPHRASE):
            return load_keys(workspace)
    except VaultKeyError:
        pass
    return find_public_keys(workspace)
