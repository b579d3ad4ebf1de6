"""Email: addresses normalised so that one person signs once, and the confirmation mail queue.

A signing request never talks to a mail server: it queues the confirmation (``appeal_mail``), and
:func:`send_queued_mail` sends what is queued, from the web server's background sender or from
``dadkhah appeal mail``. The links' one-time tokens wait in the queue sealed, and the row is
deleted once the mail is sent, so nothing of the message stays behind.

Mail goes through SMTP given as a URL: ``smtp://[user[:password]@]host[:port]`` (add
``?starttls=yes`` to upgrade the connection, or use ``smtps://`` for TLS from the start).
"""

from __future__ import annotations

import json
import re
import smtplib
import ssl
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

import sqlalchemy as sa

from dadkhah.errors import InputError
from dadkhah.model import Appeal, AppealMail, AppealVersion, Signature
from dadkhah.model.base import utcnow
from dadkhah.store import Store
from dadkhah.vault.crypto import DecryptionError, open_sealed, unwrap_key
from dadkhah.vault.keys import VaultKeys

MAX_EMAIL_LENGTH = 254
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-\u00a0-\uffff]{1,64}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")

# Providers that deliver First.Last+anything@ to firstlast@: the dots and the tag mean nothing there.
IGNORE_DOTS = frozenset({"gmail.com", "googlemail.com"})
# Providers where +tag reaches the same mailbox (sub-addressing). Elsewhere + is kept: on an unknown
# server it may be part of the name.
PLUS_TAGS = frozenset({
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com", "icloud.com", "me.com",
    "mac.com", "fastmail.com", "fastmail.fm", "proton.me", "protonmail.com", "pm.me", "yandex.com", "yandex.ru",
    "ya.ru", "tutanota.com", "tuta.io", "posteo.de", "mailbox.org", "zoho.com",
})
SAME_PROVIDER = {"googlemail.com": "gmail.com"}
MAX_ATTEMPTS = 8
CLAIM_SECONDS = 120


def normalise_email(text: str | None, *, field: str = "email") -> tuple[str, str]:
    """The address as given (trimmed) and its normal form, which is what makes two signatures one.

    The normal form is in lower case; at providers known to ignore them, dots and ``+tags`` of
    the local part are dropped (``First.Last+x@gmail.com`` is ``firstlast@gmail.com``).
    """
    given = unicodedata.normalize("NFC", (text or "").strip())
    if not given:
        raise InputError("an email address is needed, to confirm that the signature is yours", field=field)
    if len(given) > MAX_EMAIL_LENGTH or given.count("@") != 1:
        raise InputError("is not an email address", field=field)
    local, domain = given.rsplit("@", 1)
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower().rstrip(".")
    except UnicodeError:
        raise InputError("has a domain that is not valid", field=field) from None
    if not _LOCAL.match(local) or local.startswith(".") or local.endswith(".") or ".." in local \
            or not _DOMAIN.match(ascii_domain):
        raise InputError("is not an email address", field=field)
    domain_key = SAME_PROVIDER.get(ascii_domain, ascii_domain)
    local_key = local.lower()
    if domain_key in PLUS_TAGS and "+" in local_key:
        local_key = local_key.split("+", 1)[0]
    if domain_key in IGNORE_DOTS:
        local_key = local_key.replace(".", "")
    if not local_key:
        raise InputError("is not an email address", field=field)
    return given, f"{local_key}@{domain_key}"


def email_domain(normal: str) -> str:
    return normal.rsplit("@", 1)[1]


def normalise_domain(text: str, *, field: str = "domain") -> str:
    """A domain as a moderator types it (``@Example.org`` or ``example.org``), in normal form."""
    domain = (text or "").strip().lstrip("@").rstrip(".")
    try:
        domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InputError(f"{text!r} is not a domain", field=field) from None
    if not _DOMAIN.match(domain):
        raise InputError(f"{text!r} is not a domain", field=field)
    return SAME_PROVIDER.get(domain, domain)


