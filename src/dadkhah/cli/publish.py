"""Commands for what is published: checking a published folder against its signed manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dadkhah.cli.common import JsonOption, emit_json, err, handle_errors, out
from dadkhah.publish import verify_site


@handle_errors
def verify_site_command(
    folder: Annotated[Path, typer.Argument(metavar="FOLDER", help="The published folder (a mirror of a memorial site, say).")],
    expect_key: Annotated[str | None, typer.Option("--expect-key", help="The fingerprint the site must be signed by (SHA256:…), learnt from its publisher.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Check a published folder against its signed manifest: nothing altered, added or missing; exits 1 if not.

    Example: dadkhah verify-site mirror/ --expect-key SHA256:wKTWwRrvmTzLVBhMFdThfvB5UBGfGArhmMpHNzvqFe0
    """
    report = verify_site(folder, expect_key=expect_key)
    if as_json:
        emit_json(report)
    else:
        for problem in report["problems"]:
            out.print(f"{problem['file']}: {problem['problem']}", markup=False, highlight=False)
        if report["intact"]:
            out.print(f"Intact: {report['files']:,} files as signed by {report['fingerprint']} on {report['signed_at']}.",
                      markup=False, highlight=False)
        if not expect_key and report["intact"]:
            err.print("No --expect-key was given: this proves only that the key inside the folder signed it. "
                      "Ask the publisher for their fingerprint and check again.", markup=False, highlight=False)
    if not report["intact"]:
        raise typer.Exit(1)
