"""An appeal to sign, the workspace's keys, and a real SMTP server on loopback that keeps what it receives."""

from __future__ import annotations

import email
import re
import socket
from email.message import Message

import pytest

from dadkhah.appeal import create_appeal, mail_settings, publish_appeal
from dadkhah.vault.keys import create_keys, load_keys
from tests.conftest import TESTER

LETTER = ("We, the undersigned, ask for an independent inquiry into the killings of the summer of 1367.\n\n"
          "The families have waited long enough.")
LETTER_FA = "ما امضاکنندگان خواستار تحقیقی مستقل دربارهٔ کشتار تابستان ۱۳۶۷ هستیم.\n\nخانواده‌ها به اندازهٔ کافی صبر کرده‌اند."
BASE_URL = "http://127.0.0.1:8765"


class Mailbox:
    """What the local SMTP server received, parsed."""

    def __init__(self):
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content))
        return "250 OK"

    def links(self, kind: str) -> list[str]:
        """The confirm or withdraw links of every message, in order."""
        found = []
        for message in self.messages:
            body = message.get_payload(decode=True).decode("utf-8")
            found += re.findall(rf"https?://\S+/{kind}/\S+", body)
        return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def mailbox():
    from aiosmtpd.controller import Controller

    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    box.settings = mail_settings(f"smtp://127.0.0.1:{port}", "appeal@example.org")
    yield box
    controller.stop()


@pytest.fixture
def keys(store):
    create_keys(store.workspace)
    store.workspace = store.workspace.reloaded()
    return load_keys(store.workspace)


@pytest.fixture
def appeal(store, keys, tmp_path) -> dict:
    """A published appeal, A-0001, slug ``inquiry``, in English and Persian."""
    text = tmp_path / "letter.txt"
    text.write_text(LETTER, encoding="utf-8")
    text_fa = tmp_path / "letter-fa.txt"
    text_fa.write_text(LETTER_FA, encoding="utf-8")
    created = create_appeal(store, actor=TESTER, slug="inquiry", title="For an inquiry", title_fa="برای تحقیق",
                            text=text, text_fa=text_fa, addressee="The Secretary-General")
    publish_appeal(store, created["id"], actor=TESTER)
    return created
