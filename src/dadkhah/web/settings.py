"""What the web application is started with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dadkhah.appeal import DEFAULT_LIMITS, MailSettings, SigningLimits
from dadkhah.vault.keys import VaultKeys


@dataclass(frozen=True)
class WebSettings:
    """``workspace`` is the folder to serve, on ``database_url`` (None: the workspace's own SQLite file);
    ``keys`` the unlocked vault keys (None: vault pages say so).

    ``secure_cookies`` marks cookies Secure (set it whenever the app is reached over HTTPS, as it must
    be anywhere but loopback). ``max_upload_mb`` bounds every request body. ``trusted_proxies`` are
    the addresses of the reverse proxy in front of the app, whose ``X-Forwarded-For`` gives the
    client's real address.

    Appeals: ``mail`` is where confirmation emails go (None: they wait in the queue; with the keys
    set too, a background task sends them); ``public_url`` the address the public reaches the app
    at, for the links in those emails (``DADKHAH_PUBLIC_URL``; it must be set behind a proxy); without
    it the links name ``listen_url``, the address ``dadkhah serve`` was started on (its --host and
    --port). A request's own Host header is never used: anyone can forge it, and the links carry
    signers' one-time tokens;
    ``signing_limits`` how much one client address may ask of a public signing page;
    ``public_counts_seconds`` how old the counts a public page shows may be (0: counted at every
    request), so that a page read many times a second does not count every signature each time.

    ``tsa_urls`` are the time-stamping authorities the custody page's *Timestamp* asks (``dadkhah
    serve`` reads them from ``DADKHAH_TSA_URLS``, as ``dadkhah timestamp`` does).
    """

    workspace: Path
    database_url: str | None = None
    keys: VaultKeys | None = None
    secure_cookies: bool = False
    max_upload_mb: int = 200
    page_size: int = 50
    trusted_proxies: tuple[str, ...] = ()
    busy_seconds: float = 10  # how long a request's write waits for another writer before "busy, try again"
    mail: MailSettings | None = None
    public_url: str | None = None
    listen_url: str = "http://127.0.0.1:8000"
    signing_limits: SigningLimits = DEFAULT_LIMITS
    mail_interval: float = 1.0  # seconds between two looks at the mail queue
    public_counts_seconds: float = 2.0
    tsa_urls: tuple[str, ...] = ()

    @property
    def links_url(self) -> str:
        """Where the links in appeals' emails point: the public address, else the server's own."""
        return self.public_url or self.listen_url


def listen_url(host: str, port: int) -> str:
    """The address a server started on ``host`` and ``port`` answers at (``http://[::1]:8000`` for IPv6)."""
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"
