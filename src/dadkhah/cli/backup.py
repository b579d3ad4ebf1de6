"""Commands for backups: one signed file holding the database and the sealed files (never the keys), and
restoring one into a new workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dadkhah.cli.common import (
    JsonOption,
    cli_actor,
    counted,
    emit_json,
    err,
    handle_errors,
    out,
    progress_bar,
)
from dadkhah.cli.vault import unlocked
from dadkhah.vault.backup import make_backup, restore_backup


@handle_errors
def backup_command(
    ctx: typer.Context,
    out_file: Annotated[Path, typer.Option("--out", help="The backup file to write (a new file, outside the workspace).")],
    force: Annotated[bool, typer.Option("--force", help="Replace a file of that name.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Back up the workspace while it is in use: a consistent snapshot of the database, every sealed file and a
    signed manifest, in one file. Never the keys: keep the key file (or its shares) apart.

    Refused, with nothing written, when the chain of custody or the audit log is not intact, when a sealed
    file is missing or damaged, or when a key file or key share lies in the workspace folder.

    Example: dadkhah backup --out /media/usb/case-2026-12-05.dadkhah-backup
    """
    with unlocked(ctx) as (store, keys), progress_bar("writing the backup", unit="bytes") as progress:
        result = make_backup(store, keys, out_file, actor=cli_actor(ctx), force=force, progress=progress)
    if as_json:
        emit_json(result)
        return
    counts = result["counts"]
    out.print(f"Backup at {result['out']}: {result['size_bytes']:,} bytes, {counted(result['files'], 'file')}; "
              f"{_contents(counts)}. SHA-256 {result['sha256']}.", markup=False)
    err.print("Test it now and then: dadkhah restore FILE --into a new folder, then dadkhah custody verify there.",
              markup=False)


@handle_errors
def restore_command(
    ctx: typer.Context,
    backup_file: Annotated[Path, typer.Argument(metavar="FILE", help="The backup file.")],
    into: Annotated[Path, typer.Option("--into", help="A new (or empty) folder for the restored workspace.")],
    database_url: Annotated[str | None, typer.Option("--database-url", help="An empty PostgreSQL database to restore into (else the workspace's own SQLite file).")] = None,
    key_file: Annotated[Path | None, typer.Option("--key-file", help="The key file that signed the backup (default: DADKHAH_KEY_FILE, or where the workspace kept it).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Restore a backup into a new workspace, after checking its signature and every file; the restored
    workspace's custody and audit chains verify.

    Example: dadkhah restore /media/usb/case-2026-12-05.dadkhah-backup --into ~/cases/restored --key-file ~/keys/case.key
    """
    with progress_bar("restoring", unit="bytes") as progress:
        result = restore_backup(backup_file, into, actor=cli_actor(ctx), database_url=database_url, key_file=key_file,
                                progress=progress)
    if as_json:
        emit_json(result)
        return
    counts = result["counts"]
    out.print(f"Restored into {result['into']} ({result['database']}): {_contents(counts)} as of {result['made_at']}. "
              f"Custody chain {'intact' if result['custody_intact'] else 'BROKEN'}, audit log {'intact' if result['audit_intact'] else 'BROKEN'}.", markup=False)
    later = {k: v for k, v in result["events_after_backup"].items() if v}
    if later and result["chains_checked_when_made"]:
        err.print("The original recorded events after this backup that the restored workspace lacks: "
                  + ", ".join(f"{n:,} {chain}" for chain, n in later.items()) + ".", markup=False)
    elif later:
        err.print("The original remembers events beyond the newest of this backup, which the restored workspace "
                  "lacks: " + ", ".join(f"{n:,} {chain}" for chain, n in later.items()) + ". This backup was made by "
                  "an older version of Dadkhah, which did not check the chains first: those events were recorded "
                  "after it, or removed from the original before it was made. dadkhah custody verify and dadkhah "
                  "audit verify in the original workspace report such a removal.", markup=False)
    if result["database"] == "postgresql":
        err.print("Open it with DADKHAH_DATABASE_URL set to that database.", markup=False)


def _contents(counts: dict) -> str:
    return (f"{counted(counts['records'], 'record')}, {counted(counts['persons'], 'person')}, "
            f"{counted(counts['testimonies'], 'testimony', 'testimonies')}, {counted(counts['evidence'], 'evidence item')}")
