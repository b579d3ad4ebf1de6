"""Commands for the vault: evidence, testimonies, custody, keys, case files and their verification."""

from __future__ import annotations

import getpass
import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dadkhah.cli.common import (
    JsonOption,
    cli_actor,
    counted,
    emit_json,
    err,
    handle_errors,
    opened_store,
    out,
    progress_bar,
)
from dadkhah.errors import DadkhahError, InputError
from dadkhah.vault.casefile import export_casefile
from dadkhah.vault.custody import events_for, timestamp_chains, verify_custody
from dadkhah.vault.evidence import (
    DEFAULT_RELEASE,
    add_evidence,
    get_evidence,
    list_evidence,
    show_evidence,
)
from dadkhah.vault.keys import (
    ENV_PASSPHRASE,
    is_protected,
    key_file_path,
    load_keys,
    load_public_keys,
)
from dadkhah.vault.testimony import (
    add_testimony,
    list_testimonies,
    show_testimony,
    witness_match_warning,
)
from dadkhah.vault.verify import verify_casefile

evidence_app = typer.Typer(help="Evidence files: kept by content, sealed, every access recorded.", no_args_is_help=True)
testimony_app = typer.Typer(help="Testimonies: witnesses by pseudonym, identities and transcripts sealed.", no_args_is_help=True)
custody_app = typer.Typer(help="The chain of custody: signed, hash-chained events.", no_args_is_help=True)
keys_app = typer.Typer(help="The workspace's keys (kept outside the workspace).", no_args_is_help=True)
ENV_TSA_URLS = "DADKHAH_TSA_URLS"  # the time-stamping authorities `dadkhah timestamp` asks when --tsa is not given

export_app = typer.Typer(help="Exports for others: signed case files; what may be published as tables (CSV, "
                                  "XLSX), Popolo JSON and Uwazi's CSV import.", no_args_is_help=True)


def ask_passphrase(*, confirm: bool = False) -> str | None:
    """From DADKHAH_PASSPHRASE, else asked on the terminal (never echoed, never on stdout)."""
    if os.environ.get(ENV_PASSPHRASE):
        return os.environ[ENV_PASSPHRASE]
    if not sys.stdin.isatty():
        raise DadkhahError(f"a passphrase is needed and there is no terminal to ask on: set {ENV_PASSPHRASE}")
    first = getpass.getpass("Passphrase for the key file: ")
    if confirm and getpass.getpass("The same passphrase again: ") != first:
        raise DadkhahError("the two passphrases differ")
    if not first:
        raise DadkhahError("an empty passphrase protects nothing")
    return first


@contextmanager
def unlocked(ctx: typer.Context):
    """The open store and its unlocked keys (which also sign the command's audit events)."""
    with opened_store(ctx) as store:
        passphrase = ask_passphrase() if is_protected(store.workspace) else None
        keys = load_keys(store.workspace, passphrase=passphrase)
        store.use_keys(keys)
        yield store, keys


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


