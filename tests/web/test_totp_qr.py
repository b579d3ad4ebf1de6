"""The TOTP secret as a QR code as well as text: an inline SVG drawn by the server (segno) on the page
that shows a new secret (a new user, or a password reset with a new second factor), within the
content security policy and without any request elsewhere; a QR code on the terminal's stderr at the
command line. The drawn modules are read back from the SVG and compared with segno's own matrix for
the otpauth URI, so the code an authenticator's camera reads holds exactly that URI."""

from __future__ import annotations

import json
import re

import pyotp
import segno
from bs4 import BeautifulSoup

from dadkhah.users import totp_qr_svg
from dadkhah.web.security import CONTENT_SECURITY_POLICY
from tests.cli.test_cli import run
from tests.web.conftest import PASSWORD

NEW_PASSWORD = "another synthetic passphrase"
_STEP = re.compile(r"([MmHhVvZz])\s*(-?[\d.]+)?(?:[\s,]+(-?[\d.]+))?")


def _modules(svg) -> list[list[int]]:
    """The dark modules an SVG of segno's draws, read back from its path (each dark run is a
    horizontal line of stroke width 1, through the middle of its row), as rows of 0 and 1."""
    assert svg.name == "svg" and "totp-qr" in svg.get("class", [])
    [group] = svg.find_all("g")
    scale = float(re.fullmatch(r"scale\((\d+(?:\.\d+)?)\)", group["transform"]).group(1))
    width = int(svg["width"]) / scale
    [background] = [p for p in group.find_all("path") if p.get("fill")]
    [lines] = [p for p in group.find_all("path") if "qrline" in p.get("class", [])]
    assert background["fill"] == "#fff" and lines["stroke"] == "#000"
    dark: set[tuple[int, int]] = set()
    x = y = 0.0
    for command, first, second in _STEP.findall(lines["d"]):
        if command == "M":
            x, y = float(first), float(second)
        elif command == "m":
            x, y = x + float(first), y + float(second)
        elif command == "h":
            for column in range(int(x), int(x + float(first))):
                dark.add((int(y - 0.5), column))
            x += float(first)
        else:
            raise AssertionError(f"unexpected path command {command}")
    size = int(width)
    return [[int((row, column) in dark) for column in range(size)] for row in range(size)]


def _assert_is_the_qr_of(svg, uri: str) -> None:
    """What the page drew is the code of ``uri``: the same SVG as segno makes, and module for module
    the matrix segno computes for it (with the quiet zone of 4 modules around it)."""
    assert str(svg) == str(BeautifulSoup(totp_qr_svg(uri), "html.parser").svg)
    code = segno.make(uri, error="m", boost_error=False)
    border = 4
    expected = [[0] * (len(code.matrix) + 2 * border) for _ in range(border)]
    expected += [[0] * border + list(row) + [0] * border for row in code.matrix]
    expected += [[0] * (len(code.matrix) + 2 * border) for _ in range(border)]
    assert _modules(svg) == expected
    assert code.error == "M" and code.is_micro is False


def _no_outside_reference(answer) -> None:
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    page = BeautifulSoup(answer.text, "html.parser")
    assert not page.find_all("style") and not page.find_all("script", src=False)
    for tag in page.find_all(True):
        assert "style" not in tag.attrs, tag.name
        for name, value in tag.attrs.items():
            text = " ".join(value) if isinstance(value, list) else str(value)
            assert not re.search(r"(https?:)?//", text) or name == "xmlns", f"<{tag.name} {name}={text!r}>"
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", answer.text), "no address elsewhere in the page"


def test_a_new_users_secret_is_shown_as_a_qr_code_too(app, as_role):
    admin = as_role("admin")
    answer = admin.post("/users", data={"csrf_token": admin.csrf, "username": "field-worker", "role": "analyst",
                                        "password": NEW_PASSWORD, "password_again": NEW_PASSWORD, "totp": "true"})
    assert answer.status_code == 201
    page = BeautifulSoup(answer.text, "html.parser")
    uri = page.select_one("#totp-uri").text
    assert uri.startswith("otpauth://totp/Dadkhah:field-worker?") and page.select_one("#totp-secret").text in uri
    figure = page.select_one("figure#totp-qr")
    assert figure is not None and figure.svg.title.text == "TOTP"
    _assert_is_the_qr_of(figure.svg, uri)
    _no_outside_reference(answer)


