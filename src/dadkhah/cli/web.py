"""Commands for the web application: its users, their API tokens, the audit log, and serving it."""

from __future__ import annotations

import json
import os
import signal
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Column, Table

from dadkhah.cli.common import (
    JsonOption,
    cli_actor,
    emit_json,
    err,
    handle_errors,
    opened_store,
    out,
)
from dadkhah.errors import DadkhahError, InputError

users_app = typer.Typer(help="People who may log in to the web application, and their roles.", no_args_is_help=True)
tokens_app = typer.Typer(help="Personal API tokens: a program acting as its user through /api/v1 "
                                "(shown once, stored hashed, revocable).", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log: every read of sealed material and every change, hash-chained.",
                        no_args_is_help=True)


def _read_password(path: Path) -> str:
    from dadkhah.users import validate_password

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the password file: {exc}", file=str(path), field="password") from None
    return validate_password(text.splitlines()[0] if text else "", file=str(path))


@users_app.command("add")
@handle_errors
def users_add(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(metavar="NAME", help="The user name to log in with.")],
    role: Annotated[str, typer.Option("--role", help="viewer, analyst, investigator or admin.")],
    password_file: Annotated[Path, typer.Option("--password-file", help="A file whose first line is the password (never on the command line).")],
    totp: Annotated[bool, typer.Option("--totp", help="Also require a code from an authenticator app; prints its secret once.")] = False,
    language: Annotated[str, typer.Option("--language", help="The user's language: en or fa.")] = "en",
    as_json: JsonOption = False,
) -> None:
    """Add a user who may log in to the web application.

    Example: dadkhah users add maryam --role analyst --password-file pw.txt --totp
    """
    from dadkhah.users import add_user

    password = _read_password(password_file)
    with opened_store(ctx) as store:
        document = add_user(store, username, actor=cli_actor(ctx), role=role, password=password, totp=totp,
                            language=language)
    if as_json:
        emit_json(document)
        return
    out.print(f"Added {document['username']} ({document['role']}).", markup=False)
    if totp:
        _print_totp(document)


def _print_totp(document: dict) -> None:
    """A new TOTP secret, shown once: as text on stdout, and as a QR code for the authenticator app's
    camera on stderr (drawn here, in the terminal; the secret goes to no QR service)."""
    import sys

    from dadkhah.users import totp_qr

    out.print(f"TOTP secret (shown once; add it to an authenticator app): {document['totp_secret']}", markup=False)
    out.print(document["totp_uri"], markup=False)
    err.print("Or scan this code with the authenticator app:", markup=False, highlight=False)
    totp_qr(document["totp_uri"]).terminal(out=sys.stderr, compact=True)