@evidence_app.command("add")
@handle_errors
def evidence_add(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="The files; each is kept whole, byte for byte.")],
    source: Annotated[str | None, typer.Option("--source", help="Who or what the files came from (a source, created if new).")] = None,
    description: Annotated[str | None, typer.Option("--description", help="What the files show.")] = None,
    captured_at: Annotated[str | None, typer.Option("--captured-at", help="When they were made: an ISO 8601 date or date-time.")] = None,
    captured_where: Annotated[str | None, typer.Option("--captured-where", help="Where they were made (matched to the gazetteer when it can be).")] = None,
    acquired_how: Annotated[str | None, typer.Option("--acquired-how", help="How they reached you (handed over, downloaded, ...).")] = None,
    release: Annotated[str, typer.Option("--release", help="Who case files may carry them to: investigators,courts,public.")] = ",".join(DEFAULT_RELEASE),
    about: Annotated[list[str] | None, typer.Option("--about", help="A person the files concern (repeat for several).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Add evidence files: hashed and sealed in one pass, all or none; a file held already is not stored twice.

    Example: dadkhah evidence add photo.jpg video.mp4 --source family-archive --captured-at 1988-08-10 --about P-000123
    """
    with unlocked(ctx) as (store, keys), progress_bar("sealing", unit="bytes") as progress:
        added = add_evidence(store, keys, files, actor=cli_actor(ctx), source=source, description=description,
                             captured_at=captured_at, captured_where=captured_where, acquired_how=acquired_how,
                             release=release, about=about or (), progress=progress)
    if as_json:
        emit_json(added if len(added) > 1 else added[0])
        return
    for item in added:
        note = " (already held: this submission was recorded in its custody)" if item["already_held"] else ""
        out.print(f"[bold]{item['id']}[/] {item['sha256']}  {item['size_bytes']:,} bytes  {_escape(item['media_type'])}{note}",
                  markup=True)


@evidence_app.command("list")
@handle_errors
def evidence_list(
    ctx: typer.Context,
    limit: Annotated[int | None, typer.Option("--limit", min=0, help="At most this many.")] = None,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Skip this many first.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Evidence items, oldest first (nothing is decrypted).

    Example: dadkhah evidence list --json
    """
    with opened_store(ctx) as store, store.session() as session:
        items = list_evidence(session, limit=limit, offset=offset)
    if as_json:
        emit_json(items)
        return
    table = Table("id", "sha256", "bytes", "type", "description", "about")
    for item in items:
        table.add_row(item["id"], item["sha256"][:16] + "…", f"{item['size_bytes']:,}", item["media_type"],
                      item["description"] or "", ", ".join(item["about"]))
    out.print(table)


@evidence_app.command("show")
@handle_errors
def evidence_show(ctx: typer.Context, evidence_id: Annotated[str, typer.Argument(help="E-000001")], as_json: JsonOption = False) -> None:
    """One item with its decrypted metadata (EXIF, C2PA) and original name; recorded in custody and the audit log.

    Example: dadkhah evidence show E-000001
    """
    with unlocked(ctx) as (store, keys):
        item = show_evidence(store, keys, evidence_id, actor=cli_actor(ctx))
    if as_json:
        emit_json(item)
        return
    out.print(json.dumps(item, ensure_ascii=False, indent=1), markup=False)


@evidence_app.command("get")
@handle_errors
def evidence_get(
    ctx: typer.Context,
    evidence_id: Annotated[str, typer.Argument(help="E-000001")],
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the original bytes (outside the workspace).")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Write an item's original bytes out again, checked against its SHA-256; recorded in custody and the audit log.

    Example: dadkhah evidence get E-000001 --out ~/handover/E-000001.jpg
    """
    with unlocked(ctx) as (store, keys), progress_bar("decrypting", unit="bytes") as progress:
        result = get_evidence(store, keys, evidence_id, out_path, actor=cli_actor(ctx), force=force, progress=progress)
    if as_json:
        emit_json(result)
    else:
        out.print(f"Wrote {result['out']} ({result['size_bytes']:,} bytes, SHA-256 {result['sha256']} verified).", markup=False)


WITNESS_KEYS = ("name", "contact", "interviewer")
_ON_THE_COMMAND_LINE = ("must not be typed on the command line: other users of this computer (ps) and the shell's "
                        "history would see it. Put it in a file given with --witness-file (JSON or TOML with name, "
                        "contact and interviewer), pipe it in with --witness-file -, or leave --witness-file out to "
                        "be asked for it")


def read_witness(source: Path | None) -> dict:
    """The sealed fields of a testimony (the witness's name and contact, the interviewer), read from a
    JSON or TOML file, from standard input (``-``), or asked for on the terminal without echo."""
    if source is None:
        if not sys.stdin.isatty():
            raise InputError("the witness's name is needed: give --witness-file F (JSON or TOML with name and "
                             "contact), or --witness-file - to read it from standard input", field="witness_file")
        found = {"name": getpass.getpass("Witness's name (stored sealed; not shown as you type): "),
                 "contact": getpass.getpass("How to reach the witness (optional, sealed): "),
                 "interviewer": getpass.getpass("Who took the testimony (optional, sealed): ")}
        found = {k: v.strip() or None for k, v in found.items()}
        if not found["name"]:
            raise InputError("no name was given: the witness's name is needed (it is stored sealed)",
                             field="witness_file")
        return found
    where = "standard input" if str(source) == "-" else str(source)
    try:
        text = sys.stdin.read() if str(source) == "-" else source.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot be read: {exc}", file=where, field="witness_file") from None
    document = None
    if not where.endswith(".toml"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            document = None
    if document is None:
        import tomllib

        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"is neither JSON nor TOML ({exc})", file=where, field="witness_file") from None
    if not isinstance(document, dict):
        raise InputError("must hold name (and contact, interviewer) as a JSON object or TOML keys", file=where,
                         field="witness_file")
    unknown = sorted(set(document) - set(WITNESS_KEYS))
    if unknown:
        raise InputError(f"holds {', '.join(map(repr, unknown))}; it may hold only {', '.join(WITNESS_KEYS)}",
                         file=where, field="witness_file")
    if not all(isinstance(document.get(k), str | None) for k in WITNESS_KEYS):
        raise InputError("name, contact and interviewer must be text", file=where, field="witness_file")
    found = {k: (document.get(k) or "").strip() or None for k in WITNESS_KEYS}
    if not found["name"]:
        raise InputError("gives no name: the witness's name is needed (it is stored sealed)", file=where,
                         field="witness_file")
    return found


@testimony_app.command("add")
@handle_errors
def testimony_add(
    ctx: typer.Context,
    transcript: Annotated[Path, typer.Option("--transcript", help="The transcript, a text file (UTF-8, UTF-16 or Windows-1256).")],
    language: Annotated[str, typer.Option("--language", help="Language of the transcript: fa, en, ku, az, ...")],
    consent: Annotated[str, typer.Option("--consent", help="Who the witness agreed may receive it: investigators,courts,public.")],
    witness_file: Annotated[Path | None, typer.Option("--witness-file", help="JSON or TOML file with the witness's name, contact and the interviewer (sealed); - reads it from standard input; left out, they are asked for.")] = None,
    about: Annotated[list[str] | None, typer.Option("--about", help="A person the testimony concerns (repeat for several).")] = None,
    place: Annotated[str | None, typer.Option("--place", help="Where the testimony was given or what place it concerns.")] = None,
    witness_name: Annotated[str | None, typer.Option("--witness-name", hidden=True, help="Refused: see --witness-file.")] = None,
    witness_contact: Annotated[str | None, typer.Option("--witness-contact", hidden=True, help="Refused: see --witness-file.")] = None,
    interviewer: Annotated[str | None, typer.Option("--interviewer", hidden=True, help="Refused: see --witness-file.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Record a testimony; the witness is known by a pseudonym (W-0001) everywhere from now on.

    The witness's name and contact and the interviewer are never taken from the command line.

    Example: dadkhah testimony add --witness-file witness.toml --transcript t.txt --language fa --consent investigators,courts --about P-000123
    """
    for given, field in ((witness_name, "witness_name"), (witness_contact, "witness_contact"), (interviewer, "interviewer")):
        if given is not None:
            what = {"witness_name": "The witness's name", "witness_contact": "The witness's contact",
                    "interviewer": "The interviewer's name"}[field]
            raise InputError(f"{what} {_ON_THE_COMMAND_LINE}.", field=field)
    witness = read_witness(witness_file)
    with unlocked(ctx) as (store, keys):
        result = add_testimony(store, keys, actor=cli_actor(ctx), witness_name=witness["name"] or "",
                               transcript=transcript, language=language, consent=consent,
                               witness_contact=witness["contact"], about=about or (), place=place,
                               interviewer=witness["interviewer"])
    if as_json:
        emit_json(result)
    else:
        out.print(f"[bold]{result['id']}[/] by witness [bold]{result['witness']}[/]"
                  + (" (new)" if result["new_witness"] else "") + f"; consent: {', '.join(result['consent'])}.", markup=True)
        if result["name_matched"]:
            err.print(f"warning: {witness_match_warning(result)}", markup=False, highlight=False)


@testimony_app.command("list")
@handle_errors
def testimony_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Testimonies by pseudonym, with language, consent and persons (nothing is decrypted).

    Example: dadkhah testimony list --json
    """
    with opened_store(ctx) as store, store.session() as session:
        items = list_testimonies(session)
    if as_json:
        emit_json(items)
        return
    table = Table("id", "witness", "language", "consent", "about", "place")
    for item in items:
        table.add_row(item["id"], item["witness"], item["language"], ", ".join(item["consent"]), ", ".join(item["about"]),
                      item["place"] or "")
    out.print(table)


@testimony_app.command("show")
@handle_errors
def testimony_show(
    ctx: typer.Context,
    testimony_id: Annotated[str, typer.Argument(help="T-0001")],
    reveal_witness: Annotated[bool, typer.Option("--reveal-witness", help="Also decrypt who the witness is (recorded in custody).")] = False,
    as_json: JsonOption = False,
) -> None:
    """A testimony with its transcript, decrypted; recorded in custody and the audit log.

    Example: dadkhah testimony show T-0001
    """
    with unlocked(ctx) as (store, keys):
        item = show_testimony(store, keys, testimony_id, actor=cli_actor(ctx), reveal_witness=reveal_witness)
    if as_json:
        emit_json(item)
        return
    out.print(f"[bold]{item['id']}[/] by {item['witness']} ({item['language']}; consent {', '.join(item['consent'])})", markup=True)
    if reveal_witness:
        out.print(f"Witness: {item['witness_name']}  contact: {item.get('witness_contact') or '-'}", markup=False)
        others = [c for c in item.get("witness_contacts", []) if c["contact"] != item.get("witness_contact")]
        for other in others:
            out.print(f"  other contact of {item['witness']}: {other['contact']} (given with {other['testimony']})",
                      markup=False)
    out.print(item["transcript"], markup=False)


TsaRootOption = Annotated[Path | None, typer.Option(
    "--tsa-root", metavar="CA.pem", help="The time-stamping authorities' root certificates you trust (a PEM file, one or more): every "
                       "timestamp must chain to one.")]


def _say_timestamps(timestamps: list[dict], *, root_given: bool) -> None:
    """One line per timestamp: when, by whom, and whether its chain was checked against a trusted root."""
    for stamp in timestamps:
        about = f" ({stamp['covers']})" if stamp.get("covers") else ""
        if not stamp["valid"]:
            err.print(f"[bold red]Timestamp {stamp['number']}{_escape(about)} by "
                      f"{_escape(str(stamp['name'] or stamp['authority']))} does not hold.[/]", highlight=False, markup=True)
            continue
        checked = ("its certificate chains to the trusted root given" if stamp["root_checked"]
                   else "its certificate chain was NOT checked against a trusted root (give --tsa-root)")
        out.print(f"Timestamped at {stamp['time']} by {stamp['name']}{about}: {checked}.", markup=False)
    if timestamps and not root_given:
        out.print("Without --tsa-root, a timestamp shows only that its token is whole and matches; not that the "
                  "authority named in it is who signed it.", markup=False)


@custody_app.command("verify")
@handle_errors
def custody_verify(ctx: typer.Context, tsa_root: TsaRootOption = None, as_json: JsonOption = False) -> None:
    """Check every custody event's hash, signature and link, and every timestamp recorded; the check itself is recorded.

    Example: dadkhah custody verify --tsa-root tsa-roots.pem --json
    """
    with unlocked(ctx) as (store, keys):
        report = verify_custody(store, keys, actor=cli_actor(ctx), tsa_root=tsa_root)
    if as_json:
        emit_json(report)
    else:
        if report["valid"]:
            out.print(f"[bold green]The chain of custody is intact[/]: {report['events']:,} events, signed by "
                      f"{report['fingerprint']}.", markup=True)
        _say_timestamps(report["timestamps"], root_given=tsa_root is not None)
    if not report["valid"]:
        for problem in report["problems"]:
            timestamp = problem["position"] is None and problem.get("action") == "timestamped"
            where = "timestamp" if timestamp else f"position {problem['position']}"
            err.print(f"[bold red]{where}[/] (event {problem['seq']}, "
                      f"{_escape(str(problem.get('item_id') or '-'))}): {_escape(problem['problem'])}", highlight=False, markup=True)
        raise typer.Exit(1)


def tsa_authorities_from_environment() -> list[str]:
    """The authorities in DADKHAH_TSA_URLS (addresses separated by spaces or commas)."""
    return [u for u in os.environ.get(ENV_TSA_URLS, "").replace(",", " ").split() if u]


@handle_errors
def timestamp_command(
    ctx: typer.Context,
    authorities: Annotated[list[str] | None, typer.Option(
        "--tsa", metavar="URL", help=f"A time-stamping authority's address, http(s)://... (repeat for several; default: "
                      f"{ENV_TSA_URLS}, addresses separated by spaces or commas).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Have time-stamping authorities (RFC 3161) timestamp the newest events of the chain of custody and the audit log.

    Each token is checked, then kept in the chain of custody (TS-0001); dadkhah custody verify checks them again.

    Example: dadkhah timestamp --tsa https://tsa.example.org/tsr --tsa http://timestamp.example.net --json
    """
    if not authorities:
        authorities = tsa_authorities_from_environment()
    if not authorities:
        raise InputError(f"no time-stamping authority: give --tsa URL (repeat for several) or set {ENV_TSA_URLS}",
                         field="authorities")
    with unlocked(ctx) as (store, keys):
        result = timestamp_chains(store, keys, actor=cli_actor(ctx), authorities=authorities)
    if as_json:
        emit_json(result)
        return
    heads = result["statement"]
    out.print(f"{result['timestamp']}: custody events 1–{heads['custody']['seq']} and audit events "
              f"1–{heads['audit']['seq']} (statement SHA-256 {result['sha256']}):", markup=False)
    for stamp in result["timestamps"]:
        out.print(f"  timestamped at {stamp['time']} by {stamp['name']} ({stamp['authority']})", markup=False)


@custody_app.command("log")
@handle_errors
def custody_log(ctx: typer.Context, item: Annotated[str, typer.Argument(help="E-000001, T-0001, W-0001, C-0001 or TS-0001")],
                as_json: JsonOption = False) -> None:
    """The custody events of one item, oldest first.

    Example: dadkhah custody log E-000001
    """
    with opened_store(ctx) as store, store.session() as session:
        events = events_for(session, item.strip().upper())
    if as_json:
        emit_json(events)
        return
    table = Table("#", "when", "who", "action", "details")
    for event in events:
        table.add_row(str(event["seq"]), event["occurred_at"][:19], event["actor"], event["action"],
                      json.dumps(event["details"], ensure_ascii=False))
    out.print(table)


@keys_app.command("show")
@handle_errors
def keys_show(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Where the key file is, whether a passphrase protects it, and the signing key's fingerprint.

    Example: dadkhah keys show --json
    """
    from dadkhah.users import second_factors
    from dadkhah.vault.keycare import latest_key_change

    with opened_store(ctx) as store:
        public = load_public_keys(store.workspace)
        with store.session() as session:
            rotated = latest_key_change(session)
            factors = second_factors(session, public.login_secret)
        result = {"key_file": str(key_file_path(store.workspace)), "protected": is_protected(store.workspace),
                  "fingerprint": public.fingerprint, "workspace_id": public.workspace_id, "last_rotation": rotated,
                  "login_key": bool(public.login_secret), "second_factors": factors}
    if as_json:
        emit_json(result)
    else:
        out.print(f"Key file {result['key_file']} ({'passphrase' if result['protected'] else 'no passphrase'}); "
                  f"signing key {result['fingerprint']}. Give recipients this fingerprint by another channel.", markup=False)
        if rotated:
            out.print(f"Last rotated {rotated['occurred_at'][:19]} (from {rotated['old_fingerprint']}).", markup=False)
        out.print(f"Second factors: {factors['sealed']:,} sealed under the key file's login key"
                  f"{'' if result['login_key'] else ' (it has none yet)'}, {factors['clear']:,} in clear "
                  "(`dadkhah serve` seals them).", markup=False)
        if factors["unreadable"]:
            err.print(f"This key file's login key does not open the second factors of {', '.join(factors['unreadable'])}: "
                      "they cannot log in until each is given a new one (dadkhah users reset-password NAME --totp).",
                      markup=False, highlight=False)


@keys_app.command("rotate")
@handle_errors
def keys_rotate(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Rotate the keys: a new master key wraps every data key again (files are not sealed again) and a new
    signing key takes over the chains, introduced by an event both keys sign. Run it again to finish a
    rotation that was interrupted. Stop the web server and workers first; restart them afterwards.

    Example: dadkhah keys rotate --json
    """
    from dadkhah.vault.keycare import rotate_keys

    with opened_store(ctx) as store, progress_bar("wrapping the sealed files' keys anew") as progress:
        passphrase = ask_passphrase() if is_protected(store.workspace) else None
        result = rotate_keys(store, actor=cli_actor(ctx), passphrase=passphrase, progress=progress)
    if as_json:
        emit_json(result)
        return
    out.print(f"{'Finished the interrupted rotation' if result['resumed'] else 'Keys rotated'}: "
              f"{result['data_keys']:,} data keys and {result['blobs']:,} sealed files wrapped anew, "
              f"{result['second_factors']:,} second factors sealed anew. Signing key "
              f"{result['old_fingerprint']} → {result['new_fingerprint']}.", markup=False)
    if result["second_factors_unreadable"]:
        err.print(f"The second factors of {', '.join(result['second_factors_unreadable'])} could not be opened (their "
                  "login key was lost before): give each a new one (dadkhah users reset-password NAME --totp).",
                  markup=False, highlight=False)
    err.print("Give recipients the new fingerprint by another channel, make new key shares (dadkhah keys split), "
              "and restart the web server and any worker so that they load the new keys.", markup=False)


@keys_app.command("split")
@handle_errors
def keys_split(
    ctx: typer.Context,
    shares: Annotated[int, typer.Option("--shares", help="How many share files to make (one per holder).")],
    threshold: Annotated[int, typer.Option("--threshold", help="How many shares rebuild the key file (fewer reveal nothing).")],
    out_dir: Annotated[Path, typer.Option("--out", help="A folder outside the workspace for the share files.")],
    force: Annotated[bool, typer.Option("--force", help="Replace share files of the same names.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Split the key file into shares (Shamir's secret sharing): any THRESHOLD of the SHARES files rebuild it.

    Example: dadkhah keys split --shares 5 --threshold 3 --out /media/usb/shares
    """
    from dadkhah.vault.keycare import split_keys

    with opened_store(ctx) as store:
        passphrase = ask_passphrase() if is_protected(store.workspace) else None
        result = split_keys(store, shares=shares, threshold=threshold, out=out_dir, actor=cli_actor(ctx),
                            passphrase=passphrase, force=force)
    if as_json:
        emit_json(result)
        return
    out.print(f"{result['shares']} shares in {result['out']}; any {result['threshold']} rebuild the key file "
              f"({result['fingerprint']}). Give each share to a different holder, then remove them from here.",
              markup=False)


@keys_app.command("join")
@handle_errors
def keys_join(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(metavar="SHARE...", help="The share files (at least the threshold they name).")],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the rebuilt key file (a new file).")],
    protect: Annotated[bool, typer.Option("--protect", help="Protect the rebuilt key file with a passphrase (asked, or DADKHAH_PASSPHRASE).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace a file of that name.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Rebuild a key file from key shares; no workspace or key is needed. When run in the workspace, the
    join is recorded in its audit log.

    Example: dadkhah keys join share-1.json share-3.json share-4.json --out ~/.config/dadkhah/keys/rebuilt.key
    """
    from dadkhah.cli.common import cli_workspace
    from dadkhah.errors import WorkspaceError
    from dadkhah.vault.keycare import join_shares, record_join

    try:
        workspace = cli_workspace(ctx)
    except WorkspaceError:
        workspace = None
    passphrase = ask_passphrase(confirm=True) if protect else None
    result = join_shares(paths, out_file, force=force, passphrase=passphrase, workspace=workspace)
    result["audited"] = False
    if workspace is not None and (workspace.config.get("vault") or {}).get("workspace_id") == result["workspace_id"]:
        with opened_store(ctx) as store:
            record_join(store, result, actor=cli_actor(ctx))
        result["audited"] = True
    if as_json:
        emit_json(result)
        return
    out.print(f"Key file rebuilt at {result['key_file']} from shares {', '.join(map(str, result['shares_used']))} "
              f"(signing key {result['fingerprint']}).", markup=False)
    if not result["audited"]:
        err.print("Not recorded in an audit log: no workspace of these keys was named (run it with --workspace to "
                  "record it there).", markup=False)
    err.print(f"Point the workspace at it: set DADKHAH_KEY_FILE={result['key_file']} (or move it to the key file's "
              "usual place).", markup=False)


@export_app.command("casefile")
@handle_errors
def export_casefile_command(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Option("--out", help="A new folder (or with --zip a new file) for the case file, outside the workspace.")],
    recipient: Annotated[str, typer.Option("--recipient", help="Who receives it.")],
    scope: Annotated[str, typer.Option("--scope", help="investigators, courts or public: what consent must cover.")],
    persons: Annotated[list[str] | None, typer.Option("--person", help="A person to include (repeat); testimonies and evidence about them come too.")] = None,
    officials: Annotated[list[str] | None, typer.Option("--official", help="An official whose dossier to include (repeat): posts, acts, victims, sites, citations.")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Every person, and every testimony and item released to the scope.")] = False,
    as_zip: Annotated[bool, typer.Option("--zip", help="Write the case file as one zip file (--out names the new .zip) rather than a folder.")] = False,
    authorities: Annotated[list[str] | None, typer.Option("--tsa", metavar="URL", help="A time-stamping authority (http(s)://...) to timestamp the signature (repeat for several); the tokens travel in the case file.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Write a signed BagIt case file for an investigative body; every export is recorded in custody and the audit log.

    Example: dadkhah export casefile --out ~/handover/un-2026 --recipient "UN Special Rapporteur" --scope investigators --all
    """
    with unlocked(ctx) as (store, keys), progress_bar("writing the case file", unit="bytes") as progress:
        result = export_casefile(store, keys, out_dir, actor=cli_actor(ctx), recipient=recipient, scope=scope,
                                 persons=persons or (), officials=officials or (), everything=everything, as_zip=as_zip,
                                 authorities=authorities or (), progress=progress)
    if as_json:
        emit_json(result)
    else:
        dossiers = counted(len(result["officials"]), "official's dossier", "officials' dossiers")
        officials_part = f"{dossiers}, " if result["officials"] else ""
        out.print(f"Case file {result['casefile']} at {result['out']}: {officials_part}{counted(result['persons'], 'person')}, "
                  f"{counted(result['testimonies'], 'testimony', 'testimonies')}, {counted(result['evidence'], 'evidence item')}; signed by "
                  f"{result['fingerprint']}.", markup=False)
        if result["withheld_left_out"]:
            out.print(f"Left out: {counted(result['withheld_left_out'], 'withheld person')} (a case file for the "
                      "public holds nobody withheld from publication).", markup=False)
        for stamp in result["timestamps"]:
            out.print(f"Signature timestamped at {stamp['time']} by {stamp['name']} ({stamp['authority']}).", markup=False)


@handle_errors
def verify(
    path: Annotated[Path, typer.Argument(help="The case file's folder.")],
    expect_key: Annotated[str | None, typer.Option("--expect-key", help="The sender's key fingerprint, received another way (SHA256:...).")] = None,
    tsa_root: TsaRootOption = None,
    as_json: JsonOption = False,
) -> None:
    """Verify a case file with nothing but this tool: complete, unaltered, signed, and when it was timestamped (no workspace needed).

    Example: dadkhah verify ./un-2026 --expect-key SHA256:q1w2e3... --tsa-root tsa-root.pem
    """
    report = verify_casefile(path, expect_key=expect_key, tsa_root=tsa_root)
    if as_json:
        emit_json(report)
    elif report["valid"]:
        checked = "the expected key" if report["key_checked"] else "key"
        out.print(f"[bold green]Valid[/]: complete, unaltered, signed by {checked} {report['fingerprint']}.", markup=True)
        if not report["key_checked"]:
            out.print("Compare that fingerprint with the one the sender gave you by another channel (or pass --expect-key).")
        if not report["timestamps"]:
            out.print("Not timestamped: nothing shows when it was signed.", markup=False)
        _say_timestamps(report["timestamps"], root_given=tsa_root is not None)
    if not report["valid"]:
        for problem in report["problems"]:
            err.print(f"[bold red]{_escape(problem['file'])}[/]: {_escape(problem['problem'])}", highlight=False, markup=True)
        err.print(f"[bold red]The case file at {_escape(str(path))} failed verification.[/]", highlight=False, markup=True)
        raise typer.Exit(1)