def test_a_password_reset_with_a_new_second_factor_shows_its_qr_code(app, as_role):
    admin = as_role("admin")
    plain = admin.post("/users/viewer/reset-password", data={"csrf_token": admin.csrf})
    assert plain.status_code == 200 and BeautifulSoup(plain.text, "html.parser").select_one("#totp-qr") is None
    answer = admin.post("/users/analyst/reset-password", data={"csrf_token": admin.csrf, "totp": "true"})
    assert answer.status_code == 200
    page = BeautifulSoup(answer.text, "html.parser")
    uri = page.select_one("#totp-uri").text
    _assert_is_the_qr_of(page.select_one("figure#totp-qr svg"), uri)
    _no_outside_reference(answer)
    secret = page.select_one("#totp-secret").text
    assert pyotp.parse_uri(uri).secret == secret


def test_another_uri_draws_another_code():
    """The comparison can fail: two secrets give two different module patterns."""
    one, other = (f"otpauth://totp/Dadkhah:u?secret={pyotp.random_base32()}&issuer=Dadkhah" for _ in range(2))
    first = BeautifulSoup(totp_qr_svg(one), "html.parser").svg
    assert _modules(first) != _modules(BeautifulSoup(totp_qr_svg(other), "html.parser").svg)


def test_the_command_line_draws_the_code_on_stderr_unless_json(web_store_path, tmp_path):
    password = tmp_path / "pw.txt"
    password.write_text(PASSWORD + "\n", encoding="utf-8")
    added = run("users", "add", "qr-user", "--role", "viewer", "--password-file", str(password), "--totp",
                workspace=web_store_path)
    assert added.exit_code == 0, added.output
    uri = next(line for line in added.stdout.splitlines() if line.startswith("otpauth://"))
    assert "█" not in added.stdout and "▀" not in added.stdout, "stdout keeps the text alone"
    drawn = [line for line in added.stderr.splitlines() if set(line) <= set("█▀▄ ") and line.strip()]
    code = segno.make(uri, error="m", boost_error=False)
    assert len(drawn) == (code.symbol_size()[1] + 1) // 2, "two rows of modules per line of text"
    assert drawn == _terminal_lines(code)

    reset = run("users", "reset-password", "qr-user", "--totp", "--json", workspace=web_store_path)
    assert reset.exit_code == 0, reset.output
    document = json.loads(reset.stdout)
    assert document["totp_uri"].startswith("otpauth://") and "█" not in reset.stderr
    again = run("users", "reset-password", "qr-user", "--totp", workspace=web_store_path)
    assert again.exit_code == 0 and "█" in again.stderr and "otpauth://" in again.stdout


def _terminal_lines(code) -> list[str]:
    import io

    buffer = io.StringIO()
    code.terminal(out=buffer, compact=True)
    return [line for line in buffer.getvalue().splitlines() if line.strip()]


def test_in_chromium_the_qr_code_shows_within_the_content_security_policy(browser_page):
    page = browser_page
    from tests.web.conftest import log_in

    log_in(page, "admin")
    page.goto("/users")
    page.fill("form.vault-form input[name=username]", "camera-user")
    page.fill("input[name=password]", NEW_PASSWORD)
    page.fill("input[name=password_again]", NEW_PASSWORD)
    page.check("form.vault-form input[name=totp]")
    page.click("form.vault-form button[type=submit]")
    page.wait_for_selector("#totp-qr svg")
    box = page.locator("#totp-qr svg").bounding_box()
    assert box["width"] >= 100 and box["height"] >= 100, "drawn at a size a camera reads"
    # browser_page checks that nothing was requested elsewhere and no CSP violation was reported
