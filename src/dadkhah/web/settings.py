"""What the web application is started with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dadkhah.vault.keys import VaultKeys


@dataclass(frozen=True)
class WebSettings:
    """``workspace`` is the folder to serve, on ``database_url`` (None: the workspace's own SQLite file);
    ``keys`` the unlocked vault keys (None: vault pages say so).

    ``secure_cookies`` marks cookies Secure (set it whenever the app is reached over HTTPS, as it must
    be anywhere but loopback). ``max_upload_mb`` bounds every request body. ``trusted_proxies`` are
    the addresses of the reverse proxy in front of the app, whose ``X-Forwarded-For`` gives the
    client's real address.
    """

    workspace: Path
    database_url: str | None = None
    keys: VaultKeys | None = None
    secure_cookies: bool = False
    max_upload_mb: int = 200
    page_size: int = 50
    trusted_proxies: tuple[str, ...] = ()
    busy_seconds: float = 10  # how long a request's write waits for another writer before "busy, try again"
