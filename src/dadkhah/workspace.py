"""A workspace: one folder holding the configuration, the blob store and (by default) the database.

Nothing secret lives here: the keys are kept outside the folder. The folder and everything Dadkhah
writes in it are for its owner alone (folders 0700, files 0600, whatever the umask). Plaintext that
must pass through a file (an upload on its way to being sealed, a decryption on its way to a
download) goes only to ``private/``, in a folder of its own that is removed when the work is done;
what an interrupted process leaves there is swept the next time the workspace is opened. The database is the SQLite file
``dadkhah.db`` unless opening the workspace names another database (PostgreSQL), in which case the
folder still holds the configuration, blobs and quarantine reports. The command line reads that URL
from ``DADKHAH_DATABASE_URL``, once, and passes it here; nothing below the shells reads the
environment for it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dadkhah.errors import WorkspaceError

CONFIG_NAME = "dadkhah.toml"
DATABASE_NAME = "dadkhah.db"
ENV_KEY_FILE = "DADKHAH_KEY_FILE"  # names the key file, over the configuration
FOLDERS = ("blobs", "quarantine", "private")
WORKSPACE_FORMAT = 1


@dataclass(frozen=True)
class Workspace:
    """Paths of one workspace and the database it uses."""

    path: Path
    database_url: str
    config: dict

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_NAME

    @property
    def blobs_dir(self) -> Path:
        return self.path / "blobs"

    @property
    def quarantine_dir(self) -> Path:
        return self.path / "quarantine"

    @property
    def uploads_dir(self) -> Path:
        """Where a list uploaded through the web waits for the background job that imports it
        (:mod:`dadkhah.jobs.kinds`), one folder per upload; the job removes it when it ends."""
        return self.path / "uploads"

    @property
    def printed_dir(self) -> Path:
        """Where a report printed by a background job waits to be downloaded (:mod:`dadkhah.jobs.kinds`),
        one folder per job, named when the job is submitted; :func:`dadkhah.store.sweep_leftovers`
        removes it some days after its job ended, or when its job failed."""
        return self.path / "printed"

    @property
    def private_dir(self) -> Path:
        """Where plaintext passes through on its way to being sealed or handed over (see :func:`private_space`)."""
        return self.path / "private"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def uid(self) -> str:
        """What tells this workspace from every other, as its database records it
        (:func:`dadkhah.store.claim_database`): the id written into the configuration when it was
        made; a workspace from before that is told by the moment it was made."""
        return str(self.config.get("workspace_uid") or self.config.get("created_at") or "")

    def key_file_location(self) -> Path | None:
        """Where the workspace's key file is: ``DADKHAH_KEY_FILE``, the configuration, else the
        default folder under the workspace's id (None: no keys yet)."""
        chosen = os.environ.get(ENV_KEY_FILE) or (self.config.get("vault") or {}).get("key_file")
        if chosen:
            return Path(chosen).expanduser()
        ident = (self.config.get("vault") or {}).get("workspace_id")
        if not ident:
            return None
        return key_folder() / f"{ident}.key"

    def owns(self, path: str | os.PathLike) -> bool:
        """Whether ``path`` is one of the files the workspace keeps for itself, which no export may
        write over: its database (and SQLite's files beside it), its configuration, the key file it
        names and the files beside it, its sealed blobs, its quarantine reports and the uploads waiting
        for a job. (Its private and printed folders are the writers' own, not the user's to name.)"""
        target = Path(path).expanduser().resolve()
        root = self.path.resolve()
        kept = [root / CONFIG_NAME]
        if self.is_sqlite:  # the workspace's own file, or the one DADKHAH_DATABASE_URL names
            named = self.database_url.split(":///", 1)[1].split("?", 1)[0] if ":///" in self.database_url else ""
            kept.append(Path(named).resolve() if named and named != ":memory:" else root / DATABASE_NAME)
        key_file = self.key_file_location()
        if key_file is not None:
            kept.append(key_file.resolve())
        if any(target.parent == k.parent and target.name.startswith(k.name) for k in kept):
            return True  # the file itself, or one beside it named after it (dadkhah.db-wal, the key's chain heads)
        return any(target.is_relative_to(folder.resolve())
                   for folder in (self.blobs_dir, self.quarantine_dir, self.uploads_dir))

    def reloaded(self) -> Workspace:
        """The same workspace on the same database, with its configuration read again (after keys are made)."""
        return load_workspace(self.path, database_url=self.database_url)


def key_folder() -> Path:
    """The default folder of key files: dadkhah/keys in the user's configuration folder."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "dadkhah" / "keys"


def database_url_for(path: Path, database_url: str | None = None) -> str:
    """The database URL: the one given, else the workspace's SQLite file."""
    url = (database_url or "").strip()
    if url:
        return url
    return f"sqlite:///{(path / DATABASE_NAME).resolve()}"


