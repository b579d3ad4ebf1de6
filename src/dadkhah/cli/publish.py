"""Commands for what is published: the memorial site, and checking a published folder against its
signed manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dadkhah.cli.common import (
    JsonOption,
    cli_actor,
    emit_json,
    err,
    handle_errors,
    out,
    progress_bar,
)
from dadkhah.cli.vault import unlocked
from dadkhah.publish import verify_site

publish_app = typer.Typer(help="Publishing what may be published: the memorial site.", no_args_is_help=True)


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


@publish_app.command("memorial")
@handle_errors
def publish_memorial(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Option("--out", help="The folder to write the site into (rebuilt in place if it holds one).")],
    languages: Annotated[str, typer.Option("--languages", help="fa, en, or both (the first is the home page's).")] = "fa,en",
    title: Annotated[str | None, typer.Option("--title", help="The site's title (default: In memory of the victims).")] = None,
    contact: Annotated[str | None, typer.Option("--contact", help="Where readers send corrections: an https:// address or an email.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Write the memorial site (a static folder for any host or a USB stick) from what may be published, signed.

    Example: dadkhah publish memorial --out site/ --languages fa,en --contact corrections@example.org
    """
    from dadkhah.publish.memorial import build_memorial

    with unlocked(ctx) as (store, keys), progress_bar("gathering the published persons") as progress:
        result = build_memorial(store, keys, out_dir, actor=cli_actor(ctx), languages=languages, title=title,
                                contact=contact, progress=progress)
    if as_json:
        emit_json(result)
        return
    out.print(f"Wrote {result['out']}: {result['persons']:,} persons in {', '.join(result['languages'])}, "
              f"{result['acts']:,} acts and {result['sites']:,} sites (accepted claims of public sources); "
              f"{result['pages_written']:,} pages written, {result['pages_unchanged']:,} unchanged, "
              f"{result['files_removed']:,} removed; signed by {result['fingerprint']}.", markup=False, highlight=False)
    if result["estimate_warnings"]:
        err.print(f"The estimate the site publishes came with {len(result['estimate_warnings'])} warning(s) from the "
                  "estimator; the site says that it was flagged, not what was said:", markup=False, highlight=False)
        for warning in result["estimate_warnings"]:
            err.print(f"  - {warning}", markup=False, highlight=False)
    err.print(f"Open {Path(result['out']).resolve() / 'index.html'} in a browser, or copy the folder to any static "
              f"host. A mirror checks itself with: dadkhah verify-site FOLDER --expect-key {result['fingerprint']}",
              markup=False, highlight=False)
