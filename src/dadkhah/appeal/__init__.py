"""Open letters (appeals) and their signatories: a versioned text, a public page where people and
organisations sign, signatures confirmed by email, de-duplicated and moderated, names public only
by consent, signers' details sealed, counts that can be traced, deliveries and printed exports."""

from dadkhah.appeal.appeals import (
    ORDERS,
    CountsCache,
    close_appeal,
    create_appeal,
    deliver_appeal,
    export_appeal,
    find_appeal,
    latest_day,
    list_appeals,
    publish_appeal,
    revise_appeal,
    show_appeal,
)
from dadkhah.appeal.mail import MailSettings, mail_settings, normalise_email, send_queued_mail
from dadkhah.appeal.signatures import (
    DEFAULT_LIMITS,
    SigningLimits,
    Throttled,
    add_paper_signature,
    confirm,
    decide,
    forget_addresses,
    invalidate,
    moderation_queue,
    public_page,
    purge,
    purge_due_appeals,
    sign,
    withdraw,
)

__all__ = [
    "DEFAULT_LIMITS", "ORDERS", "CountsCache", "MailSettings", "SigningLimits", "Throttled", "add_paper_signature", "close_appeal",
    "confirm", "create_appeal", "decide", "deliver_appeal", "latest_day", "export_appeal", "find_appeal", "forget_addresses",
    "invalidate", "list_appeals", "mail_settings", "moderation_queue", "normalise_email", "public_page",
    "publish_appeal", "purge", "purge_due_appeals", "revise_appeal", "send_queued_mail", "show_appeal", "sign", "withdraw",
]