def create_workspace(path: str | os.PathLike, *, database_url: str | None = None) -> Workspace:
    """Create the folder layout and configuration; an existing workspace is left as it is.

    The database itself is created and migrated by :func:`dadkhah.store.init_store`.
    """
    root = Path(path).expanduser()
    if root.exists() and not root.is_dir():
        raise WorkspaceError(f"{root} exists and is not a folder")
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    make_private(root)
    config_path = root / CONFIG_NAME
    if not config_path.exists():
        created = datetime.now(UTC).replace(microsecond=0).isoformat()
        private_file(config_path).write_text(
            "# Dadkhah workspace configuration.\n"
            "# The database is dadkhah.db in this folder unless DADKHAH_DATABASE_URL names another.\n"
            f"workspace_format = {WORKSPACE_FORMAT}\n"
            f'created_at = "{created}"\n'
            "# Which workspace this is: its database records it, and refuses to serve another.\n"
            f'workspace_uid = "{uuid.uuid4().hex}"\n'
            "\n[import]\n"
            "# Largest file `dadkhah import` accepts, in megabytes.\n"
            "max_file_mb = 4096\n"
            "# A CSV list this large (megabytes) or larger is read by two processes at once (SQLite only).\n"
            "parallel_from_mb = 8\n"
            "# What a list may ask of the reader; a file beyond a limit is refused whole. Raise a limit\n"
            "# only for a file you trust (see the user guide).\n"
            "max_rows = 5000000\n"
            "max_columns = 1000\n"
            "# A workbook's reader holds every cell its rows and columns span at once (about 32 bytes each).\n"
            "max_cells = 20000000\n"
            "max_line_kb = 16384\n"
            "max_uncompressed_mb = 2048\n"
            "max_shared_strings_mb = 256\n"
            "max_depth = 64\n"
            "max_seconds = 3600\n"
            "max_memory_mb = 2048\n",
            encoding="utf-8",
        )
    return load_workspace(root, database_url=database_url)


def private_file(path: Path) -> Path:
    """``path``, created empty for its owner alone (0600) if it does not exist yet."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    os.chmod(path, 0o600)
    return path


def make_private(root: Path) -> None:
    """The workspace folder and its folders for its owner alone (0700), whatever the umask."""
    for folder in (root, *(root / name for name in FOLDERS)):
        folder.mkdir(exist_ok=True, mode=0o700)
        if folder.stat().st_mode & 0o077:
            os.chmod(folder, 0o700)


def new_private_folder(workspace: Workspace, purpose: str) -> Path:
    """A new folder in ``private/``, named for its purpose and this process, for the caller to remove.

    The process id in the name lets :func:`sweep_private` tell a folder in use from one left by a
    process that died.
    """
    workspace.private_dir.mkdir(exist_ok=True, mode=0o700)
    return Path(tempfile.mkdtemp(prefix=f"{purpose}-{os.getpid()}-", dir=workspace.private_dir))  # 0700


# A private folder may name, in this file, one partial copy its process is writing outside the workspace
# (a case file copied to another drive); when the folder is swept as a dead process's, so is that copy.
OUTSIDE_PARTIAL_NOTE = "outside-partial.txt"
OUTSIDE_PARTIAL = re.compile(r"^\..+\.(\d+)-[0-9a-f]{8}\.partial$")


def note_outside_partial(folder: Path, partial: Path) -> None:
    """Say, in the private ``folder``, that this process is writing ``partial`` outside the workspace
    (named ``.<name>.<pid>-<8 hex>.partial``): swept with the folder if the process dies."""
    if not OUTSIDE_PARTIAL.match(partial.name) or int(OUTSIDE_PARTIAL.match(partial.name).group(1)) != os.getpid():
        raise ValueError(f"not a partial copy's name: {partial.name}")
    private_file(folder / OUTSIDE_PARTIAL_NOTE).write_text(str(partial.absolute()), encoding="utf-8")


def outside_partial(folder: Path, pid: int) -> Path | None:
    """The partial copy outside the workspace that the private ``folder`` of the (dead) process ``pid``
    names, if any: only a name of the form that process gave its partial copies."""
    try:
        named = Path((folder / OUTSIDE_PARTIAL_NOTE).read_text(encoding="utf-8").strip())
    except (OSError, UnicodeDecodeError):
        return None
    match = OUTSIDE_PARTIAL.match(named.name)
    return named if named.is_absolute() and match and int(match.group(1)) == pid else None


@contextlib.contextmanager
def private_space(workspace: Workspace, purpose: str) -> Iterator[Path]:
    """A private folder for the block's plaintext, removed when the block ends (see :func:`new_private_folder`)."""
    folder = new_private_folder(workspace, purpose)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (leftovers name the process that made them)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, and belongs to someone else
        return True
    return True


def load_workspace(path: str | os.PathLike, *, database_url: str | None = None) -> Workspace:
    """Open an existing workspace folder, checking that it is one."""
    root = Path(path).expanduser()
    config_path = root / CONFIG_NAME
    if not config_path.is_file():
        raise WorkspaceError(
            f"{root} is not a Dadkhah workspace (no {CONFIG_NAME}); create one with `dadkhah init {root}`"
        )
    try:
        config = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise WorkspaceError(f"{config_path}: cannot read the configuration: {exc}") from exc
    fmt = config.get("workspace_format")
    if not isinstance(fmt, int) or fmt > WORKSPACE_FORMAT:
        raise WorkspaceError(
            f"{config_path}: workspace format {fmt!r} is newer than this version of Dadkhah understands"
        )
    return Workspace(path=root.resolve(), database_url=database_url_for(root, database_url), config=config)


def find_workspace(path: str | os.PathLike | None = None, *, database_url: str | None = None) -> Workspace:
    """The workspace named by ``path``, else the current folder."""
    return load_workspace(path or Path.cwd(), database_url=database_url)