@dataclass(frozen=True)
class MailSettings:
    """Where mail goes (the SMTP URL, parsed) and whom it is from."""

    host: str
    port: int
    mail_from: str
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    tls: bool = False
    timeout: float = 20

    def __repr__(self) -> str:  # never print the password
        return f"MailSettings(host={self.host!r}, port={self.port}, mail_from={self.mail_from!r})"


def mail_settings(url: str | None, mail_from: str | None) -> MailSettings | None:
    """Parse ``DADKHAH_SMTP_URL`` and ``DADKHAH_MAIL_FROM`` (None when no URL is set)."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise InputError(f"takes smtp://host:port or smtps://host:port, not {parts.scheme or url!r}", field="smtp_url")
    query = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
    if not (mail_from or "").strip() or "@" not in mail_from:
        raise InputError("the address mail is sent from is needed (an address at your own domain)", field="mail_from")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError:
        raise InputError("has a port that is not a number", field="smtp_url") from None
    return MailSettings(host=parts.hostname, port=port, mail_from=mail_from.strip(),
                        user=unquote(parts.username) if parts.username else None,
                        password=unquote(parts.password) if parts.password else None,
                        starttls=query.get("starttls") in ("yes", "true", "1"), tls=parts.scheme == "smtps")


# The confirmation email, in the signer's language: {title}, {confirm}, {withdraw}, {days}.
MESSAGES = {
    "en": {
        "subject": "Confirm your signature: {title}",
        "body": ("Someone, we hope you, signed the open letter \"{title}\" with this address.\n\n"
                 "To confirm your signature, open this link (it works once, for {days} days):\n{confirm}\n\n"
                 "If it was not you, do nothing: an unconfirmed signature is never counted or published.\n\n"
                 "To withdraw your signature at any time, open this link:\n{withdraw}\n\n"
                 "Your email address is kept sealed and never published. Keep this email if you may want to "
                 "withdraw later.\n"),
    },
    "fa": {
        "subject": "امضای خود را تأیید کنید: {title}",
        "body": ("کسی، امیدواریم خود شما، نامهٔ سرگشادهٔ «{title}» را با این نشانی امضا کرده است.\n\n"
                 "برای تأیید امضای خود این پیوند را باز کنید (یک بار و تا {days} روز کار می‌کند):\n{confirm}\n\n"
                 "اگر شما نبوده‌اید، کاری نکنید: امضای تأییدنشده هرگز شمرده یا منتشر نمی‌شود.\n\n"
                 "برای پس گرفتن امضای خود در هر زمان این پیوند را باز کنید:\n{withdraw}\n\n"
                 "نشانی ایمیل شما رمزگذاری‌شده نگه داشته می‌شود و هرگز منتشر نمی‌شود. اگر ممکن است بعدها امضای "
                 "خود را پس بگیرید، این ایمیل را نگه دارید.\n"),
    },
}


def compose(settings: MailSettings, *, to: str, language: str, title: str, confirm: str, withdraw: str,
            days: int) -> EmailMessage:
    words = MESSAGES.get(language, MESSAGES["en"])
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = formataddr(("", to))
    message["Subject"] = words["subject"].format(title=title)
    message["Message-ID"] = make_msgid(domain=settings.mail_from.rsplit("@", 1)[1])
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(words["body"].format(title=title, confirm=confirm, withdraw=withdraw, days=days))
    return message


def _connect(settings: MailSettings) -> smtplib.SMTP:
    if settings.tls:
        client = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout,
                                  context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        if settings.starttls:
            client.starttls(context=ssl.create_default_context())
    if settings.user:
        client.login(settings.user, settings.password or "")
    return client


def queue_confirmation(session, signature_id: int, *, base_url: str, sealed_tokens: bytes) -> None:
    session.execute(sa.insert(AppealMail).values(signature_pk=signature_id, base_url=base_url.rstrip("/")[:300],
                                                 tokens_sealed=sealed_tokens, attempts=0, next_try_at=utcnow(),
                                                 created_at=utcnow()))


def queued_mail(session) -> dict:
    """How many mails wait, and how many gave up after repeated failures."""
    waiting = session.scalar(sa.select(sa.func.count()).select_from(AppealMail)
                             .where(AppealMail.attempts < MAX_ATTEMPTS)) or 0
    failed = session.scalar(sa.select(sa.func.count()).select_from(AppealMail)
                            .where(AppealMail.attempts >= MAX_ATTEMPTS)) or 0
    return {"queued": waiting, "failed": failed}


def _claim(store: Store, limit: int) -> list[int]:
    """Take up to ``limit`` due mails for this sender (another sender skips them for a while)."""
    now = utcnow()
    with store.session() as session:
        due = session.scalars(
            sa.select(AppealMail.id).where(AppealMail.attempts < MAX_ATTEMPTS, AppealMail.next_try_at <= now,
                                           sa.or_(AppealMail.claimed_until.is_(None), AppealMail.claimed_until < now))
            .order_by(AppealMail.id).limit(limit)).all()
        if not due:
            return []
        claimed = session.execute(
            sa.update(AppealMail).where(AppealMail.id.in_(due),
                                        sa.or_(AppealMail.claimed_until.is_(None), AppealMail.claimed_until < now))
            .values(claimed_until=now + timedelta(seconds=CLAIM_SECONDS)))
        return list(due) if claimed.rowcount == len(due) else []


def _message_for(session, keys: VaultKeys, settings: MailSettings, mail: AppealMail, days: int) -> EmailMessage | None:
    signature = session.get(Signature, mail.signature_pk)
    if signature is None or signature.status != "pending" or signature.identity_sealed is None:
        return None  # withdrawn, decided or erased since: nothing to confirm any more
    label = f"signature:{signature.id}"
    data_key = unwrap_key(keys.master_key, signature.wrapped_key, label=label)
    identity = json.loads(open_sealed(data_key, signature.identity_sealed, label=f"{label}:identity"))
    tokens = json.loads(open_sealed(data_key, mail.tokens_sealed, label=f"{label}:mail"))
    appeal = session.get(Appeal, signature.appeal_pk)
    text = session.scalar(sa.select(AppealVersion).where(AppealVersion.appeal_pk == appeal.id,
                                                         AppealVersion.version == signature.version))
    title = (text.title_fa or text.title) if signature.language == "fa" else text.title
    base = f"{mail.base_url}/appeals/{appeal.slug}"
    return compose(settings, to=identity["email"], language=signature.language, title=title, days=days,
                   confirm=f"{base}/confirm/{tokens['confirm']}", withdraw=f"{base}/withdraw/{tokens['withdraw']}")


def send_queued_mail(store: Store, keys: VaultKeys, settings: MailSettings, *, limit: int = 100,
                     confirm_days: int = 14) -> dict:
    """Send up to ``limit`` queued confirmation emails over one SMTP connection.

    A sent mail's row is deleted; a failure is retried later (after 1, 2, 4 … minutes, up to
    :data:`MAX_ATTEMPTS` tries) and its last error kept. Returns ``{"sent", "failed", "skipped"}``.
    """
    ids = _claim(store, limit)
    result = {"sent": 0, "failed": 0, "skipped": 0}
    if not ids:
        return result
    client = None
    try:
        for mail_id in ids:
            with store.session() as session:
                mail = session.get(AppealMail, mail_id)
                if mail is None:
                    continue
                try:
                    message = _message_for(session, keys, settings, mail, confirm_days)
                except DecryptionError as exc:
                    mail.attempts, mail.last_error = MAX_ATTEMPTS, str(exc)
                    result["failed"] += 1
                    continue
                if message is None:
                    session.delete(mail)
                    result["skipped"] += 1
                    continue
                try:
                    client = client or _connect(settings)
                    client.send_message(message)
                except (OSError, smtplib.SMTPException) as exc:
                    client = None
                    mail.attempts += 1
                    mail.last_error = f"{type(exc).__name__}: {exc}"[:500]
                    mail.next_try_at = utcnow() + timedelta(minutes=2 ** min(mail.attempts - 1, 8))
                    mail.claimed_until = None
                    result["failed"] += 1
                    continue
                signature = session.get(Signature, mail.signature_pk)
                signature.mails_sent += 1
                signature.last_mail_at = utcnow()
                session.delete(mail)
                result["sent"] += 1
    finally:
        if client is not None:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                pass
    return result

