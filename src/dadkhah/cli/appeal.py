"""Commands for appeals (open letters) and their signatures."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dadkhah.appeal import (
    add_paper_signature,
    close_appeal,
    create_appeal,
    decide,
    deliver_appeal,
    export_appeal,
    invalidate,
    list_appeals,
    mail_settings,
    moderation_queue,
    publish_appeal,
    purge,
    purge_due_appeals,
    revise_appeal,
    send_queued_mail,
    show_appeal,
)
from dadkhah.cli.common import (
    JsonOption,
    cli_actor,
    emit_json,
    err,
    handle_errors,
    opened_store,
    out,
    progress_bar,
)
from dadkhah.cli.vault import unlocked
from dadkhah.errors import InputError

ENV_SMTP_URL = "DADKHAH_SMTP_URL"  # smtp://[user[:password]@]host[:port][?starttls=yes], or smtps://
ENV_MAIL_FROM = "DADKHAH_MAIL_FROM"

appeal_app = typer.Typer(help="Open letters: a versioned text, verified signatories, deliveries and exports.",
                         no_args_is_help=True)

AppealArg = Annotated[str, typer.Argument(metavar="APPEAL", help="The appeal's id (A-0001) or its slug.")]


def _summary(document: dict) -> None:
    out.print(f"[bold]{document['id']}[/] {document['slug']}  {document['status']}  version {document['version']}  "
              f"{_plain(document['title'])}", markup=True)
    if "counts" in document:
        c = document["counts"]
        out.print(f"  verified {c['verified']:,} (named {c['public_names']:,}), pending {c['pending']:,} "
                  f"(awaiting a moderator {c['awaiting_moderation']:,}), rejected {c['rejected']:,}, "
                  f"withdrawn {c['withdrawn']:,}")


def _plain(text) -> str:
    from rich.markup import escape

    return escape(str(text)) if text is not None else ""


@appeal_app.command("create")
@handle_errors
def appeal_create(
    ctx: typer.Context,
    slug: Annotated[str, typer.Option("--slug", help="The public page's address: /appeals/SLUG (a-z, 0-9, -).")],
    title: Annotated[str, typer.Option("--title", help="The title in English.")],
    text: Annotated[Path, typer.Option("--text", help="A text file with the letter in English.")],
    addressee: Annotated[str, typer.Option("--addressee", help="To whom the letter is addressed.")],
    title_fa: Annotated[str | None, typer.Option("--title-fa", help="The title in Persian.")] = None,
    text_fa: Annotated[Path | None, typer.Option("--text-fa", help="A text file with the letter in Persian.")] = None,
    order: Annotated[str | None, typer.Option("--order", help="How signatories are listed: organisations-first (default), people-first, alphabetical or signed.")] = None,
    keep_days: Annotated[int | None, typer.Option("--keep-days", help="Days signers' details are kept after the appeal closes (default 90).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create an appeal as a draft (publish it to open its page).

    Example: dadkhah appeal create --slug un-inquiry --title "For an inquiry" --text letter.txt --text-fa letter-fa.txt --addressee "The UN Secretary-General"
    """
    with opened_store(ctx) as store:
        document = create_appeal(store, actor=cli_actor(ctx), slug=slug, title=title, text=text, addressee=addressee,
                                 title_fa=title_fa, text_fa=text_fa, order=order, keep_days=keep_days)
    if as_json:
        emit_json(document)
        return
    _summary(document)
    err.print(f"A draft: `dadkhah appeal publish {document['id']}` opens /appeals/{document['slug']}.")


