"""The ``dadkhah`` command. Each command parses, makes one call into the Python API, and renders."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from dadkhah import __version__
from dadkhah.cli.accountability import (
    accountability_app,
    acts_app,
    institutions_app,
    officials_app,
    sites_app,
)
from dadkhah.cli.appeal import appeal_app
from dadkhah.cli.backup import backup_command, restore_command
from dadkhah.cli.common import ENV_DATABASE_URL, acting_user, setup_logging
from dadkhah.cli.estimate import estimate_app
from dadkhah.cli.exports import (
    export_acts_command,
    export_persons_command,
    export_popolo_command,
    export_records_command,
    export_uwazi_command,
)
from dadkhah.cli.ingest import import_, init, records_app, sources_app
from dadkhah.cli.intake import intake_app
from dadkhah.cli.jobs import jobs_app, worker_command
from dadkhah.cli.link import link_app, persons_app, review_app
from dadkhah.cli.places import places_app
from dadkhah.cli.publish import publish_app, verify_site_command
from dadkhah.cli.report import report_app
from dadkhah.cli.search import persons_search
from dadkhah.cli.synth import synth
from dadkhah.cli.vault import (
    custody_app,
    evidence_app,
    export_app,
    keys_app,
    testimony_app,
    timestamp_command,
    verify,
)
from dadkhah.cli.web import audit_app, serve, tokens_app, users_app

app = typer.Typer(
    name="dadkhah",
    help="Dadkhah: one verified registry of victims from many lists, an honest estimate, a verifiable case file.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold personal data
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dadkhah {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    workspace: Annotated[
        Path | None,
        typer.Option("--workspace", "-w", envvar="DADKHAH_WORKSPACE", help="Workspace folder (default: the current folder)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More messages on stderr.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")] = False,
) -> None:
    setup_logging(verbose)
    # What the commands write (workspace files, case files, evidence written out, exports) is for
    # the user alone, whatever the shell's umask.
    os.umask(0o077)
    # The environment is read here, once: everything below takes the database URL as a parameter.
    ctx.obj = {"workspace": workspace, "database_url": os.environ.get(ENV_DATABASE_URL) or None,
               "actor": acting_user()}


app.command("init")(init)
app.command("import")(import_)
app.command("synth")(synth)
app.add_typer(sources_app, name="sources")
app.add_typer(records_app, name="records")
app.add_typer(intake_app, name="intake")
app.add_typer(places_app, name="places")
app.add_typer(report_app, name="report")
app.add_typer(link_app, name="link")
app.add_typer(persons_app, name="persons")
persons_app.command("search")(persons_search)
app.add_typer(review_app, name="review")
app.add_typer(estimate_app, name="estimate")
app.add_typer(jobs_app, name="jobs")
app.command("worker")(worker_command)
app.add_typer(accountability_app, name="accountability")
app.add_typer(institutions_app, name="institutions")
app.add_typer(officials_app, name="officials")
app.add_typer(acts_app, name="acts")
app.add_typer(sites_app, name="sites")
app.add_typer(appeal_app, name="appeal")
app.add_typer(publish_app, name="publish")
app.add_typer(evidence_app, name="evidence")
app.add_typer(testimony_app, name="testimony")
app.add_typer(custody_app, name="custody")
app.command("timestamp")(timestamp_command)
app.add_typer(keys_app, name="keys")
app.add_typer(export_app, name="export")
export_app.command("persons")(export_persons_command)
export_app.command("records")(export_records_command)
export_app.command("acts")(export_acts_command)
export_app.command("popolo")(export_popolo_command)
export_app.command("uwazi")(export_uwazi_command)
app.command("verify")(verify)
app.command("verify-site")(verify_site_command)
app.command("backup")(backup_command)
app.command("restore")(restore_command)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(audit_app, name="audit")
app.command("serve")(serve)


def main() -> None:
    app()
