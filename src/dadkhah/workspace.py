"""A workspace: one folder holding the configuration, the blob store and (by default) the database.

Nothing secret lives here: the keys are kept outside the folder. The database is the SQLite file
``dadkhah.db`` unless opening the workspace names another database (PostgreSQL), in which case the
folder still holds the configuration, blobs and quarantine reports. The command line reads that URL
from ``DADKHAH_DATABASE_URL``, once, and passes it here; nothing below the shells reads the
environment for it.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dadkhah.errors import WorkspaceError

CONFIG_NAME = "dadkhah.toml"
DATABASE_NAME = "dadkhah.db"
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
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def reloaded(self) -> Workspace:
        """The same workspace on the same database, with its configuration read again (after keys are made)."""
        return load_workspace(self.path, database_url=self.database_url)


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
    root.mkdir(parents=True, exist_ok=True)
    for sub in ("blobs", "quarantine"):
        (root / sub).mkdir(exist_ok=True)
    config_path = root / CONFIG_NAME
    if not config_path.exists():
        created = datetime.now(UTC).replace(microsecond=0).isoformat()
        config_path.write_text(
            "# Dadkhah workspace configuration.\n"
            "# The database is dadkhah.db in this folder unless DADKHAH_DATABASE_URL names another.\n"
            f"workspace_format = {WORKSPACE_FORMAT}\n"
            f'created_at = "{created}"\n'
            "\n[import]\n"
            "# Largest file `dadkhah import` accepts, in megabytes.\n"
            "max_file_mb = 4096\n"
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