@appeal_app.command("revise")
@handle_errors
def appeal_revise(
    ctx: typer.Context,
    appeal: AppealArg,
    title: Annotated[str | None, typer.Option("--title", help="A new title in English.")] = None,
    text: Annotated[Path | None, typer.Option("--text", help="A text file with the new letter in English.")] = None,
    title_fa: Annotated[str | None, typer.Option("--title-fa", help="A new title in Persian.")] = None,
    text_fa: Annotated[Path | None, typer.Option("--text-fa", help="A text file with the new letter in Persian.")] = None,
    addressee: Annotated[str | None, typer.Option("--addressee", help="A new addressee.")] = None,
    order: Annotated[str | None, typer.Option("--order", help="organisations-first, people-first, alphabetical or signed.")] = None,
    keep_days: Annotated[int | None, typer.Option("--keep-days", help="Days signers' details are kept after closing.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Change an appeal: a published text becomes a new version (signatures keep the version they signed).

    Example: dadkhah appeal revise A-0001 --text letter-v2.txt
    """
    with opened_store(ctx) as store:
        document = revise_appeal(store, appeal, actor=cli_actor(ctx), title=title, title_fa=title_fa, text=text,
                                 text_fa=text_fa, addressee=addressee, order=order, keep_days=keep_days)
    emit_json(document) if as_json else _summary(document)


@appeal_app.command("publish")
@handle_errors
def appeal_publish(ctx: typer.Context, appeal: AppealArg, as_json: JsonOption = False) -> None:
    """Open the appeal: its public page appears and takes signatures.

    Example: dadkhah appeal publish A-0001
    """
    with opened_store(ctx) as store:
        document = publish_appeal(store, appeal, actor=cli_actor(ctx))
    emit_json(document) if as_json else _summary(document)


@appeal_app.command("close")
@handle_errors
def appeal_close(ctx: typer.Context, appeal: AppealArg, as_json: JsonOption = False) -> None:
    """Stop taking signatures; the page and its counts stay.

    Example: dadkhah appeal close A-0001
    """
    with opened_store(ctx) as store:
        document = close_appeal(store, appeal, actor=cli_actor(ctx))
    emit_json(document) if as_json else _summary(document)


@appeal_app.command("list")
@handle_errors
def appeal_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every appeal with its status and counts.

    Example: dadkhah appeal list --json
    """
    with opened_store(ctx) as store, store.session() as session:
        documents = list_appeals(session)
    if as_json:
        emit_json(documents)
        return
    for document in documents:
        _summary(document)


@appeal_app.command("show")
@handle_errors
def appeal_show(ctx: typer.Context, appeal: AppealArg, as_json: JsonOption = False) -> None:
    """The appeal's counts (by status, kind and country), versions, deliveries and history.

    Example: dadkhah appeal show A-0001 --json
    """
    with opened_store(ctx) as store:
        document = show_appeal(store, appeal)
    if as_json:
        emit_json(document)
        return
    _summary(document)
    if document["by_country"]:
        out.print("  by country: " + ", ".join(f"{k} {v:,}" for k, v in document["by_country"].items()))
    for version in document["versions"]:
        out.print(f"  version {version['version']} of {version['created_at']:%Y-%m-%d} sha256 {version['sha256'][:16]}…")
    for delivery in document["deliveries"]:
        out.print(f"  delivered to {delivery['to']} on {delivery['on']} with {delivery['verified']:,} signatures"
                  + (f" (proof {delivery['evidence']})" if delivery["evidence"] else ""))
    for correction in document["corrections"]:
        out.print(f"  correction {correction['at'][:16]}: {correction['action']} {correction['details']}")
    if document["mail"]["queued"] or document["mail"]["failed"]:
        out.print(f"  mail: {document['mail']['queued']:,} queued, {document['mail']['failed']:,} failed")
    if document["purge_due"]:
        err.print(f"It closed {document['keep_days']} days ago or more and still keeps signers' details, which its page "
                  "promised to erase by then: a running worker (`dadkhah serve`, `dadkhah worker`) erases them within "
                  "the hour, or run `dadkhah appeal purge-due` now.", markup=False, highlight=False)


@appeal_app.command("sign")
@handle_errors
def appeal_sign(
    ctx: typer.Context,
    appeal: AppealArg,
    name: Annotated[str, typer.Option("--name", help="The signatory's name as it should appear.")],
    verified_by: Annotated[str, typer.Option("--verified-by", help="Who checked this signature (a reviewer's name).")],
    email: Annotated[str | None, typer.Option("--email", help="Their email address, if any (kept sealed; one address signs once).")] = None,
    affiliation: Annotated[str | None, typer.Option("--affiliation", help="Their organisation or institution.")] = None,
    role: Annotated[str | None, typer.Option("--role", help="Their role or title.")] = None,
    country: Annotated[str | None, typer.Option("--country", help="Their country.")] = None,
    kind: Annotated[str, typer.Option("--kind", help="person or organisation.")] = "person",
    public_name: Annotated[bool, typer.Option("--public/--count-only", help="Show the name on the page, or count it only.")] = True,
    as_json: JsonOption = False,
) -> None:
    """Add a signature given on paper or offline, vouched for by a reviewer (counted at once).

    Example: dadkhah appeal sign A-0001 --name "Jane Roe" --role Jurist --country UK --verified-by maryam --json
    """
    with unlocked(ctx) as (store, keys):
        document = add_paper_signature(store, keys, appeal, actor=cli_actor(ctx), name=name, verified_by=verified_by,
                                       email=email, affiliation=affiliation, role=role, country=country, kind=kind,
                                       public_name=public_name)
    if as_json:
        emit_json(document)
        return
    out.print(f"signature {document['signature']} on {document['appeal']}: {document['status']}"
              + (f" ({document['flag']}: a moderator decides)" if document["flag"] else ""))


@appeal_app.command("queue")
@handle_errors
def appeal_queue(
    ctx: typer.Context,
    appeal: AppealArg,
    status: Annotated[str | None, typer.Option("--status", help="held, pending, verified or rejected (default: held, then pending).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this many.")] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Skip this many first.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """What waits for a moderator, with names unsealed (recorded in the audit log).

    Example: dadkhah appeal queue A-0001 --json
    """
    with unlocked(ctx) as (store, keys):
        document = moderation_queue(store, keys, appeal, actor=cli_actor(ctx), status=status, limit=limit,
                                    offset=offset)
    if as_json:
        emit_json(document)
        return
    table = Table("#", "status", "why", "kind", "name", "email domain", "country", "same name as")
    for s in document["signatures"]:
        twin = s["duplicate_of"]
        table.add_row(str(s["id"]), s["status"], s["flag_detail"] or "", s["kind"], s["name"] or "",
                      s["email_domain"] or "", s["country"] or "",
                      f"{twin['id']} {twin['name'] or ''} ({twin['status']})" if twin else "")
    out.print(table)
    err.print(f"{document['total']:,} in all.")


@appeal_app.command("decide")
@handle_errors
def appeal_decide(
    ctx: typer.Context,
    appeal: AppealArg,
    signatures: Annotated[list[str], typer.Argument(metavar="SIGNATURE...", help="Signature numbers (from `appeal queue`).")],
    decision: Annotated[str, typer.Option("--decision", help="approve (count it) or reject.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why (required to reject; kept in the history).")] = None,
    as_json: JsonOption = False,
) -> None:
    """A moderator's decision on signatures: approve a held one, or reject with a reason.

    Example: dadkhah appeal decide A-0001 17 18 --decision reject --reason "the same person twice"
    """
    with unlocked(ctx) as (store, keys):
        document = decide(store, keys, appeal, signatures, actor=cli_actor(ctx), decision=decision, reason=reason)
    if as_json:
        emit_json(document)
        return
    out.print(f"{document['decision']}: {', '.join(map(str, document['signatures']))}; verified "
              f"{document['verified_before']:,} → {document['verified_after']:,}")


@appeal_app.command("invalidate")
@handle_errors
def appeal_invalidate(
    ctx: typer.Context,
    appeal: AppealArg,
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the appeal's public history).")],
    domain: Annotated[str | None, typer.Option("--domain", help="Every signature from this email domain.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Signed at or after this time (2026-12-05T14:00).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Signed before this time.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Reject in bulk the signatures of an email domain and/or a time window (a flood, a forged batch).

    Example: dadkhah appeal invalidate A-0001 --domain spam.example --reason "a forged batch"
    """
    with unlocked(ctx) as (store, keys):
        document = invalidate(store, keys, appeal, actor=cli_actor(ctx), reason=reason, domain=domain, since=since,
                              until=until)
    if as_json:
        emit_json(document)
        return
    out.print(f"{document['removed']:,} signatures rejected ({document['was_counted']:,} had been counted); "
              f"verified {document['before']:,} → {document['after']:,}")


@appeal_app.command("purge")
@handle_errors
def appeal_purge(
    ctx: typer.Context,
    appeal: AppealArg,
    older_than: Annotated[int, typer.Option("--older-than", min=0, help="Erase details of signatures untouched for this many days.")],
    as_json: JsonOption = False,
) -> None:
    """Erase what a closed appeal no longer needs (sealed emails and names, links, addresses); counts stay.

    Example: dadkhah appeal purge A-0001 --older-than 90
    """
    with opened_store(ctx) as store:
        document = purge(store, appeal, actor=cli_actor(ctx), older_than_days=older_than)
    if as_json:
        emit_json(document)
        return
    out.print(f"erased the details of {document['erased']:,} signatures; verified {document['verified']:,}, "
              f"named {document['public_names']:,}")


@appeal_app.command("purge-due")
@handle_errors
def appeal_purge_due(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Purge every closed appeal whose page's promise is due: signers' details erased --keep-days after closing.

    The worker (`dadkhah worker`, and so `dadkhah serve`) does this every hour by itself; run this
    where no worker runs (from cron, say). Appeals not yet due, or purged already, are left alone.

    Example: dadkhah appeal purge-due --json
    """
    with opened_store(ctx) as store:
        done = purge_due_appeals(store, actor=cli_actor(ctx))
    if as_json:
        emit_json({"purged": done})
        return
    if not done:
        out.print("No appeal's promised erasure is due.", markup=False)
    for document in done:
        out.print(f"{document['id']}: erased the details of {document['erased']:,} signatures; verified "
                  f"{document['verified']:,}, named {document['public_names']:,}", markup=False)


@appeal_app.command("deliver")
@handle_errors
def appeal_deliver(
    ctx: typer.Context,
    appeal: AppealArg,
    to: Annotated[str, typer.Option("--to", help="To whom it was delivered.")],
    on: Annotated[str, typer.Option("--on", help="The day it was delivered: YYYY-MM-DD, from the day it was published to today (your date; its count is at the end of that day in UTC).")],
    evidence: Annotated[Path | None, typer.Option("--evidence", help="A proof of delivery (kept sealed in the vault, with custody).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Record a delivery of the letter, with the verified signatures at the end of that day and the
    version of the text in force then.

    Example: dadkhah appeal deliver A-0001 --to "Office of the High Commissioner" --on 2026-12-10 --evidence receipt.pdf
    """
    if evidence is not None:
        with unlocked(ctx) as (store, keys):
            document = deliver_appeal(store, appeal, actor=cli_actor(ctx), to=to, on=on, evidence=evidence, keys=keys)
    else:
        with opened_store(ctx) as store:
            document = deliver_appeal(store, appeal, actor=cli_actor(ctx), to=to, on=on)
    if as_json:
        emit_json(document)
        return
    out.print(f"{document['id']} delivered to {document['to']} on {document['on']} "
              f"({document['verified']:,} verified signatures, version {document['version']})" + (f", proof {document['evidence']}" if document["evidence"] else ""))


@appeal_app.command("export")
@handle_errors
def appeal_export(
    ctx: typer.Context,
    appeal: AppealArg,
    format: Annotated[str, typer.Option("--format", help="pdf (the letter and its named signatories) or csv.")],
    out_path: Annotated[Path, typer.Option("--out", help="The file to write (refused if it exists, unless --force).")],
    language: Annotated[str, typer.Option("--language", help="en or fa (right to left).")] = "en",
    order: Annotated[str | None, typer.Option("--order", help="organisations-first, people-first, alphabetical or signed (default: the appeal's).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the file if it exists.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Write the letter with its public signatories (only what the public page shows).

    Example: dadkhah appeal export A-0001 --format pdf --language fa --out letter-fa.pdf
    """
    with opened_store(ctx) as store, progress_bar("printing the letter") as progress:
        document = export_appeal(store, appeal, actor=cli_actor(ctx), format=format, out=out_path, language=language,
                                 order=order, overwrite=force, progress=progress)
    if as_json:
        emit_json(document)
        return
    out.print(f"wrote {document['path']} ({document['signatories']:,} named signatories) sha256 {document['sha256']}")


@appeal_app.command("mail")
@handle_errors
def appeal_mail(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Send at most this many.")] = 500,
    as_json: JsonOption = False,
) -> None:
    """Send the queued confirmation emails now, through DADKHAH_SMTP_URL from DADKHAH_MAIL_FROM
    (the web server sends them by itself when started with both).

    Example: DADKHAH_SMTP_URL=smtp://127.0.0.1:25 DADKHAH_MAIL_FROM=appeal@example.org dadkhah appeal mail --json
    """
    settings = mail_settings(os.environ.get(ENV_SMTP_URL), os.environ.get(ENV_MAIL_FROM))
    if settings is None:
        raise InputError(f"set {ENV_SMTP_URL} (smtp://host:port) and {ENV_MAIL_FROM} to send mail", field="smtp_url")
    with unlocked(ctx) as (store, keys):
        document = send_queued_mail(store, keys, settings, limit=limit)
    if as_json:
        emit_json(document)
        return
    out.print(f"sent {document['sent']:,}, failed {document['failed']:,} (retried later), "
              f"no longer needed {document['skipped']:,}")
