"""ASGI middleware: a bound on request bodies, no NUL character in what a request gives, security
headers on every answer, the client's real address when the app sits behind a reverse proxy it
trusts, and the app's own answer to a bug."""

from __future__ import annotations

import html
import json
import logging

from dadkhah.web.security import SECURITY_HEADERS

log = logging.getLogger(__name__)


class TrustedProxies:
    """Take the client's address from ``X-Forwarded-For`` when, and only when, the request comes from
    one of the ``proxies`` (the reverse proxy the app sits behind): the nearest address in the header
    that is not itself a trusted proxy. Without it every user behind the proxy would share the
    proxy's address, and one attacker's failed logins would throttle them all."""

    def __init__(self, app, proxies: tuple[str, ...]):
        self.app = app
        self.proxies = frozenset(proxies)

    async def __call__(self, scope, receive, send):
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and client and client[0] in self.proxies:
            forwarded = [value.decode("latin-1") for name, value in scope.get("headers") or []
                         if name == b"x-forwarded-for"]
            hops = [hop.strip() for value in forwarded for hop in value.split(",") if hop.strip()]
            real = next((hop for hop in reversed(hops) if hop not in self.proxies), None)
            if real and len(real) <= 100:
                scope = dict(scope) | {"client": (real, 0)}
        return await self.app(scope, receive, send)


class BodyLimit:
    """Refuse bodies over ``max_bytes`` (413) by their Content-Length, before reading them.

    A body without a Content-Length (chunked) is refused with 411: browsers always send one, and
    counting bytes as they arrive cannot stop a parser that has already started. The byte count is
    still checked as the body arrives, in case the header lies.
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is None and b"chunked" in headers.get(b"transfer-encoding", b""):
            return await _refuse(send, 411, "send the body with a Content-Length", scope)
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                too_big = True
            if too_big:
                return await _too_large(send, self.max_bytes, scope)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge:
            await _too_large(send, self.max_bytes, scope)


class _BodyTooLarge(Exception):
    pass


_NUL_CHECKED_BODIES = {b"application/json": b"\\u0000", b"application/x-www-form-urlencoded": b"%00"}


class NoNul:
    """Refuse (400) a request that gives a text holding a NUL character (code 0): in its path, its
    query string, or a JSON or form body (a file's bytes, in a multipart upload, may hold any).

    No name, reason or date holds one; PostgreSQL's text cannot, so it answered such a request with a
    500 (SQLite stored it). Refused here, the answer is the same on both databases, names the field
    where it can, and nothing is changed. The body is read whole to be checked (the bodies checked are
    small; :class:`BodyLimit`, outside this, bounds them) and then given to the app as it came.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        query = scope.get("query_string") or b""
        if "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query:
            return await _refuse(send, 400, _nul_message("the address", _query_field(query)), scope)
        kind = dict(scope.get("headers") or []).get(b"content-type", b"").split(b";")[0].strip().lower()
        marker = _NUL_CHECKED_BODIES.get(kind)
        if marker is None:
            return await self.app(scope, receive, send)
        messages, parts = [], []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            parts.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(parts)
        if marker in body or b"\x00" in body:
            field = _query_field(body) if marker == b"%00" else _json_field(body)
            return await _refuse(send, 400, _nul_message("the form" if marker == b"%00" else "the JSON body", field),
                                 scope)

        async def replay():
            return messages.pop(0) if messages else await receive()

        return await self.app(scope, replay, send)


def _nul_message(where: str, field: str | None) -> str:
    named = f" (in {field!r})" if field else ""
    return f"{where} gives a text holding a NUL character (code 0){named}, which no text may hold; nothing was changed"


def _query_field(encoded: bytes) -> str | None:
    from urllib.parse import parse_qsl

    pairs = parse_qsl(encoded.decode("latin-1"), keep_blank_values=True)
    return next((key.replace("\x00", "") for key, value in pairs if "\x00" in key or "\x00" in value), None)


def _json_field(body: bytes) -> str | None:
    def holding(value, path: str) -> str | None:
        if isinstance(value, str):
            return path if "\x00" in value else None
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, item in items:
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and "\x00" in key:
                return here.replace("\x00", "")
            if (found := holding(item, here)) is not None:
                return found
        return None

    try:
        return holding(json.loads(body), "")
    except (ValueError, RecursionError):
        return None


async def _too_large(send, limit: int, scope) -> None:
    await _refuse(send, 413, "the upload is larger than the limit of %(mb)s MB", scope, mb=limit // (1024 * 1024))


def _asked_language(scope) -> str | None:
    """The language a page asked for, as every page reads it (``?lang=``, else the cookie): this
    answer comes before any page has read the request."""
    from http.cookies import SimpleCookie
    from urllib.parse import parse_qs

    from dadkhah.web.i18n import LANGUAGES
    from dadkhah.web.security import LANG_COOKIE

    asked = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("lang", [None])[0]
    if asked not in LANGUAGES:
        cookies = SimpleCookie()
        for name, value in scope.get("headers") or ():
            if name == b"cookie":
                try:
                    cookies.load(value.decode("latin-1"))
                except Exception:  # a cookie header that cannot be read: English
                    break
        asked = cookies[LANG_COOKIE].value if LANG_COOKIE in cookies else None
    return asked if asked in LANGUAGES else None


async def _refuse(send, status: int, message: str, scope, **values) -> None:
    """Refuse before the app reads the request: ``message`` (a catalogue's msgid on a page, in the
    language asked for) formatted with ``values``."""
    from dadkhah.web.i18n import RTL, catalogue

    if scope.get("path", "").startswith("/api/"):
        body, kind = json.dumps({"error": {"message": message % values if values else message}}).encode(), b"application/json"
    else:
        language = _asked_language(scope) or "en"
        text = catalogue(language).get(message, message) if language != "en" else message
        text = text % {k: (f"{v:,}" if isinstance(v, int) else v) for k, v in values.items()} if values else text
        body = (f'<!doctype html><html lang="{language}" dir="{"rtl" if language in RTL else "ltr"}"><head>'
                f'<meta charset="utf-8"><title>{status}</title>'
                f'<link rel="stylesheet" href="/static/app.css"></head><body><main><h1>{status}</h1>'
                f'<p class="message error" role="alert">{html.escape(text)}</p>'
                '<p><a href="/">Dadkhah</a></p></main></body></html>').encode()
        kind = b"text/html; charset=utf-8"
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """Content-Security-Policy and friends on every response (pages, API, static files, errors).

    Behind HTTPS (``https_only``) browsers are also told to use nothing else for a year (HSTS).
    """

    def __init__(self, app, https_only: bool = False):
        self.app = app
        self.headers = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
        if https_only:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in self.headers if k not in present]
            await send(message)

        await self.app(scope, receive, with_headers)


class Unhandled:
    """An exception no handler took (a bug): logged with its traceback, answered 500 with the app's
    own error (JSON under ``/api/``, a page elsewhere), and the connection kept open.

    Without it the server's last resort answers a plain-text 500 and then closes the keep-alive
    connection, so that a program's next request on that connection fails as well (seen under load:
    benchmarks/web_load_bench.py). A response already begun cannot be replaced: then the error
    goes on to the server, which ends the connection.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def watched(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            if started:
                raise
            log.exception("unexpected error answering %s %s", scope.get("method"), scope.get("path"))
            await _refuse(send, 500, "the server met an unexpected error (it is written in the server's log); "
                                     "try again, and tell the case's administrator if it happens again", scope)