@users_app.command("change")
@handle_errors
def users_change(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(metavar="NAME", help="The user to change.")],
    role: Annotated[str | None, typer.Option("--role", help="The new role: viewer, analyst, investigator or admin.")] = None,
    active: Annotated[bool | None, typer.Option("--active/--inactive", help="Allow the user to log in again, or stop them (their sessions end at once).", show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a user's role, or stop them logging in (nobody may demote or stop themselves).

    Example: dadkhah users change maryam --role investigator
    """
    from dadkhah.users import change_user

    if role is None and active is None:
        raise InputError("say what to change: a new role, or whether the user may log in", field="role")
    with opened_store(ctx) as store:
        document = change_user(store, username, actor=cli_actor(ctx), role=role, active=active)
    if as_json:
        emit_json(document)
        return
    changes = "; ".join(f"{what} {before} -> {after}" for what, (before, after) in document["changes"].items())
    out.print(f"{document['username']}: {changes or 'nothing changed'}.", markup=False)


@users_app.command("reset-password")
@handle_errors
def users_reset_password(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(metavar="NAME", help="The user whose password to reset.")],
    totp: Annotated[bool, typer.Option("--totp", help="Also give the user a new second-factor (TOTP) secret, printed once (the old one stops working).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Reset a user's password: a temporary password is printed once, which the user must replace
    with one of their own at their next login. Their web sessions end and their API tokens are
    revoked at once; their second factor is kept unless --totp gives them a new one.

    Example: dadkhah users reset-password maryam --totp
    """
    from dadkhah.users import reset_password

    with opened_store(ctx) as store:
        document = reset_password(store, username, actor=cli_actor(ctx), totp=totp)
    if as_json:
        emit_json(document)
        return
    ended, revoked = document["sessions_ended"], document["tokens_revoked"]
    err.print(f"Reset the password of {document['username']}: {ended} session{'' if ended == 1 else 's'} ended, "
              f"{len(revoked)} API token{'' if len(revoked) == 1 else 's'} revoked"
              f"{' (' + ', '.join(revoked) + ')' if revoked else ''}; second factor {document['totp_second_factor']}. "
              "Give them the temporary password below over a channel you trust: it is shown only this once, and "
              "they must choose their own at their next login.", markup=False, highlight=False)
    out.print(document["temporary_password"], markup=False)
    if document.get("totp_secret"):
        _print_totp(document)


@users_app.command("list")
@handle_errors
def users_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The users, their roles and when they last logged in.

    Example: dadkhah users list --json
    """
    from dadkhah.users import list_users

    with opened_store(ctx) as store, store.session() as session:
        listed = list_users(session)
    if as_json:
        emit_json(listed)
        return
    table = Table("user", "role", "second factor", "language", "active", "last login")
    for u in listed:
        active = "yes" if u["active"] else "no"
        if u.get("reset_pending"):
            active += " (must choose a new password)"
        table.add_row(u["username"], u["role"], "TOTP" if u["totp"] else "", u["language"], active,
                      (u["last_login_at"] or "")[:16])
    out.print(table)


@tokens_app.command("create")
@handle_errors
def tokens_create(
    ctx: typer.Context,
    username: Annotated[str, typer.Option("--user", help="The user the token acts for, with their role at each request.")],
    scope: Annotated[str, typer.Option("--scope", help="read (GET and HEAD only) or write.")],
    expires: Annotated[str | None, typer.Option("--expires", help="Stop working after this date (YYYY-MM-DD, the end of the day UTC) or ISO date and time; without it, until revoked.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="What the token is for (shown in the list).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Make an API token for a user; it is printed once and only its hash is kept.

    Example: dadkhah tokens create --user maryam --scope read --expires 2027-06-30 --json
    """
    from dadkhah.users import create_token

    with opened_store(ctx) as store:
        document = create_token(store, username, actor=cli_actor(ctx), scope=scope, expires=expires, name=name)
    if as_json:
        emit_json(document)
        return
    err.print(f"Token {document['id']} for {document['user']} ({document['scope']}, "
              f"{'expires ' + document['expires_at'] if document['expires_at'] else 'until revoked'}). "
              "It is shown only this once: keep it like a password.", markup=False, highlight=False)
    out.print(document["token"], markup=False)


@tokens_app.command("list")
@handle_errors
def tokens_list(
    ctx: typer.Context,
    username: Annotated[str | None, typer.Option("--user", help="Only this user's tokens.")] = None,
    as_json: JsonOption = False,
) -> None:
    """API tokens with their user, scope, status and last use (never the token itself).

    Example: dadkhah tokens list --user maryam --json
    """
    from dadkhah.users import list_tokens

    with opened_store(ctx) as store, store.session() as session:
        listed = list_tokens(session, username=username)
    if as_json:
        emit_json(listed)
        return
    table = Table(Column("id", no_wrap=True, min_width=12), "user", "name", "scope", "status", "made", "expires",
                  "last used")
    for t in listed:
        table.add_row(t["id"], t["user"], t["name"] or "", t["scope"], t["status"], (t["created_at"] or "")[:16],
                      (t["expires_at"] or "never")[:16], (t["last_used_at"] or "")[:16])
    out.print(table)


@tokens_app.command("revoke")
@handle_errors
def tokens_revoke(
    ctx: typer.Context,
    token_id: Annotated[str, typer.Argument(metavar="TOKEN", help="The token's id (12 hexadecimal digits), or the whole token as found.")],
    as_json: JsonOption = False,
) -> None:
    """Revoke an API token for good: programs using it are refused at once.

    Example: dadkhah tokens revoke 3f9a1c2b7d4e --json
    """
    from dadkhah.users import revoke_token

    with opened_store(ctx) as store:
        document = revoke_token(store, token_id, actor=cli_actor(ctx))
    if as_json:
        emit_json(document)
        return
    out.print(f"Revoked token {document['id']} of {document['user']}.", markup=False)


@audit_app.command("list")
@handle_errors
def audit_list(
    ctx: typer.Context,
    actor: Annotated[str | None, typer.Option("--actor", help="Only this user's events.")] = None,
    object_id: Annotated[str | None, typer.Option("--object", help="Only events about this id (T-0001, E-000001, a user).")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many events, newest first.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """Audit events, newest first.

    Example: dadkhah audit list --actor maryam --json
    """
    from dadkhah.audit import list_audit

    with opened_store(ctx) as store, store.session() as session:
        listed = list_audit(session, actor=actor, object_id=object_id, limit=limit)
    if as_json:
        emit_json(listed)
        return
    table = Table("#", "when", "who", "via", "what", "object", "from", "signed")
    for e in listed:
        table.add_row(str(e["seq"]), e["occurred_at"][:19], e["actor"], e["channel"] or "", e["action"],
                      f"{e['object_kind']} {e['object_id'] or ''}", e["address"] or "", "yes" if e["signed"] else "no")
    out.print(table)


@audit_app.command("verify")
@handle_errors
def audit_verify(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Check the audit log's hash chain, signatures and newest event; exits 1 and names each broken
    event if it is not intact. Events written without the keys are listed as unsigned.

    Example: dadkhah audit verify --json
    """
    from dadkhah.audit import verify_audit

    with opened_store(ctx) as store:
        report = verify_audit(store)
    if as_json:
        emit_json(report)
    else:
        out.print(f"{report['events']:,} events; " + ("intact." if report["intact"] else "NOT intact:"), markup=False)
        for p in report["problems"]:
            out.print(f"  event {p['seq']} (position {p['position'] or '-'}, {p['action'] or '-'}): {p['problem']}", markup=False)
        for stretch in report["unsigned"]:
            span = f"event {stretch['from']}" if stretch["from"] == stretch["to"] else \
                f"events {stretch['from']} to {stretch['to']}"
            err.print(f"{span} ({stretch['events']:,}) not signed: written by a command run without the keys; "
                      "they rest on the hash chain alone", markup=False, highlight=False)
        if not report["signatures_checked"]:
            err.print("The keys are not at hand: signatures were not checked.", markup=False, highlight=False)
        if not report["head_checked"]:
            err.print("No newest event is remembered beside the key file: removal of the newest events "
                      "cannot be detected.", markup=False, highlight=False)
    if not report["intact"]:
        raise typer.Exit(1)


@handle_errors
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    secure_cookies: Annotated[bool, typer.Option("--secure-cookies", help="Mark cookies Secure (behind HTTPS; required off loopback).")] = False,
    max_upload_mb: Annotated[int, typer.Option("--max-upload-mb", help="Largest request body accepted, in megabytes.")] = 200,
    no_vault: Annotated[bool, typer.Option("--no-vault", help="Serve without unlocking the keys (testimonies and evidence stay closed).")] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Server processes (more serve more people at once; each unlocks the keys).")] = 1,
    trusted_proxy: Annotated[list[str] | None, typer.Option("--trusted-proxy", help="Address of the reverse proxy in front of the app (repeat for several): its X-Forwarded-For gives each client's real address.")] = None,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Start no worker for background jobs (run `dadkhah worker` elsewhere).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Serve the web application for this workspace until interrupted, with a worker that runs its
    background jobs (long estimates) in a process of its own.

    Example: dadkhah serve --host 127.0.0.1 --port 8000
    """
    import uvicorn

    from dadkhah.appeal import mail_settings
    from dadkhah.cli.appeal import ENV_MAIL_FROM, ENV_SMTP_URL
    from dadkhah.cli.common import cli_workspace
    from dadkhah.cli.vault import ask_passphrase, tsa_authorities_from_environment
    from dadkhah.users import seal_totp_secrets
    from dadkhah.vault.keys import ENV_PASSPHRASE, is_protected, load_keys, workspace_id
    from dadkhah.web import WebSettings, create_app
    from dadkhah.web.app import SETTINGS_ENV
    from dadkhah.web.settings import listen_url

    workspace = cli_workspace(ctx)
    if host not in ("127.0.0.1", "::1", "localhost") and not secure_cookies:
        raise DadkhahError("off loopback the app must sit behind HTTPS: add --secure-cookies (and a TLS proxy)")
    keys = passphrase = None
    if not no_vault and workspace_id(workspace):
        if workers > 1 and is_protected(workspace) and not os.environ.get(ENV_PASSPHRASE):
            raise DadkhahError(f"with --workers each process unlocks the keys: set {ENV_PASSPHRASE} (or use --no-vault)")
        passphrase = ask_passphrase() if is_protected(workspace) else None
        keys = load_keys(workspace, passphrase=passphrase)
    # Appeals: confirmation emails go through DADKHAH_SMTP_URL from DADKHAH_MAIL_FROM (the server sends
    # them itself, with the keys), their links on DADKHAH_PUBLIC_URL, else on the address served here
    # (never a request's Host header, which anyone can forge).
    smtp_url, mail_from = os.environ.get(ENV_SMTP_URL) or None, os.environ.get(ENV_MAIL_FROM) or None
    mail = mail_settings(smtp_url, mail_from)
    public_url = (os.environ.get("DADKHAH_PUBLIC_URL") or "").strip().rstrip("/") or None
    if public_url and not public_url.startswith(("https://", "http://")):
        raise DadkhahError(f"DADKHAH_PUBLIC_URL is the address the public reaches the app at (https://...), "
                           f"not {public_url!r}")
    own_url = listen_url(host, port)
    if public_url is None and (mail is not None or host not in ("127.0.0.1", "::1", "localhost")):
        err.print(f"DADKHAH_PUBLIC_URL is not set: the links in appeals' confirmation emails will point at "
                  f"{own_url}, the address this server listens on. Set it to the address the public reaches "
                  "the site at (behind a proxy it must be set).", markup=False, highlight=False)
    # The time-stamping authorities the custody page's Timestamp asks, as `dadkhah timestamp` does.
    tsa_urls = tsa_authorities_from_environment()
    if mail is not None and keys is None:
        err.print("Without the keys the server sends no confirmation emails: they wait in the queue.",
                  markup=False, highlight=False)
    # Open the workspace once here, before any server process or the worker: after an upgrade this
    # migrates the database, brings in the shipped gazetteer and sweeps what interrupted runs left, once
    # and said here, rather than in every process at once (--workers N opened it N + 1 times together).
    # Second-factor secrets an older version kept in clear are sealed now, under the key file's login key.
    with opened_store(ctx) as store:
        if keys is not None:
            store.use_keys(keys)  # unlocked above: the event is signed
        try:
            sealed = seal_totp_secrets(store, actor=cli_actor(ctx))["sealed"]
        except DadkhahError as exc:
            sealed = []
            err.print(f"The users' second-factor secrets stay in clear in the database: {exc}", markup=False,
                      highlight=False)
    if sealed:
        err.print(f"Sealed the second-factor secrets of {len(sealed)} user{'' if len(sealed) == 1 else 's'} "
                  "(kept in clear by an older version) under the key file's login key.", markup=False, highlight=False)
    # Uploads the web framework spools to disk, and any other temporary file of the server, go to the
    # workspace's private space (swept when the workspace is next opened), never to the system's /tmp.
    spool = workspace.private_dir / f"server-{os.getpid()}-spool"
    spool.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.environ["TMPDIR"] = str(spool)
    tempfile.tempdir = None  # read TMPDIR again
    address = f"http://{host}:{port}/"
    options = {"host": host, "port": port, "log_level": "warning", "server_header": False, "proxy_headers": False}
    if workers == 1:
        app = create_app(WebSettings(workspace=workspace.path, database_url=workspace.database_url, keys=keys,
                                     secure_cookies=secure_cookies, max_upload_mb=max_upload_mb,
                                     trusted_proxies=tuple(trusted_proxy or ()), mail=mail, public_url=public_url,
                                     listen_url=own_url, tsa_urls=tuple(tsa_urls)))
    else:
        os.environ[SETTINGS_ENV] = json.dumps({"workspace": str(workspace.path), "database_url": workspace.database_url,
                                               "vault": keys is not None, "trusted_proxies": trusted_proxy or [],
                                               "secure_cookies": secure_cookies, "max_upload_mb": max_upload_mb,
                                               "smtp_url": smtp_url, "mail_from": mail_from, "public_url": public_url,
                                               "listen_url": own_url, "tsa_urls": tsa_urls})
        app, options = "dadkhah.web.app:app_from_environment", options | {"factory": True, "workers": workers}
    if as_json:
        emit_json({"address": address, "workspace": str(workspace.path), "vault": keys is not None, "workers": workers,
                   "worker": not no_worker})
    err.print(f"Serving {workspace.path} at {address} with {workers} process{'es' if workers > 1 else ''}"
              f"{'' if no_worker else ' and a worker for background jobs'} (Ctrl-C stops)", markup=False, highlight=False)
    worker = None if no_worker else _WorkerKeeper(lambda: _start_worker(ctx, workspace, passphrase))
    if worker is not None:
        # uvicorn ends by raising again the signal that stopped it: SIGTERM would then end this process
        # at once, leaving the worker behind. Stop the worker first, then end as the signal says.
        def terminated(signum, _frame) -> None:
            worker.stop()
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)

        signal.signal(signal.SIGTERM, terminated)
    try:
        uvicorn.run(app, **options)
    finally:
        if worker is not None:
            worker.stop()


WORKER_STOP_SECONDS = 10
WORKER_RESTARTS = 5  # at most this many restarts ...
WORKER_RESTART_WINDOW = 300.0  # ... within this many seconds; then the jobs wait for the server's restart


class _WorkerKeeper:
    """The server's worker for background jobs, started again when it dies (a crash, the system killing a
    job that ran out of memory) so that jobs do not wait unseen until someone restarts the server. The
    job it was running is failed by the next worker (its heartbeat stops). A worker that keeps dying
    (more than :data:`WORKER_RESTARTS` times in :data:`WORKER_RESTART_WINDOW` seconds: a fault at its
    start, not a job's) is left stopped, and the server says so."""

    def __init__(self, start, *, check_seconds: float = 1.0):
        import threading

        self._start = start
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._restarts: list[float] = []
        self.process = start()
        self._watch = threading.Thread(target=self._keep, args=(check_seconds,), name="dadkhah-worker-keeper", daemon=True)
        self._watch.start()

    def _keep(self, check_seconds: float) -> None:
        import time

        while not self._stopping.wait(check_seconds):
            with self._lock:
                if self._stopping.is_set() or self.process.poll() is None:
                    continue
                code = self.process.returncode
                now = time.monotonic()
                self._restarts = [t for t in self._restarts if now - t < WORKER_RESTART_WINDOW]
                if len(self._restarts) >= WORKER_RESTARTS:
                    err.print(f"The worker for background jobs stopped again (exit code {code}); it stopped "
                              f"{WORKER_RESTARTS + 1} times within {WORKER_RESTART_WINDOW:.0f} s, so it is not "
                              "started again: jobs wait until the server is restarted (or `dadkhah worker` runs).",
                              markup=False, highlight=False)
                    return
                self._restarts.append(now)
                try:
                    self.process = self._start()
                except OSError as exc:  # no process could be started now: the next check tries again
                    err.print(f"The worker for background jobs stopped (exit code {code}) and could not be started "
                              f"again: {exc}", markup=False, highlight=False)
                    continue
                err.print(f"The worker for background jobs stopped (exit code {code}); started it again "
                          f"(process {self.process.pid}). The job it was running, if any, is marked failed.",
                          markup=False, highlight=False)

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            _stop_worker(self.process)


def _start_worker(ctx: typer.Context, workspace, passphrase: str | None):
    """``dadkhah worker`` for the served workspace, in a process of its own (its output to stderr alone).

    It reads the same database; a passphrase typed for the server reaches it in its environment
    alone, as ``DADKHAH_PASSPHRASE`` does for ``--workers``, so that it signs the jobs' events too.
    """
    import subprocess
    import sys

    from dadkhah.cli.common import ENV_DATABASE_URL, database_url
    from dadkhah.vault.keys import ENV_PASSPHRASE

    environment = os.environ.copy()
    if database_url(ctx):
        environment[ENV_DATABASE_URL] = database_url(ctx)
    if passphrase:
        environment[ENV_PASSPHRASE] = passphrase
    return subprocess.Popen([sys.executable, "-m", "dadkhah", "--workspace", str(workspace.path), "worker"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=environment)


def _stop_worker(worker) -> None:
    """Ask the worker to stop (the job it runs fails at its next progress report), then make it."""
    import subprocess

    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(timeout=WORKER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
